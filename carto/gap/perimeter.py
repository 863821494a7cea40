"""What is analysed (a territory, a list of whole communes or a drawn polygon): its geometry as
SQL, its communes with the share of each inside, and its population with where it comes from."""

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pyproj import Geod
from shapely.geometry import MultiPolygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import territories, validation
from carto.config import GapSettings, gap_settings
from carto.errors import Conflict, FieldError, Invalid
from carto.gap.scenarios import finite_number
from carto.geo import as_multipolygon
from carto.i18n import msg
from carto.referential import COMMUNE_POPULATION_SOURCE, COMMUNE_POPULATION_YEAR

# A commune's farmland counts for a perimeter when at least this share of its area is inside.
FARMLAND_COMMUNE_SHARE = 0.5


@dataclass
class Perimeter:
    """What is analysed: its geometry as SQL, its communes, its population and where it comes
    from. `farmland_communes` are the communes at least half inside (their farmland counts)."""

    kind: str  # territory | communes | polygon
    name: str
    area_sql: str
    area_params: dict[str, Any]
    slug: str | None = None
    territory_id: int | None = None
    level: str | None = None
    communes: list[str] = field(default_factory=list)
    farmland_communes: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    population: int | None = None
    population_source: str | None = None
    population_year: int | None = None
    # catchments already computed for this perimeter, by radius (the page asks twice: supply
    # and map)
    catchments: dict[float, bytes] = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "slug": self.slug, "level": self.level,
                "communes": self.communes, "farmland_communes": self.farmland_communes}


WGS84 = Geod(ellps="WGS84")
KM_PER_DEGREE = 111.32


def check_commune_count(name: str, count: int) -> None:
    """A perimeter or a choropleth of at most `max_communes` communes (issue 10 §5)."""
    most = gap_settings().max_communes
    if count > most:
        raise Invalid.field(name, msg("error.gap.communes_count", count=count, most=most))


def check_extent(geometry: MultiPolygon, limits: GapSettings) -> None:
    """Refuse a drawn perimeter too large to analyse in bounded time, before any SQL: its
    coordinates must be WGS84 longitudes and latitudes, its bounding box at most
    `max_span_km` a side and its geodesic area at most `max_area_km2`. The span also keeps
    every edge far below 180° of longitude, which PostGIS's geography buffer (the catchment)
    refuses ("Antipodal edge"): a whole-world polygon is a 422 here, not a 500 there."""
    minx, miny, maxx, maxy = geometry.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise Invalid.field("geometry", msg("error.gap.lon_lat"))
    nearest_equator = 0.0 if miny <= 0 <= maxy else min(abs(miny), abs(maxy))
    span = max((maxy - miny) * KM_PER_DEGREE,
               (maxx - minx) * KM_PER_DEGREE * math.cos(math.radians(nearest_equator)))
    if span > limits.max_span_km or maxx - minx >= 90:
        raise Invalid.field("geometry", msg("error.gap.span", span=round(span),
                                            most=round(limits.max_span_km)))
    area = abs(WGS84.geometry_area_perimeter(geometry)[0]) / 1e6
    if area > limits.max_area_km2:
        raise Invalid.field("geometry", msg("error.gap.area", area=round(area),
                                            most=round(limits.max_area_km2)))


def _shares(session: Session, area_sql: str, params: dict[str, Any],
            restrict: list[str] | None = None) -> list[dict[str, Any]]:
    """Communes touching the area, with the share of their surface inside it. When the communes'
    areas add up to the area's, they are whole and no intersection is computed."""
    where = "AND c.code = ANY(:restrict)" if restrict is not None else ""
    rows = session.execute(text(f"""
        WITH area AS MATERIALIZED ({area_sql})
        SELECT c.code, c.department, c.population, ST_Area(c.geom) AS area,
               (SELECT ST_Area(g) FROM area) AS total
        FROM commune c, area
        WHERE c.geom && area.g AND ST_Intersects(c.geom, area.g) {where}
        ORDER BY c.code"""), params | {"restrict": restrict}).mappings().all()
    if not rows:
        return []
    whole = abs(sum(r["area"] for r in rows) - rows[0]["total"]) <= 0.005 * rows[0]["total"]
    if whole:
        return [dict(r) | {"share": 1.0} for r in rows]
    shares: dict[str, Any] = dict(session.execute(text(f"""
        WITH area AS MATERIALIZED ({area_sql})
        SELECT c.code, least(1.0, ST_Area(ST_Intersection(c.geom, area.g))
                                  / nullif(ST_Area(c.geom), 0))
        FROM commune c, area WHERE c.code = ANY(:codes)"""),
        params | {"codes": [r["code"] for r in rows]}).all())
    return [dict(r) | {"share": float(shares.get(r["code"]) or 0.0)} for r in rows]


def _missing_population(name: str, slug: str | None) -> Conflict:
    how = msg("error.gap.population_how_territory", slug=slug) if slug else \
        msg("error.gap.population_how_polygon")
    return Conflict(msg("error.gap.population_missing", name=name, how=how),
                    [FieldError("population", msg("error.gap.population_field"))])


def territory_area(session: Session, slug: str) -> Perimeter:
    """A territory's geometry, communes and departments, with its population when it is known:
    hand-entered (with its source), or the INSEE sum when it is made of whole communes (a
    neighbourhood never is). Coverage maps and overrides need no more than this."""
    territory = territories.get(session, slug)
    area_sql = "SELECT geom AS g FROM territory WHERE id = :area_tid"
    params = {"area_tid": territory.id}
    linked = list(session.scalars(text(
        "SELECT commune_code FROM territory_commune WHERE territory_id = :id ORDER BY 1"),
        {"id": territory.id}))
    communes = _shares(session, area_sql, params, linked)
    per = Perimeter("territory", territory.name, area_sql, params, slug=territory.slug,
                    territory_id=territory.id, level=territory.level,
                    communes=[c["code"] for c in communes],
                    farmland_communes=[c["code"] for c in communes
                                       if c["share"] >= FARMLAND_COMMUNE_SHARE],
                    departments=sorted({c["department"] for c in communes}))
    if territory.population:
        per.population = int(territory.population)
        per.population_source = territory.population_source
        per.population_year = territory.population_year
    elif territory.level != "neighbourhood" and communes and all(
            c["share"] >= 0.99 and c["population"] for c in communes):
        per.population = sum(int(c["population"]) for c in communes)
        per.population_source = COMMUNE_POPULATION_SOURCE
        per.population_year = COMMUNE_POPULATION_YEAR
    return per


def territory_perimeter(session: Session, slug: str) -> Perimeter:
    """A territory to analyse: its area with a population; none → 409 saying what to enter."""
    per = territory_area(session, slug)
    if not per.population:
        raise _missing_population(per.name, per.slug)
    return per


def communes_perimeter(session: Session, codes: Iterable[str]) -> Perimeter:
    """A custom perimeter made of whole communes: population is their sum."""
    wanted = sorted({c.strip() for c in codes if c and c.strip()})
    if not wanted:
        raise Invalid.field("communes", msg("error.gap.communes_required"))
    check_commune_count("communes", len(wanted))
    rows = session.execute(text("""
        SELECT code, name, department, population FROM commune WHERE code = ANY(:codes)
        ORDER BY code"""), {"codes": wanted}).mappings().all()
    missing = sorted(set(wanted) - {r["code"] for r in rows})
    if missing:
        raise Invalid.field("communes", msg("error.territories.unknown_communes",
                                                codes=", ".join(missing)))
    name = rows[0]["name"] if len(rows) == 1 else f"{len(rows)} communes"
    per = Perimeter("communes", name,
                    "SELECT ST_Union(geom) AS g FROM commune WHERE code = ANY(:area_codes)",
                    {"area_codes": wanted}, communes=wanted, farmland_communes=wanted,
                    departments=sorted({r["department"] for r in rows}))
    if any(r["population"] is None for r in rows):
        raise _missing_population(name, None)
    per.population = sum(int(r["population"]) for r in rows)
    per.population_source = COMMUNE_POPULATION_SOURCE
    per.population_year = COMMUNE_POPULATION_YEAR
    if not per.population:
        raise _missing_population(name, None)
    return per


MAX_POPULATION = 10**10
# A drawn perimeter's Feature properties, as `polygon_perimeter` reads them (others are left).
PERIMETER_PROPERTIES: dict[str, Any] = {
    "properties": {"name": {"type": ["string", "null"]},
                   "population": {"type": ["integer", "null"], "minimum": 1,
                                  "maximum": MAX_POPULATION},
                   "population_source": {"type": ["string", "null"]}},
    "anyOf": [{"properties": {"population": {"type": "null"}}},
              {"required": ["population_source"], "properties": {
                  "population_source": {"type": "string",
                                        "pattern": validation.NAME_PATTERN}}}]}


def polygon_perimeter(session: Session, geojson: dict[str, Any], name: str | None = None,
                      population: Any = None, population_source: str | None = None
                      ) -> Perimeter:
    """A drawn perimeter. Population as given (with its source), else estimated from the communes
    it covers, each in proportion to the share of its surface inside (said so in the source)."""
    for member, text_ in (("name", name), ("population_source", population_source)):
        if text_ is not None and not isinstance(text_, str):
            raise Invalid.field(member, msg("error.validation.text_expected"))
    limits = gap_settings()
    geometry = as_multipolygon(geojson, max_vertices=limits.max_vertices)
    check_extent(geometry, limits)
    params = {"area_geojson": json.dumps(geometry.__geo_interface__)}
    area_sql = "SELECT ST_SetSRID(ST_GeomFromGeoJSON(:area_geojson), 4326) AS g"
    communes = _shares(session, area_sql, params)
    per = Perimeter("polygon", name or "Périmètre dessiné", area_sql, params,
                    communes=[c["code"] for c in communes],
                    farmland_communes=[c["code"] for c in communes
                                       if c["share"] >= FARMLAND_COMMUNE_SHARE],
                    departments=sorted({c["department"] for c in communes}))
    if population is not None:  # a JSON number (not a text, not a boolean): PERIMETER_PROPERTIES
        if isinstance(population, bool) or not isinstance(population, int | float):
            raise Invalid.field("population", msg("error.gap.population_number"))
        value = finite_number("population", population)
        if value <= 0 or value != int(value) or value > MAX_POPULATION:
            raise Invalid.field("population", msg("error.gap.population_number"))
        if not (population_source or "").strip():
            raise Invalid.field("population_source", msg("error.territories.population_source"))
        per.population, per.population_source = int(value), population_source
        return per
    estimate = sum((c["population"] or 0) * c["share"] for c in communes)
    if estimate < 1:
        raise _missing_population(per.name, None)
    per.population = round(estimate)
    per.population_source = ("Estimation : " + COMMUNE_POPULATION_SOURCE + ", au prorata de la "
                             "surface de chaque commune comprise dans le périmètre")
    per.population_year = COMMUNE_POPULATION_YEAR
    return per


def department_communes(session: Session, departments: list[str]) -> list[str]:
    codes = list(session.scalars(text(
        "SELECT code FROM commune WHERE department = ANY(:d) ORDER BY code"), {"d": departments}))
    if not codes:
        raise Invalid.field("departments", msg("error.gap.departments_empty",
                                                   departments=", ".join(departments)))
    check_commune_count("departments", len(codes))
    return codes
