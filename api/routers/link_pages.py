"""Cooperation links in the browser (issue 13): declare one (/territories/{slug}/links/new),
its page with the road travelled (/links/{id}: its levels over time), a level change with a
note, edit, delete and restore. Forms post and work without JavaScript; the script adds the map
picker and the name suggestions (/territories/{slug}/links/suggest.json).

Every write is one call to carto.links or carto.moderation (the API's rules, versions and
history), after api.session.check_post; a refusal with field errors is shown next to the
fields with what was typed kept. The call runs in a savepoint so that a refused change leaves
nothing behind in the request's transaction."""

import uuid
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api import assets, conflicts, forms
from api import session as web
from api.deps import LangDep, SessionDep
from api.resource_form import when
from api.templating import context, templates
from carto import history, links, moderation, permissions, search, territories, tokens, vocab
from carto.config import map_settings
from carto.errors import CartoError, NotFound, PreconditionFailed
from carto.i18n import msg, t
from carto.maps import data as mapdata
from carto.maps import script_json
from carto.models import Resource
from carto.visibility import READER, Principal

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[forms.STORABLE])

PICKER_MAX = 1500  # resources drawn on the form's map picker; beyond, the name search alone
SUGGESTIONS = 8
ENDS = ("source", "target")


def day(value: date | None, lang: str) -> str:
    """A date as people write it: 05/03/2024 in French, 2024-03-05 in English."""
    if value is None:
        return ""
    return value.isoformat() if lang == "en" else value.strftime("%d/%m/%Y")


def _q(lang: str) -> str:
    return "?lang=en" if lang == "en" else ""


def _sign_in_first(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status_code=303)


def _field_errors(exc: CartoError, lang: str) -> dict[str, str]:
    """The refusal's messages by field ("" for those about the whole form)."""
    out: dict[str, str] = {}
    for e in exc.errors:
        key = e.field if e.field in FORM_FIELDS else ""
        out[key] = f"{out[key]} ; {e.text(lang)}" if key in out else e.text(lang)
    if not exc.errors:
        out[""] = exc.detail_in(lang)
    return out


FORM_FIELDS = ("source", "target", "category", "stakes", "level", "description", "started_on",
               "level_note", "status", "territory", "version")


def _attempt(session: Session, write: Callable[[], Any]) -> Any:
    """Run one domain write in a savepoint: refused, it leaves nothing behind."""
    with session.begin_nested():
        return write()


# --- the form ---------------------------------------------------------------------------------

def _picker(session: Session, territory_id: int, principal: Principal) -> list[list[Any]]:
    rows = mapdata.territory_resources(session, territory_id, principal, limit=PICKER_MAX)
    return [[r["id"], r["name"], r.get("kind", ""), r.get("lon"), r.get("lat")] for r in rows
            if r.get("lon") is not None]


def _end_choices(session: Session, territory_id: int, principal: Principal, typed: dict[str, Any],
                 errors: dict[str, str], lang: str) -> dict[str, list[dict[str, Any]]]:
    """Without the script, an end is chosen by typing its name: one resource matches, it is
    that one; several, they are offered as choices next to the field; none, an error."""
    choices: dict[str, list[dict[str, Any]]] = {}
    for end in ENDS:
        if typed.get(end):
            continue
        name = (typed.get(f"{end}_name") or "").strip()
        if not name:
            errors.setdefault(end, msg("links.page.end_missing").render(lang))
            continue
        found = search.suggest(session, principal, territory_id, name, SUGGESTIONS)
        same = [f for f in found if f["name"].strip().casefold() == name.casefold()]
        if len(same) == 1 or len(found) == 1:
            pick = same[0] if len(same) == 1 else found[0]
            typed[end], typed[f"{end}_name"] = pick["id"], pick["name"]
        elif found:
            choices[end] = found
            errors.setdefault(end, msg("links.page.end_choose", name=name).render(lang))
        else:
            errors.setdefault(end, msg("links.page.end_none", name=name).render(lang))
    return choices


def _form_page(request: Request, session: Session, lang: str, principal: Principal,
               territory: dict[str, Any], typed: dict[str, Any], errors: dict[str, str] | None,
               link: dict[str, Any] | None = None,
               choices: dict[str, list[dict[str, Any]]] | None = None,
               status: int = 200, workshop: str = "",
               conflict: dict[str, Any] | None = None) -> HTMLResponse:
    settings = map_settings()
    geometry = mapdata.territory_geometry(session, territory["id"])
    kinds = vocab.resource_kinds(session)
    data = {
        "suggest": f"/territories/{territory['slug']}/links/suggest.json",
        "resources": _picker(session, territory["id"], principal),
        "boundary": geometry.boundary,
        "colours": {k: term.extra.get("color", "") for k, term in kinds.items()},
        "tiles": {"url": settings.tile_url, "attribution": settings.tile_attribution},
        "texts": {k: t(f"links.js.{k}", lang)
                  for k in ("picked", "pick_first", "pick_second", "no_match", "choose_on_map")},
    }
    return templates.TemplateResponse(request, "link_form.html", context(
        lang, territory=territory, typed=typed, errors=errors or {}, link=link,
        choices=choices or {}, categories=vocab.categories(), levels=vocab.levels(),
        kinds=kinds, data=script_json(data), leaflet_js=assets.LEAFLET_JS,
        leaflet_css=assets.LEAFLET_CSS, today=date.today().isoformat(), workshop=workshop,
        conflict=conflict),
        status_code=status)


def _territory(session: Session, slug: str) -> dict[str, Any]:
    place = territories.get(session, slug)
    return {"id": place.id, "slug": place.slug, "name": place.name}


def _stakes_of(category: str, chosen: list[str]) -> list[str]:
    """The stakes ticked under the category chosen (those ticked under another one, before
    changing one's mind, are not sent on)."""
    term = vocab.categories().get(category)
    offered = term.extra.get("stakes_fr", "").split(";") if term else []
    return [s for s in chosen if s in offered]


def _typed(source: str, source_name: str, target: str, target_name: str, category: str,
           stakes: list[str], level: str, description: str, started_on: str,
           level_note: str = "", status: str = "") -> dict[str, Any]:
    return {"source": source.strip(), "source_name": source_name, "target": target.strip(),
            "target_name": target_name, "category": category, "stakes": stakes, "level": level,
            "description": description, "started_on": started_on, "level_note": level_note,
            "status": status}


def _data(typed: dict[str, Any], with_level: bool) -> dict[str, Any]:
    """What the form says, in the API's shape for carto.links."""
    data: dict[str, Any] = {
        "source": typed["source"] or None, "target": typed["target"] or None,
        "category": typed["category"] or None,
        "stakes": _stakes_of(typed["category"], typed["stakes"]),
        "description": typed["description"].strip() or None,
        "started_on": typed["started_on"] or None,
    }
    if with_level:
        level = typed["level"]
        data["level"] = int(level) if level.isdigit() else level or None
        if typed["level_note"].strip():
            data["level_note"] = typed["level_note"].strip()
    if typed.get("status"):
        data["status"] = typed["status"]
    return data


@router.get("/territories/{slug}/links/new", response_class=HTMLResponse)
def new_link_form(request: Request, slug: str, session: SessionDep, lang: LangDep,
                  principal: web.PagePrincipalDep,
                  source: Annotated[str, Query()] = "", target: Annotated[str, Query()] = "",
                  category: Annotated[str, Query()] = "",
                  workshop: Annotated[str, Query()] = "") -> Response:
    """The empty form (ends and category may come filled, e.g. from an opportunity;
    `workshop`, a join code from the facilitator's workshop page, makes it the workshop's)."""
    territory = _territory(session, slug)
    if principal.role == READER:
        return _sign_in_first(request)
    typed = _typed(source, "", target, "", category, [], "1", "", "")
    for end in ENDS:
        if typed[end]:
            try:
                typed[f"{end}_name"] = search.get_resource(session, principal,
                                                           uuid.UUID(typed[end]))["name"]
            except (ValueError, NotFound):
                typed[end] = ""
    return _form_page(request, session, lang, principal, territory, typed, None,
                      workshop=workshop[:20])


@router.post("/territories/{slug}/links/new", response_class=HTMLResponse)
def create_link(request: Request, slug: str, session: SessionDep, lang: LangDep,
                principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
                source: Annotated[str, Form()] = "", source_name: Annotated[str, Form()] = "",
                target: Annotated[str, Form()] = "", target_name: Annotated[str, Form()] = "",
                category: Annotated[str, Form()] = "",
                stakes: Annotated[list[str] | None, Form()] = None,
                level: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                started_on: Annotated[str, Form()] = "",
                level_note: Annotated[str, Form()] = "",
                workshop: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    territory = _territory(session, slug)
    permissions.require(principal, "contributor")
    typed = _typed(source, source_name, target, target_name, category, stakes or [], level,
                   description, started_on, level_note)
    errors: dict[str, str] = {}
    choices = _end_choices(session, territory["id"], principal, typed, errors, lang)
    if not errors:
        data = _data(typed, with_level=True) | {"territory": slug}
        if workshop:
            data["workshop"] = workshop
        try:
            link = _attempt(session, lambda: links.create(session, data, principal))
        except CartoError as exc:
            if not exc.errors:
                raise
            errors = _field_errors(exc, lang)
        else:
            return RedirectResponse(f"/links/{link.id}{_q(lang)}", status_code=303)
    return _form_page(request, session, lang, principal, territory, typed, errors,
                      choices=choices, status=422, workshop=workshop)


@router.get("/territories/{slug}/links/suggest.json")
def suggest(slug: str, session: SessionDep, principal: web.PagePrincipalDep, lang: LangDep,
            q: Annotated[str, Query(max_length=200)] = "") -> JSONResponse:
    """Resources of the territory whose name holds the text typed, accents ignored, as this
    reader may see them (carto.search.suggest, through carto.visibility)."""
    tid = _territory(session, slug)["id"]
    kinds = vocab.resource_kinds(session)
    found = [r | {"kind_label": kinds[r["kind"]].label(lang) if r["kind"] in kinds else r["kind"]}
             for r in search.suggest(session, principal, tid, q, SUGGESTIONS)]
    return JSONResponse({"results": found}, headers={"Cache-Control": "no-store"})


# --- someone saved meanwhile (412): theirs beside yours (api/conflicts.py) ----------------------

def _comparable(values: dict[str, Any], group: str) -> Any:
    if group == "ends":
        return (values["source"], values["target"])
    if group == "category":
        return (values["category"], sorted(values["stakes"]))
    value = values[group]
    return value.strip() if isinstance(value, str) else value


FIELDS = conflicts.Groups({"ends": ("source", "source_name", "target", "target_name"),
                           "category": ("category", "stakes"), "level": ("level", "level_note"),
                           "description": ("description",), "started_on": ("started_on",),
                           "status": ("status",)}, _comparable)


def _typed_from(session: Session, picture: dict[str, Any]) -> dict[str, Any]:
    """A link's picture (carto.links.snapshot, as the change log keeps it) as the form holds
    it."""
    names = {}
    for end in ENDS:
        found = session.get(Resource, uuid.UUID(picture[end])) if picture.get(end) else None
        names[end] = found.name if found else ""
    return _typed(picture.get("source") or "", names["source"], picture.get("target") or "",
                  names["target"], picture.get("category") or "",
                  list(picture.get("stakes") or []), str(picture.get("level") or ""),
                  picture.get("description") or "", picture.get("started_on") or "",
                  status=picture.get("status") or "")


def _words(values: dict[str, Any], group: str, lang: str) -> str:
    """A group's value said for people ("2 — Échanges de services"); "—" for nothing."""
    if group == "ends":
        return f"{values['source_name']} ↔ {values['target_name']}"
    if group == "category":
        term = vocab.categories().get(values["category"])
        said = term.label(lang) if term else values["category"]
        return f"{said} ({' ; '.join(values['stakes'])})" if values["stakes"] else said or "—"
    if group == "level":
        level = str(values["level"])
        term = vocab.levels().get(int(level)) if level.isdigit() else None
        return f"{level} — {term.label(lang)}" if term else level or "—"
    if group == "started_on" and values["started_on"]:
        return day(date.fromisoformat(values["started_on"]), lang)
    if group == "status" and values["status"]:
        return t(f"links.status.{values['status']}", lang)
    return str(values.get(group) or "—")


def _conflict(session: Session, link_id: uuid.UUID, lang: str, opened_at: int | None,
              change: Callable[[dict[str, Any]], dict[str, Any]]
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The form to show again and its conflict: `change` turns the version the person opened
    into what they posted (the level form changes the level only, the edit form the rest)."""
    current = links.get(session, link_id)
    theirs = _typed_from(session, links.snapshot(current))
    opened = history.version_picture(session, "link", link_id, opened_at) \
        if opened_at is not None else None
    base = _typed_from(session, opened) if opened is not None else None
    who = history.entries(session, "link", link_id)[-1]
    return conflicts.resolve(
        FIELDS, base, theirs, change(base or theirs), lambda values, g: _words(values, g, lang),
        lambda g: t(f"links.page.{g}", lang), t("links.page.conflict_title", lang),
        conflicts.Saved(tokens.actor_name(who.actor), when(who.at), current.version,
                        opened_at))


# --- a link's page: the road travelled ---------------------------------------------------------

def _link_view(session: Session, principal: Principal, link_id: uuid.UUID) -> dict[str, Any]:
    """The link as this reader may see it (carto.search, through carto.visibility), the
    editor-only fields for its editors only; a deleted link for its editors only (to restore
    it)."""
    link = links.get(session, link_id, include_deleted=True)
    tids = permissions.link_territories(link)
    editable = permissions.edits(principal, tids)
    if link.deleted_at is None:
        row = search.get_link(session, principal, link_id)
    elif editable:
        row = {"id": link.id, "source_id": link.source_id, "source_name_": link.source.name,
               "target_id": link.target_id, "target_name": link.target.name,
               "category": link.category, "level": link.level, "stakes": link.stakes,
               "description": link.description, "started_on": link.started_on,
               "status": link.status, "moderation": link.moderation, "version": link.version,
               "territory": link.territory.slug if link.territory else None,
               "moderation_note": link.moderation_note}
    else:
        raise NotFound(msg("error.links.unknown", id=link_id))
    row = permissions.shown_fields(principal, tids, row, search.EDITOR_ONLY)
    return row | {"deleted": link.deleted_at is not None, "editable": editable}


def _link_page(request: Request, session: Session, lang: str, principal: Principal,
               link_id: uuid.UUID, errors: dict[str, str] | None = None,
               typed: dict[str, Any] | None = None, status: int = 200,
               conflict: dict[str, Any] | None = None) -> HTMLResponse:
    row = _link_view(session, principal, link_id)
    history = links.level_history(session, link_id)
    names = {tr["slug"]: tr["name"] for tr in territories.summaries(session)}
    return templates.TemplateResponse(request, "link.html", context(
        lang, link=row, history=history, categories=vocab.categories(), levels=vocab.levels(),
        territory_name=names.get(row["territory"] or "", row["territory"]), day=day,
        errors=errors or {}, typed=typed or {}, conflict=conflict), status_code=status)


@router.get("/links/{link_id}", response_class=HTMLResponse, name="link_page")
def link_page(request: Request, link_id: uuid.UUID, session: SessionDep, lang: LangDep,
              principal: web.PagePrincipalDep) -> HTMLResponse:
    return _link_page(request, session, lang, principal, link_id)


def _version(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _redirect(link_id: uuid.UUID, lang: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/links/{link_id}{_q(lang)}{anchor}", status_code=303)


@router.post("/links/{link_id}/level", response_class=HTMLResponse)
def change_level(request: Request, link_id: uuid.UUID, session: SessionDep, lang: LangDep,
                 principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
                 version: Annotated[str, Form()] = "", level: Annotated[str, Form()] = "",
                 level_note: Annotated[str, Form()] = "") -> Response:
    """Raise or lower the level with a note: one more step on the road travelled."""
    web.check_post(request, csrf)
    value: Any = int(level) if level.isdigit() else level
    try:
        _attempt(session, lambda: links.change_level(session, link_id, value, level_note,
                                                     principal, _version(version)))
    except PreconditionFailed:
        merged, conflict = _conflict(session, link_id, lang, _version(version),
                                     lambda opened: opened | {"level": level,
                                                              "level_note": level_note})
        return _link_page(request, session, lang, principal, link_id, {}, merged, status=409,
                          conflict=conflict)
    except CartoError as exc:
        if not exc.errors:
            raise
        return _link_page(request, session, lang, principal, link_id,
                          _field_errors(exc, lang), {"level": level, "level_note": level_note},
                          status=422)
    return _redirect(link_id, lang, "#road")


@router.get("/links/{link_id}/edit", response_class=HTMLResponse)
def edit_link_form(request: Request, link_id: uuid.UUID, session: SessionDep, lang: LangDep,
                   principal: web.PagePrincipalDep) -> Response:
    if principal.role == READER:
        return _sign_in_first(request)
    permissions.edit_link(session, principal)(links.get(session, link_id))
    row = _link_view(session, principal, link_id)
    territory = _territory(session, row["territory"])
    typed = _typed(str(row["source_id"]), row["source_name_"], str(row["target_id"]),
                   row["target_name"], row["category"], list(row["stakes"] or []),
                   str(row["level"]), row["description"] or "",
                   row["started_on"].isoformat() if row["started_on"] else "",
                   status=row["status"])
    return _form_page(request, session, lang, principal, territory, typed, None, link=row)


@router.post("/links/{link_id}/edit", response_class=HTMLResponse)
def edit_link(request: Request, link_id: uuid.UUID, session: SessionDep, lang: LangDep,
              principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
              version: Annotated[str, Form()] = "",
              source: Annotated[str, Form()] = "", source_name: Annotated[str, Form()] = "",
              target: Annotated[str, Form()] = "", target_name: Annotated[str, Form()] = "",
              category: Annotated[str, Form()] = "",
              stakes: Annotated[list[str] | None, Form()] = None,
              description: Annotated[str, Form()] = "", started_on: Annotated[str, Form()] = "",
              status: Annotated[str, Form()] = "active",
              then: Annotated[str, Form()] = "") -> Response:
    """Save the changes; "then validate" (a pending contribution) publishes it in the same
    transaction (carto.moderation)."""
    web.check_post(request, csrf)
    current = links.get(session, link_id)
    permissions.edit_link(session, principal)(current)
    territory = _territory(session, current.territory.slug if current.territory else "")
    typed = _typed(source, source_name, target, target_name, category, stakes or [], "",
                   description, started_on, status=status)
    errors: dict[str, str] = {}
    choices = _end_choices(session, territory["id"], principal, typed, errors, lang)
    if not errors:
        data = _data(typed, with_level=False)

        def write() -> Any:
            saved = links.update(session, link_id, data, principal, _version(version))
            if then == "validate":
                moderation.validate(session, "link", link_id, principal, saved.version)
            return saved
        try:
            _attempt(session, write)
        except PreconditionFailed:
            merged, conflict = _conflict(
                session, link_id, lang, _version(version),
                lambda opened: typed | {"level": opened["level"], "level_note": ""})
            return _form_page(request, session, lang, principal, territory, merged, None,
                              link=_link_view(session, principal, link_id), status=409,
                              conflict=conflict)
        except CartoError as exc:
            if not exc.errors:
                raise
            errors = _field_errors(exc, lang)
        else:
            return _redirect(link_id, lang)
    row = _link_view(session, principal, link_id)
    return _form_page(request, session, lang, principal, territory, typed, errors, link=row,
                      choices=choices, status=422)


@router.post("/links/{link_id}/delete")
def delete_link(request: Request, link_id: uuid.UUID, session: SessionDep, lang: LangDep,
                principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
                version: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    links.delete(session, link_id, principal, _version(version))
    return _redirect(link_id, lang)


@router.post("/links/{link_id}/restore")
def restore_link(request: Request, link_id: uuid.UUID, session: SessionDep, lang: LangDep,
                 principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    links.restore(session, link_id, principal)
    return _redirect(link_id, lang)
