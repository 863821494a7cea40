"""Supply from the database: the producers of a catchment as a reader may see them
(carto.visibility) with their declared outputs and surfaces, and the farmland of a perimeter's
communes. SQL written by hand; plans checked in tests/domain/test_gap_db.py and bench/gap.py."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.db import unprepared
from carto.gap.coefficients import LIVESTOCK, Coefficients, load_coefficients
from carto.gap.perimeter import Perimeter
from carto.visibility import ANONYMOUS, Principal, resource_predicate, shown_in

# Resources whose declared outputs and surfaces count as local supply.
PRODUCING_KINDS = ("producer", "shared_garden")


def catchment_cte(area_sql: str) -> str:
    """`area` (the perimeter) and `catchment` (area widened by :radius_m metres on the ellipsoid).
    The perimeter is simplified by 1/200 of the radius before buffering: at most 0.5 % of it."""
    return f"""
        area AS MATERIALIZED ({area_sql}),
        catchment AS MATERIALIZED (
            SELECT CASE WHEN CAST(:radius_m AS float8) > 0
                        THEN ST_Buffer(ST_SimplifyPreserveTopology(
                                 area.g, CAST(:radius_m AS float8) / 200 / 111320)::geography,
                             CAST(:radius_m AS float8))::geometry
                        ELSE area.g END AS g
            FROM area)"""


def catchment(session: Session, per: Perimeter, radius_km: float) -> bytes:
    """The catchment as EWKB, computed once. It is then bound as a constant into the supply
    query, so the planner estimates how many producers fall in it (from the column's
    statistics) and joins their outputs by hash rather than by thousands of index probes; a
    CTE would hide the geometry from it (estimate: 3 rows)."""
    if radius_km not in per.catchments:
        per.catchments[radius_km] = bytes(session.scalar(
            text(f"WITH {catchment_cte(per.area_sql)} SELECT ST_AsEWKB(g) FROM catchment"),
            per.area_params | {"radius_m": radius_km * 1000}))
    return per.catchments[radius_km]


def _producers_cte(principal: Principal) -> tuple[str, dict[str, Any]]:
    """`p`: the producers in the catchment (:catchment, EWKB) that `principal` may read, by
    the position `principal` is shown of each (`visibility.shown_in`): a private household is
    counted where it is shown, at its commune's centre, so that no perimeter drawn around its
    home reveals its declared output. The spatial test uses resource_geom_gist (and, for
    concealed rows, commune_centre_gist)."""
    visible, params = resource_predicate(principal, "r")
    inside = shown_in(principal, "ST_GeomFromEWKB(CAST(:catchment AS bytea))")
    sql = f"""
        p AS MATERIALIZED (
            SELECT r.id FROM resource r
            WHERE {inside}
              AND r.kind = ANY(CAST(:kinds AS text[])) AND r.status = 'active' AND {visible})"""
    return sql, params | {"kinds": list(PRODUCING_KINDS)}


def _crop_params(coefs: Coefficients) -> dict[str, Any]:
    """For each crop group, the food groups whose declared output makes its surface redundant."""
    crops, groups = [], []
    for crop, use in coefs.crop_uses.items():
        crops.append(crop)
        if use.use == "livestock":
            groups.append(",".join(LIVESTOCK))
        elif use.use == "food" and use.product:
            groups.append(coefs.product_group[use.product])
        else:
            groups.append("")
    return {"crop_codes": crops, "crop_food_groups": groups}


SUPPLY_SQL = """
    WITH {producers},
    o AS MATERIALIZED (
        SELECT o.resource_id, o.food_group, o.kg_per_year, o.year
        FROM resource_output o JOIN p ON p.id = o.resource_id),
    s AS MATERIALIZED (
        SELECT s.resource_id, s.crop_group, s.hectares, s.year
        FROM resource_surface s JOIN p ON p.id = s.resource_id)
    SELECT 'declared' AS what, o.food_group AS key, sum(o.kg_per_year) / 1000.0 AS amount,
           min(o.year) AS y0, max(o.year) AS y1
    FROM o GROUP BY o.food_group
    UNION ALL
    SELECT 'surface', s.crop_group, sum(s.hectares), min(s.year), max(s.year)
    FROM s
    JOIN unnest(CAST(:crop_codes AS text[]), CAST(:crop_food_groups AS text[])) AS m(crop, groups)
      ON m.crop = s.crop_group
    WHERE NOT EXISTS (SELECT 1 FROM o o2 WHERE o2.resource_id = s.resource_id
                      AND o2.food_group = ANY(string_to_array(m.groups, ',')))
    GROUP BY s.crop_group
    UNION ALL
    SELECT 'producers', 'all', count(*), NULL, NULL FROM p
    UNION ALL
    SELECT 'producers', 'counted', count(*), NULL, NULL
    FROM (SELECT resource_id FROM o UNION SELECT resource_id FROM s) c"""


@dataclass
class ProducerSupply:
    declared_t: dict[str, float] = field(default_factory=dict)
    surfaces_ha: dict[str, float] = field(default_factory=dict)
    counted: int = 0
    mapped_only: int = 0
    years: tuple[int | None, int | None] = (None, None)

    def as_dict(self) -> dict[str, Any]:
        return {"counted": self.counted, "mapped_without_output": self.mapped_only,
                "declared_t": {k: round(v, 3) for k, v in sorted(self.declared_t.items())},
                "surfaces_ha": {k: round(v, 2) for k, v in sorted(self.surfaces_ha.items())},
                "years": list(self.years)}


def producer_supply(session: Session, per: Perimeter, radius_km: float,
                    principal: Principal = ANONYMOUS, coefs: Coefficients | None = None
                    ) -> ProducerSupply:
    """Declared outputs (t) per food group and surfaces (ha) per crop group of the producers in
    the catchment that `principal` may read; a surface counts only for the food groups its
    producer declared no output of (declared output wins, never both)."""
    coefs = coefs or load_coefficients()
    producers, params = _producers_cte(principal)
    sql = SUPPLY_SQL.format(producers=producers)
    params = params | _crop_params(coefs) | {"catchment": catchment(session, per, radius_km)}
    out = ProducerSupply()
    years: list[int] = []
    mapped = 0
    with unprepared(session):  # planned with the catchment it is given (carto.db.unprepared)
        rows = session.execute(text(sql), params).all()
    for what, key, amount, y0, y1 in rows:
        if what == "declared":
            out.declared_t[key] = float(amount)
        elif what == "surface":
            out.surfaces_ha[key] = float(amount)
        elif key == "counted":
            out.counted = int(amount)
        else:
            mapped = int(amount)
        years += [y for y in (y0, y1) if y is not None]
    out.mapped_only = mapped - out.counted
    out.years = (min(years), max(years)) if years else (None, None)
    return out


LATEST_FARMLAND = """
    SELECT DISTINCT ON (coalesce(f.commune_code, ''), f.territory_id, f.crop_group)
           f.commune_code, f.crop_group, f.hectares, f.year, f.source
    FROM farmland f
    WHERE {where}
    ORDER BY coalesce(f.commune_code, ''), f.territory_id, f.crop_group, f.year DESC, f.id DESC"""


@dataclass
class FarmlandSupply:
    ha_by_crop: dict[str, float] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    scope: str = "communes"  # communes | territory | none (nothing imported: ratios unknown)


def farmland(session: Session, per: Perimeter) -> FarmlandSupply:
    """Farmland per crop group: the rows entered for the territory itself if any, else those of
    its communes at least half inside; per commune and crop group, the latest year (and the last
    import when one year has several)."""
    out = FarmlandSupply(scope="none")
    params: dict[str, Any]
    if per.territory_id is not None and session.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM farmland WHERE territory_id = :tid)"),
            {"tid": per.territory_id}):
        where, params = "f.territory_id = :tid", {"tid": per.territory_id}
        out.scope = "territory"
    elif per.farmland_communes:
        where, params = "f.commune_code = ANY(:codes)", {"codes": per.farmland_communes}
        out.scope = "communes"
    else:
        return out
    rows = session.execute(text(f"""
        WITH latest AS ({LATEST_FARMLAND.format(where=where)})
        SELECT crop_group, source, year, sum(hectares) AS ha, count(*) AS n
        FROM latest GROUP BY crop_group, source, year"""), params).mappings().all()
    if not rows:
        out.scope = "none"
    sources: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        out.ha_by_crop[r["crop_group"]] = out.ha_by_crop.get(r["crop_group"], 0.0) + float(r["ha"])
        entry = sources.setdefault((r["source"], r["year"]),
                                   {"source": r["source"], "year": r["year"], "hectares": 0.0,
                                    "rows": 0})
        entry["hectares"] += float(r["ha"])
        entry["rows"] += int(r["n"])
    out.sources = [s | {"hectares": round(s["hectares"], 2)}
                   for s in sorted(sources.values(), key=lambda s: (-s["year"], s["source"]))]
    return out
