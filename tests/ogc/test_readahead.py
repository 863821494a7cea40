"""The next /ogc page read ahead while a client parses the one it got (api.readahead): given
once, to anonymous readers only, void after a write (carto.cache.edited), equal to the page
computed on request."""

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from api.readahead import EPOCH, Page, ReadAhead, epoch_of
from carto import cache
from carto.db import session_factory, transaction
from tests.apiworld import World, feature

ITEMS = "/ogc/collections/resources/items?territory=api-a&limit=1"


def _next(body: dict[str, Any]) -> str:
    return next(link["href"] for link in body["links"] if link["rel"] == "next")


def _without_stamp(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timeStamp"}


def _ensure_two(client: TestClient, world: World) -> None:
    for name in ("Jardin lu d'avance A", "Jardin lu d'avance B"):
        r = client.post("/api/resources", json=feature(name=name),
                        headers=World.auth(world.editor))
        assert r.status_code == 201, r.text


def test_the_next_page_is_read_ahead_for_anonymous_readers_and_equals_a_fresh_one(
        client: TestClient, world: World) -> None:
    _ensure_two(client, world)
    ahead: ReadAhead = client.app.state.read_ahead  # type: ignore[attr-defined]
    first = client.get(ITEMS).json()
    following = _next(first)
    assert following in ahead._entries  # started while the client parses the first page
    served = client.get(following)
    assert served.status_code == 200 and served.headers["content-type"] == "application/geo+json"
    assert following not in ahead._entries  # given once
    EPOCH.invalidate()  # what follows is computed on request
    fresh = client.get(following)
    assert _without_stamp(served.json()) == _without_stamp(fresh.json())
    assert served.headers.get("link") == fresh.headers.get("link")


def test_a_token_holder_neither_gets_nor_starts_a_page_read_ahead(
        client: TestClient, world: World) -> None:
    _ensure_two(client, world)
    state = client.app.state  # type: ignore[attr-defined]
    ahead = state.read_ahead = ReadAhead(state.read_ahead.epoch)  # none left by other tests
    client.get(ITEMS, headers=World.auth(world.editor))
    assert len(ahead) == 0  # a token holder's page starts nothing
    # an anonymous reader's first page: the next one is read ahead (its own next link: an
    # editor may see rows readers do not, so the two first pages may end elsewhere)
    following = _next(client.get(ITEMS).json())
    assert ahead.holds(following)
    client.get(following, headers=World.auth(world.editor))
    assert ahead.holds(following)  # not given to the token's holder


def test_a_client_jumping_to_a_cursor_gets_no_page_read_ahead(client: TestClient,
                                                               world: World) -> None:
    _ensure_two(client, world)
    _ensure_two(client, world)  # three pages at least: the second has a next link
    state = client.app.state  # type: ignore[attr-defined]
    ahead = state.read_ahead = ReadAhead(state.read_ahead.epoch)  # none left by other tests
    second = _next(client.get(ITEMS, headers=World.auth(world.editor)).json())
    assert not ahead.holds(second)
    third = _next(client.get(second).json())  # a jump: not read ahead for this reader
    assert not ahead.holds(third)


def test_a_write_voids_the_pages_read_ahead(client: TestClient, world: World) -> None:
    _ensure_two(client, world)
    following = _next(client.get(ITEMS).json())
    second = client.get(following).json()["features"][0]
    client.get(ITEMS)  # the second page is read ahead again
    etag = client.get(f"/api/resources/{second['id']}").headers["etag"]
    edited = client.patch(f"/api/resources/{second['id']}",
                          json={"properties": {"description": "Relu après l'écriture"}},
                          headers=World.auth(world.editor) | {"If-Match": etag})
    assert edited.status_code == 200, edited.text
    again = client.get(following).json()["features"][0]
    assert again["id"] == second["id"]
    assert again["properties"]["description"] == "Relu après l'écriture"


def _page(text: str) -> Page:
    return Page(text.encode(), None)


def test_read_ahead_gives_once_and_stays_bounded() -> None:
    async def run() -> None:
        ahead = ReadAhead(lambda: None, max_pages=2)

        async def compute() -> Page:
            return _page("p")

        ahead.start("a", compute)
        assert await ahead.take("a") == _page("p")
        assert await ahead.take("a") is None  # once
        for url in ("a", "b", "c"):
            ahead.start(url, compute)
        assert len(ahead) == 2  # bounded: "c" was not read ahead
        assert await ahead.take("c") is None

    asyncio.run(run())


def test_a_new_epoch_voids_pages_held_and_under_way() -> None:
    async def run() -> None:
        epoch = [object()]
        ahead = ReadAhead(lambda: epoch[0])
        release = asyncio.Event()

        async def slow() -> Page:
            await release.wait()
            return _page("before the write")

        async def failing() -> Page:
            raise RuntimeError("pool exhausted")

        ahead.start("held", slow)
        ahead.start("under way", slow)
        await asyncio.sleep(0)
        epoch[0] = object()  # a write committed (or the TTL passed)
        release.set()
        assert await ahead.take("under way") is None
        assert await ahead.take("held") is None
        ahead.start("b", failing)
        assert await ahead.take("b") is None  # the request computes its page itself

    asyncio.run(run())


def test_the_epoch_is_renewed_by_an_accepted_write(migrated: str) -> None:
    current = epoch_of(session_factory(migrated, read_only=True))
    before = current()
    assert current() is before
    with transaction(migrated) as writer:
        cache.edited(writer)
    assert current() is not before
