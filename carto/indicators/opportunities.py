"""Cooperations that could exist: pairs of actors of one territory, complementary and close,
with no link yet. The rules are data a facilitator can read and change
(`data/reference/opportunities.csv`): which kinds meet which, within how many kilometres, in
the same commune or not, and which kind of partner the second actor must not have yet.

Each suggestion says why (the rule, the distance). Distances are between the positions the
principal is shown (`visibility.shown_geom`: a private person counts from their commune's
centre), so a suggestion never reveals more than the map does. A pair already joined by a link
the principal can see (active or ended, any territory) is never proposed, nor a pair whose two
actors do not both belong to the territory. Within a rule, the closest pairs come first.
"""

import csv
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import DATA_DIR, vocab
from carto.errors import Invalid
from carto.i18n import msg
from carto.indicators.snapshot import territory_row
from carto.visibility import Principal, link_predicate, resource_predicate, shown_geom

RULES_FILE = DATA_DIR / "reference" / "opportunities.csv"
DEFAULT_LIMIT = 20
MAX_LIMIT = 200


@dataclass(frozen=True)
class Rule:
    code: str
    kinds_a: tuple[str, ...]
    kinds_b: tuple[str, ...]
    max_km: float | None
    same_commune: bool
    b_lacks: tuple[str, ...]
    category: str
    label_fr: str
    label_en: str
    why_fr: str
    why_en: str

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_fr


def _kinds(value: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in value.split(";") if k.strip())


@lru_cache
def rules() -> tuple[Rule, ...]:
    """The rules, in the file's order (which is the order suggestions are listed in); checked
    against the categories (and, at use, the kind table: `check_kinds`)."""
    out = []
    with RULES_FILE.open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            rule = Rule(row["rule"], _kinds(row["kinds_a"]), _kinds(row["kinds_b"]),
                        float(row["max_km"]) if row["max_km"].strip() else None,
                        row["same_commune"].strip().lower() == "true", _kinds(row["b_lacks"]),
                        row["category"], row["label_fr"], row["label_en"], row["why_fr"],
                        row["why_en"])
            if rule.category not in vocab.categories() or not rule.kinds_a \
                    or not rule.kinds_b or (rule.max_km is None and not rule.same_commune):
                raise ValueError(f"{RULES_FILE}:{n}: bad rule {rule.code!r}")
            out.append(rule)
    return tuple(out)


def check_kinds(session: Session) -> None:
    """Every kind a rule names exists (the kind table is the one source): a typo in the file
    fails loudly instead of silently proposing nothing."""
    named = {k for r in rules() for k in (*r.kinds_a, *r.kinds_b, *r.b_lacks)}
    unknown = named - vocab.resource_kinds(session, tuple(named)).keys()
    if unknown:
        raise ValueError(f"{RULES_FILE}: unknown kinds {sorted(unknown)}")


def _sql(principal: Principal) -> tuple[str, dict[str, Any]]:
    r_visible, params = resource_predicate(principal, "r")
    l_visible, _ = link_predicate(principal, "l", "s", "t")
    sql = f"""
        WITH pts AS MATERIALIZED (
            SELECT r.id, r.name, r.kind, r.commune_code, sg.g,
                   CAST(sg.g AS geography) AS gg
            FROM resource_territory rt
            JOIN resource r ON r.id = rt.resource_id
            CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg
            WHERE rt.territory_id = :tid AND r.status = 'active' AND {r_visible}
        ),
        linked AS MATERIALIZED (
            SELECT l.source_id, l.target_id, l.status,
                   LEAST(l.source_id, l.target_id) AS lo, GREATEST(l.source_id, l.target_id) AS hi
            FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
            WHERE {l_visible}
              AND (l.source_id IN (SELECT id FROM pts) OR l.target_id IN (SELECT id FROM pts))
        ),
        pairs AS (SELECT DISTINCT lo, hi FROM linked),
        equipped AS (  -- actors already linked (actively) to a partner of a kind in b_lacks
            SELECT DISTINCT CASE WHEN p.id = x.source_id THEN x.target_id ELSE x.source_id END
                   AS id
            FROM linked x JOIN resource p ON p.id IN (x.source_id, x.target_id)
            WHERE x.status = 'active' AND p.kind = ANY(:lacks)
        )
        SELECT a.id AS a_id, a.name AS a_name, a.kind AS a_kind,
               ST_X(a.g) AS a_lon, ST_Y(a.g) AS a_lat,
               b.id AS b_id, b.name AS b_name, b.kind AS b_kind,
               ST_X(b.g) AS b_lon, ST_Y(b.g) AS b_lat,
               c.name AS commune, ST_Distance(a.gg, b.gg) AS distance_m
        FROM pts a JOIN pts b ON a.id <> b.id
        LEFT JOIN commune c ON c.code = b.commune_code
        LEFT JOIN pairs ON pairs.lo = LEAST(a.id, b.id) AND pairs.hi = GREATEST(a.id, b.id)
        LEFT JOIN equipped e ON e.id = b.id
        WHERE a.kind = ANY(:kinds_a) AND b.kind = ANY(:kinds_b)
          AND pairs.lo IS NULL AND e.id IS NULL
          AND (CAST(:max_m AS float8) IS NULL OR ST_DWithin(a.gg, b.gg, :max_m))
          AND (NOT :same_commune OR a.commune_code = b.commune_code)
          -- a pair both rules' sides could form is listed once
          AND NOT (a.kind = ANY(:kinds_b) AND b.kind = ANY(:kinds_a) AND a.id > b.id)
        ORDER BY distance_m, a.name, b.name, a.id, b.id
        LIMIT :limit"""
    return sql, params


def _km(metres: float, lang: str) -> str:
    text_ = f"{metres / 1000:.1f}"
    return text_ if lang == "en" else text_.replace(".", ",")


def opportunities(session: Session, principal: Principal, slug: str,
                  limit: int = DEFAULT_LIMIT, lang: str = "fr") -> dict[str, Any]:
    """Up to `limit` suggestions per rule, the closest first, each saying why."""
    if limit < 1 or limit > MAX_LIMIT:
        raise Invalid.field("limit", msg("error.indicators.limit", max=MAX_LIMIT))
    territory = territory_row(session, slug)
    check_kinds(session)
    sql, base = _sql(principal)
    out = []
    for rule in rules():
        params = base | {"tid": territory["id"], "kinds_a": list(rule.kinds_a),
                         "kinds_b": list(rule.kinds_b), "lacks": list(rule.b_lacks),
                         "max_m": rule.max_km * 1000 if rule.max_km is not None else None,
                         "same_commune": rule.same_commune, "limit": limit}
        why = rule.why_en if lang == "en" else rule.why_fr
        for row in session.execute(text(sql), params).mappings():
            km = _km(float(row["distance_m"]), lang)
            out.append({
                "rule": rule.code, "rule_label": rule.label(lang), "category": rule.category,
                "distance_m": round(float(row["distance_m"]), 1),
                "why": why.format(a=row["a_name"], b=row["b_name"], km=km,
                                  commune=row["commune"] or ""),
                "a": {"id": str(row["a_id"]), "name": row["a_name"], "kind": row["a_kind"],
                      "lon": row["a_lon"], "lat": row["a_lat"]},
                "b": {"id": str(row["b_id"]), "name": row["b_name"], "kind": row["b_kind"],
                      "lon": row["b_lon"], "lat": row["b_lat"]},
            })
    return {"territory": {"slug": territory["slug"], "name": territory["name"]},
            "limit_per_rule": limit,
            "rules": [{"rule": r.code, "label": r.label(lang), "category": r.category,
                       "max_km": r.max_km, "same_commune": r.same_commune}
                      for r in rules()],
            "opportunities": out}
