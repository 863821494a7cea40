"""The OpenAPI document says what the API really answers (issue 10 §6): every error is
application/problem+json with one schema (`Problem`), a bad query parameter is a 400 (not
FastAPI's default 422 "HTTPValidationError", which this API never sends), writes list their
401/403/409/412/413/428, and every success documents its body (api/responses.py: JSON Schema
for the JSON and GeoJSON bodies, text/csv, XLSX, GeoPackage, MVT...).

FastAPI builds the document from the routes; the statuses that follow from the house rules
(api.problems, api.limits, api.ratelimit, api.query) are added here, once, rather than on
each of the ~50 operations."""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.http import IF_MATCH_PATTERN
from api.responses import SUCCESS
from carto.validation import NUL_FREE_PATTERN

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names each field at fault.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string", "description": "in the reader's language (lang, then "
                                                   "Accept-Language)"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
        "candidates": {"type": "array", "items": {"type": "object"},
                       "description": "an ambiguous commune name: the communes it may mean"},
        "merged_into": {"type": "string", "format": "uuid",
                        "description": "a merged resource (410): the one it was merged into"},
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "A query or path parameter is wrong, unknown or repeated (errors[].field names it)",
    401: "No valid token for an operation that needs one",
    403: "The token's role or territory does not allow it",
    404: "Nothing with this identifier that the caller may see",
    409: "The data says no (duplicate, state, database constraint); errors[].field names it",
    410: "This resource was merged into another, which `merged_into` names (and the Link "
         "header, rel=\"canonical\")",
    412: "If-Match names a version that is no longer the current one",
    413: "The body is over the limit (1 MB by default)",
    422: "The body is wrong (errors[].field names the member)",
    428: "If-Match is required",
    429: "Too many requests from this client; see Retry-After",
    503: "The database is unreachable or every connection is busy; see Retry-After",
}

SUCCESS_WORDS = {200: "OK", 201: "Created"}
RATE_LIMITED = ("/api/gap", "/api/nearby", "/api/territories/{slug}/gap")
VERSIONED = ("/api/resources/{", "/api/links/{")
VERSIONED_POSTS = {"/api/resources/{resource_id}/merge"}  # If-Match required on a POST
MERGEABLE = {("get", "/api/resources/{resource_id}")}  # a merged resource: 410 (api.problems)
# If-Match optional: checked when sent (api.http.expected_version(required=False))
VERSION_CHECKED = ("/restore", "/validate", "/reject")


def _if_match(path: str, method: str) -> dict[str, Any] | None:
    """The If-Match header of an operation that reads it: required where a missing one is a
    428 (PATCH, DELETE, merge), optional where it is checked only when sent."""
    if not path.startswith(VERSIONED):
        return None
    required = method in ("patch", "delete") or method == "post" and path in VERSIONED_POSTS
    if not required and not (method == "post" and path.endswith(VERSION_CHECKED)):
        return None
    return {"name": "If-Match", "in": "header", "required": required,
            "description": "The ETag of the version read (its `version`): a write to another "
                           "version is a 412" + ("; without it, 428" if required else ""),
            "schema": {"type": "string", "pattern": IF_MATCH_PATTERN}}


def _nul_free(schema: dict[str, Any]) -> None:
    """A query parameter's free strings carry NUL_FREE_PATTERN: the one query-string rule
    (api.query) refuses a NUL in any of them. Bounded ones (a pattern, an enum, a format) are
    left as they are."""
    if any(key in schema for key in ("pattern", "enum", "const", "format")):
        return
    if schema.get("type") == "string":
        schema["pattern"] = NUL_FREE_PATTERN
    for branch in schema.get("anyOf", []):
        _nul_free(branch)
    if isinstance(schema.get("items"), dict):
        _nul_free(schema["items"])


def _nul_free_body(schema: Any) -> None:
    """A JSON body's free strings and free keys carry NUL_FREE_PATTERN: api.limits refuses a
    NUL (or a lone surrogate) in any string or key of any body, with a 422 naming it."""
    if not isinstance(schema, dict):
        return
    free = not any(key in schema for key in ("pattern", "enum", "const", "format",
                                             "contentMediaType"))  # a file part: bytes
    if free and (schema.get("type") == "string" or "string" in (schema.get("type") or [])):
        schema["pattern"] = NUL_FREE_PATTERN
    if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
        schema.setdefault("propertyNames", {"pattern": NUL_FREE_PATTERN})
    for key in ("properties", "$defs"):
        for sub in (schema.get(key) or {}).values():
            _nul_free_body(sub)
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key) or []:
            _nul_free_body(sub)
    for key in ("items", "additionalProperties", "then", "else"):
        _nul_free_body(schema.get(key))


def _no_null_part(schema: dict[str, Any]) -> None:
    """An optional part of a multipart body is left out, never sent as null (FastAPI says
    `anyOf: [binary, null]` for `UploadFile | None`, and a client then sends the text "null")."""
    for member in (schema.get("properties") or {}).values():
        kept = [b for b in member.get("anyOf", []) if b.get("type") != "null"]
        if len(kept) == 1 and len(member["anyOf"]) == 2:
            del member["anyOf"]
            member.update(kept[0])


def _problem(status: int) -> dict[str, Any]:
    return {"description": DESCRIPTIONS[status], "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {400, 503}
    if path.startswith(("/api/", "/tiles", "/ogc")):
        # any request may carry a wrong token (401); restricted reads (history, moderation,
        # tokens) refuse other roles (403); a referenced territory or resource may not exist
        statuses |= {401, 403, 404}
    if "{" in path:
        statuses.add(404)
    if method in ("post", "put", "patch"):
        statuses |= {409, 413, 422}
    anonymous = method == "post" and path in RATE_LIMITED  # analyses need no token
    if method in ("post", "put", "patch", "delete") and path.startswith("/api/") and not anonymous:
        statuses |= {401, 403}
    if method in ("patch", "delete") and path.startswith(VERSIONED) \
            or method == "post" and path in VERSIONED_POSTS:
        statuses |= {412, 428}
    elif method == "post" and path.startswith(VERSIONED) and path.endswith(VERSION_CHECKED):
        statuses.add(412)
    if any(path.startswith(p) for p in RATE_LIMITED):
        statuses.add(429)
    if (method, path) in MERGEABLE:
        statuses.add(410)
    return statuses


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the real error responses (cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary,
                       description=app.description, routes=app.routes)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _nul_free(parameter.setdefault("schema", {}))
            header = _if_match(path, method)
            if header is not None:
                operation.setdefault("parameters", []).append(header)
            for kind, media in operation.get("requestBody", {}).get("content", {}).items():
                if "$ref" not in media.get("schema", {}):
                    _nul_free_body(media.get("schema"))
                elif kind == "multipart/form-data":
                    _no_null_part(schemas[media["schema"]["$ref"].rsplit("/", 1)[1]])
            responses = operation["responses"]
            responses.pop("422", None)  # FastAPI's HTTPValidationError: never sent
            for status in sorted(_statuses(path, method, operation)):
                responses.setdefault(str(status), _problem(status))
            for status, content in SUCCESS.get((method, path), {}).items():
                ok = responses.setdefault(str(status), {"description": SUCCESS_WORDS[status]})
                ok["content"] = content  # the bodies it really sends, each with its schema
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for name, body in schemas.items():  # the request bodies (the responses are inline)
        if name != "Problem":
            _nul_free_body(body)
    app.openapi_schema = spec
    return spec


def install(app: FastAPI) -> None:
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
