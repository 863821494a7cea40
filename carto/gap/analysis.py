"""The analysis of a perimeter (its supply from the database through the pure method), every
commune at once for choropleths, and what the page's map draws."""

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.db import unprepared
from carto.gap.coefficients import Coefficients, load_coefficients
from carto.gap.method import Gap, basis, compute, rounded
from carto.gap.overrides import coefficients_in_force, overrides_for
from carto.gap.perimeter import Perimeter
from carto.gap.scenarios import Scenario
from carto.gap.supply import (
    LATEST_FARMLAND,
    PRODUCING_KINDS,
    FarmlandSupply,
    ProducerSupply,
    _crop_params,
    _producers_cte,
    catchment,
    farmland,
    producer_supply,
)
from carto.visibility import ANONYMOUS, Principal, resource_predicate, shown_geom, shown_in


@dataclass
class Analysis:
    perimeter: Perimeter
    gap: Gap
    coefs: Coefficients
    producers: ProducerSupply
    farmland: FarmlandSupply


def analyse(session: Session, per: Perimeter, sc: Scenario, principal: Principal = ANONYMOUS
            ) -> Analysis:
    base = load_coefficients()
    coefs = base.with_overrides(overrides_for(session, per))
    producers = producer_supply(session, per, sc.radius_km, principal, coefs)
    land = farmland(session, per)
    assert per.population is not None
    result = compute(per.population, coefs, sc, producers.declared_t, producers.surfaces_ha,
                     land.ha_by_crop if land.scope != "none" else None)
    return Analysis(per, result, coefs, producers, land)


# `c` is not materialised: the planner then reads the communes' own statistics and expects
# ~3,000 producers in 1,100 communes, and joins their outputs and surfaces by hash; behind a
# materialised CTE it expected 33 and probed the indexes 27,616 times each (bench/gap.py).
COMMUNE_SUPPLY_SQL = """
    WITH c AS NOT MATERIALIZED (
        SELECT code, geom FROM commune WHERE code = ANY(:codes)
    ), p AS MATERIALIZED (
        SELECT r.id, c.code
        FROM c JOIN resource r ON {inside}
        WHERE r.kind = ANY(CAST(:kinds AS text[])) AND r.status = 'active' AND {visible}
    )
    SELECT 'declared' AS what, p.code, o.food_group AS key, sum(o.kg_per_year) / 1000.0 AS amount
    FROM resource_output o JOIN p ON p.id = o.resource_id
    GROUP BY p.code, o.food_group
    UNION ALL
    SELECT 'surface', p.code, s.crop_group, sum(s.hectares)
    FROM resource_surface s JOIN p ON p.id = s.resource_id
    JOIN unnest(CAST(:crop_codes AS text[]), CAST(:crop_food_groups AS text[])) AS m(crop, groups)
      ON m.crop = s.crop_group
    WHERE NOT EXISTS (SELECT 1 FROM resource_output o2 WHERE o2.resource_id = s.resource_id
                      AND o2.food_group = ANY(string_to_array(m.groups, ',')))
    GROUP BY p.code, s.crop_group
    UNION ALL
    SELECT 'farmland', latest.commune_code, latest.crop_group, sum(latest.hectares)
    FROM ({latest}) latest
    GROUP BY latest.commune_code, latest.crop_group
"""


def commune_coverage(session: Session, codes: list[str], sc: Scenario,
                     principal: Principal = ANONYMOUS) -> list[dict[str, Any]]:
    """Per commune: population, producers' capped coverage (Σ_g min(1, P_g/D_g)·B_g / Σ B_g) and
    CRATer land ratios, from the producers shown in it (`visibility.shown_in`: a private
    household counts in its commune, never at its home) and its own farmland. Global overrides
    apply; territory and department ones do not (a commune list spans several)."""
    coefs = coefficients_in_force(session)
    visible, vparams = resource_predicate(principal, "r")
    sql = COMMUNE_SUPPLY_SQL.format(
        visible=visible, inside=shown_in(principal, "c.geom"),
        latest=LATEST_FARMLAND.format(where="f.commune_code = ANY(:codes)"))
    params = vparams | _crop_params(coefs) | {"codes": codes, "kinds": list(PRODUCING_KINDS)}
    declared: dict[str, dict[str, float]] = defaultdict(dict)
    surfaces: dict[str, dict[str, float]] = defaultdict(dict)
    farm: dict[str, dict[str, float]] = defaultdict(dict)
    target = {"declared": declared, "surface": surfaces, "farmland": farm}
    for what, code, key, amount in session.execute(text(sql), params):
        target[what][code][key] = float(amount)
    rows = session.execute(text(
        "SELECT code, name, population FROM commune WHERE code = ANY(:codes) ORDER BY code"),
        {"codes": codes}).all()
    out = []
    base = basis(coefs, sc)  # the same for every commune
    for code, name, population in rows:
        # Unknown is null, never 0 (issue 12): a commune where no producer declares anything
        # has no measured coverage, one without farmland no land ratio.
        supply_known, land_known = bool(declared.get(code) or surfaces.get(code)), bool(
            farm.get(code))
        entry: dict[str, Any] = {"code": code, "name": name, "population": population,
                                 "coverage_capped": None, "land_ratio_gross": None,
                                 "land_ratio_capped": None, "supply_producers_t": 0.0,
                                 "known": {"producers": supply_known, "farmland": land_known}}
        if population:
            g = compute(population, coefs, sc, declared.get(code), surfaces.get(code),
                        farm.get(code), base)
            entry.update(
                coverage_capped=rounded(g.totals.coverage_capped, 4) if supply_known else None,
                land_ratio_gross=rounded(g.totals.land_ratio_gross, 4) if land_known else None,
                land_ratio_capped=rounded(g.totals.land_ratio_capped, 4) if land_known else None,
                supply_producers_t=round(g.totals.supply_producers_t, 3))
        out.append(entry)
    return out


def map_layers(session: Session, per: Perimeter, radius_km: float,
               principal: Principal = ANONYMOUS, limit: int = 2000) -> dict[str, Any]:
    """Simplified GeoJSON of the perimeter, the catchment and the perimeter's communes, and the
    producers of the catchment (at the position a reader may see), for a server-drawn map."""
    producers, params = _producers_cte(principal)
    params = params | per.area_params | {"catchment": catchment(session, per, radius_km),
                                         "limit": limit, "codes": per.communes}
    shapes = session.execute(text(f"""
        WITH area AS MATERIALIZED ({per.area_sql}),
        c AS (SELECT ST_GeomFromEWKB(CAST(:catchment AS bytea)) AS g),
        box AS (SELECT greatest(ST_XMax(g) - ST_XMin(g), ST_YMax(g) - ST_YMin(g)) AS size FROM c)
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(area.g, box.size / 800), 5) AS area,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.g, box.size / 800), 5) AS catchment,
               (SELECT json_agg(json_build_object(
                    'code', cm.code, 'name', cm.name,
                    'label', json_build_array(ST_X(ST_PointOnSurface(cm.geom)),
                                              ST_Y(ST_PointOnSurface(cm.geom))),
                    'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(cm.geom, box.size / 800),
                                             5)::json) ORDER BY cm.code)
                FROM commune cm WHERE cm.code = ANY(:codes)) AS communes
        FROM area, c, box"""), params).mappings().one()
    with unprepared(session):  # planned with its catchment (carto.db.unprepared)
        points = session.execute(text(f"""
        WITH {producers}
        SELECT r.name, ST_X(pt) AS lon, ST_Y(pt) AS lat,
               EXISTS (SELECT 1 FROM resource_output o WHERE o.resource_id = r.id)
               OR EXISTS (SELECT 1 FROM resource_surface s WHERE s.resource_id = r.id) AS counted
        FROM p JOIN resource r ON r.id = p.id
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, 'r')} AS pt) s
        ORDER BY counted DESC, r.name
        LIMIT :limit"""), params).mappings().all()
    return {"area": json.loads(shapes["area"]), "catchment": json.loads(shapes["catchment"]),
            "communes": shapes["communes"] or [],
            "producers": [dict(p) for p in points]}
