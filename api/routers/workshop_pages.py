"""The workshop pages (issue 14): /workshops/new (an editor creates one), /join/{code} (a
pseudonym, nothing else), /workshops/{code} (the participants' touch map and forms),
/workshops/{code}/project (the projector), /workshops/{code}/moderation (the facilitator's
queue, questions and closing), /workshops/{code}/summary, the QR codes and the workshop's
output. Forms post with the session cookie and its anti-CSRF value (api.session); the
participants' pages use their workshop token from the browser's storage against the API, never
in an address."""

import contextlib
import io
import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import assets, forms
from api import session as web
from api.deps import AsyncReadsDep, LangDep, SessionDep
from api.http import jsonable
from api.routers import maps as territory_maps
from api.routers import workshops as live_api
from api.routers.duplicates import page_context as duplicates_context
from api.session import PagePrincipalDep
from api.templating import context, templates
from carto import moderation, permissions, resources, vocab
from carto.config import map_settings
from carto.errors import CartoError
from carto.i18n import t
from carto.io import exports
from carto.maps import data as mapdata
from carto.maps import script_json
from carto.models import Territory, Workshop
from carto.visibility import ADMIN, Principal
from carto.workshops import feed, sessions, votes

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[forms.STORABLE])
PARIS = ZoneInfo("Europe/Paris")  # the time a facilitator types is the hall's


def _page(request: Request, name: str, lang: str, status: int = 200, **values: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context(lang, **values), status_code=status)


def _texts(lang: str, keys: list[str], shared: dict[str, str] | None = None) -> str:
    """The sentences a page script shows, from the catalogue (a JSON island, not a literal);
    `shared`: a name for a sentence another page's script says too (one sentence, one key)."""
    texts = {k: t(f"workshop.js.{k}", lang) for k in keys}
    texts.update({name: t(key, lang) for name, key in (shared or {}).items()})
    return script_json(texts)


def _map_config(session: Session, workshop: Workshop, lang: str) -> str:
    settings = map_settings()
    kinds = vocab.resource_kinds(session)
    return script_json({
        "code": workshop.code,
        "territory": workshop.territory.slug,
        # when its tokens could write: an outbox item saved without a workshop and made then,
        # in this territory, is this workshop's (static/js/workshop.js, madeHere)
        "open_from": workshop.created_at.isoformat(),
        "open_until": (workshop.closed_at or workshop.ends_at).isoformat(),
        "outline": feed.outline(session, workshop.territory_id),
        "tiles": {"url": settings.tile_url, "attribution": settings.tile_attribution},
        "kinds": {k: {"label": v.label(lang), "color": v.extra.get("color", "#555")}
                  for k, v in kinds.items()},
        "categories": {k: v.label(lang) for k, v in vocab.categories().items()},
        "levels": {str(k): v.label(lang) for k, v in vocab.levels().items()},
    })


def _territories_for(session: Session, principal: Principal) -> list[Territory]:
    query = select(Territory).order_by(Territory.name)
    if principal.role != ADMIN:
        query = query.where(Territory.id == principal.territory_id)
    return list(session.scalars(query))


# --- creating ------------------------------------------------------------------------------------

@router.get("/workshops/new", response_class=HTMLResponse)
def new_form(request: Request, session: SessionDep, lang: LangDep,
             principal: PagePrincipalDep) -> HTMLResponse:
    return _page(request, "workshop_new.html", lang, principal=principal,
                 may=principal.is_editor, territories=_territories_for(session, principal)
                 if principal.is_editor else [], typed={}, errors={})


@router.post("/workshops/new", response_class=HTMLResponse)
def create(request: Request, session: SessionDep, lang: LangDep, principal: PagePrincipalDep,
           csrf: Annotated[str, Form()] = "", territory: Annotated[str, Form()] = "",
           title: Annotated[str, Form()] = "", date: Annotated[str, Form()] = "",
           place: Annotated[str, Form()] = "", ends: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    typed = {"territory": territory, "title": title, "date": date, "place": place, "ends": ends}
    ends_at: Any = ends
    with contextlib.suppress(ValueError):  # a time typed in the hall: Paris time that day
        ends_at = datetime.fromisoformat(f"{date}T{ends}").replace(tzinfo=PARIS).isoformat()
    try:
        with session.begin_nested():
            workshop = sessions.create(session, {"territory": territory, "title": title,
                                                 "date": date, "place": place or None,
                                                 "ends_at": ends_at}, principal)
    except CartoError as exc:
        errors = {("ends" if e.field == "ends_at" else e.field): e.text(lang) for e in exc.errors}
        if not errors:
            errors = {"": exc.detail_in(lang)}
        return _page(request, "workshop_new.html", lang, status=422, principal=principal,
                     may=principal.is_editor, territories=_territories_for(session, principal),
                     typed=typed, errors=errors)
    suffix = "?lang=en" if lang == "en" else ""
    return RedirectResponse(f"/workshops/{workshop.code}/moderation{suffix}", status_code=303)


# --- joining and taking part ------------------------------------------------------------------------

@router.get("/join/{code}", response_class=HTMLResponse)
def join_page(request: Request, code: str, session: SessionDep, lang: LangDep) -> HTMLResponse:
    workshop = sessions.get(session, code)
    return _page(request, "workshop_join.html", lang, w=workshop, state=sessions.state(workshop),
                 texts=_texts(lang, ["joining", "failed"]))


@router.get("/workshops/{code}", response_class=HTMLResponse)
def workshop_page(request: Request, code: str, session: SessionDep, lang: LangDep) -> HTMLResponse:
    """The participant's page: the token comes from the browser's storage (set by /join)."""
    workshop = sessions.get(session, code)
    return _page(request, "workshop.html", lang, w=workshop, state=sessions.state(workshop),
                 config=_map_config(session, workshop, lang), leaflet_js=assets.LEAFLET_JS,
                 leaflet_css=assets.LEAFLET_CSS, kinds=vocab.resource_kinds(session),
                 categories=vocab.categories(), levels=vocab.levels(),
                 texts=_texts(lang, JS_TEXTS, JS_SHARED))


JS_TEXTS = ["pending", "validated", "rejected", "saved", "refused", "failed", "tap_map",
            "choose_two", "voted", "no_token", "live", "polling", "closed", "ended",
            "resources", "links", "leave_warning", "unsent"]
# the territory map's words for what awaits validation: the maps say it alike (Terreau.pending)
JS_SHARED = {"awaiting": "map.js.pending"}


@router.get("/workshops/{code}/project", response_class=HTMLResponse)
def project_page(request: Request, code: str, session: SessionDep, lang: LangDep) -> HTMLResponse:
    workshop = sessions.get(session, code)
    return _page(request, "workshop_project.html", lang, w=workshop,
                 state=sessions.state(workshop), config=_map_config(session, workshop, lang),
                 leaflet_js=assets.LEAFLET_JS, leaflet_css=assets.LEAFLET_CSS,
                 join_url=f"{str(request.base_url).rstrip('/')}/join/{workshop.code}",
                 texts=_texts(lang, JS_TEXTS, JS_SHARED))


# --- live, for the pages signed in by cookie (the projector, the moderation page) ---------------

@router.get("/workshops/{code}/events")
async def page_events(request: Request, code: str, reads: AsyncReadsDep,
                      principal: PagePrincipalDep) -> Response:
    """/api/workshops/{code}/events for a page whose reader is its session cookie (EventSource
    sends no header): a GET that changes nothing, which no other site may read (no CORS)."""
    return await live_api.live(request, code, reads, principal)


@router.get("/workshops/{code}/feed.json")
def page_feed(code: str, session: SessionDep, principal: PagePrincipalDep) -> Response:
    """The polling twin of /workshops/{code}/events."""
    return JSONResponse(jsonable(live_api.feed_body(session, principal, code)))


# --- QR codes ------------------------------------------------------------------------------------

def _qr(request: Request, code: str, session: Session) -> segno.QRCode:
    workshop = sessions.get(session, code)
    return segno.make(f"{str(request.base_url).rstrip('/')}/join/{workshop.code}", error="m")


@router.get("/workshops/{code}/qr.svg")
def qr_svg(request: Request, code: str, session: SessionDep) -> Response:
    out = io.BytesIO()
    _qr(request, code, session).save(out, kind="svg", scale=8, border=2, xmldecl=False)
    return Response(out.getvalue(), media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/workshops/{code}/qr.png")
def qr_png(request: Request, code: str, session: SessionDep) -> Response:
    out = io.BytesIO()
    _qr(request, code, session).save(out, kind="png", scale=10, border=2)
    return Response(out.getvalue(), media_type="image/png",
                    headers={"Cache-Control": "public, max-age=3600"})


# --- facilitation ----------------------------------------------------------------------------------

def _moderation_page(request: Request, session: Session, lang: str, principal: Principal,
                     workshop: Workshop, status: int = 200,
                     error: str | None = None) -> HTMLResponse:
    may = permissions.edits(principal, {workshop.territory_id})
    return _page(request, "workshop_moderation.html", lang, status=status, w=workshop,
                 state=sessions.state(workshop), may=may, error=error,
                 queue=feed.pending(session, principal, workshop) if may else None,
                 summary=feed.summary(session, workshop),
                 questions=[votes.tally(session, workshop, q)
                            for q in votes.questions(session, workshop)] if may else [],
                 additions=feed.items(session, principal, workshop.id) if may else None,
                 kinds=vocab.resource_kinds(session), categories=vocab.categories(),
                 levels=vocab.levels(), texts=_texts(lang, ["live", "polling"]),
                 **(duplicates_context(request, session, principal, workshop.territory_id, lang,
                                       back=f"/workshops/{workshop.code}/moderation"
                                       + ("?lang=en" if lang == "en" else ""))
                    if may else {"duplicates": None}))


@router.get("/workshops/{code}/moderation", response_class=HTMLResponse)
def moderation_page(request: Request, code: str, session: SessionDep, lang: LangDep,
                    principal: PagePrincipalDep) -> HTMLResponse:
    return _moderation_page(request, session, lang, principal, sessions.get(session, code))


def _back(code: str, lang: str, anchor: str = "") -> RedirectResponse:
    suffix = "?lang=en" if lang == "en" else ""
    return RedirectResponse(f"/workshops/{code}/moderation{suffix}{anchor}", status_code=303)


def _act(request: Request, session: Session, lang: str, principal: Principal, code: str,
         csrf: str, action: Any, anchor: str = "") -> Response:
    """Every facilitator's form: same origin and anti-CSRF first, then one domain call; a
    refusal shows the page again with the reason."""
    web.check_post(request, csrf)
    workshop = sessions.get(session, code)
    try:
        with session.begin_nested():  # a refusal undoes the whole step (edit and decision)
            action(workshop)
    except CartoError as exc:
        return _moderation_page(request, session, lang, principal, sessions.get(session, code),
                                status=409 if exc.errors == [] else 422,
                                error=exc.detail_in(lang))
    return _back(workshop.code, lang, anchor)


ENTITY_TYPES = {"resource": "resource", "link": "link"}


@router.post("/workshops/{code}/moderation/{entity}/{entity_id}/validate")
def validate(request: Request, code: str, entity: str, entity_id: uuid.UUID,
             session: SessionDep, lang: LangDep, principal: PagePrincipalDep,
             csrf: Annotated[str, Form()] = "", name: Annotated[str | None, Form()] = None,
             description: Annotated[str | None, Form()] = None) -> Response:
    """Validate, or edit then validate: a resource's name and note changed first (one update
    through carto.resources, then the decision through carto.moderation)."""
    kind = ENTITY_TYPES.get(entity, "link")

    def act(workshop: Workshop) -> None:
        if kind == "resource" and (name is not None or description is not None):
            current = resources.get(session, entity_id)
            changes: dict[str, Any] = {}
            if name is not None and name.strip() and name != current.name:
                changes["name"] = name.strip()
            if description is not None and (description.strip() or None) != current.description:
                changes["description"] = description.strip() or None
            if changes:
                resources.update(session, entity_id, changes, principal, None)
        moderation.validate(session, kind, entity_id, principal)
    return _act(request, session, lang, principal, code, csrf, act)


@router.post("/workshops/{code}/moderation/{entity}/{entity_id}/reject")
def reject(request: Request, code: str, entity: str, entity_id: uuid.UUID,
           session: SessionDep, lang: LangDep, principal: PagePrincipalDep,
           csrf: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "") -> Response:
    kind = ENTITY_TYPES.get(entity, "link")
    return _act(request, session, lang, principal, code, csrf,
                lambda w: moderation.reject(session, kind, entity_id, principal, reason))


@router.post("/workshops/{code}/questions")
def ask(request: Request, code: str, session: SessionDep, lang: LangDep,
        principal: PagePrincipalDep, csrf: Annotated[str, Form()] = "",
        text: Annotated[str, Form()] = "", options: Annotated[str, Form()] = "",
        picked: Annotated[list[str] | None, Form()] = None) -> Response:
    """Options one per line, and/or picked among the workshop's additions."""
    listed = [line.strip() for line in options.splitlines() if line.strip()]
    listed += [p for p in (picked or []) if p.strip() and p not in listed]
    return _act(request, session, lang, principal, code, csrf,
                lambda w: votes.ask(session, w.code, principal, text, listed), "#questions")


@router.post("/workshops/{code}/questions/{question_id}/close")
def close_question(request: Request, code: str, question_id: int, session: SessionDep,
                   lang: LangDep, principal: PagePrincipalDep,
                   csrf: Annotated[str, Form()] = "") -> Response:
    return _act(request, session, lang, principal, code, csrf,
                lambda w: votes.close(session, w.code, question_id, principal), "#questions")


@router.post("/workshops/{code}/close")
def close(request: Request, code: str, session: SessionDep, lang: LangDep,
          principal: PagePrincipalDep, csrf: Annotated[str, Form()] = "") -> Response:
    return _act(request, session, lang, principal, code, csrf,
                lambda w: sessions.close(session, w.code, principal))


# --- the end: summary and output -------------------------------------------------------------------

@router.get("/workshops/{code}/summary", response_class=HTMLResponse)
def summary_page(request: Request, code: str, session: SessionDep,
                 lang: LangDep) -> HTMLResponse:
    workshop = sessions.get(session, code)
    return _page(request, "workshop_summary.html", lang, w=workshop,
                 state=sessions.state(workshop), summary=feed.summary(session, workshop),
                 kinds=vocab.resource_kinds(session), categories=vocab.categories())


def _output(session: Session, principal: Principal, code: str, fmt: str, lang: str,
            media: str) -> Response:
    """The workshop's output through the territory export (carto.io.exports) kept to what it
    added, as the reader may see it (a facilitator: pending rows too)."""
    workshop = sessions.get(session, code)
    body = exports.export(session, principal, workshop.territory.slug, fmt, lang, workshop.id)
    name = f"atelier-{workshop.code}-{workshop.held_on.isoformat()}.{fmt}"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/workshops/{code}/output.geojson")
def output_geojson(code: str, session: SessionDep, lang: LangDep,
                   principal: PagePrincipalDep) -> Response:
    return _output(session, principal, code, "geojson", lang, "application/geo+json")


@router.get("/workshops/{code}/output.xlsx")
def output_xlsx(code: str, session: SessionDep, lang: LangDep,
                principal: PagePrincipalDep) -> Response:
    return _output(session, principal, code, "xlsx", lang,
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@router.get("/workshops/{code}/map.html")
def offline_map(request: Request, code: str, session: SessionDep, lang: LangDep,
                principal: PagePrincipalDep) -> Response:
    """The workshop's output as one self-contained HTML file that opens without a network:
    the territory's offline map (carto.maps, through api.routers.maps) kept to what the
    workshop added, as the reader may see it (a facilitator: pending rows too, marked)."""
    workshop = sessions.get(session, code)
    summary = mapdata.territory_summary(session, workshop.territory.slug)
    title = f"{workshop.title} — {workshop.held_on.strftime('%d/%m/%Y')}"
    page = territory_maps.map_page(request, session, summary, lang, standalone=True,
                                   principal=principal, workshop_id=workshop.id, title=title)
    return territory_maps.standalone_file(
        page, f"atelier-{workshop.code}-{workshop.held_on.isoformat()}.html")
