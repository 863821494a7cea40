"""The OpenAPI 3.0.3 document of /ogc (conformance class oas30), written out rather than
generated: FastAPI emits OpenAPI 3.1 with parameters inline, whereas QGIS reads the page size
from `components.parameters.limit.schema` (`maximum`, `default`) of a 3.0 document."""

from typing import Any

from carto.ogc import CRS84, DEFAULT_LIMIT, MAX_LIMIT
from carto.ogc.catalogue import Collection

OPENAPI_VERSION = "3.0.3"
GEOJSON = "application/geo+json"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema: str, media: str = "application/json") -> dict[str, Any]:
    return {media: {"schema": _ref("schemas", schema)}, "text/html": {"schema": {"type": "string"}}}


def _ok(description: str, schema: str, media: str = "application/json") -> dict[str, Any]:
    return {"200": {"description": description, "content": _json(schema, media)},
            "400": _ref("responses", "InvalidParameter"), "500": _ref("responses", "ServerError")}


PARAMETERS: dict[str, Any] = {
    "limit": {"name": "limit", "in": "query", "required": False, "style": "form",
              "explode": False,
              "description": f"page size; values above {MAX_LIMIT} are clamped to it",
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                         "default": DEFAULT_LIMIT}},
    "bbox": {"name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
             "description": "minlon,minlat,maxlon,maxlat (CRS84), or 6 numbers with heights",
             "schema": {"type": "array", "minItems": 4, "maxItems": 6,
                        "items": {"type": "number"}}},
    "bbox-crs": {"name": "bbox-crs", "in": "query", "required": False,
                 "description": "the CRS of bbox: only CRS84 is served",
                 "schema": {"type": "string", "format": "uri", "enum": [CRS84]}},
    "crs": {"name": "crs", "in": "query", "required": False,
            "description": "the CRS of the answer: only CRS84 is served",
            "schema": {"type": "string", "format": "uri", "enum": [CRS84]}},
    "datetime": {"name": "datetime", "in": "query", "required": False,
                 "description": "last update: an RFC 3339 instant or an interval start/end "
                                "(.. for an open end)",
                 "schema": {"type": "string"}},
    "cursor": {"name": "cursor", "in": "query", "required": False,
               "description": "opaque position of the next page: follow the `next` link",
               "schema": {"type": "string"}},
    "f": {"name": "f", "in": "query", "required": False,
          "description": "json (or geojson) or html; without it, the Accept header decides",
          "schema": {"type": "string", "enum": ["json", "geojson", "html"]}},
    "lang": {"name": "lang", "in": "query", "required": False,
             "description": "language of titles and pages: fr (default) or en",
             "schema": {"type": "string", "enum": ["fr", "en"]}},
    "featureId": {"name": "featureId", "in": "path", "required": True,
                  "description": "the feature's `id`", "schema": {"type": "string"}},
}

LINK = {"type": "object", "required": ["href", "rel"],
        "properties": {"href": {"type": "string"}, "rel": {"type": "string"},
                       "type": {"type": "string"}, "title": {"type": "string"},
                       "hreflang": {"type": "string"}}}
LINKS = {"type": "array", "items": _ref("schemas", "link")}
SCHEMAS: dict[str, Any] = {
    "link": LINK,
    "exception": {"type": "object", "required": ["code"],
                  "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
    "landingPage": {"type": "object", "required": ["links"],
                    "properties": {"title": {"type": "string"},
                                   "description": {"type": "string"}, "links": LINKS}},
    "confClasses": {"type": "object", "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array",
                                                  "items": {"type": "string"}}}},
    "extent": {"type": "object", "properties": {
        "spatial": {"type": "object", "properties": {
            "bbox": {"type": "array", "items": {"type": "array", "minItems": 4, "maxItems": 6,
                                                "items": {"type": "number"}}},
            "crs": {"type": "string"}}},
        "temporal": {"type": "object", "properties": {
            "interval": {"type": "array", "items": {
                "type": "array", "minItems": 2, "maxItems": 2,
                "items": {"type": "string", "format": "date-time", "nullable": True}}},
            "trs": {"type": "string"}}}}},
    "collection": {"type": "object", "required": ["id", "links"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"},
        "description": {"type": "string"}, "links": LINKS, "extent": _ref("schemas", "extent"),
        "itemType": {"type": "string", "default": "feature"},
        "crs": {"type": "array", "items": {"type": "string"}}}},
    "collections": {"type": "object", "required": ["links", "collections"], "properties": {
        "links": LINKS, "collections": {"type": "array", "items": _ref("schemas", "collection")}}},
    "featureGeoJSON": {"type": "object", "required": ["type", "geometry", "properties"],
                       "properties": {
                           "type": {"type": "string", "enum": ["Feature"]},
                           "geometry": {"type": "object", "nullable": True},
                           "properties": {"type": "object", "nullable": True},
                           "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                           "links": LINKS}},
    "featureCollectionGeoJSON": {"type": "object", "required": ["type", "features"],
                                 "properties": {
                                     "type": {"type": "string", "enum": ["FeatureCollection"]},
                                     "features": {"type": "array",
                                                  "items": _ref("schemas", "featureGeoJSON")},
                                     "links": LINKS,
                                     "timeStamp": {"type": "string", "format": "date-time"},
                                     "numberMatched": {"type": "integer", "minimum": 0},
                                     "numberReturned": {"type": "integer", "minimum": 0}}},
}
RESPONSES = {
    "InvalidParameter": {"description": "a query parameter is unknown or malformed",
                         "content": {"application/json": {"schema": _ref("schemas", "exception")}}},
    "NotFound": {"description": "no such collection or feature",
                 "content": {"application/json": {"schema": _ref("schemas", "exception")}}},
    "ServerError": {"description": "unexpected error (logged)",
                    "content": {"application/json": {"schema": _ref("schemas", "exception")}}},
}

COMMON_ITEM_PARAMS = ["limit", "bbox", "bbox-crs", "crs", "datetime", "cursor", "f", "lang"]


def _filter_parameter(collection: Collection, name: str) -> dict[str, Any]:
    spec = collection.filter(name)
    assert spec is not None
    schema: dict[str, Any] = {"type": spec.type}
    if spec.values:
        schema["enum"] = [int(v) for v in spec.values] if spec.type == "integer" \
            else list(spec.values)
    return {"name": name, "in": "query", "required": False, "style": "form", "explode": False,
            "description": f"{spec.description}; several values separated by commas match any"
                           if name != "territory" else spec.description,
            "schema": schema}


def document(base_url: str, collections: list[Collection]) -> dict[str, Any]:
    """The API definition; `base_url` is the landing page's URL (…/ogc)."""
    params = {name: _ref("parameters", name) for name in PARAMETERS}
    page_params = [params["f"], params["lang"]]
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage",
                      "tags": ["Capabilities"], "parameters": page_params,
                      "responses": _ok("links to the API definition, conformance, collections",
                                       "landingPage")}},
        "/conformance": {"get": {"summary": "Conformance classes", "operationId":
                                 "getConformanceDeclaration", "tags": ["Capabilities"],
                                 "parameters": page_params,
                                 "responses": _ok("the conformance classes", "confClasses")}},
        "/api": {"get": {"summary": "This API definition", "operationId": "getAPI",
                         "tags": ["Capabilities"],
                         "responses": {"200": {"description": "OpenAPI 3.0.3 document",
                                               "content": {
                                                   "application/vnd.oai.openapi+json;version=3.0":
                                                   {"schema": {"type": "object"}}}}}}},
        "/collections": {"get": {"summary": "The collections", "operationId": "getCollections",
                                 "tags": ["Capabilities"], "parameters": page_params,
                                 "responses": _ok("every collection", "collections")}},
    }
    for c in collections:
        own = [_filter_parameter(c, f.name) for f in c.filters]
        common = [params[p] for p in COMMON_ITEM_PARAMS if p != "datetime" or c.temporal]
        items = _ok(f"a page of {c.id}", "featureCollectionGeoJSON", GEOJSON)
        items["404"] = _ref("responses", "NotFound")
        one = _ok(f"one feature of {c.id}", "featureGeoJSON", GEOJSON)
        one["404"] = _ref("responses", "NotFound")
        paths[f"/collections/{c.id}"] = {"get": {
            "summary": f"{c.title_en}: metadata", "operationId": f"describe-{c.id}",
            "tags": ["Capabilities"], "parameters": page_params,
            "responses": _ok(c.description_en, "collection")}}
        paths[f"/collections/{c.id}/items"] = {"get": {
            "summary": f"{c.title_en}: features", "operationId": f"getFeatures-{c.id}",
            "tags": ["Data"], "parameters": common + own, "responses": items}}
        paths[f"/collections/{c.id}/items/{{featureId}}"] = {"get": {
            "summary": f"{c.title_en}: one feature", "operationId": f"getFeature-{c.id}",
            "tags": ["Data"], "parameters": [params["featureId"], *page_params],
            "responses": one}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "Terreau – OGC API Features", "version": "1.0.0",
                 "description": "Public food-solidarity resources, cooperation links, territories "
                                "and communes of Occitanie, as OGC API – Features Part 1 (Core). "
                                "Private persons are shown at their commune's centre."},
        "servers": [{"url": base_url}],
        "tags": [{"name": "Capabilities"}, {"name": "Data"}],
        "paths": paths,
        "components": {"parameters": PARAMETERS, "schemas": SCHEMAS, "responses": RESPONSES},
    }
