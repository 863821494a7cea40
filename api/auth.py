"""Bearer tokens → a Principal. No token is a reader; a bad or revoked token is a 401."""

from typing import Annotated

from fastapi import Depends, Request

from api.deps import SessionDep
from carto import tokens
from carto.errors import Forbidden, Unauthenticated
from carto.i18n import msg
from carto.visibility import ADMIN, ANONYMOUS, CONTRIBUTOR, EDITOR, Principal

RANK = {"reader": 0, CONTRIBUTOR: 1, EDITOR: 2, ADMIN: 3}


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
    return Principal(role=row.role, territory_id=row.territory_id,
                     actor=f"token:{row.id}:{row.name}", token_id=row.id)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(principal: Principal, role: str, territory_ids: set[int] | None = None) -> None:
    """Raise unless `principal` has at least `role`, and (non-admins) acts in one of the
    territories concerned."""
    if principal.role == "reader":
        raise Unauthenticated(msg("error.auth.token_needed", role=role))
    if RANK[principal.role] < RANK[role]:
        raise Forbidden(msg("error.auth.role", role=principal.role, needed=role))
    if principal.role != ADMIN and territory_ids is not None \
            and principal.territory_id not in territory_ids:
        raise Forbidden(msg("error.auth.territory"))
