"""Geometry helpers: points in and out of the database, WGS84 checks."""

import math
from typing import Any

from geoalchemy2.elements import WKBElement, WKTElement
from geoalchemy2.shape import to_shape
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from carto.errors import Invalid
from carto.i18n import msg

SRID = 4326


def check_lon_lat(lon: Any, lat: Any, field: str = "geometry") -> tuple[float, float]:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise Invalid.field(field, msg("error.geo.numbers")) from exc
    if not (math.isfinite(x) and math.isfinite(y)):
        raise Invalid.field(field, msg("error.geo.finite"))
    if not -180 <= x <= 180:
        raise Invalid.field(f"{field}.longitude", msg("error.geo.longitude", value=x))
    if not -90 <= y <= 90:
        raise Invalid.field(f"{field}.latitude", msg("error.geo.latitude", value=y))
    return x, y


def point_element(lon: float, lat: float) -> WKTElement:
    return WKTElement(f"POINT({lon!r} {lat!r})", srid=SRID)


def lon_lat(geom: Any) -> tuple[float, float]:
    """The coordinates of a point column, whether freshly assigned (WKT) or loaded (WKB)."""
    if isinstance(geom, WKTElement):
        text = str(geom.data).removeprefix("POINT(").removesuffix(")")
        x, y = text.split()
        return float(x), float(y)
    if isinstance(geom, WKBElement):
        pt = to_shape(geom)
        return pt.x, pt.y  # type: ignore[attr-defined]
    raise TypeError(f"not a point geometry: {geom!r}")


def _rings(geojson: dict[str, Any]) -> list[Any]:
    """The linear rings of a GeoJSON Polygon or MultiPolygon as given (before shapely, which
    would close an open ring silently); [] when the shape is not one of those."""
    coords = geojson.get("coordinates")
    if not isinstance(coords, list):
        return []
    polygons = [coords] if geojson.get("type") == "Polygon" else \
        coords if geojson.get("type") == "MultiPolygon" else []
    return [ring for polygon in polygons if isinstance(polygon, list) for ring in polygon]


def as_multipolygon(geojson: dict[str, Any], field: str = "geometry",
                    max_vertices: int | None = None) -> MultiPolygon:
    """A valid (Multi)Polygon from GeoJSON, or Invalid naming `field`. Rings must be closed
    and have four positions at least (RFC 7946 §3.1.6); `max_vertices` bounds the positions
    of all rings together, counted before any geometry is built."""
    rings = _rings(geojson) if isinstance(geojson, dict) else []
    if max_vertices is not None:
        count = sum(len(r) for r in rings if isinstance(r, list))
        if count > max_vertices:
            raise Invalid.field(f"{field}.coordinates",
                                msg("error.geo.vertices", count=count, most=max_vertices))
    for ring in rings:
        if not isinstance(ring, list) or len(ring) < 4:
            raise Invalid.field(f"{field}.coordinates", msg("error.geo.ring_short"))
        if ring[0] != ring[-1]:
            raise Invalid.field(f"{field}.coordinates",
                                msg("error.geo.ring_open", last=ring[-1], first=ring[0]))
    try:
        geometry: BaseGeometry = shape(geojson)
    except Exception as exc:
        raise Invalid.field(field, msg("error.geo.unreadable")) from exc
    if geometry.is_empty:
        raise Invalid.field(field, msg("error.geo.empty"))
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    if not isinstance(geometry, MultiPolygon):
        raise Invalid.field(field, msg("error.geo.polygon_expected", type=geometry.geom_type))
    if not geometry.is_valid:
        raise Invalid.field(field, msg("error.geo.invalid_polygon"))
    return geometry


def multipolygon_element(geometry: MultiPolygon | Polygon) -> WKTElement:
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    return WKTElement(geometry.wkt, srid=SRID)



# What `unwrap_feature` and `as_multipolygon` take, as JSON Schema (POST /api/gap): a Polygon,
# a MultiPolygon, a Feature of one, or a FeatureCollection of one such Feature. What no schema
# can state (closed rings, a valid polygon, its extent) is a 422 naming `geometry`.
_POSITION = {"type": "array", "minItems": 2, "maxItems": 3,
             "items": {"type": "number", "minimum": -180, "maximum": 180}}
_RINGS = {"type": "array", "minItems": 1,
          "items": {"type": "array", "minItems": 4, "items": _POSITION}}
POLYGON_SCHEMA: dict[str, Any] = {"type": "object", "required": ["type", "coordinates"],
                                  "properties": {"type": {"const": "Polygon"},
                                                 "coordinates": _RINGS}}
MULTIPOLYGON_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["type", "coordinates"],
    "properties": {"type": {"const": "MultiPolygon"},
                   "coordinates": {"type": "array", "minItems": 1, "items": _RINGS}}}


def feature_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """A Feature of a (Multi)Polygon with these `properties` (an object or null)."""
    return {"type": "object", "required": ["type", "geometry"],
            "properties": {"type": {"const": "Feature"},
                           "geometry": {"oneOf": [POLYGON_SCHEMA, MULTIPOLYGON_SCHEMA]},
                           "properties": {"type": ["object", "null"], **properties}}}


def perimeter_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """Every shape `unwrap_feature` takes, its Feature's `properties` as given."""
    feature = feature_schema(properties)
    return {"oneOf": [POLYGON_SCHEMA, MULTIPOLYGON_SCHEMA, feature, {
        "type": "object", "required": ["type", "features"],
        "properties": {"type": {"const": "FeatureCollection"},
                       "features": {"type": "array", "minItems": 1, "maxItems": 1,
                                    "items": feature}}}]}


def unwrap_feature(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A GeoJSON geometry, Feature or one-feature FeatureCollection → (geometry, properties)."""
    if not isinstance(body, dict):
        raise Invalid.field("geometry", msg("error.geo.object_expected"))
    if body.get("type") == "FeatureCollection":
        features = body.get("features") or []
        if len(features) != 1:
            raise Invalid.field("geometry", msg("error.geo.one_feature", count=len(features)))
        body = features[0]
        if not isinstance(body, dict):
            raise Invalid.field("geometry", msg("error.geo.object_expected"))
    if body.get("type") == "Feature":
        props = body.get("properties")
        props = {} if props is None else props
        geometry = body.get("geometry")
        if not isinstance(geometry, dict) or not isinstance(props, dict):
            raise Invalid.field("geometry", msg("error.geo.no_geometry"))
        return geometry, props
    return body, {}


__all__ = [
    "Point",
    "as_multipolygon",
    "check_lon_lat",
    "lon_lat",
    "multipolygon_element",
    "point_element",
    "unwrap_feature",
]
