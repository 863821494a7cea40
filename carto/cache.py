"""The one per-process cache helper: a value read from the database, kept per database for at
most `ttl` seconds, and dropped at once by the writes that change it.

Why both: a write in this process invalidates explicitly (the next read sees it), while other
worker processes, which cannot hear of it, see it within `ttl`. One cache per database URL,
because tests and benchmarks use several databases in one process.

    KINDS = DbCache("kinds", load_kinds, ttl=60)
    KINDS.get(session)          # loads on first use or once expired
    KINDS.invalidate()          # after a write to resource_kind (all databases of the process)

Every cache of the package is a DbCache (territory ids, kinds, communes), or an
`Entries`, a DbCache of values per key built on demand (territory outlines, anonymous
territory pages), registered in `CACHES` so that a test or a reload can empty them all
(`invalidate_all`).

A cache of what the data shows (`follows_edits=True`: a territory's page, its counts and
first view) is dropped by `edited(session)`, which every accepted write calls: the change
log (`carto.history.record`, the lifecycle's bulk writes of imports), territories, kinds and
context layers. So a writer never has to know which pages show what it wrote.
"""

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


def database_key(session: Session) -> str:
    """Which database a session talks to (its engine's URL), kept per engine: rendering a URL
    costs ~6 us, and the hot reads ask it several times per request."""
    engine = session.get_bind().engine
    key = _KEYS.get(engine)
    if key is None:
        key = _KEYS[engine] = str(engine.url)
    return key


_KEYS: "weakref.WeakKeyDictionary[Engine, str]" = weakref.WeakKeyDictionary()


class DbCache(Generic[T]):
    """A value per database, loaded by `load(session)`, valid `ttl` seconds."""

    def __init__(self, name: str, load: Callable[[Session], T], ttl: float,
                 follows_edits: bool = False) -> None:
        self.name, self.load, self.ttl = name, load, ttl
        self.follows_edits = follows_edits
        self._values: dict[str, tuple[float, T]] = {}
        self._lock = threading.Lock()
        CACHES.append(self)

    def get(self, session: Session) -> T:
        key = database_key(session)
        found = self._values.get(key)
        now = time.monotonic()
        if found is not None and now - found[0] < self.ttl:
            return found[1]
        value = self.load(session)
        with self._lock:
            self._values[key] = (now, value)
        return value

    def invalidate(self, session: Session | None = None) -> None:
        """Drop the value of the session's database (of every database without a session)."""
        with self._lock:
            if session is None:
                self._values.clear()
            else:
                self._values.pop(database_key(session), None)

    def invalidate_on_commit(self, session: Session) -> None:
        """For a write that changes the cached data: dropped now (the rest of this transaction
        reads it fresh) and again once committed (a concurrent read may have reloaded the
        old rows meanwhile)."""
        key = database_key(session)
        self.invalidate(session)
        mark = ("cache.invalidate_on_commit", self.name, key)
        if session.info.get(mark):  # already dropped at the commit of this transaction
            return

        def committed(_: Session) -> None:
            session.info.pop(mark, None)
            with self._lock:
                self._values.pop(key, None)

        session.info[mark] = True
        event.listen(session, "after_commit", committed, once=True)


class Entries(DbCache[dict[K, V]]):
    """Values per key (a territory, a page), each built on first use by `entry`'s `make`, kept
    together per database and dropped together (ttl, `invalidate`, `edited`)."""

    def __init__(self, name: str, ttl: float, follows_edits: bool = False) -> None:
        super().__init__(name, lambda _session: {}, ttl, follows_edits)

    def entry(self, session: Session, key: K, make: Callable[[], V]) -> V:
        """The value under `key`, made now when missing. Kept in the set it was looked up in:
        if a write drops that set while `make` runs, what it made is not kept."""
        values = self.get(session)
        found = values.get(key)
        return found if found is not None else values.setdefault(key, make())


CACHES: list[DbCache[Any]] = []


def edited(session: Session) -> None:
    """A write of resources, links, territories, kinds or context layers in this transaction:
    the caches of what they show are dropped now and once it commits (one listener per
    transaction, however many rows it writes)."""
    for cache in CACHES:
        if cache.follows_edits:
            cache.invalidate_on_commit(session)


def invalidate_all() -> None:
    for cache in CACHES:
        cache.invalidate()
