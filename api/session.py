"""Browser sessions for the pages (issue 13): a cookie that refers to an API token, and the
anti-CSRF rules every form post obeys. The API itself keeps `Authorization: Bearer`.

The cookie holds the token itself, HttpOnly (no script reads it) and SameSite=Lax: each request
looks the token up again (carto.tokens.lookup), so revoking the token ends the session at once,
with no second store of sessions to keep in step. A write authenticated by this cookie must
carry the form's anti-CSRF value (an HMAC of the token, so a forger who cannot read the cookie
cannot compute it) and come from this origin (Origin, else Referer; Sec-Fetch-Site)."""

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from api.auth import current_principal
from api.deps import SessionDep
from carto import permissions, tokens
from carto.errors import CartoError, Forbidden
from carto.i18n import msg
from carto.visibility import ANONYMOUS, CONTRIBUTOR, Principal

COOKIE = "terreau_session"
CSRF_FIELD = "csrf"
MAX_AGE = 60 * 60 * 24 * 30  # a month: facilitators sign in once per tablet


@dataclass(frozen=True)
class SignedIn:
    """Who the header names: the token's label, role and territory."""
    principal: Principal
    label: str
    role: str
    territory: str | None
    territory_slug: str | None
    csrf: str

    def may_add_in(self, territory_id: int) -> bool:
        """Whether a page offers "Ajouter une ressource" in this territory (the rule is
        carto.permissions', the one every creation obeys)."""
        try:
            permissions.require(self.principal, CONTRIBUTOR, {territory_id})
        except CartoError:
            return False
        return True


def csrf_value(token: str) -> str:
    return hmac.new(token.encode(), b"terreau-csrf", hashlib.sha256).hexdigest()


def _signed_in(request: Request, session: Any) -> SignedIn | None:
    if "signed_in" in request.state._state:
        return request.state.signed_in  # type: ignore[no-any-return]
    token = request.cookies.get(COOKIE)
    found = None
    if token:
        row = tokens.lookup(session, token)
        if row is not None:
            found = SignedIn(tokens.principal(row), row.name, row.role,
                             row.territory.name if row.territory else None,
                             row.territory.slug if row.territory else None, csrf_value(token))
    request.state.signed_in = found
    return found


def signed_in(request: Request) -> SignedIn | None:
    """For templates (api.templating's context processor), only when a cookie is there: read
    on the request's own session (api.deps.get_session), else (an error page, rendered once
    it is closed) on a read session of its own."""
    if "signed_in" in request.state._state:
        return request.state.signed_in  # type: ignore[no-any-return]
    if not request.cookies.get(COOKIE):
        return None
    current = getattr(request.state, "db_session", None)
    if current is not None:  # the request's own session: never a second pooled connection
        return _signed_in(request, current)
    with request.app.state.read_sessions() as session:
        return _signed_in(request, session)


def page_principal(request: Request, session: SessionDep) -> Principal:
    """The reader of a page: the cookie's token, or anonymous (a revoked token reads as
    anonymous: its session has ended)."""
    found = _signed_in(request, session)
    return found.principal if found else ANONYMOUS


PagePrincipalDep = Annotated[Principal, Depends(page_principal)]


def reader_principal(request: Request, session: SessionDep) -> Principal:
    """The reader of the data a page loads by script (the map's features and popups): a Bearer
    token when one is sent (QGIS, another client), else the page's session cookie. Reads only:
    no write is ever authenticated this way."""
    if request.headers.get("authorization"):
        return current_principal(request, session)
    return page_principal(request, session)


ReaderDep = Annotated[Principal, Depends(reader_principal)]


def same_origin(request: Request) -> bool:
    """Sec-Fetch-Site says so (every current browser sends it), else Origin, else Referer
    names this site. A post with none of them is left to the anti-CSRF value. (A page with
    Referrer-Policy no-referrer makes Chromium send `Origin: null`: refused, hence
    `same-origin` on the pages that carry a token in their address.)"""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site:
        return fetch_site == "same-origin"
    here = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin:
        return origin == here
    referer = request.headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" == here
    return True


def check_origin(request: Request) -> None:
    if not same_origin(request):
        raise Forbidden(msg("error.session.cross_origin"))


def check_post(request: Request, sent: str | None) -> None:
    """Every form post of the pages: same origin, and when a session cookie authenticates it,
    the anti-CSRF value `sent` with the form must be that session's."""
    check_origin(request)
    token = request.cookies.get(COOKIE)
    if token and not hmac.compare_digest(sent or "", csrf_value(token)):
        raise Forbidden(msg("error.session.csrf"))


def open_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=MAX_AGE, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")
