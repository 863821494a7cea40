"""The next page of a sequential reader, computed while it reads the page it was given (issue 16).

GDAL and QGIS read a collection page after page through `next` links, and each parses the page
it got (~100 ms for 1,000 features in GDAL 3.6) before it asks for the next one: the server's
work on that next page (~40 ms: PostgreSQL's statement, then the worker) sat on the critical
path, the client's core idle meanwhile. So after answering a page that has a `next` link, the
items handler starts that next page on the event loop, and the request for it, when it comes,
is answered from here: the server works while the client parses.

What may be held, and how long:
- **anonymous readers only**: public data, the same for every one of them. A request with a
  token is never answered from here, and never has a page read ahead for it;
- **once**: a page read ahead is given to the first request for its URL, then dropped;
- **fresh**: a page belongs to the `EPOCH` it was started in, a token of `carto.cache`'s one
  helper, renewed every `TTL` seconds and by every accepted write at its commit
  (`carto.cache.edited`, `follows_edits=True`); a page of an older epoch is void, even if it
  was still being computed. So a page read ahead shows what the same answer, in flight a
  moment longer, would have shown; other processes' writes are seen within `TTL`;
- **for walkers only**: read ahead after a first page, or after a page that was read ahead
  (a reader following `next` links); a client jumping to cursors (a benchmark's scattered
  pages) gets no page it will not ask for;
- **bounded**: at most `MAX_PAGES` held (a page of 10,000 features is ~10 MB); past that,
  nothing more is read ahead until some are taken or void.

One per app (`app.state.read_ahead`): its tasks belong to the app's event loop.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from carto.cache import DbCache

TTL = 10.0
MAX_PAGES = 8

# The validity of the pages read ahead: a new token when loaded, i.e. every TTL seconds and
# after every accepted write's commit.
EPOCH: DbCache[object] = DbCache("pages read ahead", lambda _session: object(), ttl=TTL,
                                 follows_edits=True)


def epoch_of(sessions: "sessionmaker[Session]") -> Callable[[], object]:
    """The current epoch of the database behind `sessions` (no statement: only its URL)."""
    def current() -> object:
        with sessions() as session:
            return EPOCH.get(session)

    return current


@dataclass(frozen=True)
class Page:
    """A page's answer: its body (JSON bytes) and its `next` link, if any."""

    body: bytes
    next_url: str | None


@dataclass
class _Entry:
    epoch: object
    task: "asyncio.Task[Page]"


class ReadAhead:
    """Pages started by `start(url, compute)` and given once by `take(url)`; `epoch()` says
    which are still valid."""

    def __init__(self, epoch: Callable[[], object], max_pages: int = MAX_PAGES) -> None:
        self.epoch, self.max_pages = epoch, max_pages
        self._entries: dict[str, _Entry] = {}

    def start(self, url: str, compute: Callable[[], Awaitable[Page]]) -> None:
        """Compute the answer to `url` in the background (on the running loop), unless it is
        under way already or the store is full."""
        now = self.epoch()
        for key, entry in list(self._entries.items()):  # void: forget them
            if entry.epoch is not now:
                entry.task.cancel()
                del self._entries[key]
        if url in self._entries or len(self._entries) >= self.max_pages:
            return

        async def run() -> Page:
            return await compute()

        task = asyncio.get_running_loop().create_task(run())
        # a page never asked for must not log "exception never retrieved"
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._entries[url] = _Entry(now, task)

    async def take(self, url: str) -> Page | None:
        """The page read ahead for `url` (waiting for it if still under way), once; None when
        there is none, when it failed, or when it is void: the caller computes it."""
        entry = self._entries.pop(url, None)
        if entry is None:
            return None
        if entry.epoch is not self.epoch() or \
                entry.task.get_loop() is not asyncio.get_running_loop():
            entry.task.cancel()
            return None
        try:
            page = await entry.task
        except Exception:  # noqa: BLE001 - the request computes its page itself
            return None
        return page if entry.epoch is self.epoch() else None  # no write committed meanwhile

    def holds(self, url: str) -> bool:
        """Whether a page was read ahead for `url` (valid or not): its reader walks `next`
        links."""
        return url in self._entries

    def __len__(self) -> int:
        return len(self._entries)
