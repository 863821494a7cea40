"""Typed dependencies shared by the routers."""

import asyncio
import math
from collections import deque
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


class Slots:
    """The sync pool's connections as slots taken on the event loop, writes first.

    A request waits here, before it needs a thread, for one of `capacity` slots (the worker's
    threads, at most the pool's connections). Reads may hold at most `capacity - reserve` of
    them and wait behind every write: a crowd of readers (a hundred people opening the map
    of a workshop's territory) can fill the read slots but cannot make a participant's
    addition queue behind them (issue 14, bench/workshop.py). Waiters of one kind are served
    in arrival order."""

    def __init__(self, capacity: int, reserve: int) -> None:
        self.capacity = max(1, capacity)
        self.read_limit = max(1, self.capacity - reserve)
        self.taken = self.reads = 0
        self._writes: deque[asyncio.Future[None]] = deque()
        self._readers: deque[asyncio.Future[None]] = deque()

    def _free_for(self, write: bool) -> bool:
        if self.taken >= self.capacity:
            return False
        return write or (self.reads < self.read_limit and not self._writes)

    def _take(self, write: bool) -> None:
        self.taken += 1
        self.reads += not write

    async def acquire(self, write: bool) -> None:
        queue = self._writes if write else self._readers
        if not queue and self._free_for(write):
            self._take(write)
            return
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed over as it was cancelled
                self.release(write)
            else:
                queue.remove(waiter)
            raise

    def release(self, write: bool) -> None:
        self.taken -= 1
        self.reads -= not write
        self._hand_over()

    def _hand_over(self) -> None:
        for write, queue in ((True, self._writes), (False, self._readers)):
            while queue and self._free_for(write):
                waiter = queue.popleft()
                if not waiter.done():
                    self._take(write)
                    waiter.set_result(None)


async def connection_slot(request: Request) -> AsyncIterator[None]:
    """One of the sync pool's connections, reserved on the event loop before the session
    exists (`app.state.connection_slots`, a `Slots`: writes first).

    Why: FastAPI runs a request's sync dependencies and its handler as separate trips through
    the thread pool. The token's lookup checks a connection out, then the request queues for
    a thread to run its handler. Without the reservation, the threads can all be taken by
    requests blocked in the pool's checkout while the requests holding the connections wait
    for a thread: nobody moves until the pool's timeout ("QueuePool limit ... reached" under
    the workshop bench, issue 14). Waiting here costs no thread and holds no connection; past
    the pool's timeout it is a 503 with Retry-After, as a pool timeout is."""
    slots: Slots = request.app.state.connection_slots
    write = request.method not in READS
    wait = database_settings().pool_timeout
    try:
        await asyncio.wait_for(slots.acquire(write), timeout=wait)
    except TimeoutError as exc:
        raise Overloaded(msg("problem.overloaded.detail"), math.ceil(wait)) from exc
    try:
        yield
    finally:
        slots.release(write)


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
