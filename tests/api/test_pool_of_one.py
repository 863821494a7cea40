"""No request holds two pooled connections at once (issue 14, seen under the workshop bench:
"QueuePool limit of size 20 overflow 20 reached" with 8 handler threads).

A request that takes a second connection while it holds a first waits for itself when the
pool is exhausted: with a pool of one connection and no overflow it hangs until the pool's
timeout and answers 503. An app built that way, served by a real uvicorn, must answer every
kind of request: reads, writes, pages signed in by cookie, joining a workshop, its feed."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from api.main import create_app
from carto import config
from carto.db import get_engine
from tests.api.test_workshops import join, new_workshop
from tests.apiworld import World, feature
from tests.servers import serve

POOL_TIMEOUT_S = 3  # a request waiting for a connection it already holds fails after this


@pytest.fixture(scope="module")
def pool_of_one(migrated: str, demo_loaded: object) -> Iterator[str]:
    """A live server whose sync engine has one connection, no overflow (its own URL: engines
    are cached per URL)."""
    url = migrated + ("&" if "?" in migrated else "?") + "application_name=pool_of_one"
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("POOL_SIZE", "1")
        mp.setenv("POOL_OVERFLOW", "0")
        mp.setenv("POOL_TIMEOUT", str(POOL_TIMEOUT_S))
        config.database_settings.cache_clear()
        engine = get_engine(url)
        assert engine.pool.size() == 1  # type: ignore[attr-defined]
        with serve(create_app(url)) as base:
            yield base
        engine.dispose()
    finally:  # the environment back first, then the settings read from it again
        mp.undo()
        config.database_settings.cache_clear()


@contextmanager
def _cookie_client(base: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30, headers={"Origin": base}) as client:
        signed = client.post("/sign-in", data={"token": token, "next": "/"})
        assert signed.status_code == 303, signed.text
        yield client


def test_every_kind_of_request_needs_one_connection(pool_of_one: str, world: World) -> None:
    editor = World.auth(world.editor)
    with httpx.Client(base_url=pool_of_one, timeout=30) as http, \
            _cookie_client(pool_of_one, world.editor) as web:
        code = new_workshop(http, world)["code"]
        participant = join(http, code, f"Lou {uuid.uuid4().hex[:6]}")
        made = http.post("/api/resources", json=feature(name="Pool d'une connexion"),
                         headers=participant)
        assert made.status_code == 201, made.text
        rid = made.json()["id"]
        calls = [
            ("GET", "/api/resources?territory=api-a", {}),
            ("GET", f"/api/resources/{rid}", editor),
            ("GET", f"/api/workshops/{code}", {}),
            ("GET", f"/api/workshops/{code}/feed", participant),
            ("GET", f"/api/workshops/{code}/moderation", editor),
            ("GET", f"/api/workshops/{code}/summary", {}),
            ("GET", "/api/moderation/duplicates?territory=api-a", editor),
            ("GET", "/api/nearby?lon=3.69&lat=43.40", {}),
        ]
        for method, path, headers in calls:
            answer = http.request(method, path, headers=headers)
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        link = http.post("/api/links", headers=participant, json={
            "source": rid, "target": http.post("/api/resources", headers=editor, json=feature(
                name="Autre bout")).json()["id"], "category": "aid_associations", "level": 1})
        assert link.status_code == 201, link.text
        # pages, signed in by the session cookie (the header names who is signed in)
        for path in ("/", f"/resources/{rid}", f"/join/{code}", f"/workshops/{code}",
                     f"/workshops/{code}/project", f"/workshops/{code}/moderation",
                     f"/workshops/{code}/summary", f"/workshops/{code}/feed.json",
                     "/moderation?territory=api-a", "/territories/api-a"):
            page = web.get(path)
            assert page.status_code == 200, (path, page.status_code, page.text[:300])
        joined = http.post(f"/api/workshops/{code}/join", json={"pseudonym": "Sam pool"})
        assert joined.status_code == 201, joined.text


def test_concurrent_requests_queue_for_the_one_connection(pool_of_one: str,
                                                          world: World) -> None:
    """Threads released together, each a different kind of request: they wait for the one
    connection in turn; none waits for a connection it holds itself."""
    with httpx.Client(base_url=pool_of_one, timeout=30) as http:
        code = new_workshop(http, world)["code"]
    kinds = [("GET", f"/api/workshops/{code}", None),
             ("GET", "/api/resources?territory=api-a", None),
             ("POST", f"/api/workshops/{code}/join", "join"),
             ("POST", "/api/resources", "write"),
             ("GET", f"/workshops/{code}", "page")] * 2
    barrier = threading.Barrier(len(kinds))
    statuses: list[tuple[str, int]] = []
    lock = threading.Lock()

    def run(i: int, method: str, path: str, what: str | None) -> None:
        opened = _cookie_client(pool_of_one, world.editor) if what == "page" \
            else httpx.Client(base_url=pool_of_one, timeout=60)
        with opened as client:
            kwargs: dict[str, object] = {}
            if what == "join":
                kwargs["json"] = {"pseudonym": f"Ensemble {i}"}
            elif what == "write":
                kwargs["json"] = feature(name=f"Ensemble {i}")
                kwargs["headers"] = World.auth(world.editor)
            barrier.wait()
            answer = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        with lock:
            statuses.append((path, answer.status_code))

    threads = [threading.Thread(target=run, args=(i, *k)) for i, k in enumerate(kinds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == len(kinds)
    assert all(status in (200, 201) for _, status in statuses), statuses
