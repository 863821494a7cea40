"""/moderation?territory= (issue 13): the editors' page of pending contributions (resources
and links) with their author and what they propose (before and after, in words), and the
three answers: validate, edit then validate (the link's or resource's form), reject with a
reason. The queue and the decisions are carto.moderation's, the rule who may see them
carto.permissions'; a form post passes api.session.check_post first."""

import uuid
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api import forms
from api import session as web
from api.deps import LangDep, SessionDep
from api.routers.duplicates import page_context as duplicates_context
from api.templating import context, templates
from carto import moderation, permissions, territories, vocab
from carto.errors import CartoError, Conflict, Invalid, NotFound, PreconditionFailed
from carto.i18n import msg, t
from carto.models import Resource
from carto.visibility import READER, Principal

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[forms.STORABLE])

ENTITIES = {"resources": "resource", "links": "link"}


def _words(session: Session, key: str, value: Any, lang: str) -> str:
    """A snapshot's value as people read it: labels for codes, names for resource ids."""
    if value is None or value == "" or value == []:
        return "—"
    if key == "kind":
        kinds = vocab.resource_kinds(session)
        return kinds[value].label(lang) if value in kinds else str(value)
    if key == "category":
        cats = vocab.categories()
        return cats[value].label(lang) if value in cats else str(value)
    if key == "level":
        levels = vocab.levels()
        return f"{value} — {levels[value].label(lang)}" if value in levels else str(value)
    if key == "location_precision":
        precisions = vocab.precisions()
        return precisions[value].label(lang) if value in precisions else str(value)
    if key == "products":
        groups = vocab.food_groups()
        return ", ".join(groups[v].label(lang) if v in groups else str(v) for v in value)
    if key == "access_conditions":
        access = vocab.access_conditions()
        return ", ".join(access[v].label(lang) if v in access else str(v) for v in value)
    if key in ("source", "target"):
        try:
            found = session.get(Resource, uuid.UUID(str(value)))
        except ValueError:
            found = None
        return found.name if found is not None else str(value)
    if isinstance(value, bool):
        return t("moderation.yes", lang) if value else t("moderation.no", lang)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _items(session: Session, rows: list[dict[str, Any]], entity_type: str,
           lang: str) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        shown = moderation.proposal(session, entity_type, row["id"])
        fields = [] if shown is None else [
            {"key": key, "before": _words(session, key, before, lang),
             "after": _words(session, key, after, lang)}
            for key, before, after in sorted(shown["fields"], key=_order)]
        out.append(row | {"type": entity_type, "fields": fields,
                          "edited": bool(shown and shown["edited"]),
                          "last_actor": shown["actor"] if shown else row["created_by"]})
    return out


def _order(change: tuple[str, Any, Any]) -> int:
    return FIELD_LABELS.index(change[0]) if change[0] in FIELD_LABELS else len(FIELD_LABELS)


def _has_route(request: Request, path: str) -> bool:
    return any(getattr(r, "path", None) == path for r in request.app.routes)


def _page(request: Request, session: Session, lang: str, principal: Principal,
          territory: str | None, errors: dict[str, dict[str, str]] | None = None,
          typed: dict[str, str] | None = None, done: str | None = None,
          status: int = 200) -> HTMLResponse:
    territory_id = permissions.moderation_queue(
        principal, territories.filter_id(session, territory or None))
    queue = moderation.pending(session, territory_id)
    summaries = territories.summaries(session)
    names = {tr["id"]: tr for tr in summaries}
    chosen = names.get(territory_id) if territory_id is not None else None
    fields = {key: t(f"moderation.field.{key}", lang) for key in FIELD_LABELS}
    listed = {str(row["id"]) for rows in queue.values() for row in rows}
    # a decision about an item no longer listed (decided meanwhile): said at the top
    general = [text for key, said in (errors or {}).items() if key not in listed
               for text in said.values()]
    return templates.TemplateResponse(request, "moderation.html", context(
        lang, resources=_items(session, queue["resources"], "resource", lang),
        links=_items(session, queue["links"], "link", lang), territory=chosen, general=general,
        territories=summaries if principal.role == "admin" else [],
        kinds=vocab.resource_kinds(session), categories=vocab.categories(),
        levels=vocab.levels(), field_labels=fields, errors=errors or {}, typed=typed or {},
        done=done, resource_edit=_has_route(request, "/resources/{resource_id}/edit"),
        **duplicates_context(request, session, principal, territory_id, lang, back="/moderation?"
                             + urlencode({"territory": territory or ""}
                                         | ({"lang": "en"} if lang == "en" else {})))),
        status_code=status)


FIELD_LABELS = ("name", "kind", "description", "address", "commune", "lon", "lat",
                "location_precision", "location_note", "products", "access_conditions",
                "price_note", "documents_needed", "opening_hours", "website", "phone", "email",
                "visibility", "is_private", "status", "illustrative", "source_name",
                "external_id", "licence", "territories", "territory", "source", "target",
                "category", "level", "stakes", "started_on", "directed")


@router.get("/moderation", response_class=HTMLResponse)
def moderation_page(request: Request, session: SessionDep, lang: LangDep,
                    principal: web.PagePrincipalDep,
                    territory: Annotated[str | None, Query()] = None,
                    done: Annotated[str | None, Query()] = None) -> Response:
    if principal.role == READER:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)
    return _page(request, session, lang, principal, territory,
                 done=done if done in ("validated", "rejected") else None)


def _back(territory: str, lang: str, done: str) -> RedirectResponse:
    query = {"territory": territory} if territory else {}
    query |= {"done": done} | ({"lang": "en"} if lang == "en" else {})
    return RedirectResponse(f"/moderation?{urlencode(query)}", status_code=303)


def _entity(kind: str) -> str:
    if kind not in ENTITIES:
        raise NotFound(msg("error.moderation.kind", kind=kind))
    return ENTITIES[kind]


@router.post("/moderation/{kind}/{entity_id}/validate", response_class=HTMLResponse)
def validate(request: Request, kind: str, entity_id: uuid.UUID, session: SessionDep,
             lang: LangDep, principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
             version: Annotated[str, Form()] = "",
             territory: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    entity_type = _entity(kind)
    try:
        with session.begin_nested():
            moderation.validate(session, entity_type, entity_id, principal,
                                int(version) if version.isdigit() else None)
    except CartoError as exc:
        if isinstance(exc, NotFound) or not _shown_on_page(exc):
            raise
        return _page(request, session, lang, principal, territory or None,
                     errors={str(entity_id): {"": exc.detail_in(lang)}}, status=_status(exc))
    return _back(territory, lang, "validated")


@router.post("/moderation/{kind}/{entity_id}/reject", response_class=HTMLResponse)
def reject(request: Request, kind: str, entity_id: uuid.UUID, session: SessionDep,
           lang: LangDep, principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
           version: Annotated[str, Form()] = "", territory: Annotated[str, Form()] = "",
           reason: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    entity_type = _entity(kind)
    try:
        with session.begin_nested():
            moderation.reject(session, entity_type, entity_id, principal, reason,
                              int(version) if version.isdigit() else None)
    except CartoError as exc:
        if isinstance(exc, NotFound) or not _shown_on_page(exc):
            raise
        said = {e.field or "": e.text(lang) for e in exc.errors} or {"": exc.detail_in(lang)}
        return _page(request, session, lang, principal, territory or None,
                     errors={str(entity_id): said}, typed={str(entity_id): reason},
                     status=_status(exc))
    return _back(territory, lang, "rejected")


def _shown_on_page(exc: CartoError) -> bool:
    """Refusals the editor can act on from the page: a missing reason, a contribution changed
    or decided meanwhile. Rights (401/403) answer with the error page."""
    return isinstance(exc, Invalid | Conflict | PreconditionFailed)


def _status(exc: CartoError) -> int:
    if isinstance(exc, PreconditionFailed):
        return 412
    return 409 if isinstance(exc, Conflict) else 422
