"""What each API operation answers on success, as JSON Schema (issue 10 §6): one table,
`SUCCESS`, read by api.openapi when it writes /openapi.json, so that every 2xx of every operation
documents its body (and schemathesis checks the real answers against it).

The schemas say what a client may rely on: the members always there (`required`), their
types, nullable where the value may be missing; members added later do not break them
(`additionalProperties` stays open). GeoJSON follows RFC 7946. A new operation adds its row
here (tests/api/test_openapi.py fails for a 2xx without a schema). Request bodies: api/schemas.py."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


def model_schema(model: type[BaseModel]) -> Schema:
    """A pydantic model's JSON Schema with its `$defs` written in place: the schema goes into
    the OpenAPI document, where `#/$defs/...` would point at the document's root."""
    found = model.model_json_schema()
    defs = found.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    out: Schema = inline(found)
    return out


# --------------------------------------------------------------------------- gap analysis
# The gap answer is described once, here, as pydantic models (members that may be unknown are
# nullable: null is unknown, never zero); `GAP` is their JSON Schema.

class GapGroup(BaseModel):
    """One food group. null means unknown, never zero: `coverage`, `shortfall_t` and
    `land_to_close_ha` are null when no producer of the catchment declares anything (known.
    producers false); the farmland figures are null when no farmland is imported."""

    model_config = ConfigDict(extra="allow")
    group: str
    label: str
    demand_t: float
    land_needed_ha: float
    supply_producers_t: float = Field(description="what mapped producers declare (t/year)")
    supply_farmland_t: float | None
    farmland_ha: float | None
    coverage: float | None = Field(description="supply / demand as a fraction; null: unknown")
    coverage_farmland: float | None
    shortfall_t: float | None
    land_to_close_ha: float | None


class GapTotals(BaseModel):
    model_config = ConfigDict(extra="allow")
    demand_t: float
    land_needed_ha: float
    farmland_ha: float | None
    land_ratio_gross: float | None
    land_ratio_capped: float | None
    supply_producers_t: float
    coverage_capped: float | None
    shortfall_t: float | None
    land_to_close_ha: float | None


class GapKnown(BaseModel):
    producers: bool = Field(description="a producer of the catchment declares an output or a "
                                        "surface (else the coverage is unknown)")
    farmland: bool = Field(description="farmland is imported for the perimeter")


class GapOut(BaseModel):
    """The analysis of one perimeter (JSON; `format=csv` gives the same as a spreadsheet):
    the one description of the gap answer, written into /openapi.json as `GAP`."""

    model_config = ConfigDict(extra="allow")
    perimeter: dict[str, Any] = Field(description="what was analysed (kind, name, communes)")
    scenario: dict[str, Any] = Field(description="the scenario's parameters, as given or "
                                                 "defaulted")
    population: int
    population_source: str | None
    groups: list[GapGroup]
    totals: GapTotals
    known: GapKnown
    summary: list[str]
    caveat: str



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
GAP = model_schema(GapOut)
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

# --------------------------------------------------------------------------- workshops
# What carto.workshops answers (sessions.describe, votes.tally, feed.items / pending / summary):
# counts and pseudonyms, never a participant's name or token (but the joiner's own, once).

DATETIME: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date"}
WORKSHOP_STATE: Schema = {"enum": ["open", "closed", "ended"]}
COUNT: Schema = {"type": "integer", "minimum": 0}
WORKSHOP = obj({"code": STRING, "title": STRING, "territory": STRING, "territory_name": STRING,
                "date": DATE, "place": nullable(STRING), "ends_at": DATETIME,
                "closed_at": nullable(DATETIME), "state": WORKSHOP_STATE, "participants": COUNT,
                "join_url": STRING, "qr_svg": STRING, "qr_png": STRING}, title="Workshop")
TALLY = obj({"id": INTEGER, "text": STRING, "open": BOOLEAN, "voters": COUNT,
             "options": array(obj({"index": COUNT, "label": STRING, "votes": COUNT}))},
            title="QuestionTally")
COUNTERS = obj({"resources": COUNT, "links": COUNT,
                "by_kind": {"type": "object", "additionalProperties": COUNT},
                "by_category": {"type": "object", "additionalProperties": COUNT}},
               title="WorkshopCounters")
WORKSHOP_LIVE = {**WORKSHOP, "title": "WorkshopLive",
                 "required": sorted([*WORKSHOP["required"], "question", "counters"]),
                 "properties": {**WORKSHOP["properties"], "question": nullable(TALLY),
                                "counters": COUNTERS}}
JOINED = obj({"token": STRING, "pseudonym": STRING, "code": STRING, "territory": STRING,
              "expires_at": DATETIME}, title="WorkshopToken")
_ADDED = {"id": UUID, "version": INTEGER, "created_at": DATETIME}
_LEVEL = {"type": "integer", "minimum": 1, "maximum": 5}
FEED_RESOURCE = obj({**_ADDED, "name": STRING, "kind": STRING, "moderation": STRING,
                     "lon": NUMBER, "lat": NUMBER}, title="WorkshopResource")
FEED_LINK = obj({**_ADDED, "source": UUID, "target": UUID, "source_name": STRING,
                 "target_name": STRING, "category": STRING, "level": _LEVEL,
                 "moderation": STRING, "source_lon": NUMBER, "source_lat": NUMBER,
                 "target_lon": NUMBER, "target_lat": NUMBER}, title="WorkshopLink")
WORKSHOP_FEED = obj({"resources": array(FEED_RESOURCE), "links": array(FEED_LINK),
                     "marker": STRING, "state": WORKSHOP_STATE, "counters": COUNTERS,
                     "question": nullable(TALLY)}, title="WorkshopFeed")
PENDING_RESOURCE = obj({**_ADDED, "name": STRING, "kind": STRING,
                        "description": nullable(STRING), "lon": NUMBER, "lat": NUMBER,
                        "pseudonym": nullable(STRING)}, title="WorkshopPendingResource")
PENDING_LINK = obj({**_ADDED, "source_name": STRING, "target_name": STRING,
                    "category": STRING, "level": _LEVEL, "description": nullable(STRING),
                    "pseudonym": nullable(STRING)}, title="WorkshopPendingLink")
WORKSHOP_PENDING = obj({"resources": array(PENDING_RESOURCE), "links": array(PENDING_LINK)},
                       title="WorkshopModeration")
WORKSHOP_SUMMARY = obj({
    "resources_by_kind": array(obj({"kind": STRING, "added": COUNT, "validated": COUNT})),
    "links_by_category_and_level": array(obj({"category": STRING, "level": _LEVEL,
                                              "added": COUNT, "validated": COUNT})),
    "validated": COUNT, "pending": COUNT, "rejected": COUNT, "added": COUNT},
    title="WorkshopSummary")

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

def _versioned(path: str, row: dict[str, Any]) -> dict[tuple[str, str], dict[int, Any]]:
    """The operations of one versioned row (carto.lifecycle: resources and links), the same
    for both: read, change, restore, validate and reject answer the row; history, the log."""
    return {("get", path): {200: row}, ("patch", path): {200: row},
            **{("post", f"{path}/{verb}"): {200: row}
               for verb in ("restore", "validate", "reject")},
            ("get", f"{path}/history"): {200: _json(HISTORY)}}


# (method, path) → {status: {media type: {"schema": ...}}}: every success of every operation.
SUCCESS: dict[tuple[str, str], dict[int, dict[str, Any]]] = {
    ("get", "/healthz"): {200: _json(HEALTH)},
    ("get", "/api/territories"): {200: _geojson(collection(TERRITORY, "Territories"))},
    ("get", "/api/territories/{slug}"): {200: _geojson(TERRITORY)},
    ("get", "/api/resources"): {200: _with_csv(_geojson(collection(RESOURCE, "Resources",
                                                                   **PAGE)))},
    ("post", "/api/resources"): {201: _RESOURCE},
    **_versioned("/api/resources/{resource_id}", _RESOURCE),
    ("get", "/api/links"): {200: _with_csv(_geojson(collection(LINK, "Links", **PAGE)))},
    ("post", "/api/links"): {201: _LINK},
    **_versioned("/api/links/{link_id}", _LINK),
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
    # workshops (carto/workshops/)
    ("post", "/api/workshops"): {201: _json(WORKSHOP)},
    ("get", "/api/workshops/{code}"): {200: _json(WORKSHOP_LIVE)},
    ("post", "/api/workshops/{code}/join"): {201: _json(JOINED)},
    ("post", "/api/workshops/{code}/close"): {200: _json(WORKSHOP)},
    ("post", "/api/workshops/{code}/questions"): {201: _json(TALLY)},
    ("get", "/api/workshops/{code}/questions/{question_id}"): {200: _json(TALLY)},
    ("post", "/api/workshops/{code}/questions/{question_id}/vote"): {200: _json(TALLY)},
    ("post", "/api/workshops/{code}/questions/{question_id}/close"): {200: _json(TALLY)},
    ("get", "/api/workshops/{code}/feed"): {200: _json(WORKSHOP_FEED)},
    ("get", "/api/workshops/{code}/moderation"): {200: _json(WORKSHOP_PENDING)},
    ("get", "/api/workshops/{code}/summary"): {200: _json(WORKSHOP_SUMMARY)},
    ("get", "/territories/{slug}/map.html"): {200: {"text/html": {"schema": TEXT}}},
    ("get", "/territories/{slug}/map/features.json"): {200: _json(MAP_VIEW)},
    ("get", "/territories/{slug}/map/communes.json"): {
        200: {GEOJSON: {"schema": collection(feature(OBJECT, "CommuneOutline"), "CommuneOutlines")}}},
    ("get", "/territories/{slug}/map/search.json"): {200: _json(MAP_SEARCH)},
    ("get", "/territories/{slug}/map/resources/{resource_id}.json"): {200: _json(MAP_POPUP)},
    ("get", "/territories/{slug}/map/links/{link_id}.json"): {200: _json(MAP_POPUP)},
}
