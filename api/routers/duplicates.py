"""Duplicates for the editors: the flagged pairs of a territory, the merge of one resource
into another and "not a duplicate" (carto.duplicates), in the API and on the moderators'
pages (/moderation/duplicates, and the section templates/_duplicates.html that /moderation
and a workshop's moderation page include through `page_context`)."""

import uuid
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api import forms
from api.auth import PrincipalDep, WriterDep
from api.deps import LangDep, SessionDep
from api.http import expected_version, jsonable
from api.routers.session import _local as local_path
from api.schemas import DismissIn, MergeIn
from api.session import PagePrincipalDep, check_post
from api.templating import context, templates
from carto import duplicates, territories, tokens
from carto.errors import Invalid
from carto.i18n import msg, t
from carto.models import Resource
from carto.visibility import Principal

router = APIRouter(tags=["moderation"], dependencies=[forms.STORABLE])


@router.get("/api/moderation/duplicates",
            summary="Resources entered twice: similar names within 300 m, or the same "
                    "external id (editors of the territory)")
def duplicate_pairs(session: SessionDep, principal: PrincipalDep,
                    territory: Annotated[str | None, Query(description="territory slug (unknown: 404)")]
                    = None) -> JSONResponse:
    territory_id = territories.filter_id(session, territory)
    return JSONResponse(jsonable({"pairs": duplicates.pairs(session, principal, territory_id),
                                  "radius_m": duplicates.RADIUS_M}))


@router.post("/api/resources/{resource_id}/merge",
             summary="Merge this resource into another: it is deleted with a pointer to the "
                     "kept one, its links move there (If-Match: this resource's version)")
def merge_resource(request: Request, resource_id: uuid.UUID, body: MergeIn,
                   session: SessionDep, principal: WriterDep) -> JSONResponse:
    report = duplicates.merge(session, resource_id, body.into, principal,
                              expected_version(request))
    return JSONResponse(report.as_dict())


@router.post("/api/moderation/duplicates/dismissals", status_code=201,
             summary="Not a duplicate: the pair is never flagged again (editors of a "
                     "territory of both; 200 when it was already said)")
def dismiss_pair(body: DismissIn, session: SessionDep, principal: WriterDep) -> JSONResponse:
    dismissal, new = duplicates.dismiss(session, body.resources[0], body.resources[1],
                                        principal)
    return JSONResponse(jsonable({"a": dismissal.a_id, "b": dismissal.b_id,
                                  "dismissed_by": dismissal.dismissed_by,
                                  "dismissed_at": dismissal.dismissed_at}),
                        status_code=201 if new else 200)


@router.delete("/api/moderation/duplicates/dismissals/{first_id}/{second_id}",
               status_code=204,
               summary="Undo « not a duplicate »: the pair may be flagged again (the same "
                       "editors as saying it; the two ids in either order; 404 when it was "
                       "not said)")
def undismiss_pair(first_id: uuid.UUID, second_id: uuid.UUID, session: SessionDep,
                   principal: WriterDep) -> Response:
    duplicates.undismiss(session, first_id, second_id, principal)
    return Response(status_code=204)


# --- the moderators' pages ----------------------------------------------------------------
# /moderation/duplicates shows the pairs; any moderation page may include the same section
# (templates/_duplicates.html) with `page_context`. The merge is a form post (cookie session +
# anti-CSRF value) that comes back to the page it was sent from, saying what it did.

REPORT_KEYS = ("merged", "into", "moved", "self_links", "repeats", "dismissed", "undismissed")


def _count(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def _report(session: Session, request: Request, lang: str) -> str | None:
    """The words of the merge (or the "not a duplicate") just made, from the query of the
    redirect that followed it."""
    q = request.query_params
    for key in ("dismissed", "undismissed"):
        if key not in q:
            continue
        try:
            pair = [session.get(Resource, uuid.UUID(v)) for v in q.getlist(key)[:2]]
        except ValueError:
            return None
        if len(pair) != 2 or pair[0] is None or pair[1] is None:
            return None
        return t(f"duplicates.{key}", lang, a=pair[0].name, b=pair[1].name)
    try:
        merged, kept = (session.get(Resource, uuid.UUID(q.get(k, ""))) for k in ("merged", "into"))
    except ValueError:
        return None
    if merged is None or kept is None:
        return None
    parts = [t("duplicates.done", lang, merged=merged.name, kept=kept.name)]
    for key, word in (("moved", "duplicates.done_moved"), ("self_links", "duplicates.done_self"),
                      ("repeats", "duplicates.done_repeats")):
        if _count(q.get(key)):
            parts.append(t(word, lang, n=_count(q.get(key))))
    return " ".join(parts)


def page_context(request: Request, session: Session, principal: Principal,
                 territory_id: int | None, lang: str, back: str | None = None) -> dict[str, Any]:
    """`duplicates` for templates/_duplicates.html: the pairs (editors only: carto.duplicates),
    the last merge in words, and the address the merge forms come back to (`back`, else this
    page's own address)."""
    if back is None:
        kept = [(k, v) for k, v in request.query_params.multi_items() if k not in REPORT_KEYS]
        back = request.url.path + (f"?{urlencode(kept)}" if kept else "")
    found = duplicates.pairs(session, principal, territory_id)
    for pair in found:
        for side in (pair["keep"], pair["merge"]):
            side["author"] = tokens.actor_name(str(side["created_by"]))
    said = duplicates.dismissals(session, principal, territory_id)
    for dismissal in said:
        dismissal["author"] = tokens.actor_name(dismissal["dismissed_by"])
    return {"duplicates": {"pairs": found, "dismissals": said, "radius": duplicates.RADIUS_M,
                           "back": back, "report": _report(session, request, lang)}}


@router.get("/moderation/duplicates", response_class=HTMLResponse, include_in_schema=False)
def duplicates_page(request: Request, session: SessionDep, lang: LangDep,
                    principal: PagePrincipalDep, territory: str | None = None) -> HTMLResponse:
    territory_id = territories.filter_id(session, territory or None)
    name = next((s["name"] for s in territories.summaries(session, territory)), None) \
        if territory else None
    return templates.TemplateResponse(request, "duplicates.html", context(
        lang, territory_name=name,
        **page_context(request, session, principal, territory_id, lang)))


@router.post("/moderation/duplicates/merge", include_in_schema=False)
def merge_from_page(request: Request, session: SessionDep, principal: PagePrincipalDep,
                    csrf: Annotated[str, Form()] = "", resource: Annotated[str, Form()] = "",
                    into: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "",
                    back: Annotated[str, Form()] = "/moderation/duplicates") -> Response:
    check_post(request, csrf)
    merged_id, into_id = _posted_pair("resource", resource, into)
    report = duplicates.merge(session, merged_id, into_id, principal,
                              int(version) if version.isdigit() else None)
    return _back(back, {"merged": report.merged, "into": report.into,
                        "moved": len(report.repointed),
                        "self_links": len(report.removed_self_links),
                        "repeats": len(report.removed_duplicates)})


# « Pas un doublon » and its « Annuler »: one form each, the same calls as the API's POST and
# DELETE on /api/moderation/duplicates/dismissals, named by the form's address.
PAIR_FORMS: dict[str, tuple[Callable[..., object], str]] = {
    "dismiss": (duplicates.dismiss, "dismissed"),
    "undismiss": (duplicates.undismiss, "undismissed")}


@router.post("/moderation/duplicates/dismiss", include_in_schema=False)
@router.post("/moderation/duplicates/undismiss", include_in_schema=False)
def pair_from_page(request: Request, session: SessionDep, principal: PagePrincipalDep,
                   csrf: Annotated[str, Form()] = "", a: Annotated[str, Form()] = "",
                   b: Annotated[str, Form()] = "",
                   back: Annotated[str, Form()] = "/moderation/duplicates") -> Response:
    """Say a pair is not a duplicate, or take it back; back to the page it was sent from."""
    check_post(request, csrf)
    first, second = _posted_pair("resources", a, b)
    call, said = PAIR_FORMS[request.url.path.rsplit("/", 1)[1]]
    call(session, first, second, principal)
    return _back(back, [(said, first), (said, second)])


def _posted_pair(field: str, first: str, second: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The two resource ids a page form posted (a 422 naming `field` for one that is not)."""
    try:
        return uuid.UUID(first), uuid.UUID(second)
    except ValueError as exc:
        wrong = second if _is_uuid(first) else first
        raise Invalid.field(field, msg("error.lifecycle.client_id", value=wrong)) from exc


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _back(back: str, done: Any) -> RedirectResponse:
    """Back to the page the form was sent from (a local path only), saying what was done."""
    target = local_path(back)
    joiner = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{joiner}{urlencode(done)}#duplicates", status_code=303)
