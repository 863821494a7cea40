"""Every posted form obeys the one rule of storable text (carto.validation.unstorable), in one of
two ways (api/forms.py): `api.forms.STORABLE` refuses it before the handler, naming the field,
or the handler shows the error next to its field (the resource form). A new form route that
does neither fails here, as a NUL in it would reach PostgreSQL, whose refusal names no field."""

from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.params import File, Form
from fastapi.routing import APIRoute

from api import forms
from api.main import create_app

# (method, path) of the forms whose handler refuses the flaw next to its field: the resource
# form, `reject_unstorable` on its payload inside `attempt` (api/routers/resource_pages.py)
NEXT_TO_THE_FIELD = {("POST", "/territories/{slug}/resources/new"),
                     ("POST", "/resources/{resource_id}/edit")}


def _calls(dependant: Dependant) -> set[object]:
    found = {dependant.call}
    for inner in dependant.dependencies:
        found |= _calls(inner)
    return found


def _api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(path, route) of every APIRoute, into FastAPI's included routers."""
    for route in routes:
        if hasattr(route, "original_router"):
            context = getattr(route, "include_context", None)
            yield from _api_routes(route.original_router.routes,
                                   prefix + (getattr(context, "prefix", "") or ""))
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def _form_routes() -> dict[tuple[str, str], APIRoute]:
    """The routes that read a form: Form() or File() parameters, or api.forms.FormDep."""
    found = {}
    for path, route in _api_routes(create_app().routes):
        calls = _calls(route.dependant)
        by_fastapi = any(isinstance(p.field_info, Form | File)
                         for p in route.dependant.body_params)
        if by_fastapi or forms._form in calls:
            for method in route.methods:
                found[(method, path)] = route
    return found


def test_the_form_routes_are_found() -> None:
    routes = _form_routes()
    assert len(routes) >= 25
    assert {("POST", "/territories/{slug}/links/new"), ("POST", "/workshops/new"),
            ("POST", "/moderation/{kind}/{entity_id}/reject"),
            ("POST", "/moderation/duplicates/merge"), ("POST", "/api/imports"),
            *NEXT_TO_THE_FIELD} <= routes.keys()


def test_every_form_is_held_to_the_rule_of_storable_text() -> None:
    unchecked = sorted(
        f"{method} {path}" for (method, path), route in _form_routes().items()
        if forms.storable_form not in _calls(route.dependant)
        and (method, path) not in NEXT_TO_THE_FIELD)
    assert unchecked == [], "give these routes api.forms.STORABLE (their router's dependencies)"


def test_the_resource_form_is_not_refused_before_its_handler() -> None:
    """Its error is shown next to the field (tests/pages/test_resource_forms.py)."""
    routes = _form_routes()
    assert all(forms.storable_form not in _calls(routes[key].dependant)
               for key in NEXT_TO_THE_FIELD)
