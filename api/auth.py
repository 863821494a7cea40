"""Bearer tokens → a Principal. No token is a reader; a bad or revoked token is a 401."""

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from api.deps import SessionDep
from carto import permissions, tokens
from carto.db import read_on_async
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

T = TypeVar("T")


async def read(request: Request, session: AsyncSession, fn: Callable[[Session, Principal], T]) -> T:
    """The general read path (api.deps.AsyncReadsDep, docs/conventions.md "Which engine"):
    `fn(session, principal)` runs the synchronous domain code on the async engine's connection
    (`run_sync`), the caller's token looked up on that same connection, in the handler's
    `async def` on the event loop: no thread hop, no second connection."""
    def work(sync_session: Session) -> T:
        return fn(sync_session, current_principal(request, sync_session))

    return await session.run_sync(work)


async def read_own(request: Request, fn: Callable[[Session, Principal], T]) -> T:
    """`read` on a connection of its own, taken here from the async engine's pool and given
    back before the response is sent (`carto.db.read_on_async`: a plain Session on it, no
    AsyncSession), for the busiest endpoint (/api/nearby), which then declares no dependency.
    FastAPI's solving of a dependency (a generator's exit stack, its scope) cost that endpoint
    more worker CPU than the session itself."""
    return await read_on_async(request.app.state.async_engine,
                               lambda session: fn(session, current_principal(request, session)))


# The write rules live in carto.permissions (HTTP, CLI, importers and workshops share them).
require = permissions.require


def current_writer(principal: PrincipalDep) -> Principal:
    """A write needs a token, whatever else is wrong with the request: 401 comes first."""
    permissions.require(principal, CONTRIBUTOR)
    return principal


WriterDep = Annotated[Principal, Depends(current_writer)]
