"""Signing in from a browser (issue 13): /sign-in (a pasted token or a sign-in link), /sign-out,
and /admin/tokens where an admin creates, lists and revokes tokens and shows a sign-in link with
its QR code once. The rules are carto.tokens' and carto.permissions'; the cookie and the
anti-CSRF checks are api.session's."""

from typing import Annotated
from urllib.parse import urlsplit

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from api import forms
from api import session as web
from api.deps import LangDep, SessionDep
from api.templating import context, templates
from carto import permissions, territories, tokens, vocab
from carto.errors import CartoError
from carto.i18n import msg
from carto.models import ApiToken
from carto.visibility import ADMIN

router = APIRouter(tags=["pages"], include_in_schema=False, dependencies=[forms.STORABLE])

# A token in the address or the page: never cached, never sent as a referrer to another site.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}


def _local(path: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not path or not path.startswith("/") or path.startswith("//") or urlsplit(path).netloc:
        return "/"
    return path


def _sign_in_page(request: Request, lang: str, token: str = "", error: str | None = None,
                  next_path: str = "/", status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "sign_in.html",
        context(lang, token=token, error=error, next_path=_local(next_path)),
        status_code=status, headers=NO_STORE)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, lang: LangDep, token: str | None = None,
                 next: str | None = None) -> HTMLResponse:
    """A sign-in link shows its token ready to confirm with one button: opening a link alone
    never signs anyone in (an attacker's link would otherwise sign a visitor in as them)."""
    return _sign_in_page(request, lang, token or "", next_path=next or "/")


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, session: SessionDep, lang: LangDep,
            token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/") -> Response:
    web.check_origin(request)  # no session yet to hold an anti-CSRF value
    limiter = request.app.state.rate_limiter
    limiter.check_token_attempts(request)
    value = token.strip()
    row = tokens.lookup(session, value) if value else None
    if row is None:
        if value:
            limiter.failed_token(request)
        said = msg("session.error.unknown_token") if value else msg("session.error.empty")
        return _sign_in_page(request, lang, token, said.render(lang), next, status=422)
    response = RedirectResponse(_local(next), status_code=303)
    web.open_session(response, request, value)
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    response = RedirectResponse("/", status_code=303)
    web.end_session(response, request)
    return response


def _tokens_page(request: Request, session: SessionDep, lang: str, created: dict | None = None,
                 errors: dict[str, str] | None = None, typed: dict[str, str] | None = None,
                 status: int = 200) -> HTMLResponse:
    rows = session.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None),
                                                     ApiToken.id.desc())).all()
    return templates.TemplateResponse(
        request, "admin_tokens.html",
        context(lang, tokens=rows, roles=vocab.ROLES, territories=territories.summaries(session),
                created=created, errors=errors or {}, typed=typed or {}),
        status_code=status, headers=NO_STORE)


@router.get("/admin/tokens", response_class=HTMLResponse)
def admin_tokens(request: Request, session: SessionDep, lang: LangDep,
                 principal: web.PagePrincipalDep) -> HTMLResponse:
    permissions.require(principal, ADMIN)
    return _tokens_page(request, session, lang)


@router.post("/admin/tokens", response_class=HTMLResponse)
def admin_create_token(request: Request, session: SessionDep, lang: LangDep,
                       principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
                       role: Annotated[str, Form()] = "", territory: Annotated[str, Form()] = "",
                       label: Annotated[str, Form()] = "") -> HTMLResponse:
    """The new token's link and QR code are in this answer only (no-store): never again."""
    web.check_post(request, csrf)
    permissions.require(principal, ADMIN)
    typed = {"role": role, "territory": territory, "label": label}
    try:
        new = tokens.create(session, role, territory or None, label.strip())
    except CartoError as exc:
        if not exc.errors:
            raise
        errors = {e.field: e.text(lang) for e in exc.errors}
        return _tokens_page(request, session, lang, errors=errors, typed=typed, status=422)
    link = tokens.sign_in_link(str(request.base_url), new.token)
    qr = segno.make(link, error="m").svg_inline(scale=4, dark="#1f2a1f", light="#ffffff",
                                               title=msg("session.qr_title").render(lang))
    created = {"id": new.id, "link": link, "qr": qr, "role": new.role,
               "territory": new.territory}
    return _tokens_page(request, session, lang, created=created)


@router.post("/admin/tokens/{token_id}/revoke")
def admin_revoke_token(request: Request, token_id: int, session: SessionDep,
                       principal: web.PagePrincipalDep,
                       csrf: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    permissions.require(principal, ADMIN)
    tokens.revoke(session, token_id)
    return RedirectResponse("/admin/tokens", status_code=303)
