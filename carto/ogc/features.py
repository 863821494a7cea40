"""Pages of features for /ogc/collections/{id}/items, GeoJSON text built by PostgreSQL.

Resources come from `carto.search.list_resources_geojson` (the same features as
/api/resources, through the same visibility rules and keyset on the id), territories and
communes from here (public reference data). Paging is keyset everywhere (`WHERE key > :after
ORDER BY key`), never OFFSET: page 100 costs what page 1 costs. `numberMatched` is counted on
the first page only (a count per page would cost a scan each); later pages omit it.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import params, search
from carto.errors import Invalid, NotFound
from carto.i18n import msg
from carto.ogc.catalogue import COMMUNES, TERRITORIES, Collection
from carto.ogc.query import ItemsQuery
from carto.visibility import Principal


@dataclass
class Page:
    features: str  # GeoJSON Feature objects as JSON text, joined by commas
    returned: int
    next_cursor: str | None
    matched: int | None


def _text_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _text_after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid.field("cursor", msg("error.ogc.cursor")) from exc


def resource_filter(collection: Collection, q: ItemsQuery) -> search.ResourceFilter:
    territory = q.values("territory")
    return search.ResourceFilter(
        territory=territory[0] if territory else None,
        kinds=[collection.kind] if collection.kind else q.values("kind"),
        statuses=q.values("status"), communes=q.values("commune_code"), bbox=q.bbox,
        updated_from=q.start, updated_to=q.end)


def resources(session: Session, principal: Principal, collection: Collection,
              q: ItemsQuery) -> Page:
    flt = resource_filter(collection, q)
    after = params.decode_cursor(q.cursor)
    page = search.list_resources_geojson(session, principal, flt, q.limit, after)
    matched = search.count_resources(session, principal, flt) if q.cursor is None else None
    return Page(page.text, page.returned, params.encode_cursor(page.last) if page.last else None,
                matched)


def link_filter(q: ItemsQuery) -> search.LinkFilter:
    territory = q.values("territory")
    return search.LinkFilter(
        territory=territory[0] if territory else None, categories=q.values("category"),
        levels=[int(v) for v in q.values("level")], statuses=q.values("status"), bbox=q.bbox,
        updated_from=q.start, updated_to=q.end)


def links(session: Session, principal: Principal,
          q: ItemsQuery) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of `carto.search.list_links` (the API's link features are built from them)."""
    after = params.decode_cursor(q.cursor)
    rows, last = search.list_links(session, principal, link_filter(q), q.limit, after)
    return rows, params.encode_cursor(last) if last else None


def parse_uuid(feature_id: str) -> uuid.UUID:
    """A feature id that is not a UUID names no resource or link: 404, like an unknown one."""
    try:
        return uuid.UUID(feature_id)
    except ValueError as exc:
        raise NotFound(msg("error.ogc.feature_unknown", id=feature_id)) from exc


# Reference data, public: the same for every principal.
_REFERENCE = {
    TERRITORIES: ("territory", "slug", "created_at", """json_build_object(
        'slug', x.slug, 'name', x.name, 'level', x.level, 'description', x.description,
        'population', x.population, 'population_source', x.population_source,
        'population_year', x.population_year, 'geometry_source', x.geometry_source,
        'created_at', x.created_at)"""),
    COMMUNES: ("commune", "code", None, """json_build_object(
        'code', x.code, 'name', x.name, 'department', x.department, 'epci_code', x.epci_code,
        'epci_name', x.epci_name, 'population', x.population,
        'population_year', x.population_year)"""),
}
_REFERENCE_FILTERS = {"level": "x.level", "department": "x.department",
                      "epci_code": "x.epci_code"}


def _feature_sql(source: str) -> tuple[str, str, str | None, str]:
    table, key, stamp, props = _REFERENCE[source]
    feature = f"""json_build_object('type', 'Feature', 'id', x.{key},
        'geometry', ST_AsGeoJSON(x.geom, 6)::json, 'properties', {props})::text"""
    return table, key, stamp, feature


def reference(session: Session, collection: Collection, q: ItemsQuery) -> Page:
    """A page of territories or communes."""
    table, key, stamp, feature = _feature_sql(collection.source)
    where: list[str] = []
    params: dict[str, Any] = {"limit": q.limit + 1}
    for name, values in q.filters.items():
        where.append(f"{_REFERENCE_FILTERS[name]} = ANY(:f_{name})")
        params[f"f_{name}"] = values
    if q.bbox:
        where.append("ST_Intersects(x.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))")
        params |= dict(zip(("minx", "miny", "maxx", "maxy"), q.bbox, strict=True))
    if stamp and q.start:
        where.append(f"x.{stamp} >= :start")
        params["start"] = q.start
    if stamp and q.end:
        where.append(f"x.{stamp} <= :end")
        params["end"] = q.end
    condition = " AND ".join(where) or "true"
    matched = None
    if q.cursor is None:
        matched = int(session.scalar(
            text(f"SELECT count(*) FROM {table} x WHERE {condition}"), params) or 0)
    after = _text_after(q.cursor)
    if after is not None:
        condition += f" AND x.{key} > :after"
        params["after"] = after
    rows = session.execute(text(f"""
        SELECT x.{key} AS key, {feature} AS feature FROM {table} x WHERE {condition}
        ORDER BY x.{key} LIMIT :limit"""), params).all()
    next_cursor = None
    if len(rows) > q.limit:
        rows = rows[:q.limit]
        next_cursor = _text_cursor(rows[-1].key)
    return Page(",".join(r.feature for r in rows), len(rows), next_cursor, matched)


def reference_one(session: Session, collection: Collection, feature_id: str) -> str:
    table, key, _, feature = _feature_sql(collection.source)
    found = session.scalar(text(f"SELECT {feature} FROM {table} x WHERE x.{key} = :id"),
                           {"id": feature_id})
    if found is None:
        raise NotFound(msg("error.ogc.feature_unknown", id=feature_id))
    return str(found)
