"""Territories: built from a list of communes or from a polygon; counts for pages and the API."""

from dataclasses import dataclass
from typing import Any

from shapely import wkt as shapely_wkt
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from carto import cache, permissions, vocab
from carto.cache import DbCache, Entries
from carto.errors import Conflict, FieldError, Invalid, NotFound
from carto.geo import as_multipolygon, multipolygon_element
from carto.i18n import msg
from carto.models import Commune, Territory, TerritoryCommune
from carto.referential import COMMUNE_POPULATION_SOURCE, COMMUNE_POPULATION_YEAR
from carto.text import slugify
from carto.visibility import ANONYMOUS, Principal, link_predicate, resource_predicate


@dataclass
class TerritorySpec:
    slug: str
    name: str
    level: str = "custom"
    description: str | None = None
    population: int | None = None
    population_source: str | None = None
    population_year: int | None = None
    geometry_source: str | None = None


# slug -> id, per database and process (carto.cache). Territories are never deleted by the app
# (only replaced in place, keeping their id); creating one invalidates the cache, and a slug
# not found is looked up again once (created by another worker, or the CLI).
def _load_ids(session: Session) -> dict[str, int]:
    return {slug: int(i) for slug, i in session.execute(text("SELECT slug, id FROM territory"))}


IDS = DbCache("territory ids", _load_ids, ttl=300.0)


# A territory's simplified boundary and surrounding communes as the maps draw them, filled by
# carto.maps.data.territory_geometry (their SQL was a third of a map page's build). A territory's
# geometry is written only by _save, which drops them; the communes only change when the
# referential is reloaded (`carto db upgrade`), which the ttl covers.
OUTLINES: Entries[int, Any] = Entries("territory outlines", ttl=600.0)


def id_of(session: Session, slug: str) -> int | None:
    """The id of territory `slug`, or None; the one lookup every filter by territory uses."""
    found = IDS.get(session).get(slug)
    if found is None:
        IDS.invalidate(session)
        found = IDS.get(session).get(slug)
    return found


def filter_id(session: Session, slug: str | None, field: str = "territory") -> int | None:
    """The territory a query narrows to: None when not given, else its id; an unknown slug is
    a NotFound naming the parameter (404: like a path, it names something that is not there,
    which no schema can know in advance)."""
    if slug is None:
        return None
    found = id_of(session, slug)
    if found is None:
        text_ = msg("error.territories.unknown", slug=slug)
        raise NotFound(text_, [FieldError(field, text_)])
    return found


def ids_of(session: Session, slugs: list[str]) -> set[int]:
    return {i for i in (id_of(session, s) for s in slugs) if i is not None}


def get(session: Session, slug: str, field: str | None = None) -> Territory:
    """Territory `slug`, else a NotFound; with `field`, naming the member or parameter that
    gave the slug (a body's territory: which slugs exist is the data's to say)."""
    territory = session.scalar(select(Territory).where(Territory.slug == slug))
    if territory is None:
        text_ = msg("error.territories.unknown", slug=slug)
        raise NotFound(text_, [FieldError(field, text_)] if field else None)
    return territory


def _check_spec(spec: TerritorySpec) -> None:
    if spec.level not in vocab.TERRITORY_LEVELS:
        raise Invalid.field("level", msg("error.territories.level", value=spec.level))
    if not spec.name.strip():
        raise Invalid.field("name", msg("error.validation.name_required"))
    if not spec.slug or slugify(spec.slug) != spec.slug:
        raise Invalid.field("slug", msg("error.territories.slug"))


def create_from_communes(
    session: Session, spec: TerritorySpec, codes: list[str], replace: bool = False
) -> Territory:
    """Union of the communes' polygons; population is their sum unless given."""
    _check_spec(spec)
    codes = sorted({c.strip() for c in codes if c.strip()})
    if not codes:
        raise Invalid.field("communes", msg("error.territories.no_commune"))
    found = set(session.scalars(select(Commune.code).where(Commune.code.in_(codes))))
    missing = [c for c in codes if c not in found]
    if missing:
        raise Invalid.field("communes", msg("error.territories.unknown_communes",
                                                codes=", ".join(missing)))
    row = session.execute(
        text(
            """SELECT ST_AsText(ST_Multi(ST_CollectionExtract(
                        ST_MakeValid(ST_Union(geom)), 3))) AS wkt,
                      sum(population)::int AS population
               FROM commune WHERE code = ANY(:codes)"""
        ),
        {"codes": codes},
    ).one()
    if spec.population is None:
        spec.population = row.population
        spec.population_source = COMMUNE_POPULATION_SOURCE
        spec.population_year = COMMUNE_POPULATION_YEAR
    territory = _save(session, spec, row.wkt, replace)
    session.execute(
        delete(TerritoryCommune).where(TerritoryCommune.territory_id == territory.id)
    )
    session.execute(
        insert(TerritoryCommune),
        [{"territory_id": territory.id, "commune_code": c} for c in codes],
    )
    return territory


def create_from_polygon(
    session: Session, spec: TerritorySpec, geojson: dict[str, Any], replace: bool = False
) -> Territory:
    """A drawn or imported perimeter. Its communes: those it covers by more than 1 % of their
    area, or that hold more than 20 % of it (so a neighbourhood belongs to its commune, and a
    sliver where two boundary datasets disagree does not count)."""
    _check_spec(spec)
    geometry = as_multipolygon(geojson)
    if spec.population is not None and not spec.population_source:
        raise Invalid.field("population_source", msg("error.territories.population_source"))
    territory = _save(session, spec, geometry.wkt, replace)
    session.execute(
        delete(TerritoryCommune).where(TerritoryCommune.territory_id == territory.id)
    )
    session.execute(
        text(
            """INSERT INTO territory_commune (territory_id, commune_code)
               SELECT t.id, c.code FROM territory t JOIN commune c ON c.geom && t.geom
               WHERE t.id = :id
                 AND (ST_Area(ST_Intersection(c.geom, t.geom)) > 0.01 * ST_Area(c.geom)
                      OR ST_Area(ST_Intersection(c.geom, t.geom)) > 0.2 * ST_Area(t.geom))"""
        ),
        {"id": territory.id},
    )
    return territory


def _save(session: Session, spec: TerritorySpec, wkt: str, replace: bool) -> Territory:
    territory = session.scalar(select(Territory).where(Territory.slug == spec.slug))
    if territory is not None and not replace:
        raise Conflict(msg("error.territories.exists", slug=spec.slug),
                       [FieldError("slug", msg("error.territories.exists", slug=spec.slug))])
    if territory is None:
        territory = Territory(slug=spec.slug)
        session.add(territory)
        IDS.invalidate_on_commit(session)
    territory.name = spec.name
    territory.level = spec.level
    territory.description = spec.description
    territory.population = spec.population
    territory.population_source = spec.population_source
    territory.population_year = spec.population_year
    territory.geometry_source = spec.geometry_source
    territory.geom = multipolygon_element(shapely_wkt.loads(wkt))
    OUTLINES.invalidate_on_commit(session)
    cache.edited(session)
    session.flush()
    return territory


_PUBLIC_R, _ = resource_predicate(ANONYMOUS, "res")
_PUBLIC_L, _ = link_predicate(ANONYMOUS, "lk", "s", "t")

# Counts of what the public may see, by the same rules as every other read.
SUMMARY_SQL = f"""
WITH r AS (
    SELECT rt.territory_id, count(*) AS n
    FROM resource_territory rt JOIN resource res ON res.id = rt.resource_id
    WHERE {_PUBLIC_R}
    GROUP BY rt.territory_id
), l AS (
    SELECT lk.territory_id, count(*) AS n
    FROM link lk JOIN resource s ON s.id = lk.source_id JOIN resource t ON t.id = lk.target_id
    WHERE {_PUBLIC_L}
    GROUP BY lk.territory_id
)
SELECT tr.id, tr.slug, tr.name, tr.level, tr.description, tr.population,
       tr.population_source, tr.population_year, tr.geometry_source,
       coalesce(r.n, 0) AS resources, coalesce(l.n, 0) AS links,
       ST_AsGeoJSON(tr.geom, 6) AS geometry,
       (SELECT array_agg(commune_code ORDER BY commune_code)
          FROM territory_commune tc WHERE tc.territory_id = tr.id) AS communes,
       (SELECT array_agg(c.name ORDER BY c.name) FROM territory_commune tc
          JOIN commune c ON c.code = tc.commune_code
          WHERE tc.territory_id = tr.id) AS commune_names
FROM territory tr LEFT JOIN r ON r.territory_id = tr.id LEFT JOIN l ON l.territory_id = tr.id
"""


def summaries(session: Session, slug: str | None = None) -> list[dict[str, Any]]:
    sql = SUMMARY_SQL + (" WHERE tr.slug = :slug" if slug else "") + " ORDER BY tr.name"
    params = {"slug": slug, "vis_territory": None, "vis_actor": "anonymous"}
    rows = session.execute(text(sql), params).mappings().all()
    if slug and not rows:
        raise NotFound(msg("error.territories.unknown", slug=slug))
    return [dict(r) for r in rows]


POPULATION_MAX = 100_000_000


def set_population(session: Session, principal: Principal, slug: str, population: Any,
                   source: Any, year: Any = None) -> Territory:
    """An editor enters a territory's population with where it comes from (a neighbourhood,
    smaller than a commune, has none in the INSEE commune data): a whole number of inhabitants,
    its source (required: every figure of the gap analysis names one) and optionally its year.
    Values typed in a form arrive as text; every error names its field, all at once."""
    territory = get(session, slug)
    permissions.edit_territory(principal, territory.id)
    errors: list[FieldError] = []
    raw = str(population if population is not None else "").strip()
    digits = raw.replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    if not digits.isdigit() or not 0 < int(digits) <= POPULATION_MAX:
        errors.append(FieldError("population", msg("error.territories.population_number",
                                                   value=raw)))
    text_source = str(source or "").strip()
    if not text_source:
        errors.append(FieldError("population_source", msg("error.territories.population_source")))
    elif len(text_source) > 500:
        errors.append(FieldError("population_source", msg("error.territories.source_length")))
    raw_year = str(year if year is not None else "").strip()
    if raw_year and not (raw_year.isdigit() and 1900 <= int(raw_year) <= 2100):
        errors.append(FieldError("population_year", msg("error.territories.population_year",
                                                        value=raw_year)))
    if errors:
        raise Invalid(None, errors)
    territory.population = int(digits)
    territory.population_source = text_source
    territory.population_year = int(raw_year) if raw_year else None
    cache.edited(session)
    session.flush()
    return territory


TOTALS_SQL = f"""
WITH pub AS (
    SELECT res.id, count(rt.territory_id) AS pages
    FROM resource res JOIN resource_territory rt ON rt.resource_id = res.id
    WHERE {_PUBLIC_R}
    GROUP BY res.id
)
SELECT (SELECT count(*) FROM resource WHERE deleted_at IS NULL) AS total,
       (SELECT count(*) FROM pub) AS public,
       (SELECT coalesce(sum(pages), 0) FROM pub) AS on_pages,
       (SELECT count(*) FROM pub WHERE pages > 1) AS shared
"""


def totals(session: Session) -> dict[str, int]:
    """Why the territory pages' counts do not add up to the resources the database holds
    (issue 12: the demo creates 91, the pages add up to 86): `on_pages` (the sum of the
    pages' counts) counts a resource of two territories twice; `hidden` = `total - public`
    are shown to members only, pending or outside every territory."""
    row = session.execute(text(TOTALS_SQL),
                          {"vis_territory": None, "vis_actor": "anonymous"}).mappings().one()
    out = {k: int(v) for k, v in row.items()}
    out["hidden"] = out["total"] - out["public"]
    return out
