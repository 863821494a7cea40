"""Mapbox vector tiles of resources and links (ST_AsMVT), through the visibility rules: the
position in a tile is the one the principal is shown (`carto.visibility.shown_geom`), and a
tile is selected by that position (`shown_in`), so a private person's home is in no tile.

A tile holds at most `cap(z)` features: at low zooms one tile covers a department and would
otherwise carry every point of it (1M points, z6: 1.2 MiB, 500 ms). The features kept are the
first by id, a uniform sample (ids are random), the same at every request (stable ETags).
"""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import search
from carto.errors import Invalid, NotFound
from carto.i18n import msg
from carto.visibility import (
    Principal,
    link_predicate,
    resource_predicate,
    shown_geom,
    shown_in,
    shown_precision,
)

EXTENT, BUFFER = 4096, 64
MAX_ZOOM = 22


@dataclass(frozen=True)
class Layer:
    id: str
    geometry: str
    fields: dict[str, str]  # TileJSON vector_layers fields: name -> description


LAYERS = {
    "resources": Layer("resources", "point", {
        "id": "String", "name": "String", "kind": "String", "location_precision": "String"}),
    "links": Layer("links", "line", {
        "id": "String", "category": "String", "level": "Number", "source_id": "String",
        "target_id": "String"}),
}


def cap(z: int) -> int:
    """Features per tile: 1,000 up to z8, 5,000 up to z11, then 20,000."""
    return 1_000 if z <= 8 else 5_000 if z <= 11 else 20_000


def layer(name: str) -> Layer:
    if name not in LAYERS:
        raise NotFound(msg("error.tiles.layer_unknown", layer=name, known=", ".join(LAYERS)))
    return LAYERS[name]


def check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise Invalid.field("z", msg("error.tiles.zoom", max=MAX_ZOOM))
    if not (0 <= x < 2 ** z and 0 <= y < 2 ** z):
        raise Invalid.field("x", msg("error.tiles.xy", z=z, n=2 ** z - 1))


# The tile's envelope in lon/lat, with the buffer ST_AsMVTGeom keeps around the tile.
ENVELOPE = f"ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => {BUFFER / EXTENT}), 4326)"


def resources_tile(session: Session, principal: Principal, z: int, x: int, y: int,
                   kinds: list[str] | None = None, territory: str | None = None) -> bytes:
    check_tile(z, x, y)
    visible, params = resource_predicate(principal, "r")
    where = [visible, shown_in(principal, "(SELECT env FROM bounds)", "r")]
    flt = search.ResourceFilter(territory=territory, kinds=kinds or [])
    territory_id = search.check_filter(session, flt)
    if kinds:
        where.append("r.kind = ANY(:kinds)")
        params["kinds"] = kinds
    if territory_id is not None:
        where.append("EXISTS (SELECT 1 FROM resource_territory rt WHERE rt.resource_id = r.id "
                     "AND rt.territory_id = :territory_id)")
        params["territory_id"] = territory_id
    sql = f"""
        WITH bounds AS MATERIALIZED (SELECT {ENVELOPE} AS env,
                                            ST_TileEnvelope(:z, :x, :y) AS tile),
        picked AS (
            SELECT r.id, r.name, r.kind,
                   {shown_precision(principal, "r")} AS location_precision,
                   {shown_geom(principal, "r")} AS g
            FROM resource r WHERE {' AND '.join(where)}
            ORDER BY r.id LIMIT :cap),
        mvt AS (
            SELECT p.id::text AS id, p.name, p.kind, p.location_precision,
                   ST_AsMVTGeom(ST_Transform(p.g, 3857), b.tile, {EXTENT}, {BUFFER}, true) AS geom
            FROM picked p, bounds b)
        SELECT ST_AsMVT(mvt, 'resources', {EXTENT}, 'geom') FROM mvt"""
    params |= {"z": z, "x": x, "y": y, "cap": cap(z)}
    return bytes(session.scalar(text(sql), params) or b"")


def links_tile(session: Session, principal: Principal, z: int, x: int, y: int,
               territory: str | None = None) -> bytes:
    check_tile(z, x, y)
    visible, params = link_predicate(principal, "l", "s", "t")
    where = [visible, "ST_MakeLine(sg.g, tg.g) && (SELECT env FROM bounds)"]
    if territory is not None:
        flt = search.ResourceFilter(territory=territory)
        where.append("l.territory_id = :territory_id")
        params["territory_id"] = search.check_filter(session, flt)
    sql = f"""
        WITH bounds AS MATERIALIZED (SELECT {ENVELOPE} AS env,
                                            ST_TileEnvelope(:z, :x, :y) AS tile),
        picked AS (
            SELECT l.id, l.category, l.level, l.source_id, l.target_id,
                   ST_MakeLine(sg.g, tg.g) AS g
            FROM link l
            JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
            CROSS JOIN LATERAL (SELECT {shown_geom(principal, "s")} AS g) sg
            CROSS JOIN LATERAL (SELECT {shown_geom(principal, "t")} AS g) tg
            WHERE {' AND '.join(where)}
            ORDER BY l.id LIMIT :cap),
        mvt AS (
            SELECT p.id::text AS id, p.category, p.level, p.source_id::text AS source_id,
                   p.target_id::text AS target_id,
                   ST_AsMVTGeom(ST_Transform(p.g, 3857), b.tile, {EXTENT}, {BUFFER}, true) AS geom
            FROM picked p, bounds b)
        SELECT ST_AsMVT(mvt, 'links', {EXTENT}, 'geom') FROM mvt"""
    params |= {"z": z, "x": x, "y": y, "cap": cap(z)}
    return bytes(session.scalar(text(sql), params) or b"")
