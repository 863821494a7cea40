"""Typed dependencies shared by the routers."""

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from carto.config import database_settings
from carto.errors import Overloaded
from carto.i18n import msg, negotiate

READS = ("GET", "HEAD")
T = TypeVar("T")


async def connection_slot(request: Request) -> AsyncIterator[None]:
    """One of the sync pool's connections, reserved on the event loop before the session
    exists (`app.state.connection_slots`: as many as the pool holds with its overflow).

    Why: FastAPI runs a request's sync dependencies and its handler as separate trips through
    the thread pool. The token's lookup checks a connection out, then the request queues for
    a thread to run its handler. Without the reservation, the threads can all be taken by
    requests blocked in the pool's checkout while the requests holding the connections wait
    for a thread: nobody moves until the pool's timeout ("QueuePool limit ... reached" under
    the workshop bench, issue 14). Waiting here costs no thread and holds no connection; past
    the pool's timeout it is a 503 with Retry-After, as a pool timeout is."""
    slots: asyncio.Semaphore = request.app.state.connection_slots
    wait = database_settings().pool_timeout
    try:
        await asyncio.wait_for(slots.acquire(), timeout=wait)
    except TimeoutError as exc:
        raise Overloaded(msg("problem.overloaded.detail"), math.ceil(wait)) from exc
    try:
        yield
    finally:
        slots.release()


SlotDep = Annotated[None, Depends(connection_slot, scope="function")]


def get_session(request: Request, _slot: SlotDep) -> Iterator[Session]:
    """One transaction per write request: committed when the handler returns, rolled back on
    error. Reads go without a transaction (see carto.db.session_factory).

    The dependency is declared with `scope="function"` (SessionDep): FastAPI then closes it
    when the handler returns, *before* the response is sent. A 2xx therefore leaves only once
    the COMMIT has succeeded, and a COMMIT that fails (a deferred constraint, a lost
    connection, a serialization failure) raises here and is answered through api.problems
    like any other error, instead of a "201 Created" for a row that never was. With the
    default (request) scope the teardown, hence the commit, ran after the response was on
    the wire: a client reading right after its 201 could get a 404."""
    factory = request.app.state.read_sessions if request.method in READS else \
        request.app.state.sessions
    session: Session = factory()
    request.state.db_session = session  # the request's one connection (api.session reads it)
    try:
        with session.begin():
            yield session
    finally:
        request.state.db_session = None
        session.close()


async def get_async_reads(request: Request) -> AsyncIterator[AsyncSession]:
    """The event-loop read path (docs/conventions.md, "Which engine"): a session of the app's
    async engine, without a transaction of its own making, for endpoints that run on the
    event loop. The domain code stays synchronous: call it through `session.run_sync(fn)`,
    which hands `fn` a plain Session whose statements await PostgreSQL (SQLAlchemy's greenlet
    bridge). Closed when the handler returns (`scope="function"`), before the response is
    sent, so the connection goes back to the pool at once."""
    async with request.app.state.async_reads() as session:
        yield session


async def read_briefly(request: Request, fn: Callable[[Session], T]) -> T:
    """One short read on the async engine for a handler that outlives its dependencies (a
    live stream, issue 14): the connection is taken for `fn` and given back at once, so an
    idle stream holds none of the pool's (ASYNC_POOL_SIZE) connections."""
    async with request.app.state.async_reads() as session:
        return await session.run_sync(fn)


def get_lang(request: Request,
             lang: Annotated[str | None, Query(description="fr or en; without it, "
                                                            "Accept-Language, then fr")] = None,
             ) -> str:
    return negotiate(lang, request.headers.get("accept-language"))


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
AsyncReadsDep = Annotated[AsyncSession, Depends(get_async_reads, scope="function")]
LangDep = Annotated[str, Depends(get_lang)]
