"""What a territory map shows, read through the visibility rules (no HTTP, no folium here).

Two ways of feeding a map:

- *embedded*: up to `MapSettings.embed_limit` resources, everything (resources, links, level
  histories) goes into the page, so it works offline and can be downloaded as one file;
- *by viewport*: beyond that, the page asks `features_in_view()` for the visible box only. When
  the box holds more resources than the browser should draw, it gets grid clusters computed in
  PostGIS instead of points, so what travels stays bounded whatever the territory's size.

Private persons are always read through `shown_geom` (moved to their commune's centre), and
the bounding-box filter runs on that shown point, never on the real one: probing with tiny
boxes must not reveal where someone lives. Their address and contacts never reach a map.
"""

import dataclasses
import functools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import territories
from carto.errors import Invalid, NotFound
from carto.i18n import msg
from carto.params import Box
from carto.search import OFFER_COLUMNS, resource_from, territory_stats
from carto.text import fold, like_escape
from carto.visibility import (
    ANONYMOUS,
    Principal,
    link_predicate,
    masked_columns,
    resource_predicate,
    shown_geom,
    shown_in,
    shown_precision,
)

DESCRIPTION_MAX = 600  # characters of description carried to a popup; the record has the rest
POINTS_HARD_CAP = 5000  # at street zoom, identical points are all sent even beyond the limit
LINKS_CAP = 3000
MAX_ZOOM_CLUSTERING = 17


@dataclass
class TerritoryGeometry:
    """The boundary and the communes around it as GeoJSON text, safe inside a `<script>` (the
    map pages put it in as it is); `boundary` and `communes` parse it, for other uses."""

    boundary_json: str
    bbox: tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat
    communes_json: str

    @functools.cached_property
    def boundary(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.boundary_json))

    @functools.cached_property
    def communes(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(self.communes_json))


@dataclass
class MapContent:
    """Everything an embedded map needs, already filtered for the principal."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    outside: list[dict[str, Any]] = field(default_factory=list)  # link ends of other territories


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def script_safe(json_text: str) -> str:
    """JSON text that may sit inside a <script> element (no `</script>`, no `<!--`, no line
    separators): the one escaping of data put into map pages."""
    return (json_text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def territory_geometry(session: Session, territory_id: int) -> TerritoryGeometry:
    """The boundary and the communes around it, simplified to what a screen can show: the
    tolerance follows the territory's size, so a neighbourhood keeps its streets' detail and
    four departments stay a few hundred kilobytes. Kept per territory (territories.OUTLINES)
    as the text the page carries, so a map page neither parses nor writes 1,100 outlines."""
    found = territories.OUTLINES.entry(session, territory_id,
                                       lambda: _outline(session, territory_id))
    return dataclasses.replace(found)  # its own parsed dicts, which folium may write into


def _outline(session: Session, territory_id: int) -> TerritoryGeometry:
    row = session.execute(text("""
        SELECT ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1, ST_YMax(geom) AS y1
        FROM territory WHERE id = :tid"""), {"tid": territory_id}).one()
    extent = max(row.x1 - row.x0, row.y1 - row.y0, 0.001)
    digits = 5 if extent < 0.5 else 4
    boundary = session.execute(text("""
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tol), :digits)
        FROM territory WHERE id = :tid"""),
        {"tid": territory_id, "tol": extent / 4000, "digits": digits}).scalar_one()
    margin = max(extent * 0.35, 0.01)
    rows = session.execute(text("""
        SELECT c.code, c.name,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.geom, :tol), :digits) AS geometry,
               EXISTS (SELECT 1 FROM territory_commune tc
                       WHERE tc.territory_id = :tid AND tc.commune_code = c.code) AS inside
        FROM commune c
        WHERE c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
        ORDER BY c.code"""),
        {"tid": territory_id, "tol": extent / 1500, "digits": digits,
         "x0": row.x0 - margin, "y0": row.y0 - margin, "x1": row.x1 + margin,
         "y1": row.y1 + margin}).all()
    features = ",".join(
        f'{{"type":"Feature","id":{json.dumps(code)},"geometry":{geometry},"properties":'
        f'{{"code":{json.dumps(code)},"name":{json.dumps(name, ensure_ascii=False)},'
        f'"inside":{"true" if inside else "false"}}}}}' for code, name, geometry, inside in rows)
    communes = '{"type":"FeatureCollection","features":[' + features + "]}"
    return TerritoryGeometry(boundary_json=script_safe(boundary),
                             bbox=(row.x0, row.y0, row.x1, row.y1),
                             communes_json=script_safe(communes))


COMMUNES_IN_BOX = 400  # outlines one answer draws; a wider view gets none (and says so)


def communes_in_box(session: Session, box: Box) -> dict[str, Any]:
    """The communes' outlines and names in a box, simplified to the box's size: the background
    of a map without tiles (the nearby page, as the territory maps draw theirs). At most
    COMMUNES_IN_BOX; beyond that the answer is empty with `too_many` (zoom in)."""
    extent = max(box.east - box.west, box.north - box.south, 0.001)
    params = {"x0": box.west, "y0": box.south, "x1": box.east, "y1": box.north,
              "tol": extent / 1500, "digits": 5 if extent < 0.5 else 4,
              "cap": COMMUNES_IN_BOX + 1}
    rows = session.execute(text("""
        SELECT c.code, c.name,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.geom, :tol), :digits) AS geometry
        FROM commune c WHERE c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
        ORDER BY c.code LIMIT :cap"""), params).all()
    if len(rows) > COMMUNES_IN_BOX:
        return {"type": "FeatureCollection", "features": [], "too_many": True}
    return {"type": "FeatureCollection", "too_many": False, "features": [
        {"type": "Feature", "id": code, "geometry": json.loads(geometry),
         "properties": {"code": code, "name": name}} for code, name, geometry in rows]}


MAP_MASKED = ("address", "website", "phone", "email")  # of visibility.MASKED_COLUMNS
# A contribution still awaiting an editor (only its author and the editors read it, through
# carto.visibility): true, else NULL, which the map data leaves out.
PENDING = "CASE WHEN {a}.moderation = 'pending' THEN true END"


IN_TERRITORY = "JOIN resource_territory rt ON rt.resource_id = r.id AND rt.territory_id = :tid"


def _resource_columns(principal: Principal) -> str:
    # A map is printed, embedded and downloaded: what could reach a private person is left out
    # of it whoever asks (the anonymous rule of carto.visibility), editors included.
    return f"""
        r.id::text AS id, r.name, r.kind, left(r.description, {DESCRIPTION_MAX + 1}) AS description,
        c.name AS commune_name, ST_Y(sg.g) AS lat, ST_X(sg.g) AS lon,
        {shown_precision(principal, "r")} AS precision, {OFFER_COLUMNS},
        {masked_columns(ANONYMOUS, "r", MAP_MASKED)},
        r.illustrative, r.status, {PENDING.format(a="r")} AS pending"""


def _resource_dict(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["lat"], out["lon"] = _round(out["lat"]), _round(out["lon"])
    desc = out.get("description")
    if desc and len(desc) > DESCRIPTION_MAX:
        out["description"] = desc[:DESCRIPTION_MAX].rstrip() + "…"
    out["products"] = list(out.get("products") or [])
    out["access_conditions"] = list(out.get("access_conditions") or [])
    return {k: v for k, v in out.items() if v not in (None, [], "")}


def _of_workshop(alias: str, workshop_id: int | None) -> str:
    """A workshop's output (issue 14): only what it added, when a workshop is named (no
    condition otherwise, so the territory's plan stays what it was)."""
    return "" if workshop_id is None else f" AND {alias}.workshop_id = :wid"


def territory_resources(session: Session, territory_id: int, principal: Principal = ANONYMOUS,
                        limit: int | None = None,
                        workshop_id: int | None = None) -> list[dict[str, Any]]:
    visible, params = resource_predicate(principal, "r")
    sql = f"""
        SELECT {_resource_columns(principal)} {resource_from(principal, IN_TERRITORY)}
        WHERE {visible}{_of_workshop("r", workshop_id)}
        ORDER BY r.name, r.id LIMIT :limit"""
    rows = session.execute(text(sql), params | {"tid": territory_id, "limit": limit,
                                                "wid": workshop_id}).mappings()
    return [_resource_dict(r) for r in rows]


def _resources_by_id(session: Session, ids: list[str],
                     principal: Principal) -> list[dict[str, Any]]:
    if not ids:
        return []
    visible, params = resource_predicate(principal, "r")
    sql = f"""
        SELECT {_resource_columns(principal)} {resource_from(principal)}
        WHERE r.id = ANY(CAST(:ids AS uuid[])) AND {visible}"""
    rows = session.execute(text(sql), params | {"ids": ids}).mappings()
    return [_resource_dict(r) for r in rows]


def _history(link: str) -> str:
    """The level history of link row `link` (its alias), oldest first, as JSON."""
    return f"""(SELECT coalesce(json_agg(json_build_array(h.changed_on, h.level, h.note)
                                        ORDER BY h.changed_on, h.id), '[]'::json)
                FROM link_level_history h WHERE h.link_id = {link}.id)"""


def _link_dict(row: Any) -> dict[str, Any]:
    out = dict(row)
    if out.get("started_on") is not None:
        out["started_on"] = out["started_on"].isoformat()
    out["stakes"] = list(out.get("stakes") or [])
    return {k: v for k, v in out.items() if v not in (None, [], "")}


def territory_links(session: Session, territory_id: int, principal: Principal = ANONYMOUS,
                    limit: int | None = None,
                    workshop_id: int | None = None) -> list[dict[str, Any]]:
    visible, params = link_predicate(principal, "l", "s", "t")
    # The level history is read for the rows kept only (after the LIMIT), not for every link
    # the sort looks at.
    sql = f"""
        SELECT v.id::text AS id, v.source, v.target, v.source_name, v.target_name,
               v.source_kind, v.target_kind, v.category, v.level, v.stakes, v.description,
               v.started_on, v.directed, v.status,
               {_history("v")} AS history, v.pending
        FROM (SELECT l.id, l.source_id::text AS source, l.target_id::text AS target,
                     s.name AS source_name, t.name AS target_name, s.kind AS source_kind,
                     t.kind AS target_kind, l.category, l.level, l.stakes, l.description,
                     l.started_on, l.directed, l.status, {PENDING.format(a="l")} AS pending
              FROM link l JOIN resource s ON s.id = l.source_id
              JOIN resource t ON t.id = l.target_id
              WHERE l.territory_id = :tid AND {visible}{_of_workshop("l", workshop_id)}
              ORDER BY l.category, l.level DESC, s.name, t.name, l.id LIMIT :limit) v
        ORDER BY v.category, v.level DESC, v.source_name, v.target_name, v.id"""
    rows = session.execute(text(sql), params | {"tid": territory_id, "limit": limit,
                                                "wid": workshop_id}).mappings()
    return [_link_dict(r) for r in rows]


def map_content(session: Session, territory_id: int, principal: Principal = ANONYMOUS,
                workshop_id: int | None = None) -> MapContent:
    """Everything the territory's map embeds, or only what a workshop added (`workshop_id`):
    its links' other ends, when not its own, come as `outside` points."""
    resources = territory_resources(session, territory_id, principal, workshop_id=workshop_id)
    links = territory_links(session, territory_id, principal, workshop_id=workshop_id)
    known = {r["id"] for r in resources}
    missing = sorted({end for lk in links for end in (lk["source"], lk["target"])} - known)
    return MapContent(resources, links, _resources_by_id(session, missing, principal))


CONTEXT_LAYERS = ("markets", "gardens", "community_centres", "osm_food_shops")


def context_features(session: Session, bbox: tuple[float, float, float, float],
                     cap: int = 3000) -> dict[str, dict[str, Any]]:
    """Context points (not edited, only shown) around the territory, per layer, with the
    source and licence each layer must display (ODbL for OpenStreetMap)."""
    x0, y0, x1, y1 = bbox
    margin = max(x1 - x0, y1 - y0) * 0.35 + 0.005
    rows = session.execute(text("""
        SELECT layer, name, category, source, licence, ST_Y(geom) AS lat, ST_X(geom) AS lon
        FROM context_feature
        WHERE geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)
        ORDER BY layer, name, id LIMIT :cap"""),
        {"x0": x0 - margin, "y0": y0 - margin, "x1": x1 + margin, "y1": y1 + margin,
         "cap": cap}).mappings()
    layers: dict[str, dict[str, Any]] = {}
    for r in rows:
        layer = layers.setdefault(r["layer"], {"source": r["source"], "licence": r["licence"],
                                               "points": []})
        layer["points"].append([_round(r["lat"]), _round(r["lon"]), r["name"] or "",
                                r["category"] or ""])
    return layers


# --- by viewport ----------------------------------------------------------------------------

BBox = Box  # parsed by carto.params.box, the one bbox parser

ENVELOPE = "ST_MakeEnvelope(:w, :s, :e, :n, 4326)"


def _in_view_sql(principal: Principal, columns: str, extra_where: str = "") -> tuple[str, dict]:
    """Resources of the territory whose *shown* point is in the box (`visibility.shown_in`:
    rows shown where they are by the GiST index on resource.geom, private persons through
    their commune's centre)."""
    visible, params = resource_predicate(principal, "r")
    sql = f"""
        SELECT {columns} {resource_from(principal, IN_TERRITORY)}
        WHERE {visible} {extra_where} AND {shown_in(principal, ENVELOPE)}"""
    return sql, params


VIEW_COLUMNS = """r.id::text AS id, r.name, r.kind, ST_Y(sg.g) AS lat, ST_X(sg.g) AS lon,
                  {precision} AS precision"""


def features_in_view(session: Session, territory_id: int, bbox: BBox, zoom: int,
                     limit: int, kinds: list[str] | None = None,
                     principal: Principal = ANONYMOUS) -> dict[str, Any]:
    """Points when the box holds at most `limit` resources (or at street zoom), else grid
    clusters with their count by kind. `kinds` filters (the layers the user left on)."""
    extra = " AND r.kind = ANY(:kinds)" if kinds is not None else ""
    columns = VIEW_COLUMNS.format(precision=shown_precision(principal, "r"))
    sql, params = _in_view_sql(principal, columns, extra)
    params |= bbox.params() | {"tid": territory_id, "kinds": kinds}
    cap = POINTS_HARD_CAP if zoom >= MAX_ZOOM_CLUSTERING else limit
    # No ORDER BY: the scan stops at cap + 1 rows (the browser orders what it draws).
    rows = session.execute(text(f"SELECT * FROM ({sql}) v LIMIT :cap"),
                           params | {"cap": cap + 1}).mappings().all()
    if len(rows) <= cap:
        points = [[r["id"], r["name"], r["kind"], _round(r["lat"]), _round(r["lon"]),
                   r["precision"]] for r in rows]
        return {"mode": "points", "resources": points, "count": len(points)}
    return {"mode": "clusters", "clusters": _clusters(session, territory_id, bbox, zoom, kinds,
                                                      principal)}


def _clusters(session: Session, territory_id: int, bbox: BBox, zoom: int,
              kinds: list[str] | None, principal: Principal) -> list[list[Any]]:
    return _clusters_at(session, territory_id, bbox, [zoom], kinds, principal)[zoom]


def _clusters_at(session: Session, territory_id: int, bbox: BBox, zooms: list[int],
                 kinds: list[str] | None, principal: Principal) -> dict[int, list[list[Any]]]:
    """Counts on a grid of about 64 screen pixels at each zoom, by kind, in one reading of the
    points; each cell's point is the mean of its resources, so a cluster sits where its
    resources are."""
    cells_of = [64 * 360.0 / (256 * 2 ** max(0, min(z, 22))) for z in zooms]
    extra = " AND r.kind = ANY(:kinds)" if kinds is not None else ""
    sql, params = _in_view_sql(principal, "r.kind, ST_X(sg.g) AS x, ST_Y(sg.g) AS y", extra)
    rows = session.execute(text(f"""
        SELECT z.zoom, floor(x / z.cell)::bigint AS cx, floor(y / z.cell)::bigint AS cy, kind,
               count(*) AS n, avg(x) AS x, avg(y) AS y,
               min(x) AS x0, min(y) AS y0, max(x) AS x1, max(y) AS y1
        FROM ({sql}) v
        CROSS JOIN unnest(CAST(:zooms AS int[]), CAST(:cells AS float8[])) AS z(zoom, cell)
        GROUP BY 1, 2, 3, 4"""),
        params | bbox.params() | {"tid": territory_id, "kinds": kinds, "zooms": zooms,
                                  "cells": cells_of}).mappings()
    grids: dict[int, dict[tuple[int, int], dict[str, Any]]] = {z: {} for z in zooms}
    for r in rows:
        c = grids[r["zoom"]].setdefault(
            (r["cx"], r["cy"]), {"n": 0, "x": 0.0, "y": 0.0, "kinds": {},
                                 "box": [90.0, 180.0, -90.0, -180.0]})
        n = int(r["n"])
        c["x"] += float(r["x"]) * n
        c["y"] += float(r["y"]) * n
        c["n"] += n
        c["kinds"][r["kind"]] = n
        box = c["box"]
        box[:] = [min(box[0], r["y0"]), min(box[1], r["x0"]), max(box[2], r["y1"]),
                  max(box[3], r["x1"])]
    # [lat, lon, count, {kind: count}, [south, west, north, east]]: a click zooms to the box.
    return {z: [[_round(c["y"] / c["n"]), _round(c["x"] / c["n"]), c["n"], c["kinds"],
                 [_round(v) for v in c["box"]]] for c in grid.values()]
            for z, grid in grids.items()}


WORLD = Box(-180.0, -90.0, 180.0, 90.0)
FIRST_VIEW_CLUSTERS = 150  # bubbles of one zoom of the first view a page carries, at most


def first_view(session: Session, territory_id: int, zooms: list[int], limit: int,
               principal: Principal = ANONYMOUS) -> dict[str, Any] | None:
    """What `features_in_view` answers, at each of `zooms`, for any box that holds every
    resource of the territory this reader may see, with their extent (`[south, west, north,
    east]` of the shown points): the page carries it, so the map's first view needs no second
    request (the script uses it only when its first box holds that extent, with every kind
    on). None when that answer would be points (at most `limit` resources), or no zoom."""
    zooms = [z for z in zooms if z < MAX_ZOOM_CLUSTERING]
    if not zooms:
        return None
    views = _clusters_at(session, territory_id, WORLD, zooms, None, principal)
    coarsest = views[zooms[0]]
    if sum(c[2] for c in coarsest) <= limit:
        return None
    # The finer zooms of very wide screens would weigh most of the page: those ask.
    zooms = [z for z in zooms if len(views[z]) <= FIRST_VIEW_CLUSTERS] or zooms[:1]
    boxes = [c[4] for c in coarsest]
    # Widened by a rounding step (the boxes are rounded to 6 decimals), so it holds every point.
    extent = [min(b[0] for b in boxes) - 1e-6, min(b[1] for b in boxes) - 1e-6,
              max(b[2] for b in boxes) + 1e-6, max(b[3] for b in boxes) + 1e-6]
    return {"extent": extent,
            "views": {str(z): {"mode": "clusters", "clusters": views[z]} for z in zooms}}


def links_in_view(session: Session, territory_id: int, resource_ids: list[str],
                  min_level: int = 1, categories: list[str] | None = None,
                  principal: Principal = ANONYMOUS, cap: int = LINKS_CAP) -> dict[str, Any]:
    """Links touching the resources on screen, strongest first, each with both ends' shown
    points (an end off screen is drawn where it is)."""
    if not resource_ids:
        return {"links": [], "truncated": False}
    visible, params = link_predicate(principal, "l", "s", "t")
    cat = " AND l.category = ANY(:cats)" if categories is not None else ""
    rows = session.execute(text(f"""
        SELECT l.id::text AS id, l.source_id::text AS source, l.target_id::text AS target,
               l.category, l.level,
               ST_Y(sg.g) AS slat, ST_X(sg.g) AS slon, ST_Y(tg.g) AS tlat, ST_X(tg.g) AS tlon
        FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "s")} AS g) sg
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "t")} AS g) tg
        WHERE l.territory_id = :tid AND {visible} AND l.level >= :min_level {cat}
          AND (l.source_id = ANY(CAST(:ids AS uuid[])) OR l.target_id = ANY(CAST(:ids AS uuid[])))
        ORDER BY l.level DESC, l.id LIMIT :cap"""),
        params | {"tid": territory_id, "ids": resource_ids, "min_level": min_level,
                  "cats": categories, "cap": cap + 1}).mappings().all()
    links = [[r["id"], r["source"], r["target"], r["category"], r["level"],
              _round(r["slat"]), _round(r["slon"]), _round(r["tlat"]), _round(r["tlon"])]
             for r in rows[:cap]]
    return {"links": links, "truncated": len(rows) > cap}


def _fold_sql(column: str) -> str:
    """Accent- and case-insensitive form of a column, like carto.text.fold (without unaccent,
    so it needs no extension)."""
    return (f"regexp_replace(translate(lower({column}), 'àáâäãåçèéêëìíîïñòóôöõùúûüýÿ', "
            f"'aaaaaaceeeeiiiinooooouuuuyy'), '[[:space:]''’_.-]+', ' ', 'g')")


def search(session: Session, territory_id: int, query: str, limit: int = 10,
           principal: Principal = ANONYMOUS) -> list[dict[str, Any]]:
    """Resources of the territory whose name contains the words typed, accents ignored."""
    folded = fold(query)[:100]
    if not folded:
        return []
    visible, params = resource_predicate(principal, "r")
    pattern = "%" + like_escape(folded) + "%"
    rows = session.execute(text(f"""
        SELECT r.id::text AS id, r.name, r.kind, ST_Y(sg.g) AS lat, ST_X(sg.g) AS lon
        FROM resource r
        JOIN resource_territory rt ON rt.resource_id = r.id AND rt.territory_id = :tid
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg
        WHERE {visible} AND {_fold_sql("r.name")} LIKE :pattern
        ORDER BY position(:folded IN {_fold_sql("r.name")}), r.name LIMIT :limit"""),
        params | {"tid": territory_id, "pattern": pattern, "folded": folded,
                  "limit": limit}).mappings()
    return [{**dict(r), "lat": _round(r["lat"]), "lon": _round(r["lon"])} for r in rows]


def _uuid(value: str, name: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise Invalid.field(name, msg("error.mapdata.uuid")) from None


def resource_detail(session: Session, territory_id: int, resource_id: str,
                    principal: Principal = ANONYMOUS) -> dict[str, Any]:
    """One resource for its popup, with its links in this territory and the other ends."""
    rid = _uuid(resource_id, "id")
    found = _resources_by_id(session, [rid], principal)
    if not found:
        raise NotFound(msg("error.resources.unknown", id=rid))
    visible, params = link_predicate(principal, "l", "s", "t")
    rows = session.execute(text(f"""
        SELECT l.id::text AS id, l.source_id::text AS source, l.target_id::text AS target,
               l.category, l.level, s.name AS source_name, t.name AS target_name
        FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.territory_id = :tid AND {visible}
          AND (l.source_id = CAST(:rid AS uuid) OR l.target_id = CAST(:rid AS uuid))
        ORDER BY l.level DESC, l.id"""), params | {"tid": territory_id, "rid": rid}).mappings()
    return {**found[0], "links": [dict(r) for r in rows]}


def link_detail(session: Session, territory_id: int, link_id: str,
                principal: Principal = ANONYMOUS) -> dict[str, Any]:
    lid = _uuid(link_id, "id")
    visible, params = link_predicate(principal, "l", "s", "t")
    row = session.execute(text(f"""
        SELECT l.id::text AS id, l.source_id::text AS source, l.target_id::text AS target,
               l.category, l.level, l.stakes, l.description, l.started_on, l.directed,
               l.status, {_history("l")} AS history, s.name AS source_name, t.name AS target_name,
               {PENDING.format(a="l")} AS pending
        FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.id = CAST(:lid AS uuid) AND l.territory_id = :tid AND {visible}"""),
        params | {"tid": territory_id, "lid": lid}).mappings().first()
    if row is None:
        raise NotFound(msg("error.links.unknown", id=lid))
    return _link_dict(row)


def territory_summary(session: Session, slug: str,
                      principal: Principal = ANONYMOUS) -> dict[str, Any]:
    """The territory's facts and counts, computed for this territory only (the home page's
    `territories.summaries` counts every territory at once, too much for a 100,000-point one)."""
    row = session.execute(text("""
        SELECT tr.id, tr.slug, tr.name, tr.level, tr.description, tr.population,
               tr.population_source, tr.population_year, tr.geometry_source,
               (SELECT array_agg(c.name ORDER BY c.name) FROM territory_commune tc
                  JOIN commune c ON c.code = tc.commune_code
                 WHERE tc.territory_id = tr.id) AS communes
        FROM territory tr WHERE tr.slug = :slug"""), {"slug": slug}).mappings().first()
    if row is None:
        raise NotFound(msg("error.territories.unknown", slug=slug))
    out = dict(row)
    out["communes"] = list(out["communes"] or [])
    stats = territory_stats(session, principal, out["id"])
    out["by_kind"] = stats["resources_by_kind"]
    out["by_category"] = stats["links_by_category"]
    out["by_level"] = {int(level): n for level, n in stats["links_by_level"].items()}
    out["resources"], out["links"] = stats["resources"], stats["links"]
    return out


def territory_id(session: Session, slug: str) -> int:
    found = territories.id_of(session, slug)
    if found is None:
        raise NotFound(msg("error.territories.unknown", slug=slug))
    return found
