"""The read-ahead (api.readahead) on a real server, with a real client walking `next` links: a
page computed ahead, before a write that changes one of its rows was committed, is void; the
reader gets the row as written, not the page held."""

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.main import create_app
from api.readahead import ReadAhead
from tests.apiworld import World, feature
from tests.servers import serve

ITEMS = "/ogc/collections/resources/items?territory=api-a&limit=1"


@pytest.fixture
def served(demo_loaded: Any, migrated: str) -> Iterator[tuple[Any, httpx.Client]]:
    """An app of its own (its read-ahead looked at from here) and a real client of it."""
    app = create_app(migrated)
    with serve(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield app, client


def _next(body: dict[str, Any]) -> str:
    return next(link["href"] for link in body["links"] if link["rel"] == "next")


def _computed_ahead(ahead: ReadAhead, url: str) -> dict[str, Any]:
    """The page read ahead for `url`, once the server has finished computing it."""
    deadline = time.monotonic() + 20
    while not (url in ahead._entries and ahead._entries[url].task.done()):
        assert time.monotonic() < deadline, "the next page was not read ahead"
        time.sleep(0.02)
    return json.loads(ahead._entries[url].task.result().body)


def test_a_write_voids_the_page_read_ahead_for_a_walker(
        served: tuple[Any, httpx.Client], world: World) -> None:
    app, http = served
    editor = World.auth(world.editor)
    for name in ("Jardin marcheur A", "Jardin marcheur B"):
        assert http.post("/api/resources", json=feature(name=name),
                         headers=editor).status_code == 201
    first = http.get(ITEMS)
    assert first.status_code == 200
    following = _next(first.json())
    held = _computed_ahead(app.state.read_ahead, following)["features"][0]
    rid, text = held["id"], f"Écrit après la lecture d'avance {time.time_ns()}"
    etag = http.get(f"/api/resources/{rid}", headers=editor).headers["etag"]
    edited = http.patch(f"/api/resources/{rid}", json={"properties": {"description": text}},
                        headers=editor | {"If-Match": etag})
    assert edited.status_code == 200, edited.text
    assert app.state.read_ahead.holds(following)  # still held, computed before the write
    got = http.get(following)  # the walker's next request, at once
    assert got.status_code == 200
    row = got.json()["features"][0]
    assert row["id"] == rid and row["properties"]["description"] == text
