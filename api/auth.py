"""Bearer tokens → a Principal. No token is a reader; a bad or revoked token is a 401."""

from typing import Annotated

from fastapi import Depends, Request

from api.deps import SessionDep
from carto import permissions, tokens
from carto.errors import Unauthenticated
from carto.i18n import msg
from carto.visibility import ANONYMOUS, CONTRIBUTOR, Principal


def current_principal(request: Request, session: SessionDep) -> Principal:
    """The caller. Wrong tokens are counted per client address (api.ratelimit): past the
    limit, a 429 with Retry-After answers before any token is looked up."""
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated(msg("error.auth.header"))
    limiter = request.app.state.rate_limiter
    limiter.check_token_attempts(request)
    row = tokens.lookup(session, value.strip())
    if row is None:
        limiter.failed_token(request)
        raise Unauthenticated(msg("error.auth.unknown_token"))
    return tokens.principal(row)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


# The write rules live in carto.permissions (HTTP, CLI, importers and workshops share them).
require = permissions.require


def current_writer(principal: PrincipalDep) -> Principal:
    """A write needs a token, whatever else is wrong with the request: 401 comes first."""
    permissions.require(principal, CONTRIBUTOR)
    return principal


WriterDep = Annotated[Principal, Depends(current_writer)]
