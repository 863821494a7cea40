"""What each API operation answers on success, as JSON Schema (issue 10 §6): one table,
`SUCCESS`, read by api.openapi when it writes /openapi.json, so that every 2xx of every operation
documents its body (and schemathesis checks the real answers against it).

The schemas say what a client may rely on: the members always there (`required`), their
types, nullable where the value may be missing; members added later do not break them
(`additionalProperties` stays open). GeoJSON follows RFC 7946. A new operation adds its row
here (tests/api/test_openapi.py fails for a 2xx without a schema). Request bodies: api/schemas.py."""

from typing import Any

Schema = dict[str, Any]

GEOJSON = "application/geo+json"
JSON = "application/json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY: Schema = {"type": "string", "format": "binary"}
TEXT: Schema = {"type": "string"}

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
ARRAY: Schema = {"type": "array"}
OBJECT: Schema = {"type": "object"}
UUID: Schema = {"type": "string", "format": "uuid"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None,
        title: str | None = None) -> Schema:
    """An object with these members always present (and maybe these others)."""
    out: Schema = {"type": "object", "required": sorted(required),
                   "properties": {**required, **(optional or {})}}
    if title:
        out["title"] = title
    return out


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


# --------------------------------------------------------------------------- GeoJSON

GEOMETRY = obj({"type": {"enum": ["Point", "MultiPoint", "LineString", "MultiLineString",
                                  "Polygon", "MultiPolygon"]},
                "coordinates": ARRAY}, title="Geometry")


def feature(properties: Schema, title: str) -> Schema:
    return obj({"type": {"const": "Feature"}, "geometry": nullable(GEOMETRY),
                "properties": properties},
               {"id": nullable({"type": ["string", "integer"]})}, title=title)


def collection(item: Schema, title: str, **more: Schema) -> Schema:
    return obj({"type": {"const": "FeatureCollection"}, "features": array(item)}, more,
               title=title)


PAGE = {"numberReturned": INTEGER, "next": STRING,
        "links": array(obj({"rel": STRING, "href": STRING}, {"type": STRING}))}

TERRITORY = feature(obj({"slug": STRING, "name": STRING, "level": STRING},
                        {"population": nullable(INTEGER), "resources": INTEGER,
                         "links": INTEGER, "communes": array(STRING)}), "Territory")
RESOURCE = feature(obj({"name": STRING, "kind": STRING, "version": INTEGER},
                       {"territories": array(STRING), "moderation": STRING,
                        "visibility": STRING, "location_precision": STRING}), "Resource")
LINK = feature(obj({"category": STRING, "level": {"type": "integer", "minimum": 1,
                                                  "maximum": 5},
                    "source_id": STRING, "target_id": STRING, "version": INTEGER},
                   {"territory": STRING, "status": STRING}), "Link")
NEARBY_FEATURE = feature(obj({"id": STRING, "name": STRING, "kind": STRING,
                              "distance_m": NUMBER},
                             {"distance_approximate": BOOLEAN}), "NearbyResource")
NEARBY = collection(NEARBY_FEATURE, "Nearby", origin=OBJECT, query=OBJECT, matched=INTEGER,
                    returned=INTEGER, without_hours=nullable(INTEGER),
                    closed=nullable(INTEGER), without_hours_exact=nullable(BOOLEAN))
EXPORT_GEOJSON = collection(feature(OBJECT, "ExportedFeature"), "TerritoryExport",
                            level_history=ARRAY, sources=ARRAY, licence=STRING)

# --------------------------------------------------------------------------- JSON bodies

HISTORY = obj({"id": STRING, "entries": array(obj(
    {"action": STRING, "actor": nullable(STRING), "at": STRING,
     "before": nullable(OBJECT), "after": nullable(OBJECT)}))}, title="History")
LEVELS = obj({"id": STRING, "levels": array(obj({"date": nullable(STRING), "level": INTEGER},
                                                {"note": nullable(STRING)}))},
             title="LevelHistory")
MODERATION = obj({"resources": ARRAY, "links": ARRAY}, title="ModerationQueue")
TOKEN = obj({"id": INTEGER, "role": STRING, "territory": nullable(STRING)},
            {"name": STRING, "created_at": STRING, "revoked_at": nullable(STRING)},
            title="Token")
NEW_TOKEN = obj({"id": INTEGER, "token": STRING, "role": STRING,
                 "territory": nullable(STRING)}, title="NewToken")
KIND = obj({"code": STRING, "label_fr": STRING, "label_en": STRING},
           {"color": STRING, "icon": STRING, "sort_order": INTEGER}, title="Kind")
CATEGORY = obj({"code": STRING, "label_fr": STRING, "label_en": STRING}, title="Category")
LEVEL = obj({"level": INTEGER, "code": STRING, "label_fr": STRING, "label_en": STRING},
            title="Level")
FOOD_GROUP = obj({"code": STRING, "label_fr": STRING, "label_en": STRING}, title="FoodGroup")
GAP = obj({"perimeter": OBJECT, "population": nullable(INTEGER), "scenario": OBJECT,
           "groups": array(obj({"group": STRING})), "totals": OBJECT}, title="GapAnalysis")
GAP_COMMUNES = obj({"scenario": OBJECT, "communes": array(obj({"code": STRING,
                                                               "name": STRING}))},
                   {"metric": STRING}, title="GapCommunes")
COEFFICIENT = obj({"parameter": STRING, "product": STRING, "value": NUMBER})
COEFFICIENTS = obj({"coefficients": array(COEFFICIENT), "overridden": ARRAY},
                   title="Coefficients")
OVERRIDE = obj({"id": INTEGER, "parameter": STRING, "product": STRING, "value": NUMBER},
               {"scope": STRING}, title="CoefficientOverride")
SUGGESTIONS = obj({"q": STRING, "suggestions": array(obj({"type": STRING, "name": STRING}))},
                  title="Suggestions")
IMPORT_REPORT = obj({"territory": STRING, "dry_run": BOOLEAN,
                     "resources": nullable(OBJECT), "links": nullable(OBJECT)},
                    title="ImportReport")
TILEJSON = obj({"tilejson": STRING, "tiles": array(STRING), "vector_layers": ARRAY},
               title="TileJSON")
INDICATORS = obj({"territory": obj({"slug": STRING, "name": STRING}), "at": STRING},
                 {"resources": OBJECT, "links": OBJECT, "network": OBJECT},
                 title="Indicators")
EVOLUTION = obj({"territory": OBJECT}, title="Evolution")
OPPORTUNITIES = obj({"territory": OBJECT, "rules": ARRAY, "opportunities": ARRAY},
                    title="Opportunities")
COMPARISON = obj({"at": STRING}, title="Comparison")
HEALTH = obj({"status": {"enum": ["ok", "degraded"]}, "database": STRING}, title="Health")
MAP_VIEW = obj({"mode": STRING}, title="MapView")
MAP_SEARCH = obj({"results": array(obj({"id": STRING, "name": STRING}))}, title="MapSearch")
MAP_POPUP = obj({"id": STRING}, title="MapPopup")

CSV_BODY = {"schema": TEXT, "description": "with format=csv: UTF-8, a header row, formulas "
                                           "neutralised"}


def _json(schema: Schema) -> dict[str, Any]:
    return {JSON: {"schema": schema}}


def _geojson(schema: Schema) -> dict[str, Any]:
    return {GEOJSON: {"schema": schema}}


def _with_csv(content: dict[str, Any]) -> dict[str, Any]:
    return {**content, CSV: CSV_BODY}


_RESOURCE = _geojson(RESOURCE)
_LINK = _geojson(LINK)

# (method, path) → {status: {media type: {"schema": ...}}}: every success of every operation.
SUCCESS: dict[tuple[str, str], dict[int, dict[str, Any]]] = {
    ("get", "/healthz"): {200: _json(HEALTH)},
    ("get", "/api/territories"): {200: _geojson(collection(TERRITORY, "Territories"))},
    ("get", "/api/territories/{slug}"): {200: _geojson(TERRITORY)},
    ("get", "/api/resources"): {200: _with_csv(_geojson(collection(RESOURCE, "Resources",
                                                                   **PAGE)))},
    ("post", "/api/resources"): {201: _RESOURCE},
    ("get", "/api/resources/{resource_id}"): {200: _RESOURCE},
    ("patch", "/api/resources/{resource_id}"): {200: _RESOURCE},
    ("post", "/api/resources/{resource_id}/restore"): {200: _RESOURCE},
    ("post", "/api/resources/{resource_id}/validate"): {200: _RESOURCE},
    ("post", "/api/resources/{resource_id}/reject"): {200: _RESOURCE},
    ("get", "/api/resources/{resource_id}/history"): {200: _json(HISTORY)},
    ("get", "/api/links"): {200: _with_csv(_geojson(collection(LINK, "Links", **PAGE)))},
    ("post", "/api/links"): {201: _LINK},
    ("get", "/api/links/{link_id}"): {200: _LINK},
    ("patch", "/api/links/{link_id}"): {200: _LINK},
    ("post", "/api/links/{link_id}/restore"): {200: _LINK},
    ("post", "/api/links/{link_id}/validate"): {200: _LINK},
    ("post", "/api/links/{link_id}/reject"): {200: _LINK},
    ("get", "/api/links/{link_id}/history"): {200: _json(HISTORY)},
    ("get", "/api/links/{link_id}/levels"): {200: _json(LEVELS)},
    ("get", "/api/moderation"): {200: _json(MODERATION)},
    ("get", "/api/moderation/duplicates"): {200: _json(obj({"pairs": ARRAY}))},
    ("post", "/api/resources/{resource_id}/merge"): {200: _json(OBJECT)},
    ("post", "/api/moderation/duplicates/dismissals"): {
        code: _json(obj({"a": UUID, "b": UUID, "dismissed_by": STRING,
                         "dismissed_at": STRING}, title="Dismissal")) for code in (200, 201)},
    ("get", "/api/tokens"): {200: _json(array(TOKEN))},
    ("post", "/api/tokens"): {201: _json(NEW_TOKEN)},
    ("get", "/api/kinds"): {200: _json(array(KIND))},
    ("post", "/api/kinds"): {201: _json(KIND)},
    ("patch", "/api/kinds/{code}"): {200: _json(KIND)},
    ("get", "/api/categories"): {200: _json(array(CATEGORY))},
    ("get", "/api/levels"): {200: _json(array(LEVEL))},
    ("get", "/api/food-groups"): {200: _json(array(FOOD_GROUP))},
    ("get", "/api/territories/{slug}/gap"): {200: _with_csv(_json(GAP))},
    ("get", "/api/gap"): {200: _with_csv(_json(GAP))},
    ("post", "/api/gap"): {200: _with_csv(_json(GAP))},
    ("get", "/api/gap/communes"): {200: _json(GAP_COMMUNES)},
    ("get", "/api/gap/coefficients"): {200: _json(COEFFICIENTS)},
    ("get", "/api/gap/overrides"): {200: _json(array(OVERRIDE))},
    ("post", "/api/gap/overrides"): {201: _json(OVERRIDE)},
    ("get", "/api/nearby"): {200: _geojson(NEARBY)},
    ("get", "/api/nearby/suggest"): {200: _json(SUGGESTIONS)},
    ("post", "/api/imports"): {
        200: {**_json(IMPORT_REPORT), XLSX: {"schema": BINARY}, CSV: {"schema": TEXT}},
        201: {**_json(IMPORT_REPORT), XLSX: {"schema": BINARY}, CSV: {"schema": TEXT}}},
    ("get", "/api/imports/template"): {200: {XLSX: {"schema": BINARY}, CSV: {"schema": TEXT}}},
    ("get", "/api/territories/{slug}/export"): {200: {
        "application/geopackage+sqlite3": {"schema": BINARY}, GEOJSON: {"schema": EXPORT_GEOJSON},
        "application/zip": {"schema": BINARY}, XLSX: {"schema": BINARY},
        JSON: {"schema": obj({"structures": ARRAY, "services": ARRAY},
                             title="DataInclusion")}}},
    ("get", "/tiles/{layer}/{z}/{x}/{y}.pbf"): {
        200: {"application/vnd.mapbox-vector-tile": {"schema": BINARY}}},
    ("get", "/tiles/{layer}.json"): {200: _json(TILEJSON)},
    ("get", "/api/territories/{slug}/indicators"): {200: _with_csv(_json(INDICATORS))},
    ("get", "/api/territories/{slug}/evolution"): {200: _with_csv(_json(EVOLUTION))},
    ("get", "/api/territories/{slug}/opportunities"): {200: _with_csv(_json(OPPORTUNITIES))},
    ("get", "/api/territories/{slug}/network"): {200: {
        "application/gexf+xml": {"schema": TEXT}, "application/graphml+xml": {"schema": TEXT}}},
    ("get", "/api/indicators/compare"): {200: _with_csv(_json(COMPARISON))},
    ("get", "/api/opening-hours/check"): {200: _json(OBJECT)},
    # workshops (carto/workshops/): objects whose members carto.workshops documents
    ("post", "/api/workshops"): {201: _json(OBJECT)},
    ("get", "/api/workshops/{code}"): {200: _json(OBJECT)},
    ("post", "/api/workshops/{code}/join"): {201: _json(obj({"token": STRING,
                                                              "pseudonym": STRING}))},
    ("post", "/api/workshops/{code}/close"): {200: _json(OBJECT)},
    ("post", "/api/workshops/{code}/questions"): {201: _json(OBJECT)},
    ("get", "/api/workshops/{code}/questions/{question_id}"): {200: _json(OBJECT)},
    ("post", "/api/workshops/{code}/questions/{question_id}/vote"): {200: _json(OBJECT)},
    ("post", "/api/workshops/{code}/questions/{question_id}/close"): {200: _json(OBJECT)},
    ("get", "/api/workshops/{code}/feed"): {200: _json(OBJECT)},
    ("get", "/api/workshops/{code}/moderation"): {200: _json(OBJECT)},
    ("get", "/api/workshops/{code}/summary"): {200: _json(OBJECT)},
    ("get", "/territories/{slug}/map.html"): {200: {"text/html": {"schema": TEXT}}},
    ("get", "/territories/{slug}/map/features.json"): {200: _json(MAP_VIEW)},
    ("get", "/territories/{slug}/map/search.json"): {200: _json(MAP_SEARCH)},
    ("get", "/territories/{slug}/map/resources/{resource_id}.json"): {200: _json(MAP_POPUP)},
    ("get", "/territories/{slug}/map/links/{link_id}.json"): {200: _json(MAP_POPUP)},
}
