"""Every error becomes application/problem+json (RFC 9457) for the API and a page for people;
domain exceptions are mapped to statuses here, once. Titles, details and field messages are
catalogue texts (data/i18n/messages.csv) in the request's language: the `lang` parameter,
then `Accept-Language`, then French."""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.templating import context, templates
from carto import errors
from carto.errors import Text
from carto.i18n import Message, catalogue, msg, negotiate, render, t

log = logging.getLogger("terreau")

# status and title key (problem.*) of each domain exception
STATUS: dict[type[errors.CartoError], tuple[int, str]] = {
    errors.NotFound: (404, "problem.not_found"),
    errors.Merged: (410, "problem.merged"),
    errors.Invalid: (422, "problem.invalid_body"),
    errors.Conflict: (409, "problem.conflict"),
    errors.PreconditionFailed: (412, "problem.precondition_failed"),
    errors.PreconditionRequired: (428, "problem.precondition_required"),
    errors.Unauthenticated: (401, "problem.unauthenticated"),
    errors.Forbidden: (403, "problem.forbidden"),
    errors.TooManyRequests: (429, "problem.too_many_requests"),
    errors.Overloaded: (503, "problem.overloaded"),
}

HTTP_TITLES = {400: "problem.bad_request", 404: "problem.not_found",
               405: "problem.method_not_allowed", 413: "problem.too_large",
               429: "problem.too_many_requests"}


def request_lang(request: Request) -> str:
    """The language of whoever sent `request` (the `lang` parameter, then Accept-Language)."""
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def problem(
    status: int, title: str, detail: str, field_errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """The document itself, from texts already in words (`localised_problem` puts them)."""
    body: dict[str, Any] = {
        "type": f"https://terreau.example/problems/{status}",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": field_errors or [],
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=headers)


def localised_problem(lang: str, status: int, title_key: str, detail: Text,
                      field_errors: list[errors.FieldError] | None = None,
                      headers: dict[str, str] | None = None,
                      extra: dict[str, Any] | None = None) -> JSONResponse:
    """A problem document in `lang`: the title from the catalogue key `title_key`, the detail
    and every field message rendered from their Messages."""
    return problem(status, t(title_key, lang), render(detail, lang),
                   [{"field": e.field, "message": e.text(lang)} for e in field_errors or []],
                   headers, extra)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get(
        "accept", ""
    )


def _page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", context(request_lang(request), status=status, title=title,
                                       detail=detail),
        status_code=status,
    )


def _invalid_status(request: Request) -> tuple[int, str]:
    """One rule: a bad query parameter is a 400 (Bad Request, as OGC API asks), a bad body a
    422 (Unprocessable Content)."""
    if request.method in ("GET", "HEAD", "DELETE"):
        return 400, "problem.invalid_parameter"
    return 422, "problem.invalid_body"


async def on_carto_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.CartoError)
    lang = request_lang(request)
    status, title = next(
        (v for k, v in STATUS.items() if isinstance(exc, k)), (400, "problem.bad_request")
    )
    if isinstance(exc, errors.InvalidParameter):
        status, title = 400, "problem.invalid_parameter"
    elif isinstance(exc, errors.Invalid):
        status, title = _invalid_status(request)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, errors.TooManyRequests | errors.Overloaded):
        headers = {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, errors.Merged):  # where it lives on (RFC 8288; "canonical": RFC 6596)
        headers = {"Link": f'</api/resources/{exc.into}>; rel="canonical"'}
    if _wants_html(request):
        page = _page(request, status, t(title, lang), exc.detail_in(lang))
        page.headers.update(headers or {})
        return page
    return localised_problem(lang, status, title, exc.detail_in(lang), exc.errors, headers,
                             exc.extra)


# Pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/) -> the
# catalogue key saying the same in French and English; its `ctx` gives the values.
VALIDATION_KEYS = {
    "missing": "validation.missing",
    "extra_forbidden": "validation.extra_forbidden",
    "string_type": "validation.string",
    "int_type": "validation.int", "int_parsing": "validation.int",
    "int_from_float": "validation.int",
    "float_type": "validation.number", "float_parsing": "validation.number",
    "finite_number": "validation.finite_number",
    "bool_type": "validation.bool", "bool_parsing": "validation.bool",
    "string_too_short": "validation.string_too_short",
    "string_too_long": "validation.string_too_long",
    "too_short": "validation.too_short", "too_long": "validation.too_long",
    "greater_than": "validation.greater_than",
    "greater_than_equal": "validation.greater_than_equal",
    "less_than": "validation.less_than", "less_than_equal": "validation.less_than_equal",
    "string_pattern_mismatch": "validation.pattern",
    "literal_error": "validation.literal", "enum": "validation.literal",
    "json_invalid": "validation.json_invalid", "json_type": "validation.json_invalid",
    "model_type": "validation.object", "dict_type": "validation.object",
    "model_attributes_type": "validation.object",
    "list_type": "validation.list",
    "uuid_type": "validation.uuid", "uuid_parsing": "validation.uuid",
    "date_type": "validation.date", "date_parsing": "validation.date",
    "date_from_datetime_parsing": "validation.date",
    "datetime_type": "validation.datetime", "datetime_parsing": "validation.datetime",
    "datetime_from_date_parsing": "validation.datetime",
}


def validation_message(err: dict[str, Any]) -> errors.Text:
    """One of pydantic's errors as a catalogue Message (`validation.invalid` for a type not
    listed above)."""
    key = VALIDATION_KEYS.get(str(err.get("type")), "validation.invalid")
    ctx = tuple((k, str(v)) for k, v in (err.get("ctx") or {}).items())
    return Message(key, ctx)  # the keys above are checked by tests/house/test_messages.py


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    lang = request_lang(request)
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        fields.append(errors.FieldError(".".join(loc) or "body", validation_message(err)))
    detail = "; ".join(f"{f.field}: {f.text(lang)}" for f in fields)
    in_body = any(err.get("loc", ("",))[0] == "body" for err in exc.errors())
    status, title = (422, "problem.invalid_body") if in_body else (400, "problem.invalid_parameter")
    return localised_problem(lang, status, title, detail, fields)


async def on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (unknown route, method, ...): their detail is Starlette's English
    phrase, so the detail too comes from the catalogue when the status has a title there."""
    assert isinstance(exc, StarletteHTTPException)
    lang = request_lang(request)
    title_key = HTTP_TITLES.get(exc.status_code, "problem.error")
    title = t(title_key, lang)
    detail = t(f"{title_key}.detail", lang) if f"{title_key}.detail" in catalogue() else title
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:  # Starlette names the first matching route's methods only
        headers["Allow"] = ", ".join(allowed_methods(request))
    if _wants_html(request):
        return _page(request, exc.status_code, title, detail)
    return problem(exc.status_code, title, detail, headers=headers or None)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (RFC 9110: a 405 lists them all)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        found = getattr(route, "methods", None)
        if found and route.matches(request.scope)[0] != Match.NONE:
            methods |= set(found)
    return sorted(methods)


# The field each named constraint guards (unique indexes of migrations/versions/), so that a
# 409 from the database still names what to change.
CONSTRAINT_FIELDS = {
    "link_one_active_per_pair_category": "target",
    "resource_external_id": "external_id",
    "link_external_id": "external_id",
    "gap_override_scope": "parameter",
    "territory_slug_key": "slug",
    "resource_kind_code_key": "code",
    "farmland_unique": "commune",
}


def constraint_field(exc: Exception) -> str:
    """The field a database refusal is about: the constraint's column when PostgreSQL names
    it (not-null), the field the named constraint guards, else the constraint's name."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    column = getattr(diag, "column_name", None)
    constraint = getattr(diag, "constraint_name", None)
    return column or CONSTRAINT_FIELDS.get(constraint or "", constraint or "body")


async def on_integrity_error(request: Request, exc: Exception) -> Response:
    """A constraint the database enforces (e.g. two editors racing to create the same link)."""
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    detail = msg("problem.integrity.detail")
    return localised_problem(request_lang(request), 409, "problem.conflict", detail,
                             [errors.FieldError(constraint_field(exc), detail)])


async def on_data_error(request: Request, exc: Exception) -> Response:
    log.info("data error on %s %s: %s", request.method, request.url.path, exc)
    status, title = _invalid_status(request)  # a query parameter's fault on a GET: 400
    return localised_problem(request_lang(request), status, title, msg("problem.data.detail"))


async def on_database_unreachable(request: Request, exc: Exception) -> Response:
    log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return localised_problem(request_lang(request), 503, "problem.unavailable",
                             msg("problem.unavailable.detail"), headers={"Retry-After": "5"})


async def on_pool_timeout(request: Request, exc: Exception) -> Response:
    """Every connection of the pool stayed busy for the whole wait: overloaded, not broken."""
    log.warning("no free connection for %s %s: %s", request.method, request.url.path, exc)
    return localised_problem(request_lang(request), 503, "problem.overloaded",
                             msg("problem.overloaded.detail"), headers={"Retry-After": "2"})


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return localised_problem(request_lang(request), 500, "problem.internal",
                             msg("problem.internal.detail"))


# OGC API – Features asks for `{code, description}`: the problem documents of /ogc and /tiles
# carry those members too (the same error in both vocabularies).
OGC_PREFIXES = ("/ogc", "/tiles")
OGC_CODES = {400: "InvalidParameterValue", 404: "NotFound", 500: "ServerError",
             503: "ServiceUnavailable"}
Handler = Callable[[Request, Exception], Awaitable[Response]]


def _with_ogc_members(handler: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = await handler(request, exc)
        if not request.url.path.startswith(OGC_PREFIXES) or \
                response.media_type != "application/problem+json":
            return response
        body = json.loads(bytes(response.body))
        body |= {"code": OGC_CODES.get(response.status_code, "Error"),
                 "description": body.get("detail", "")}
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "content-type")}
        return JSONResponse(body, status_code=response.status_code,
                            media_type="application/problem+json", headers=headers)
    return handle


def install(app: FastAPI) -> None:
    for kind, handler in ((errors.CartoError, on_carto_error),
                          (RequestValidationError, on_validation_error),
                          (StarletteHTTPException, on_http_error),
                          (IntegrityError, on_integrity_error), (DataError, on_data_error),
                          (OperationalError, on_database_unreachable),
                          (PoolTimeout, on_pool_timeout), (Exception, on_unexpected)):
        app.add_exception_handler(kind, _with_ogc_members(handler))
