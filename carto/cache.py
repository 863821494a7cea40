"""The one per-process cache helper: a value read from the database, kept per database for at
most `ttl` seconds, and dropped at once by the writes that change it.

Why both: a write in this process invalidates explicitly (the next read sees it), while other
worker processes, which cannot hear of it, see it within `ttl`. One cache per database URL,
because tests and benchmarks use several databases in one process.

    KINDS = DbCache("kinds", load_kinds, ttl=60)
    KINDS.get(session)          # loads on first use or once expired
    KINDS.invalidate()          # after a write to resource_kind (all databases of the process)

Every cache of the package is a DbCache (territory ids, kinds, commune centres), registered in
`CACHES` so that a test or a reload can empty them all (`invalidate_all`).
"""

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")


def database_key(session: Session) -> str:
    """Which database a session talks to (its engine's URL)."""
    return str(session.get_bind().engine.url)


class DbCache(Generic[T]):
    """A value per database, loaded by `load(session)`, valid `ttl` seconds."""

    def __init__(self, name: str, load: Callable[[Session], T], ttl: float) -> None:
        self.name, self.load, self.ttl = name, load, ttl
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

        def committed(_: Session) -> None:
            with self._lock:
                self._values.pop(key, None)

        event.listen(session, "after_commit", committed, once=True)


CACHES: list[DbCache[Any]] = []


def invalidate_all() -> None:
    for cache in CACHES:
        cache.invalidate()
