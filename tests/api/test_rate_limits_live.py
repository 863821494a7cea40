"""Rate limits seen from outside (issue 10 §5): a real uvicorn server with low limits as
settings, hammered by threads released together by a barrier. TestClient sends one request at a
time through the app; here concurrent connections race for the same counters, as clients do.

The app is one of its own (its limits are low; the rest of the suite runs with high ones)."""

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from api.main import create_app
from api.ratelimit import RateLimiter
from carto.config import RateLimitSettings
from tests.apiworld import World
from tests.servers import serve

CLIENTS = 8
EACH = 2
GAP_LIMIT = 4
FAILED_TOKENS_LIMIT = 3
EXPENSIVE = "/api/territories/frontignan/gap"  # an anonymous analysis
GUARDED = "/api/moderation"  # needs a token: a wrong one is a failed attempt


@pytest.fixture(scope="module")
def limited_server(migrated: str, demo_loaded: object) -> Iterator[str]:
    app = create_app(migrated)
    # The settings a deployment would give through TERREAU_RATE_*; a long wait for a free
    # computation slot so that the analyses allowed queue up instead of answering 503.
    app.state.rate_limiter = RateLimiter(RateLimitSettings(
        gap=f"{GAP_LIMIT}/minute", failed_tokens=f"{FAILED_TOKENS_LIMIT}/minute",
        nearby="100000/minute", gap_concurrency=2, gap_wait_s=300))
    with serve(app) as url:
        yield url


def hammer(url: str, request: Callable[[httpx.Client], httpx.Response],
           cheap: Callable[[httpx.Client], httpx.Response]) -> tuple[list[httpx.Response],
                                                                    list[httpx.Response]]:
    """CLIENTS threads, each with its own connection, released together, EACH requests each;
    meanwhile one more client keeps making a cheap read until they are done."""
    barrier = threading.Barrier(CLIENTS + 1)
    answers: list[httpx.Response] = []
    reads: list[httpx.Response] = []
    lock = threading.Lock()
    done = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=300) as http:
            barrier.wait()
            for _ in range(EACH):
                r = request(http)
                with lock:
                    answers.append(r)

    def reader() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            barrier.wait()
            while not done.is_set() or not reads:
                reads.append(cheap(http))

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    watcher = threading.Thread(target=reader)
    for t in [*threads, watcher]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    return answers, reads


def assert_refusals(answers: list[httpx.Response]) -> None:
    for r in answers:
        if r.status_code == 429:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert 0 < int(r.headers["Retry-After"]) <= 60, r.headers


def test_concurrent_analyses_past_the_rate_get_429_and_cheap_reads_still_answer(
        limited_server: str) -> None:
    answers, reads = hammer(limited_server, lambda http: http.get(EXPENSIVE),
                            lambda http: http.get("/api/kinds"))
    statuses = sorted(r.status_code for r in answers)
    assert len(statuses) == CLIENTS * EACH
    assert set(statuses) <= {200, 429}, statuses
    # the counter is shared by the connections: exactly the limit got through
    assert statuses.count(200) == GAP_LIMIT, statuses
    assert_refusals(answers)
    assert reads and {r.status_code for r in reads} == {200}
    with httpx.Client(base_url=limited_server, timeout=60) as http:
        assert http.get(EXPENSIVE).status_code == 429  # still over, from this address
        assert http.get("/api/territories").status_code == 200


def test_concurrent_wrong_tokens_lock_the_address_out(limited_server: str,
                                                      world: World) -> None:
    wrong = {"Authorization": "Bearer terreau_guess"}
    answers, reads = hammer(
        limited_server,
        lambda http: http.get(GUARDED, params={"territory": "api-a"}, headers=wrong),
        lambda http: http.get("/api/kinds"))
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {401, 429}, statuses
    # the failure is counted and tested in one step: however the requests interleave, no
    # more wrong tokens are answered 401 than the limit allows (the rest are 429)
    assert statuses.count(401) == FAILED_TOKENS_LIMIT, statuses
    assert_refusals(answers)
    assert reads and {r.status_code for r in reads} == {200}
    with httpx.Client(base_url=limited_server, timeout=60) as http:
        # past the limit even the right token is refused (guessing learns nothing)...
        right = http.get(GUARDED, params={"territory": "api-a"},
                         headers=World.auth(world.editor))
        assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
        # ...while reading without a token goes on
        assert http.get("/api/territories").status_code == 200
