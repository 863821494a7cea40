"""Engine and sessions. One engine per URL, created lazily so tests can point elsewhere. The
hot reads' raw path on a session's psycopg connection (`hot_rows`)."""

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_only, greenlet_spawn

from carto.config import database_settings


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    settings = database_settings()
    return create_engine(
        url or settings.database_url,
        pool_size=settings.pool_size,
        max_overflow=pool_capacity() - settings.pool_size,
        pool_timeout=settings.pool_timeout,
        **_connections(),
    )


def pool_capacity() -> int:
    """How many connections the sync engine's pool gives at most (its size and overflow)."""
    settings = database_settings()
    overflow = settings.pool_size if settings.pool_overflow is None else settings.pool_overflow
    return settings.pool_size + overflow


def _connections() -> dict[str, Any]:
    """What both engines' connections share."""
    return {
        # No ping before each checkout: it is one more round trip on every request. A
        # connection that died with the server fails its first query instead, answered as a
        # 503 (api.problems), and SQLAlchemy then empties the pool.
        "pool_pre_ping": False,
        # Short queries only: JIT compilation cost tens of ms on plans that run in a few.
        "connect_args": {"options": "-c jit=off"},
        "echo": database_settings().echo_sql,
    }


def async_engine(url: str | None = None) -> AsyncEngine:
    """An engine whose connections are psycopg AsyncConnections, for the reads that run on the
    event loop (/api/nearby): no thread hop and no GIL hand-over per statement. Reads only, in
    autocommit. Not cached like `get_engine`: its pool belongs to the event loop that opened
    it, so each app makes its own at start-up and disposes of it at shutdown."""
    settings = database_settings()
    return create_async_engine(
        make_url(url or settings.database_url).set(drivername="postgresql+psycopg"),
        pool_size=settings.async_pool_size,
        max_overflow=0,
        pool_timeout=settings.async_pool_timeout,
        isolation_level="AUTOCOMMIT",
        **_connections(),
    )


T = TypeVar("T")

# session.info key: the psycopg connection under a session of `read_on_async`
_DRIVER = "driver_connection"


async def read_on_async(engine: AsyncEngine, fn: Callable[[Session], T]) -> T:
    """`fn(session)`, synchronous code, on one connection of the async engine's pool, through
    SQLAlchemy's greenlet bridge (each statement awaits PostgreSQL) but without an
    AsyncSession: the connection is checked out and given back by the sync engine underneath,
    the Session is bound to it and begins nothing unless a statement goes through SQLAlchemy.
    For the busiest read (/api/nearby), whose statements run on the psycopg connection
    (`driver_connection`): the AsyncSession, its transaction and its close cost ~0.1 ms of the
    worker's CPU per request. A failed checkout raises SQLAlchemy's errors, as a session's
    would (api.problems: 503)."""
    def work() -> T:
        with engine.sync_engine.connect() as connection:
            session = Session(bind=connection)
            session.info[_DRIVER] = connection.connection.driver_connection
            try:
                return fn(session)
            finally:
                session.close()

    return await greenlet_spawn(work)


def driver_connection(session: Session) -> Any:
    """The psycopg connection under `session` (the one `read_on_async` holds, else the
    session's own), for statements run by hand on the hot paths."""
    found = session.info.get(_DRIVER)
    return found if found is not None else session.connection().connection.driver_connection


def session_factory(url: str | None = None, read_only: bool = False) -> sessionmaker[Session]:
    """`read_only` sessions run in autocommit: no BEGIN and COMMIT round trips around a read.
    Under READ COMMITTED each statement takes its own snapshot anyway, so a read sees the same
    thing with or without the transaction around it."""
    engine = get_engine(url)
    if read_only:
        return sessionmaker(bind=engine.execution_options(isolation_level="AUTOCOMMIT"),
                            expire_on_commit=False)
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """One unit of work: committed if the block ends normally, rolled back otherwise."""
    session = session_factory(url)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


@contextmanager
def unprepared(session: Session) -> Iterator[None]:
    """Run the block's statements without server-side preparation. psycopg prepares a statement
    after 5 runs, and PostgreSQL then tries a generic plan, blind to the values bound: for a
    statement whose plan depends on a bound geometry (a catchment: how many rows it holds),
    that plan scans every row (measured: 0.2-0.9 s became 16-33 s from the 11th gap analysis on
    one connection). Unprepared, each run is planned with its values."""
    conn = session.connection().connection.driver_connection
    assert conn is not None
    before = conn.prepare_threshold
    conn.prepare_threshold = None
    try:
        yield
    finally:
        conn.prepare_threshold = before


_PSYCOPG = PGDialect_psycopg()
_PYFORMAT_TOKEN = re.compile(r"%%|%\((\w+)\)s")


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """The statement as psycopg takes it, compiled by SQLAlchemy itself (`:name` → `%(name)s`,
    `%` doubled, the `\\:` escape of a literal colon honoured), once per statement text."""
    return str(text(sql).compile(dialect=_PSYCOPG))


@lru_cache(maxsize=256)
def _positional(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """The statement with `$1, $2...` placeholders, encoded, and the parameter names in that
    order, once per statement text: psycopg then neither parses nor encodes it per run
    (RawCursor). psycopg caches its own parse of `%(name)s` only up to 4,096 characters: a
    longer statement was parsed again on every run (~0.1 ms of the worker's CPU for
    nearby's `first_batch_sql`, measured with its private persons)."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PYFORMAT_TOKEN.sub(number, _pyformat(sql)).encode(), tuple(names)


def hot_rows(session: Session, sql: str, params: Mapping[str, Any],
             rows: Any = namedtuple_row) -> list[Any]:
    """Run a hot statement on the session's psycopg connection (same transaction): SQLAlchemy's
    execute and result layers cost about as much Python time as the statement itself here.
    psycopg prepares a statement on the server after a few executions of the same text.
    Results come in binary: numbers, uuids and arrays are then copied rather than parsed from
    text (~0.05 ms of worker CPU for the first batch's rows; the same values).
    On the async engine (`read_on_async`: api.routers.nearby, the pages of
    api.routers.resources) the connection is an AsyncConnection: the statement is awaited
    through SQLAlchemy's greenlet bridge."""
    conn = driver_connection(session)
    assert conn is not None
    query, names = _positional(sql)
    values = tuple(params[name] for name in names)
    if isinstance(conn, psycopg.AsyncConnection):
        found: list[Any] = await_only(_async_rows(conn, query, values, rows))
        return found
    with psycopg.RawCursor(conn, row_factory=rows) as cur:
        cur.execute(query, values, binary=True)
        return cur.fetchall()


async def _async_rows(
    conn: psycopg.AsyncConnection[Any], query: bytes, values: tuple[Any, ...], rows: Any
) -> list[Any]:
    async with psycopg.AsyncRawCursor(conn, row_factory=rows) as cur:
        await cur.execute(query, values, binary=True)
        return await cur.fetchall()
