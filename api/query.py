"""One rule for every API endpoint's query string (wired once, in api.main): a parameter the
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

from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

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


async def check_query_string(request: Request) -> None:
    """App-wide dependency: unknown parameters and NUL characters are errors naming the
    parameter (a 400 on a GET, by the rule of api.problems), never silently dropped. Async so
    that it costs no thread hop (/api/nearby runs on the event loop)."""
    if not request.url.query:
        return
    allowed = allowed_parameters(request.scope.get("route"))
    if allowed is None:
        return
    errors: list[FieldError] = []
    for name in request.query_params:  # each name once
        if name not in allowed:
            expected = ", ".join(sorted(allowed)) or "-"
            errors.append(FieldError(name, msg("error.param.unknown", expected=expected)))
        elif unstorable(request.query_params.getlist(name)) is not None:
            errors.append(FieldError(name, msg("error.param.nul")))
    if errors:
        raise InvalidParameter(None, errors)
