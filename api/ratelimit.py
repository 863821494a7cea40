"""Rate limits and load shedding for the costly endpoints (issue 10 §5), with the `limits`
library: a moving window per client and per limit, 429 with Retry-After past it.

- `GapRateDep`: every gap analysis (JSON, CSV, choropleth, the page). It also admits at most
  `gap_concurrency` computations at once per process: the others wait on the event loop, not
  in a worker thread, so that cheap reads always find a thread (docs/benchmarks.md, "Gap
  under load"); past `gap_wait_s` they get a 503 with Retry-After;
- `NearbyRateDep`: /api/nearby, cheap but anonymous and easy to script;
- `JoinRateDep` / `VoteRateDep`: joining a workshop (anonymous: per address) and voting (per
  participant token), issue 14;
- `RateLimiter.check_token_attempts` / `.failed_token`: wrong bearer tokens per client
  address (called by api.auth); past the limit every token from that address is refused
  until the window moves, so guessing cannot go on at request speed. A failure is counted
  and tested at once (the store's hit), so a concurrent burst gets at most `limit` 401s.

The limits are settings (carto.config.RateLimitSettings). The limiter lives on the app
(`app.state.rate_limiter`, built by `install`), so a test can give one app its own limits.
"""

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from limits import RateLimitItem, parse, storage, strategies

from api.auth import PrincipalDep
from carto.config import RateLimitSettings, rate_limit_settings
from carto.errors import Overloaded, TooManyRequests
from carto.i18n import msg
from carto.visibility import Principal

GAP, NEARBY, FAILED_TOKENS = "gap", "nearby", "failed_tokens"
JOIN, VOTE = "workshop_join", "workshop_vote"


class InlineExpiryMemory(storage.MemoryStorage):
    """The library's in-process storage, its expired windows dropped inline at most once per
    `EVERY` seconds instead of on a new `threading.Timer` thread whenever the last one has
    run (every 10 ms under traffic): at /api/nearby's rates that was a thread started, and
    waited for, on the event loop every few requests. Expiry only frees memory: the moving
    window reads the time of each entry, so a window not yet dropped counts the same."""

    EVERY = 1.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._next_expiry = time.monotonic() + self.EVERY

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's (name-mangled) hook
        now = time.monotonic()
        if now >= self._next_expiry:
            self._next_expiry = now + self.EVERY
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage(uri: str) -> storage.Storage:
    if uri.startswith("memory://"):
        return InlineExpiryMemory(uri)
    found = storage.storage_from_string(uri)
    assert isinstance(found, storage.Storage), f"not a synchronous storage: {uri}"
    return found


class RateLimiter:
    """The counters of one app. Each named limit counts per client key."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.settings = settings
        self.strategy = strategies.MovingWindowRateLimiter(_storage(settings.storage_uri))
        self.items: dict[str, RateLimitItem] = {
            GAP: parse(settings.gap), NEARBY: parse(settings.nearby),
            FAILED_TOKENS: parse(settings.failed_tokens),
            JOIN: parse(settings.workshop_join), VOTE: parse(settings.workshop_vote)}
        self.gap_slots = asyncio.Semaphore(max(1, settings.gap_concurrency))

    def retry_after(self, name: str, key: str) -> int:
        stats = self.strategy.get_window_stats(self.items[name], name, key)
        return math.ceil(stats.reset_time - time.time())

    def hit(self, name: str, key: str) -> None:
        """Count one request; raise TooManyRequests when it is one too many."""
        if self.settings.enabled and not self.strategy.hit(self.items[name], name, key):
            wait = self.retry_after(name, key)
            raise TooManyRequests(msg("error.rate.too_many", limit=str(self.items[name]),
                                      seconds=wait), wait)

    def over(self, name: str, key: str) -> bool:
        """True when the next request would be refused (counts nothing)."""
        return self.settings.enabled and not self.strategy.test(self.items[name], name, key)

    def check_token_attempts(self, request: Request) -> None:
        """Before a token is looked up: refuse while this address is over its failed
        attempts (a right token too: guessing must not learn which one was right)."""
        if self.over(FAILED_TOKENS, address(request)):
            self._tokens_refused(request)

    def failed_token(self, request: Request) -> None:
        """Count one wrong token from this address; the caller answers 401 only if the count
        was still within the limit. Hit-then-test in one step of the store: requests that all
        passed `check_token_attempts` together cannot all get a 401 (only `limit` of them do,
        the others get a 429)."""
        if self.settings.enabled and not self.strategy.hit(
                self.items[FAILED_TOKENS], FAILED_TOKENS, address(request)):
            self._tokens_refused(request)

    def _tokens_refused(self, request: Request) -> None:
        wait = self.retry_after(FAILED_TOKENS, address(request))
        raise TooManyRequests(msg("error.rate.tokens", seconds=wait), wait,
                              field="Authorization")


def install(app: FastAPI, settings: RateLimitSettings | None = None) -> None:
    app.state.rate_limiter = RateLimiter(settings or rate_limit_settings())


def limiter(request: Request) -> RateLimiter:
    found: RateLimiter = request.app.state.rate_limiter
    return found


def client_key(request: Request, principal: Principal) -> str:
    """Who is counted: the token when a valid one is sent (a workshop's tablets share one
    address), the client address otherwise. A wrong token never gets this far (401)."""
    if principal.token_id is not None:
        return f"token:{principal.token_id}"
    return address(request)


def address(request: Request) -> str:
    return "ip:" + (request.client.host if request.client else "unknown")


async def gap_rate(request: Request, principal: PrincipalDep) -> AsyncIterator[None]:
    """Count the request, then hold one of the gap computation slots while it runs."""
    rl = limiter(request)
    rl.hit(GAP, client_key(request, principal))
    wait = rl.settings.gap_wait_s
    try:
        await asyncio.wait_for(rl.gap_slots.acquire(), timeout=wait)
    except TimeoutError as exc:
        raise Overloaded(msg("error.rate.gap_busy", seconds=math.ceil(wait)),
                         math.ceil(wait)) from exc
    try:
        yield
    finally:
        rl.gap_slots.release()


async def nearby_rate(request: Request) -> None:
    """Per address only: resolving the principal here would cost /api/nearby, which runs on
    the event loop, a trip through the thread pool."""
    limiter(request).hit(NEARBY, address(request))


def join_rate(request: Request) -> None:
    limiter(request).hit(JOIN, address(request))


def vote_rate(request: Request, principal: PrincipalDep) -> None:
    limiter(request).hit(VOTE, client_key(request, principal))


JoinRateDep = Annotated[None, Depends(join_rate)]
VoteRateDep = Annotated[None, Depends(vote_rate)]
GapRateDep = Annotated[None, Depends(gap_rate, scope="function")]
NearbyRateDep = Annotated[None, Depends(nearby_rate)]
