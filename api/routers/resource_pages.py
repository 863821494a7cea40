"""Adding and correcting resources from a browser (issue 13): /territories/{slug}/resources/new,
/resources/{id}/edit (a conflict shows the version saved meanwhile beside yours, your changes
re-applied), /resources/{id}/delete (a confirmation), /resources/{id}/restore and
/resources/{id}/history. Every write is one call to the domain function the API calls
(carto.resources, under carto.permissions' rules and carto.lifecycle's versions): a page
handler reads the form, makes that call in a savepoint (api.forms.attempt) and shows what the
domain refused next to its field. The forms work without JavaScript; static/js/resource-form.js
adds the map picker, the commune suggestions and the opening-hours helper.

Also /api/opening-hours/check: the server's own check of an opening-hours text, for the form
to say as one types whether it reads."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api import assets, conflicts
from api import resource_form as rf
from api.deps import LangDep, SessionDep
from api.forms import STORABLE, FormDep, Refused, attempt, field_messages, text
from api.session import PagePrincipalDep, check_post
from api.templating import context, templates
from carto import history, maps, permissions, resources, territories, tokens, vocab
from carto.config import map_settings
from carto.errors import Invalid, NotFound, PreconditionFailed
from carto.i18n import msg, t
from carto.models import Resource
from carto.validation import reject_unstorable
from carto.visibility import READER, Principal

router = APIRouter(tags=["pages"], include_in_schema=False)
api_router = APIRouter(prefix="/api/opening-hours", tags=["vocabularies"])


def _q(lang: str) -> str:
    return "?lang=en" if lang == "en" else ""


def _sign_in_first(request: Request, principal: Principal) -> Response | None:
    """Nobody signed in: the sign-in page, coming back here after."""
    if principal.role != READER:
        return None
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    lang = request.query_params.get("lang")
    return RedirectResponse("/sign-in?" + urlencode(
        {"next": here, **({"lang": lang} if lang in ("fr", "en") else {})}), status_code=303)


def _form_page(request: Request, session: Session, lang: str, values: rf.Values,
               errors: dict[str, str], *, territory: dict[str, Any], action: str,
               resource_id: uuid.UUID | None = None, version: int | None = None,
               pending: bool = False, conflict: dict[str, Any] | None = None,
               workshop: str = "",
               may_force: bool = False, gone: bool = False, status: int = 200) -> HTMLResponse:
    settings = map_settings()
    kinds = [(k.code, k.label, k.icon, k.color) for k in maps.kinds(session, lang)]
    labels = {"name": "rform.name", "kind": "rform.kind", "commune": "rform.commune",
              "lon": "rform.position", "products": "rform.products",
              "opening_hours": "rform.hours", "website": "rform.website", "phone": "rform.phone",
              "email": "rform.email", "outputs": "rform.outputs", "surfaces": "rform.surfaces",
              "output_year": "rform.output_year", "access_conditions": "rform.access"}
    return templates.TemplateResponse(request, "resource_form.html", context(
        lang, v=values, errors=errors, kinds=kinds, territory=territory, action=action,
        resource_id=resource_id, version=version, pending=pending, conflict=conflict,
        may_force=may_force, gone=gone, workshop=workshop,
        food_groups=vocab.food_groups(), crop_groups=vocab.crop_groups(),
        options=rf.options(lang), error_labels=labels,
        tile_url=settings.tile_url, tile_attribution=settings.tile_attribution,
        leaflet_js=assets.LEAFLET_JS, leaflet_css=assets.LEAFLET_CSS, fa_css=assets.FA_CSS,
        fa_solid_css=assets.FA_SOLID_CSS), status_code=status)


def _territory(session: Session, slug: str) -> dict[str, Any]:
    row = territories.summaries(session, slug)[0]
    return {"id": row["id"], "slug": row["slug"], "name": row["name"]}


# --- adding ---------------------------------------------------------------------------------

@router.get("/territories/{slug}/resources/new", response_class=HTMLResponse)
def new_resource(request: Request, slug: str, session: SessionDep, lang: LangDep,
                 principal: PagePrincipalDep, workshop: str = "") -> Response:
    """The empty form; `workshop` (a join code, from the facilitator's workshop page) makes
    the addition the workshop's (carto.workshops.sessions.provenance)."""
    territory = _territory(session, slug)
    redirect = _sign_in_first(request, principal)
    if redirect:
        return redirect
    found = territories.get(session, slug)
    state = permissions.create_resource(principal, [found], False)  # 403 outside one's own
    return _form_page(request, session, lang, rf.empty(), {}, territory=territory,
                      action=f"/territories/{slug}/resources/new{_q(lang)}",
                      pending=state == "pending", workshop=workshop[:20])


@router.post("/territories/{slug}/resources/new", response_class=HTMLResponse)
def add_resource(request: Request, slug: str, session: SessionDep, lang: LangDep,
                 principal: PagePrincipalDep, form: FormDep) -> Response:
    check_post(request, text(form, "csrf"))
    territory = _territory(session, slug)
    values = rf.from_form(form)
    force = bool(text(form, "force"))
    workshop = text(form, "workshop")
    try:
        resource = attempt(session, lambda: _create(session, values, slug, principal, lang,
                                                    force, workshop), lang, rf.form_field)
    except Refused as refused:
        return _form_page(request, session, lang, values, refused.errors, territory=territory,
                          action=f"/territories/{slug}/resources/new{_q(lang)}",
                          pending=not principal.is_editor, may_force=principal.is_editor,
                          status=refused.status, workshop=workshop)
    return RedirectResponse(f"/resources/{resource.id}{_q(lang)}", status_code=303)


def _create(session: Session, values: rf.Values, slug: str, principal: Principal,
            lang: str, force: bool, workshop: str = "") -> Resource:
    data, problems = rf.payload(session, values, territory=slug)
    if workshop:
        data["workshop"] = workshop
    reject_unstorable(data)
    if problems:
        _refuse_all(session, data, problems, lang)
    return resources.create(session, data, principal, force=force)


def _refuse_all(session: Session, data: dict[str, Any], problems: list[Any], lang: str,
                partial: bool = False) -> None:
    """What the form could not read, and what the domain's checks say of the rest, at once."""
    try:
        resources.clean(session, data, partial)
    except Invalid as exc:
        # without a position the form has said where to give one (the commune or the map)
        more = [e for e in exc.errors if "lon" in data or not e.field.startswith("geometry")]
        raise Refused(field_messages([*problems, *more], lang, rf.form_field)) from exc
    raise Refused(field_messages(problems, lang, rf.form_field))


# --- correcting -----------------------------------------------------------------------------

def _editable(session: Session, principal: Principal, resource_id: uuid.UUID) -> Resource:
    """The resource, if this reader may edit it (the rule of carto.permissions, which every
    edit obeys: 403 for others, 404 for what they may not see)."""
    resource = resources.get(session, resource_id)
    permissions.edit_resource(session, principal)(resource)
    return resource


def _editor_page(request: Request, session: Session, principal: Principal,
                 resource_id: uuid.UUID, render: Callable[[Resource], Response]) -> Response:
    """A page for the resource's editors: sign in first, then `render` the resource if this
    reader may edit it."""
    redirect = _sign_in_first(request, principal)
    return redirect or render(_editable(session, principal, resource_id))


def _home(session: Session, resource: Resource) -> dict[str, Any]:
    slugs = sorted(t.slug for t in resource.territories)
    return _territory(session, slugs[0])


@router.get("/resources/{resource_id}/edit", response_class=HTMLResponse)
def edit_resource(request: Request, resource_id: uuid.UUID, session: SessionDep,
                  lang: LangDep, principal: PagePrincipalDep) -> Response:
    def render(resource: Resource) -> Response:
        values = rf.from_snapshot(session, resources.snapshot(resource), lang)
        return _form_page(request, session, lang, values, {}, territory=_home(session, resource),
                          action=f"/resources/{resource_id}/edit{_q(lang)}",
                          resource_id=resource_id, version=resource.version)

    return _editor_page(request, session, principal, resource_id, render)


@router.post("/resources/{resource_id}/edit", response_class=HTMLResponse)
def save_resource(request: Request, resource_id: uuid.UUID, session: SessionDep,
                  lang: LangDep, principal: PagePrincipalDep, form: FormDep) -> Response:
    check_post(request, text(form, "csrf"))
    values = rf.from_form(form)
    opened_at = _version(text(form, "version"))

    def write() -> Resource:
        data, problems = rf.payload(session, values, editing=True)
        reject_unstorable(data)
        if problems:
            _refuse_all(session, data, problems, lang, partial=True)
        return resources.update(session, resource_id, data, principal, opened_at,
                                force=bool(text(form, "force")))

    try:
        attempt(session, write, lang, rf.form_field)
    except (PreconditionFailed, NotFound):
        if resources.get(session, resource_id, include_deleted=True).deleted_at is not None:
            return _gone(request, session, lang, principal, resource_id, values, opened_at)
        return _conflict(request, session, lang, principal, resource_id, values, opened_at)
    except Refused as refused:
        resource = _editable(session, principal, resource_id)
        return _form_page(request, session, lang, values, refused.errors,
                          territory=_home(session, resource),
                          action=f"/resources/{resource_id}/edit{_q(lang)}",
                          resource_id=resource_id, version=opened_at, may_force=True,
                          status=refused.status)
    return RedirectResponse(f"/resources/{resource_id}{_q(lang)}", status_code=303)


def _version(typed: str) -> int:
    if not typed.isdigit():
        raise Invalid.field("version", msg("rform.error.version"))
    return int(typed)


def _conflict(request: Request, session: Session, lang: str, principal: Principal,
              resource_id: uuid.UUID, yours: rf.Values, opened_at: int) -> HTMLResponse:
    """Someone saved meanwhile (412): the form comes back with your changes re-applied on
    their version (the groups you did not touch take theirs), the version it now carries is
    theirs, and a table shows what they changed beside what you typed. Nothing typed is lost;
    saving again is your decision."""
    resource = _editable(session, principal, resource_id)
    theirs = rf.from_snapshot(session, resources.snapshot(resource), lang)
    opened = history.version_picture(session, "resource", resource_id, opened_at)
    who = history.entries(session, "resource", resource_id)[-1]
    merged, conflict = conflicts.resolve(
        rf.FIELDS, rf.from_snapshot(session, opened, lang) if opened is not None else None,
        theirs, yours, lambda values, g: rf.words(session, values, g, lang),
        lambda g: t(f"rform.group.{g}", lang), t("rform.conflict_title", lang),
        conflicts.Saved(tokens.actor_name(who.actor), rf.when(who.at), resource.version,
                        opened_at))
    rf.keep_sources(merged, theirs, yours)
    return _form_page(request, session, lang, merged, {}, territory=_home(session, resource),
                      action=f"/resources/{resource_id}/edit{_q(lang)}",
                      resource_id=resource_id, version=resource.version, conflict=conflict,
                      status=409)


def _gone(request: Request, session: Session, lang: str, principal: Principal,
          resource_id: uuid.UUID, values: rf.Values, opened_at: int) -> HTMLResponse:
    """Deleted meanwhile: for its editors, the form comes back with what they typed and says
    so (restoring it from the record page, then saving, keeps the text); others get the 404."""
    resource = resources.get(session, resource_id, include_deleted=True)
    permissions.edit_resource(session, principal)(resource)
    return _form_page(request, session, lang, values, {}, territory=_home(session, resource),
                      action=f"/resources/{resource_id}/edit{_q(lang)}",
                      resource_id=resource_id, version=opened_at, gone=True, status=409)


# --- deleting, restoring --------------------------------------------------------------------

@router.get("/resources/{resource_id}/delete", response_class=HTMLResponse)
def confirm_delete(request: Request, resource_id: uuid.UUID, session: SessionDep,
                   lang: LangDep, principal: PagePrincipalDep) -> Response:
    return _editor_page(request, session, principal, resource_id, lambda resource:
                        templates.TemplateResponse(request, "resource_delete.html", context(
                            lang, r=resource, version=resource.version)))


@router.post("/resources/{resource_id}/delete", response_class=HTMLResponse,
             dependencies=[STORABLE])
def delete_resource(request: Request, resource_id: uuid.UUID, session: SessionDep,
                    lang: LangDep, principal: PagePrincipalDep, form: FormDep) -> Response:
    check_post(request, text(form, "csrf"))
    resources.delete(session, resource_id, principal, _version(text(form, "version")))
    return RedirectResponse(f"/resources/{resource_id}{_q(lang)}", status_code=303)


@router.post("/resources/{resource_id}/restore", response_class=HTMLResponse,
             dependencies=[STORABLE])
def restore_resource(request: Request, resource_id: uuid.UUID, session: SessionDep,
                     lang: LangDep, principal: PagePrincipalDep, form: FormDep) -> Response:
    check_post(request, text(form, "csrf"))
    typed = text(form, "version")
    resources.restore(session, resource_id, principal, _version(typed) if typed else None)
    return RedirectResponse(f"/resources/{resource_id}{_q(lang)}", status_code=303)


# --- the history ----------------------------------------------------------------------------

@router.get("/resources/{resource_id}/history", response_class=HTMLResponse)
def resource_history(request: Request, resource_id: uuid.UUID, session: SessionDep,
                     lang: LangDep, principal: PagePrincipalDep) -> Response:
    redirect = _sign_in_first(request, principal)
    if redirect:
        return redirect
    resource = resources.get(session, resource_id, include_deleted=True)
    permissions.read_history(principal, permissions.resource_territories(resource))
    entries = []
    for e in reversed(history.entries(session, "resource", resource_id)):
        before = rf.from_snapshot(session, e.before, lang) if e.before else None
        after = rf.from_snapshot(session, e.after, lang) if e.after else None
        groups = rf.changed_groups(before, after) if before and after else []
        if e.action == "create" and after is not None:
            groups = [g for g in rf.GROUPS if rf.words(session, after, g, lang) != "—"]
        entries.append({
            "action": e.action, "actor": tokens.actor_name(e.actor), "at": rf.when(e.at),
            "version": (e.after or {}).get("version"),
            "changes": [{"group": g,
                         "before": rf.words(session, before, g, lang) if before else "—",
                         "after": rf.words(session, after, g, lang) if after else "—"}
                        for g in groups]})
    return templates.TemplateResponse(request, "resource_history.html", context(
        lang, r=resource, entries=entries))


# --- the opening-hours check ----------------------------------------------------------------

@api_router.get("/check", summary="Whether an opening-hours text (OpenStreetMap syntax) reads, "
                                  "by the rule every write obeys, and what it says now")
def check_opening_hours(
    lang: LangDep,
    value: Annotated[str, Query(max_length=500, description="e.g. Mo-Fr 09:00-12:00")] = "",
) -> JSONResponse:
    return JSONResponse(rf.hours_check(value, lang, datetime.now(UTC)),
                        headers={"Cache-Control": "no-store"})
