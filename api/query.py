"""One rule for every API endpoint's query string (installed once, by api.main): a parameter the
operation does not declare, or a value holding a NUL character, is a 400 naming it.

Without it, FastAPI ignores what it does not know: `/api/resources?territry=frontignan`
answered every territory as if the filter had applied. What an operation declares is what its
OpenAPI documents: the parameters of its signature and dependencies, plus those written by hand
in `openapi_extra` (/api/nearby reads its raw query string), plus `lang` everywhere (the
language of error messages, api.problems). Pages (routes outside the OpenAPI:
/, /territories/{slug}, /nearby, /docs...) are left alone: their URLs carry the page script's
own state (/nearby?commune=...&from=...) and links shared from elsewhere gain parameters of
their own; what a page declares (`lang`) is still validated by FastAPI.
"""

from collections.abc import Iterator
from functools import wraps
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.datastructures import QueryParams
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from carto.errors import FieldError, InvalidParameter
from carto.i18n import msg
from carto.validation import unstorable

# Accepted by every operation: the language of messages and labels (api.problems, LangDep).
EVERYWHERE = frozenset({"lang"})

_allowed: dict[int, frozenset[str] | None] = {}


def _declared(dependant: Dependant) -> set[str]:
    names = {f.alias for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return names


def allowed_parameters(route: Any) -> frozenset[str] | None:
    """The query parameters `route` declares, or None when the rule does not apply to it."""
    key = id(route)
    if key not in _allowed:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            _allowed[key] = None
        else:
            extra = (route.openapi_extra or {}).get("parameters", [])
            _allowed[key] = EVERYWHERE | frozenset(
                _declared(route.dependant) | {p["name"] for p in extra if p.get("in") == "query"})
    return _allowed[key]


def check_query_string(route: APIRoute, query_string: bytes) -> None:
    """Unknown parameters and NUL characters are errors naming the parameter (a 400 on a GET,
    by the rule of api.problems), never silently dropped."""
    allowed = allowed_parameters(route)
    if allowed is None:
        return
    query = QueryParams(query_string)
    errors: list[FieldError] = []
    for name in query:  # each name once
        if name not in allowed:
            expected = ", ".join(sorted(allowed)) or "-"
            errors.append(FieldError(name, msg("error.param.unknown", expected=expected)))
        elif unstorable(query.getlist(name)) is not None:
            errors.append(FieldError(name, msg("error.param.nul")))
    if errors:
        raise InvalidParameter(None, errors)


def _api_routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            yield from _api_routes(included.routes)


def install(app: FastAPI) -> None:
    """The rule, applied to every operation of the app by wrapping its route's `handle`, once
    routing has chosen it and before FastAPI solves any dependency. As an app-wide dependency
    it cost /api/nearby (the busiest endpoint, which declares none) ~0.06 ms of worker CPU per
    request in FastAPI's dependency solving, more than the check itself; and a request without
    a query string (most of them) now costs nothing. Called by api.main once the routers are
    included; tests/api/test_query_params.py holds that every operation refuses an unknown
    parameter."""
    for route in _api_routes(app.router.routes):
        if allowed_parameters(route) is None or getattr(route, "_query_checked", False):
            continue
        route.handle = _checked(route, route.handle)  # type: ignore[method-assign]
        route._query_checked = True  # type: ignore[attr-defined]


def _checked(route: APIRoute, handle: Any) -> Any:
    methods = route.methods or set()

    @wraps(handle)
    async def checked(scope: Scope, receive: Receive, send: Send) -> None:
        # a method the route does not serve is its 405, not this rule's 400
        if scope["type"] == "http" and scope["query_string"] and scope["method"] in methods:
            check_query_string(route, scope["query_string"])
        await handle(scope, receive, send)

    return checked
