"""Reading resources and links for the API: filters, keyset paging, visibility, one SQL each.

Paging is keyset on the id (`WHERE id > :after ORDER BY id`), never OFFSET: a page costs the
same at row 100 and at row 100,000, and rows inserted meanwhile do not shift the pages.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import params as request_params
from carto import permissions, territories, vocab
from carto.db import hot_rows
from carto.errors import Invalid, Merged, NotFound
from carto.i18n import msg
from carto.text import like_escape
from carto.visibility import (
    MASKED_COLUMNS,
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


# Parsing lives in carto.params (one behaviour for every endpoint); kept here as names for the
# callers of search.
encode_cursor = request_params.encode_cursor
decode_cursor = request_params.decode_cursor
parse_bbox = request_params.bbox


@dataclass
class ResourceFilter:
    territory: str | None = None
    kinds: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    q: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    statuses: list[str] = field(default_factory=list)
    communes: list[str] = field(default_factory=list)
    # last update within [updated_from, updated_to] (either end open): OGC API's `datetime`
    updated_from: datetime | None = None
    updated_to: datetime | None = None


# What a resource offers the people it serves: the API's record and a map's popup
# (carto.maps.data) read these same columns.
OFFER_COLUMNS = "r.products, r.access_conditions, r.price_note, r.documents_needed, r.opening_hours"


def resource_from(principal: Principal, join: str = "", commune: bool = True) -> str:
    """`FROM resource r` with its commune (`c`) and the point shown to this principal (`sg.g`:
    a private person at their commune's centre), for every read of resources with their place;
    `join` is put right after `resource r` (e.g. the territory's `resource_territory`).
    `commune=False`: without `c`, for a reader that names communes from carto.places's cache."""
    communes = "LEFT JOIN commune c ON c.code = r.commune_code" if commune else ""
    return f"""
        FROM resource r {join}
        {communes}
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg"""


# Plain columns of `resource` after what it offers, in the order a resource's fields are shown.
_PLAIN = ("visibility", "is_private", "status", "moderation", "moderation_note", "illustrative",
          "provenance", "source_name", "external_id", "licence", "created_by", "created_at",
          "updated_by", "updated_at", "version")
# A resource's lists from its other tables: (aggregate, source, key, empty). Read per row by
# `_per_row` (one resource, the API's rows) or once per page by `_page_aggregates`.
_LISTS = {
    "territories": ("array_agg(t.slug ORDER BY t.slug)",
                    "resource_territory x JOIN territory t ON t.id = x.territory_id",
                    "x.resource_id", "'{}'"),
    "outputs": ("""json_agg(json_build_object('food_group', o.food_group,
                 'kg_per_year', o.kg_per_year, 'year', o.year, 'source', o.source)
                 ORDER BY o.food_group)""", "resource_output o", "o.resource_id", "'[]'"),
    "surfaces": ("""json_agg(json_build_object('crop_group', s.crop_group,
                 'hectares', s.hectares, 'year', s.year, 'source', s.source)
                 ORDER BY s.crop_group)""", "resource_surface s", "s.resource_id", "'[]'"),
}


def _per_row(name: str) -> str:
    agg, source, key, empty = _LISTS[name]
    return f"(SELECT coalesce({agg}, {empty}) FROM {source} WHERE {key} = r.id)"


def _page_aggregates(ids: str) -> tuple[str, str, dict[str, str]]:
    """The lists of the resources whose ids `ids` (SQL) selects, one GROUP BY per table
    instead of a subquery per row (~40 % of a page's statement at 1,000 rows): CTEs, the
    joins to put after `resource r`, and the SQL of each list. `= ANY(ARRAY(...))` keeps
    each an index scan (with `IN (...)` the planner hashed the page and read every row of
    resource_output)."""
    ctes, joins, columns = [], [], {}
    for name, (agg, source, key, empty) in _LISTS.items():
        ctes.append(f"agg_{name} AS (SELECT {key} AS id, {agg} AS v FROM {source} "
                    f"WHERE {key} = ANY(ARRAY({ids})) GROUP BY {key})")
        joins.append(f"LEFT JOIN agg_{name} ON agg_{name}.id = r.id")
        columns[name] = f"coalesce(agg_{name}.v, {empty})"
    return ",\n        ".join(ctes), " ".join(joins), columns


def _resource_fields(principal: Principal,
                    lists: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(name, SQL) of every field of a resource read, in the order shown: the one list behind
    the API's rows, its CSV and its GeoJSON properties (positions and private texts as
    carto.visibility shows them to `principal`); `lists`: the SQL of the lists when a page
    reads them set-based (`_page_aggregates`), else a subquery per row."""
    lists = lists or {name: _per_row(name) for name in _LISTS}
    return [
        ("id", "r.id"), ("name", "r.name"), ("kind", "r.kind"), ("description", "r.description"),
        ("commune_code", "r.commune_code"), ("commune_name", "c.name"),
        ("lon", "ST_X(sg.g)"), ("lat", "ST_Y(sg.g)"),
        ("location_precision", shown_precision(principal, "r")),
        *((column, shown_private_text(principal, column, "r")) for column in MASKED_COLUMNS),
        *((column.removeprefix("r."), column) for column in OFFER_COLUMNS.split(", ")),
        *((column, f"r.{column}") for column in _PLAIN),
        *((name, lists[name]) for name in _LISTS),
    ]


def _resource_columns(principal: Principal, lists: dict[str, str] | None = None) -> str:
    return ",\n        ".join(f"{sql} AS {name}"
                              for name, sql in _resource_fields(principal, lists))


def check_filter(session: Session, flt: ResourceFilter) -> int | None:
    """Unknown codes are errors naming the parameter, not empty answers. Code lists are
    normalised in place (repeatable and comma-separated, carto.params.codes)."""
    wanted = {c.strip() for raw in flt.kinds for c in raw.split(",")}
    flt.kinds = request_params.codes(flt.kinds, vocab.resource_kinds(session, wanted).keys(), "kind")
    flt.products = request_params.codes(flt.products, vocab.food_groups().keys(), "product")
    flt.statuses = request_params.codes(flt.statuses, vocab.RESOURCE_STATUSES, "status")
    if flt.territory is None:
        return None
    territory_id = territories.id_of(session, flt.territory)
    if territory_id is None:
        raise Invalid.field("territory", msg("error.territories.unknown", slug=flt.territory))
    return territory_id


def _page(
    session: Session, principal: Principal, flt: ResourceFilter, limit: int,
    after: uuid.UUID | None,
) -> tuple[str, dict[str, Any], int]:
    """The SQL choosing one page of ids, and its parameters (the LIMIT: `_limit_sql`)."""
    territory_id = check_filter(session, flt)
    limit = max(1, min(limit, MAX_LIMIT))
    visible, params = resource_predicate(principal, "r")
    where = [visible]
    params |= {"after": after}
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
    if flt.communes:
        where.append("r.commune_code = ANY(:communes)")
        params["communes"] = flt.communes
    _updated_between(where, params, "r", flt.updated_from, flt.updated_to)
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
        ORDER BY {order_col} LIMIT {_limit_sql(limit + 1)}"""
    return page_sql, params, limit


def _limit_sql(limit: int) -> str:
    """A page's LIMIT as text, not bound. psycopg prepares a statement after a few runs; with
    a bound LIMIT PostgreSQL's generic plan guessed 10 % of the table and cost ~5x the custom
    plans of a page by territory and kind, so it was never chosen and every page was planned
    again (~1.1 of its 3.4 ms of backend CPU). With the number in the text the generic plan
    is chosen there: one statement per page size (a few), planned once per connection."""
    return str(int(limit))


def _updated_between(where: list[str], params: dict[str, Any], alias: str,
                     start: datetime | None, end: datetime | None) -> None:
    if start is not None:
        where.append(f"{alias}.updated_at >= :updated_from")
        params["updated_from"] = start
    if end is not None:
        where.append(f"{alias}.updated_at <= :updated_to")
        params["updated_to"] = end


def count_resources(session: Session, principal: Principal, flt: ResourceFilter) -> int:
    """How many resources the filter matches for the principal (OGC API's numberMatched)."""
    page_sql, params, _ = _page(session, principal, flt, MAX_LIMIT, None)
    unordered = page_sql.rsplit("ORDER BY", 1)[0]  # the page's filters, without its order
    return int(session.scalar(text(f"SELECT count(*) FROM ({unordered}) n"), params) or 0)


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
    ctes, joins, lists = _page_aggregates("SELECT id FROM page")
    sql = f"""
        WITH page AS MATERIALIZED ({page_sql}),
        {ctes}
        SELECT {_resource_columns(principal, lists)}
        {resource_from(principal, joins)}
        WHERE r.id IN (SELECT id FROM page)
        ORDER BY r.id"""
    return _trim([dict(row) for row in session.execute(text(sql), params).mappings()], limit)


# Shown to editors only: who typed what, and why a contribution was refused.
EDITOR_ONLY = ("created_by", "updated_by", "moderation_note")

# A feature's timestamps as GIS and people read them: RFC 3339 in UTC to the second, with `Z`
# ("2026-12-01T22:52:48Z", 20 characters where PostgreSQL's JSON wrote 32 with microseconds
# and an offset). Every feature of resources and links, from SQL or Python, writes them so.
STAMPED = ("created_at", "updated_at")
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_STAMP_SQL = '''YYYY-MM-DD"T"HH24:MI:SS"Z"'''


def stamp(value: datetime | None) -> str | None:
    """A timestamp as features write it (STAMPED)."""
    return value.astimezone(UTC).strftime(STAMP_FORMAT) if value is not None else None


def stamped(props: dict[str, Any]) -> dict[str, Any]:
    """`props` with its STAMPED timestamps written as features write them."""
    return {k: stamp(v) if k in STAMPED and isinstance(v, datetime) else v
            for k, v in props.items()}


def _stamp_sql(column: str) -> str:
    return f"to_char({column} AT TIME ZONE 'UTC', '{_STAMP_SQL}')"


def _properties_json(principal: Principal, alias: str) -> str:
    """SQL of a resource's GeoJSON properties (json), from the columns of `_resource_fields`
    selected as `alias`: every field but the id and the position, the editor-only ones for
    the editors of the row's territory only (carto.permissions). `row_to_json` of a row writes
    the text in one pass, where `to_jsonb(row) - keys` built, sorted and copied a binary
    object per feature (half the page's time at 1,000 features). Null properties stay: QGIS
    makes a layer's columns from the properties of its first features. Timestamps as
    `stamp` writes them."""
    names = [name for name, _ in _resource_fields(principal) if name not in ("id", "lon", "lat")]

    def column(name: str) -> str:
        if name in STAMPED:
            return f"{_stamp_sql(f'{alias}.{name}')} AS {name}"
        return f"{alias}.{name}"

    def obj(columns: list[str]) -> str:
        return (f"(SELECT row_to_json(p) FROM (SELECT "
                f"{', '.join(column(c) for c in columns)}) p)")

    shown = [name for name in names if name not in EDITOR_ONLY]
    return (f"CASE WHEN {permissions.editor_fields_sql(principal, alias)} "
            f"THEN {obj(names)} ELSE {obj(shown)} END")


@dataclass
class FeaturesText:
    """A page of GeoJSON Features as PostgreSQL wrote them: `text` is the Features joined by
    commas (what goes between the brackets of a FeatureCollection's `features`)."""

    text: str
    returned: int
    last: uuid.UUID | None  # the id to continue after; None on the last page


def list_resources_geojson(
    session: Session, principal: Principal, flt: ResourceFilter, limit: int = DEFAULT_LIMIT,
    after: uuid.UUID | None = None,
) -> FeaturesText:
    """The same page as GeoJSON text built by PostgreSQL in one statement and one row: no
    per-row Python, no per-row protocol message; the caller wraps it in its envelope. What
    keeps an API worker above 250 pages of 100/s, and GDAL's copy of 100,000 resources fast.
    Run by `hot_rows`: SQLAlchemy's text() and psycopg parsed the ~6 kB statement again on
    every page (~0.27 of 0.65 ms of the worker's CPU for it)."""
    sql, params = geojson_page_sql(session, principal, flt, limit, after)
    row = hot_rows(session, sql, params)[0]
    return FeaturesText(row.features, int(row.returned), row.last)


def geojson_page_sql(
    session: Session, principal: Principal, flt: ResourceFilter, limit: int,
    after: uuid.UUID | None,
) -> tuple[str, dict[str, Any]]:
    """The statement of `list_resources_geojson` and its parameters (its plan is tested)."""
    page_sql, params, limit = _page(session, principal, flt, limit, after)
    ctes, joins, lists = _page_aggregates("SELECT id FROM page")
    shown = _limit_sql(limit)
    properties = _properties_json(principal, "rows")
    position = "json_build_array(lon, lat)"
    sql = f"""
        WITH ahead AS MATERIALIZED ({page_sql}),
        page AS MATERIALIZED (SELECT id FROM ahead ORDER BY id LIMIT {shown}),
        {ctes},
        rows AS (SELECT {_resource_columns(principal, lists)} {resource_from(principal, joins)}
                 WHERE r.id IN (SELECT id FROM page))
        SELECT coalesce(string_agg('{{"type":"Feature","id":"' || id
                   || '","geometry":{{"type":"Point","coordinates":'
                   || {position} || '}},"properties":'
                   || {properties} || '}}', ',' ORDER BY id), '')
                   AS features,
               count(*) AS returned,
               CASE WHEN (SELECT count(*) FROM ahead) > {shown}
                    THEN (SELECT id FROM page ORDER BY id DESC LIMIT 1) END AS last
        FROM rows"""
    return sql, params


def get_resource(session: Session, principal: Principal, resource_id: uuid.UUID,
                 merged: bool = False) -> dict[str, Any]:
    """One resource as the principal sees it. `merged`: a resource merged into one the
    principal sees raises `Merged` naming it, rather than NotFound (the API's GET, the record
    page)."""
    visible, params = resource_predicate(principal, "r")
    sql = f"SELECT {_resource_columns(principal)} {resource_from(principal)} WHERE r.id = :id AND {visible}"
    row = session.execute(text(sql), params | {"id": resource_id}).mappings().first()
    if row is None:
        into = kept_of(session, principal, resource_id) if merged else None
        if into is not None:
            raise Merged(msg("error.resources.merged", id=resource_id, into=into), into)
        raise NotFound(msg("error.resources.unknown", id=resource_id))
    return dict(row)


MAX_MERGES = 20  # a chain of merges longer than this is not followed


def kept_of(session: Session, principal: Principal, resource_id: uuid.UUID) -> uuid.UUID | None:
    """The live resource a merged one now lives in, following merges of merges (A into B,
    then B into C: C), when the principal sees it; else None."""
    visible, params = resource_predicate(principal, "r")
    return session.scalar(text(f"""
        WITH RECURSIVE chain (kept, depth) AS (
            SELECT m.merged_into, 1 FROM resource m
            WHERE m.id = :id AND m.deleted_at IS NOT NULL AND m.merged_into IS NOT NULL
            UNION ALL
            SELECT m.merged_into, c.depth + 1 FROM chain c JOIN resource m ON m.id = c.kept
            WHERE m.deleted_at IS NOT NULL AND m.merged_into IS NOT NULL
              AND c.depth < {MAX_MERGES})
        SELECT r.id FROM chain c JOIN resource r ON r.id = c.kept
        WHERE r.deleted_at IS NULL AND {visible}
        ORDER BY c.depth DESC LIMIT 1"""), params | {"id": resource_id})


@dataclass
class LinkFilter:
    territory: str | None = None
    categories: list[str] = field(default_factory=list)
    min_level: int | None = None
    resource: uuid.UUID | None = None
    statuses: list[str] = field(default_factory=list)
    levels: list[int] = field(default_factory=list)
    bbox: tuple[float, float, float, float] | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None


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
    flt.categories = request_params.codes(flt.categories, vocab.categories().keys(), "category")
    if flt.min_level is not None and flt.min_level not in vocab.levels():
        raise Invalid.field("min_level", msg("error.links.level"))
    flt.statuses = request_params.codes(flt.statuses, vocab.LINK_STATUSES, "status")
    for level in flt.levels:
        if level not in vocab.levels():
            raise Invalid.field("level", msg("error.ogc.value_unknown", value=level,
                                             allowed=", ".join(map(str, vocab.levels()))))
    limit = max(1, min(limit, MAX_LIMIT))
    visible, params = link_predicate(principal, "l", "s", "t")
    where = [visible]
    params |= {"limit": limit + 1}
    if flt.territory is not None:
        territory_id = territories.id_of(session, flt.territory)
        if territory_id is None:
            raise Invalid.field("territory", msg("error.territories.unknown", slug=flt.territory))
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
    if flt.levels:
        where.append("l.level = ANY(:levels)")
        params["levels"] = flt.levels
    if flt.bbox:
        # the line as shown (private ends at their commune's centre), not the stored points
        where.append("ST_MakeLine(sg.g, tg.g) && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)")
        params |= dict(zip(("minx", "miny", "maxx", "maxy"), flt.bbox, strict=True))
    _updated_between(where, params, "l", flt.updated_from, flt.updated_to)
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
        raise NotFound(msg("error.links.unknown", id=link_id))
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



def suggest(session: Session, principal: Principal, territory_id: int, typed: str,
            limit: int = 8) -> list[dict[str, Any]]:
    """Resources of a territory whose name holds the text typed, accents and case ignored
    ("coeur" finds "Cœur": the database's terreau_fold), as the principal may see them; the
    names that start with it first. For choosing a link's ends by name."""
    typed = typed.strip()[:100]
    if not typed:
        return []
    visible, params = resource_predicate(principal, "r")
    rows = session.execute(text(f"""
        SELECT r.id::text AS id, r.name, r.kind, ST_X(sg.g) AS lon, ST_Y(sg.g) AS lat
        FROM resource_territory rt JOIN resource r ON r.id = rt.resource_id
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg
        WHERE rt.territory_id = :tid AND {visible}
          AND terreau_fold(r.name) LIKE '%' || terreau_fold(:typed) || '%'
        ORDER BY position(terreau_fold(:plain) IN terreau_fold(r.name)), r.name, r.id
        LIMIT :limit"""), params | {"tid": territory_id, "typed": like_escape(typed),
                                    "plain": typed, "limit": limit}).mappings()
    return [dict(r) for r in rows]
