"""Reading resources and links for the API: filters, keyset paging, visibility, one SQL each.

Paging is keyset on the id (`WHERE id > :after ORDER BY id`), never OFFSET: a page costs the
same at row 100 and at row 100,000, and rows inserted meanwhile do not shift the pages.
"""

import base64
import binascii
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import territories, vocab
from carto.errors import Invalid, NotFound
from carto.text import like_escape
from carto.visibility import (
    Principal,
    link_predicate,
    resource_predicate,
    shown_geom,
    shown_in,
    shown_precision,
    shown_private_text,
)

MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise Invalid.field("cursor", "curseur illisible : reprenez le lien « next »") from exc


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        parts = [float(p) for p in value.split(",")]
    except ValueError as exc:
        raise Invalid.field("bbox", "4 nombres attendus : minlon,minlat,maxlon,maxlat") from exc
    if len(parts) == 6:  # OGC allows a 3D bbox; the heights are ignored
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or any(p != p for p in parts):
        raise Invalid.field("bbox", "4 nombres attendus : minlon,minlat,maxlon,maxlat")
    minx, miny, maxx, maxy = parts
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90
            and -90 <= maxy <= 90):
        raise Invalid.field("bbox", "coordonnées hors des limites WGS84")
    if minx > maxx or miny > maxy:
        raise Invalid.field("bbox", "le minimum doit précéder le maximum")
    return minx, miny, maxx, maxy


@dataclass
class ResourceFilter:
    territory: str | None = None
    kinds: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    q: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    statuses: list[str] = field(default_factory=list)


def _resource_columns(principal: Principal) -> str:
    def hide(column: str) -> str:
        return shown_private_text(principal, column, "r")

    return f"""
        r.id, r.name, r.kind, r.description, {hide("address")} AS address, r.commune_code,
        c.name AS commune_name, ST_X(sg.g) AS lon, ST_Y(sg.g) AS lat,
        {shown_precision(principal, "r")} AS location_precision,
        {hide("location_note")} AS location_note, r.products, r.access_conditions, r.price_note,
        r.documents_needed, r.opening_hours, {hide("website")} AS website,
        {hide("phone")} AS phone, {hide("email")} AS email, r.visibility, r.is_private, r.status,
        r.moderation, r.moderation_note, r.illustrative, r.provenance, r.source_name,
        r.external_id, r.licence, r.created_by, r.created_at, r.updated_by, r.updated_at,
        r.version,
        (SELECT coalesce(array_agg(t.slug ORDER BY t.slug), '{{}}') FROM resource_territory x
           JOIN territory t ON t.id = x.territory_id WHERE x.resource_id = r.id) AS territories,
        (SELECT coalesce(json_agg(json_build_object('food_group', o.food_group,
                 'kg_per_year', o.kg_per_year, 'year', o.year, 'source', o.source)
                 ORDER BY o.food_group), '[]') FROM resource_output o
           WHERE o.resource_id = r.id) AS outputs,
        (SELECT coalesce(json_agg(json_build_object('crop_group', s.crop_group,
                 'hectares', s.hectares, 'year', s.year, 'source', s.source)
                 ORDER BY s.crop_group), '[]') FROM resource_surface s
           WHERE s.resource_id = r.id) AS surfaces"""


def _from(principal: Principal) -> str:
    return f"""
        FROM resource r
        LEFT JOIN commune c ON c.code = r.commune_code
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg"""


# Kind codes seen in the database, per database and process. Kinds are never deleted (only
# added or relabelled), so a code found once stays valid; an unknown one is looked up again
# before it is called unknown. One cache per database: tests and benchmarks use several.
_kinds: dict[str, set[str]] = {}


def known_kinds(session: Session, wanted: Iterable[str] = ()) -> set[str]:
    """The kind codes of the database, read again only when one of `wanted` is not among them
    (an admin may have added it): the one check every filter by kind uses."""
    key = str(session.get_bind().engine.url)
    codes = _kinds.get(key, set())
    if not codes or not set(wanted) <= codes:
        codes = _kinds[key] = set(session.scalars(text("SELECT code FROM resource_kind")))
    return codes


def check_filter(session: Session, flt: ResourceFilter) -> int | None:
    """Unknown codes are errors naming the parameter, not empty answers."""
    kinds = known_kinds(session, flt.kinds)
    for kind in flt.kinds:
        if kind not in kinds:
            raise Invalid.field("kind", f"type inconnu : {kind!r}")
    for product in flt.products:
        if product not in vocab.food_groups():
            raise Invalid.field("product", f"groupe d'aliments inconnu : {product!r}")
    for status in flt.statuses:
        if status not in vocab.RESOURCE_STATUSES:
            raise Invalid.field("status", f"statut inconnu : {status!r}")
    if flt.territory is None:
        return None
    territory_id = territories.id_of(session, flt.territory)
    if territory_id is None:
        raise Invalid.field("territory", f"territoire inconnu : {flt.territory!r}")
    return territory_id


def _page(
    session: Session, principal: Principal, flt: ResourceFilter, limit: int,
    after: uuid.UUID | None,
) -> tuple[str, dict[str, Any], int]:
    """The SQL choosing one page of ids, and its parameters."""
    territory_id = check_filter(session, flt)
    limit = max(1, min(limit, MAX_LIMIT))
    visible, params = resource_predicate(principal, "r")
    where = [visible]
    params |= {"limit": limit + 1, "after": after}
    if territory_id is not None:
        # Walk the (territory_id, resource_id) index in id order: the keyset stays an index scan.
        source = "FROM resource_territory rt JOIN resource r ON r.id = rt.resource_id"
        where.append("rt.territory_id = :territory_id")
        order_col = "rt.resource_id"
        params["territory_id"] = territory_id
    else:
        source = "FROM resource r"
        order_col = "r.id"
    if after is not None:
        where.append(f"{order_col} > :after")
        if order_col != "r.id":  # said on both sides, so a merge join starts at the cursor
            where.append("r.id > :after")
    if flt.kinds:
        where.append("r.kind = ANY(:kinds)")
        params["kinds"] = flt.kinds
    if flt.products:
        where.append("r.products && CAST(:products AS text[])")
        params["products"] = flt.products
    if flt.statuses:
        where.append("r.status = ANY(:statuses)")
        params["statuses"] = flt.statuses
    if flt.q:
        # folded by the same function as the generated column: "Cœur" and "coeur" meet
        where.append("r.search_text LIKE '%' || terreau_fold(:q) || '%'")
        params["q"] = like_escape(flt.q.strip())
    if flt.bbox:
        # on the position the principal is shown, never on a concealed home (visibility)
        where.append(shown_in(principal, "ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"))
        params |= dict(zip(("minx", "miny", "maxx", "maxy"), flt.bbox, strict=True))
    page_sql = f"""
        SELECT r.id {source} WHERE {' AND '.join(where)}
        ORDER BY {order_col} LIMIT :limit"""
    return page_sql, params, limit


def _trim(rows: list[Any], limit: int) -> tuple[list[Any], uuid.UUID | None]:
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1]["id"]
    return rows, None


def list_resources(
    session: Session, principal: Principal, flt: ResourceFilter, limit: int = DEFAULT_LIMIT,
    after: uuid.UUID | None = None,
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    """One page of resources and the id to continue after (None on the last page)."""
    page_sql, params, limit = _page(session, principal, flt, limit, after)
    sql = f"""
        WITH page AS MATERIALIZED ({page_sql})
        SELECT {_resource_columns(principal)}
        {_from(principal)}
        WHERE r.id IN (SELECT id FROM page)
        ORDER BY r.id"""
    return _trim([dict(row) for row in session.execute(text(sql), params).mappings()], limit)


# Shown to editors only: who typed what, and why a contribution was refused.
EDITOR_ONLY = ("created_by", "updated_by", "moderation_note")


def list_resources_geojson(
    session: Session, principal: Principal, flt: ResourceFilter, limit: int = DEFAULT_LIMIT,
    after: uuid.UUID | None = None,
) -> tuple[list[str], uuid.UUID | None]:
    """The same page as GeoJSON Feature texts built by PostgreSQL: a page of 100 costs one
    query and no per-row Python, which is what keeps an API worker above 250 pages/s."""
    page_sql, params, limit = _page(session, principal, flt, limit, after)
    hidden = ["id", "lon", "lat"] + ([] if principal.is_editor else list(EDITOR_ONLY))
    sql = f"""
        WITH page AS MATERIALIZED ({page_sql}),
        rows AS (SELECT {_resource_columns(principal)} {_from(principal)}
                 WHERE r.id IN (SELECT id FROM page))
        SELECT id, json_build_object(
                   'type', 'Feature', 'id', id,
                   'geometry', json_build_object('type', 'Point',
                                                 'coordinates', json_build_array(lon, lat)),
                   'properties', to_jsonb(rows) - CAST(:hidden AS text[]))::text AS feature
        FROM rows ORDER BY id"""
    result = session.execute(text(sql), params | {"hidden": hidden}).mappings().all()
    rows, last = _trim(list(result), limit)
    return [row["feature"] for row in rows], last


def get_resource(session: Session, principal: Principal, resource_id: uuid.UUID) -> dict[str, Any]:
    visible, params = resource_predicate(principal, "r")
    sql = f"SELECT {_resource_columns(principal)} {_from(principal)} WHERE r.id = :id AND {visible}"
    row = session.execute(text(sql), params | {"id": resource_id}).mappings().first()
    if row is None:
        raise NotFound(f"ressource inconnue : {resource_id}", [])
    return dict(row)


@dataclass
class LinkFilter:
    territory: str | None = None
    categories: list[str] = field(default_factory=list)
    min_level: int | None = None
    resource: uuid.UUID | None = None
    statuses: list[str] = field(default_factory=list)


LINK_COLUMNS = """
    l.id, l.category, l.level, l.stakes, l.description, l.started_on, l.status, l.directed,
    tr.slug AS territory, l.moderation, l.moderation_note, l.provenance, l.source_name,
    l.external_id, l.licence, l.created_by, l.created_at, l.updated_by, l.updated_at, l.version,
    s.id AS source_id, s.name AS source_name_, s.kind AS source_kind,
    t.id AS target_id, t.name AS target_name, t.kind AS target_kind,
    ST_AsGeoJSON(ST_MakeLine(sg.g, tg.g), 6) AS geometry"""


def _link_from(principal: Principal) -> str:
    return f"""
        FROM link l
        JOIN resource s ON s.id = l.source_id
        JOIN resource t ON t.id = l.target_id
        LEFT JOIN territory tr ON tr.id = l.territory_id
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "s")} AS g) sg
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "t")} AS g) tg"""


def list_links(
    session: Session, principal: Principal, flt: LinkFilter, limit: int = 1000,
    after: uuid.UUID | None = None,
) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
    for category in flt.categories:
        if category not in vocab.categories():
            raise Invalid.field("category", f"catégorie inconnue : {category!r}")
    if flt.min_level is not None and flt.min_level not in vocab.levels():
        raise Invalid.field("min_level", "niveau de 1 à 5 attendu")
    for status in flt.statuses:
        if status not in vocab.LINK_STATUSES:
            raise Invalid.field("status", f"statut inconnu : {status!r}")
    limit = max(1, min(limit, MAX_LIMIT))
    visible, params = link_predicate(principal, "l", "s", "t")
    where = [visible]
    params |= {"limit": limit + 1}
    if flt.territory is not None:
        territory_id = territories.id_of(session, flt.territory)
        if territory_id is None:
            raise Invalid.field("territory", f"territoire inconnu : {flt.territory!r}")
        where.append("l.territory_id = :territory_id")
        params["territory_id"] = territory_id
    if flt.categories:
        where.append("l.category = ANY(:categories)")
        params["categories"] = flt.categories
    if flt.min_level is not None:
        where.append("l.level >= :min_level")
        params["min_level"] = flt.min_level
    if flt.resource is not None:
        where.append("(l.source_id = :resource OR l.target_id = :resource)")
        params["resource"] = flt.resource
    if flt.statuses:
        where.append("l.status = ANY(:statuses)")
        params["statuses"] = flt.statuses
    if after is not None:
        where.append("l.id > :after")
        params["after"] = after
    sql = f"""SELECT {LINK_COLUMNS} {_link_from(principal)}
              WHERE {' AND '.join(where)} ORDER BY l.id LIMIT :limit"""
    rows = [dict(row) for row in session.execute(text(sql), params).mappings()]
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, rows[-1]["id"]
    return rows, None


def get_link(session: Session, principal: Principal, link_id: uuid.UUID) -> dict[str, Any]:
    visible, params = link_predicate(principal, "l", "s", "t")
    sql = f"SELECT {LINK_COLUMNS} {_link_from(principal)} WHERE l.id = :id AND {visible}"
    row = session.execute(text(sql), params | {"id": link_id}).mappings().first()
    if row is None:
        raise NotFound(f"lien inconnu : {link_id}", [])
    return dict(row)


def territory_stats(session: Session, principal: Principal, territory_id: int) -> dict[str, Any]:
    """Counts by kind, category and level of what the principal may see in a territory."""
    r_visible, params = resource_predicate(principal, "r")
    l_visible, _ = link_predicate(principal, "l", "s", "t")
    params["tid"] = territory_id
    by_kind: dict[str, int] = dict(session.execute(text(f"""
        SELECT r.kind, count(*) FROM resource_territory rt JOIN resource r ON r.id = rt.resource_id
        WHERE rt.territory_id = :tid AND {r_visible} GROUP BY r.kind ORDER BY r.kind"""),
        params).all())
    link_rows = session.execute(text(f"""
        SELECT l.category, l.level, count(*) FROM link l
        JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.territory_id = :tid AND {l_visible} GROUP BY 1, 2"""), params).all()
    by_category: dict[str, int] = {}
    by_level: dict[str, int] = {}
    for category, level, n in link_rows:
        by_category[category] = by_category.get(category, 0) + n
        by_level[str(level)] = by_level.get(str(level), 0) + n
    return {"resources_by_kind": by_kind, "links_by_category": by_category,
            "links_by_level": dict(sorted(by_level.items())),
            "resources": sum(by_kind.values()), "links": sum(by_category.values())}

