"""Communes and places: where a name or an INSEE code is (accents and case ignored, homonyms
listed), what the nearby page's autocomplete suggests, and the communes' centres (the point
private persons are shown at, carto.visibility), cached. Used by /api/nearby and its page;
ready for any other search by place."""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import params, vocab
from carto.cache import DbCache
from carto.errors import FieldError, Invalid, Text
from carto.i18n import msg
from carto.text import fold, like_escape
from carto.visibility import (
    Principal,
    resource_predicate,
)

Grid = dict[tuple[int, int], list[tuple[str, float, float]]]


@dataclass(frozen=True)
class Communes:
    """Every commune's centre (commune.centre, migration 0005) on a 0.1° grid, and its name and
    department by code."""

    grid: Grid
    names: dict[str, tuple[str, str]]


def _load_communes(session: Session) -> Communes:
    grid: Grid = {}
    names: dict[str, tuple[str, str]] = {}
    for code, name, department, x, y in session.execute(
            text("SELECT code, name, department, ST_X(centre), ST_Y(centre) FROM commune")):
        grid.setdefault((math.floor(x * 10), math.floor(y * 10)), []).append((code, x, y))
        names[code] = (name, department)
    return Communes(grid, names)


# Communes change only when the referential is reloaded (carto.referential invalidates).
COMMUNES = DbCache("communes", _load_communes, ttl=3600.0)


def commune_names(session: Session) -> dict[str, tuple[str, str]]:
    """`code → (name, department)`, from the cache: /api/nearby names its features' communes
    from it rather than joining `commune` in its statement (0.11 ms of PostgreSQL's time per
    request, docs/benchmarks.md)."""
    return COMMUNES.get(session).names


def communes_centred_in(session: Session, minx: float, miny: float, maxx: float,
                        maxy: float) -> list[str]:
    """The codes of the communes whose centre lies in the box, from the cache (no query on the
    hot path of /api/nearby)."""
    grid = COMMUNES.get(session).grid
    codes = []
    for i in range(math.floor(minx * 10), math.floor(maxx * 10) + 1):
        for j in range(math.floor(miny * 10), math.floor(maxy * 10) + 1):
            for code, x, y in grid.get((i, j), ()):
                if minx <= x <= maxx and miny <= y <= maxy:
                    codes.append(code)
    return codes


_COMMUNE_CODE = re.compile(rf"^{params.COMMUNE_CODE_PATTERN}$")  # as /api/gap documents it
_NAME_WITH_DEPT = re.compile(r"^(.*\S)\s*\(\s*([0-9]{2,3}|2A|2B)\s*\)$", re.IGNORECASE)


class Ambiguous(Invalid):
    """A commune name several communes bear; `candidates` lets a client offer the choice."""

    def __init__(self, detail: Text | None, errors: list[FieldError],
                 candidates: list[dict[str, Any]]):
        super().__init__(detail, errors, {"candidates": candidates})



_COMMUNE_SQL = """
    SELECT code, name, department, ST_X(centre) AS lon, ST_Y(centre) AS lat
    FROM commune WHERE {where}
    ORDER BY department, name, code"""


@dataclass(frozen=True)
class Place:
    """A commune found by its code or name, at its centre (commune.centre)."""

    code: str
    name: str
    department: str
    lon: float
    lat: float

    @property
    def label(self) -> str:
        return f"{self.name} ({self.department})"


def find_commune(session: Session, value: str) -> Place:
    """An INSEE code, or a name matched without accents or case ("pezenas" = "Pézenas"); a name
    several communes bear is an error listing them, and "Name (34)" picks the department."""
    raw = value.strip()
    if not raw:
        raise Invalid.field("commune", msg("error.nearby.commune_expected"))
    if _COMMUNE_CODE.match(raw.upper()):
        rows = (
            session.execute(text(_COMMUNE_SQL.format(where="code = :code")), {"code": raw.upper()})
            .mappings()
            .all()
        )
        if not rows:
            raise Invalid.field("commune", msg("error.nearby.insee_unknown", value=raw))
    else:
        name, department = raw, None
        m = _NAME_WITH_DEPT.match(raw)
        if m:
            name, department = m.group(1), m.group(2).upper().zfill(2)
        where = "name_key = :key" + (" AND department = :dep" if department else "")
        rows = (
            session.execute(text(_COMMUNE_SQL.format(where=where)), {"key": fold(name), "dep": department})
            .mappings()
            .all()
        )
        if not rows:
            hint = similar_communes(session, name)
            more = msg("error.nearby.did_you_mean", names=", ".join(hint)) if hint else ""
            raise Invalid.field("commune", msg("error.nearby.commune_unknown", value=raw,
                                               more=more))
    if len(rows) > 1:
        candidates = [
            {
                "code": r["code"],
                "name": r["name"],
                "department": r["department"],
                "label": f"{r['name']} ({r['department']})",
            }
            for r in rows
        ]
        listed = ", ".join(f"{c['name']} ({c['department']}, code {c['code']})" for c in candidates)
        message = msg("error.nearby.ambiguous", name=rows[0]["name"], listed=listed)
        raise Ambiguous(None, [FieldError("commune", message)], candidates)
    row = rows[0]
    return Place(row["code"], row["name"], row["department"], float(row["lon"]), float(row["lat"]))


def commune_at(session: Session, lon: float, lat: float) -> Place | None:
    """The commune a point lies in (a resource placed on the map gets its commune), or None
    outside every commune of the referential."""
    row = session.execute(text(_COMMUNE_SQL.format(
        where="ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))")),
        {"x": lon, "y": lat}).mappings().first()
    if row is None:
        return None
    return Place(row["code"], row["name"], row["department"], float(row["lon"]), float(row["lat"]))


def commune_label(session: Session, code: str | None) -> str:
    """"Pézenas (34)" for a code, as `find_commune` reads it back; "" for none."""
    if not code:
        return ""
    row = session.execute(text("SELECT name, department FROM commune WHERE code = :c"),
                          {"c": code}).first()
    return f"{row.name} ({row.department})" if row else code


def similar_communes(session: Session, name: str, limit: int = 4) -> list[str]:
    key = fold(name)
    if len(key) < 3:
        return []
    rows = session.execute(
        text("""
        SELECT name, department FROM commune WHERE name_key LIKE :p
        ORDER BY population DESC NULLS LAST, name LIMIT :n"""),
        {"p": like_escape(key[:4]) + "%", "n": limit},
    ).all()
    return [f"{n} ({d})" for n, d in rows]





def suggest(
    session: Session, principal: Principal, q: str, limit: int = 8, lang: str = "fr"
) -> list[dict[str, Any]]:
    """Communes, territories and resources (visible to the caller) whose name contains `q`,
    for the page's autocomplete: communes by name or code prefix, best known first."""
    raw = q.strip()
    if len(raw) < 2:
        raise Invalid.field("q", msg("error.nearby.q_short"))
    if len(raw) > 100:
        raise Invalid.field("q", msg("error.validation.text_too_long", max=100))
    key = fold(raw)
    out: list[dict[str, Any]] = []
    if raw.isdigit() or _COMMUNE_CODE.match(raw.upper()):
        communes = session.execute(
            text("""
            SELECT code, name, department FROM commune WHERE code LIKE :p
            ORDER BY code LIMIT :n"""),
            {"p": like_escape(raw.upper()) + "%", "n": limit},
        ).all()
    else:
        communes = session.execute(
            text("""
            SELECT code, name, department FROM commune
            WHERE name_key LIKE :p OR name_key LIKE :w
            ORDER BY name_key = :k DESC, name_key LIKE :p DESC, population DESC NULLS LAST, name
            LIMIT :n"""),
            {"p": like_escape(key) + "%", "w": "% " + like_escape(key) + "%", "k": key, "n": limit},
        ).all()
    homonyms = {n for n, c in _count(communes).items() if c > 1}
    for code, name, dept in communes:
        out.append(
            {
                "type": "commune",
                "code": code,
                "name": name,
                "department": dept,
                "label": f"{name} ({dept})",
                "homonym": name in homonyms,
            }
        )
    if len(key) >= 3:
        places = (
            session.execute(
                text("""
            SELECT slug, name, level, ST_X(p) AS lon, ST_Y(p) AS lat
            FROM (SELECT slug, name, level, ST_PointOnSurface(geom) AS p FROM territory
                  WHERE terreau_fold(name) LIKE '%' || terreau_fold(:q) || '%'
                  ORDER BY name LIMIT 4) t"""),
                {"q": like_escape(raw)},
            )
            .mappings()
            .all()
        )
        for p in places:
            out.append(
                {
                    "type": "territory",
                    "slug": p["slug"],
                    "name": p["name"],
                    "label": p["name"],
                    "level": p["level"],
                    "lon": round(float(p["lon"]), 6),
                    "lat": round(float(p["lat"]), 6),
                }
            )
        visible, params = resource_predicate(principal, "r")
        rows = (
            session.execute(
                text(f"""
            SELECT r.id, r.name, r.kind, c.name AS commune_name FROM resource r
            LEFT JOIN commune c ON c.code = r.commune_code
            WHERE r.search_text LIKE '%' || terreau_fold(:q) || '%'
              AND terreau_fold(r.name) LIKE '%' || terreau_fold(:q) || '%'
              AND {visible}
            ORDER BY terreau_fold(r.name) LIKE terreau_fold(:q) || '%' DESC, r.name, r.id
            LIMIT :n"""),
                params | {"q": like_escape(raw), "n": limit},
            )
            .mappings()
            .all()
        )
        kinds = vocab.resource_kinds(session)
        for r in rows:
            kind = kinds.get(r["kind"])
            out.append(
                {
                    "type": "resource",
                    "id": str(r["id"]),
                    "name": r["name"],
                    "kind": r["kind"],
                    "kind_label": kind.label(lang) if kind else r["kind"],
                    "commune_name": r["commune_name"],
                    "label": r["name"],
                }
            )
    return out


def _count(rows: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, name, _ in rows:
        counts[name] = counts.get(name, 0) + 1
    return counts

