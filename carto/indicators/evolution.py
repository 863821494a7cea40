"""How a territory moved between two days: links created, ended, moved up or down the ladder,
how each indicator changed, and the sentence a facilitator reads out ("depuis le 12 mars :
5 coopérations nouvelles, 3 passées de l'échange de services à la mutualisation de moyens")."""

from collections import Counter
from datetime import date
from typing import Any

from carto import vocab
from carto.errors import Invalid
from carto.i18n import msg, t
from carto.indicators import measures
from carto.indicators.snapshot import LinkAt, Snapshot


def _link(snap: Snapshot, link: LinkAt) -> dict[str, Any]:
    s, tg = snap.actors[link.source], snap.actors[link.target]
    return {"id": str(link.id), "category": link.category,
            "source": {"id": str(s.id), "name": s.name, "kind": s.kind},
            "target": {"id": str(tg.id), "name": tg.name, "kind": tg.kind}}


def _by_name(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["source"]["name"], r["target"]["name"], r["id"]))


def compare(before: Snapshot, after: Snapshot, lang: str = "fr") -> dict[str, Any]:
    """What changed from `before` to `after` (two snapshots of one territory)."""
    if before.at > after.at:
        raise Invalid.field("from", msg("error.indicators.date_order"))
    old, new = before.links, after.links
    created = [_link(after, new[i]) | {"level": new[i].level} for i in new.keys() - old.keys()]
    ended = [_link(before, old[i]) | {"level": old[i].level} for i in old.keys() - new.keys()]
    up: list[dict[str, Any]] = []
    down: list[dict[str, Any]] = []
    for i in old.keys() & new.keys():
        a, b = old[i].level, new[i].level
        if a != b:
            row = _link(after, new[i]) | {"from_level": a, "to_level": b}
            (up if b > a else down).append(row)
    transitions = Counter((r["from_level"], r["to_level"]) for r in up + down)
    ind_before, ind_after = measures.indicators(before), measures.indicators(after)
    s_before, s_after = measures.scalars(ind_before), measures.scalars(ind_after)
    changes = {}
    for key in measures.SCALARS:
        x, y = s_before[key], s_after[key]
        changes[key] = {"from": x, "to": y,
                        "change": None if x is None or y is None else y - x}
    by_level = {lv: {"from": ind_before["links"]["by_level"][lv],
                     "to": ind_after["links"]["by_level"][lv]} for lv in vocab.levels()}
    out: dict[str, Any] = {
        "territory": {"slug": after.slug, "name": after.name},
        "from": before.at.isoformat(), "to": after.at.isoformat(),
        "created": _by_name(created), "ended": _by_name(ended),
        "moved_up": _by_name(up), "moved_down": _by_name(down),
        "transitions": [{"from_level": a, "to_level": b, "count": n}
                        for (a, b), n in sorted(transitions.items(),
                                                key=lambda kv: (-kv[1], kv[0]))],
        "indicators": changes, "links_by_level": by_level,
    }
    out["sentence"] = sentence(out, lang)
    return out


def day_text(day: date, lang: str) -> str:
    """"12 mars 2026" / "12 March 2026", months from the catalogue."""
    number = t("date.day_one", lang) if day.day == 1 else day.day
    return t("date.long", lang, day=number, month=t(f"date.month.{day.month}", lang),
             year=day.year)


def _count(key: str, n: int, lang: str, **values: Any) -> str:
    return t(f"{key}.{'one' if n == 1 else 'many'}", lang, n=n, **values)


def sentence(evo: dict[str, Any], lang: str = "fr") -> str:
    """The changes in one sentence, in the programme's words for the levels."""
    parts = []
    if evo["created"]:
        parts.append(_count("evolution.created", len(evo["created"]), lang))
    for tr in evo["transitions"]:
        parts.append(_count("evolution.moved", tr["count"], lang,
                            src=t(f"evolution.level_from.{tr['from_level']}", lang),
                            dst=t(f"evolution.level_to.{tr['to_level']}", lang)))
    if evo["ended"]:
        parts.append(_count("evolution.ended", len(evo["ended"]), lang))
    since = t("evolution.since", lang, day=day_text(date.fromisoformat(evo["from"]), lang))
    if not parts:
        return f"{since} : {t('evolution.nothing', lang)}" if lang == "fr" else \
            f"{since}: {t('evolution.nothing', lang)}"
    sep = " : " if lang == "fr" else ": "
    return since + sep + ", ".join(parts)
