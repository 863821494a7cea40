"""OpenStreetMap: an Overpass result → rows of the resource importer.

Two shapes are read: the GeoJSON that overpass turbo exports (`properties` holding the tags,
`@id`/`id` = `node/123`; the older `{"type", "id", "tags"}` properties too) and Overpass JSON
(`elements` with `lat`/`lon`, or a `center` or `geometry` for ways and relations; a way given
by its node references is placed at the mean of its nodes). Tags → kind through
data/io/osm_crosswalk.csv (rows in order, the first whose every `key=value` holds wins; `*`
is any value); an element no row matches is rejected naming its tags. Every row keeps its
OSM id (`node/123`) as external id, its `opening_hours`, and the ODbL provenance."""

import csv
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from carto.i18n import msg
from carto.io.columns import IO_DIR
from carto.io.pipeline import Row
from carto.io.readers import KIND_UNKNOWN, _point

SOURCE = "OpenStreetMap"
LICENCE = "ODbL 1.0 — © OpenStreetMap contributors"
# the keys that say what a thing is: named in the reason of a row no crosswalk row matches
TOPICAL = ("amenity", "shop", "leisure", "landuse", "craft", "social_facility", "garden:type",
           "office", "building", "club")
OSM_TYPES = ("node", "way", "relation")
HEADER = ["external_id", "name", "kind", "description", "address", "lat", "lon",
          "location_precision", "opening_hours", "phone", "email", "website", "source_name",
          "licence"]


@lru_cache
def crosswalk() -> tuple[tuple[tuple[tuple[str, str], ...], str], ...]:
    """((conditions, kind), ...) in the file's order."""
    with (IO_DIR / "osm_crosswalk.csv").open(encoding="utf-8", newline="") as fh:
        return tuple((tuple(tuple(part.split("=", 1)) for part in row["tags"].split(";")),  # type: ignore[misc]
                      row["kind"]) for row in csv.DictReader(fh))


def kind_of(tags: dict[str, str]) -> str | None:
    for conditions, kind in crosswalk():
        if all(k in tags and (v == "*" or tags[k] == v) for k, v in conditions):
            return kind
    return None


def is_osm_id(value: Any) -> bool:
    if not isinstance(value, str) or "/" not in value:
        return False
    kind, _, number = value.partition("/")
    return kind in OSM_TYPES and number.isdigit()


def looks_like_geojson(data: Any) -> bool:
    """A FeatureCollection whose first features carry OSM ids (overpass turbo's export)."""
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        return False
    return any(isinstance(f, dict) and _feature_id(f) for f in features[:20])


def looks_like_overpass(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("elements"), list)


def _first(value: str | None) -> str:
    """The first of `a;b` (OSM separates several values by semicolons)."""
    return (value or "").split(";")[0].strip()


def _address(tags: dict[str, str]) -> str:
    street = " ".join(x for x in (tags.get("addr:housenumber"), tags.get("addr:street")) if x)
    place = " ".join(x for x in (tags.get("addr:postcode"), tags.get("addr:city")) if x)
    return ", ".join(x for x in (street, place) if x) or tags.get("addr:full", "")


def row(line: int, osm_id: str, tags: dict[str, str], point: tuple[float, float] | None) -> Row:
    """One element as a row: what the importer reads, or its rejection (no kind for its tags)."""
    values: dict[str, Any] = {
        "external_id": osm_id,
        "name": tags.get("name") or tags.get("name:fr") or tags.get("official_name") or "",
        "kind": "", "description": tags.get("description", ""), "address": _address(tags),
        "lat": "" if point is None else repr(point[1]),
        "lon": "" if point is None else repr(point[0]),
        "location_precision": "exact",
        "opening_hours": tags.get("opening_hours", ""),
        "phone": _first(tags.get("phone") or tags.get("contact:phone")),
        "email": _first(tags.get("email") or tags.get("contact:email")),
        "website": _first(tags.get("website") or tags.get("contact:website") or tags.get("url")),
        "source_name": SOURCE, "licence": LICENCE}
    kind = kind_of(tags)
    if kind is None:
        shown = ", ".join(f"{k}={tags[k]}" for k in TOPICAL if k in tags) or "—"
        values[KIND_UNKNOWN] = ("kind", msg("error.import.osm_no_kind", tags=shown))
    else:
        values["kind"] = kind
    return Row(line, values)


def _feature_id(feature: dict[str, Any]) -> str | None:
    props = feature.get("properties") or {}
    for candidate in (props.get("@id"), feature.get("id"), props.get("id")):
        if is_osm_id(candidate):
            return str(candidate)
    if props.get("type") in OSM_TYPES and str(props.get("id", "")).isdigit():
        return f"{props['type']}/{props['id']}"
    return None


def geojson_rows(features: list[Any]) -> Iterator[Row]:
    for i, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            continue
        props = feature.get("properties") or {}
        tags: dict[str, Any] = props["tags"] if isinstance(props.get("tags"), dict) else {
            k: v for k, v in props.items() if not k.startswith("@")}
        osm_id = _feature_id(feature) or ""
        yield row(i, osm_id, {str(k): str(v) for k, v in tags.items()},
                  _point(feature.get("geometry")))


def _centre(element: dict[str, Any], nodes: dict[int, tuple[float, float]]
            ) -> tuple[float, float] | None:
    if "lat" in element and "lon" in element:
        return float(element["lon"]), float(element["lat"])
    centre = element.get("center")
    if isinstance(centre, dict) and "lat" in centre:
        return float(centre["lon"]), float(centre["lat"])
    points = [(float(p["lon"]), float(p["lat"])) for p in element.get("geometry") or ()
              if isinstance(p, dict) and "lat" in p] or [
        nodes[n] for n in element.get("nodes") or () if n in nodes]
    if not points:
        return None
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def overpass_rows(elements: list[Any]) -> Iterator[Row]:
    """The tagged elements (untagged nodes are the geometry of ways: they only place them)."""
    nodes = {int(e["id"]): (float(e["lon"]), float(e["lat"])) for e in elements
             if isinstance(e, dict) and e.get("type") == "node" and "lat" in e}
    line = 0
    for element in elements:
        if not isinstance(element, dict):
            continue
        tags = element.get("tags")
        if not tags:
            continue
        line += 1
        yield row(line, f"{element.get('type')}/{element.get('id')}",
                  {str(k): str(v) for k, v in tags.items()}, _centre(element, nodes))


def table(data: Any) -> Any:
    """The importer's table of an Overpass JSON or an OSM GeoJSON document."""
    from carto.io.readers import Table

    if looks_like_overpass(data):
        elements = data["elements"]
        return Table(list(HEADER), overpass_rows(elements),
                     total=sum(1 for e in elements if isinstance(e, dict) and e.get("tags")))
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        from carto.errors import Invalid

        raise Invalid.field("file", msg("error.import.not_osm"))
    return Table(list(HEADER), geojson_rows(features), total=len(features))
