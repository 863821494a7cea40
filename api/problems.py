"""Every error becomes application/problem+json (RFC 9457) for the API and a French page for
people; domain exceptions are mapped to statuses here, once."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.templating import context, templates
from carto import errors
from carto.i18n import pick_lang

log = logging.getLogger("terreau")

STATUS: dict[type[errors.CartoError], tuple[int, str]] = {
    errors.NotFound: (404, "Introuvable"),
    errors.Invalid: (422, "Données invalides"),
    errors.Conflict: (409, "Conflit"),
    errors.PreconditionFailed: (412, "Version périmée"),
    errors.PreconditionRequired: (428, "Version requise (If-Match)"),
    errors.Unauthenticated: (401, "Authentification requise"),
    errors.Forbidden: (403, "Accès refusé"),
}


def problem(
    status: int, title: str, detail: str, field_errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
) -> JSONResponse:
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


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get(
        "accept", ""
    )


def _page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    lang = pick_lang(request.query_params.get("lang"))
    return templates.TemplateResponse(
        request, "error.html", context(lang, status=status, title=title, detail=detail),
        status_code=status,
    )


def _invalid_status(request: Request) -> tuple[int, str]:
    """One rule: a bad query parameter is a 400 (Bad Request, as OGC API asks), a bad body a
    422 (Unprocessable Content)."""
    if request.method in ("GET", "HEAD", "DELETE"):
        return 400, "Paramètre invalide"
    return 422, "Données invalides"


async def on_carto_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.CartoError)
    status, title = next(
        (v for k, v in STATUS.items() if isinstance(exc, k)), (400, "Requête invalide")
    )
    if isinstance(exc, errors.Invalid):
        status, title = _invalid_status(request)
    if _wants_html(request):
        return _page(request, status, title, exc.detail)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, title, exc.detail,
                   [{"field": e.field, "message": e.message} for e in exc.errors], headers,
                   exc.extra)


async def on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        fields.append({"field": ".".join(loc) or "body", "message": err.get("msg", "invalide")})
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    in_body = any(err.get("loc", ("",))[0] == "body" for err in exc.errors())
    status, title = (422, "Données invalides") if in_body else (400, "Paramètre invalide")
    return problem(status, title, detail, fields)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Introuvable", 405: "Méthode non permise", 413: "Requête trop volumineuse"}.get(
        exc.status_code, "Erreur"
    )
    if _wants_html(request):
        return _page(request, exc.status_code, title, str(exc.detail))
    return problem(exc.status_code, title, str(exc.detail), headers=getattr(exc, "headers", None))


async def on_integrity_error(request: Request, exc: Exception) -> Response:
    """A constraint the database enforces (e.g. two editors racing to create the same link)."""
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return problem(409, "Conflit", "la base de données a refusé l'écriture : elle contredit "
                   "une règle (doublon, référence manquante ou valeur hors limites)")


async def on_data_error(request: Request, exc: Exception) -> Response:
    log.info("data error on %s %s: %s", request.method, request.url.path, exc)
    return problem(422, "Données invalides", "une valeur est hors des limites acceptées")


async def on_database_unreachable(request: Request, exc: Exception) -> Response:
    log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return problem(503, "Service indisponible", "la base de données ne répond pas ; "
                   "réessayez dans un instant", headers={"Retry-After": "5"})


async def on_pool_timeout(request: Request, exc: Exception) -> Response:
    """Every connection of the pool stayed busy for the whole wait: overloaded, not broken."""
    log.warning("no free connection for %s %s: %s", request.method, request.url.path, exc)
    return problem(503, "Service surchargé", "trop de requêtes à la fois ; réessayez dans un instant",
                   headers={"Retry-After": "2"})


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "Erreur interne", "une erreur inattendue est survenue ; elle est journalisée")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.CartoError, on_carto_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(IntegrityError, on_integrity_error)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(OperationalError, on_database_unreachable)
    app.add_exception_handler(PoolTimeout, on_pool_timeout)
    app.add_exception_handler(Exception, on_unexpected)
