"""The kept anonymous territory page (api.routers.maps.PAGES) seen from a real server and a real
client: a 2xx to a write means it is committed and the kept page is dropped before the answer
leaves, so the very next anonymous GET shows the write (carto.cache.edited at the commit)."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.routers.maps import PAGES
from carto import resources
from carto.db import transaction
from tests.apiworld import World, feature


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def _kept_pages() -> list[tuple[Any, ...]]:
    """The keys of the pages PAGES holds (the server runs in this process)."""
    return [key for _, pages in list(PAGES._values.values()) for key in pages
            if key[0] == "page"]


def test_a_rename_through_the_api_is_on_the_next_anonymous_page(
        http: httpx.Client, world: World, migrated: str) -> None:
    old, new = (f"Verger {word} {uuid.uuid4().hex[:6]}" for word in ("avant", "après"))
    created = http.post("/api/resources", json=feature(name=old),
                        headers=World.auth(world.editor))
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    try:
        PAGES.invalidate()
        page = http.get("/territories/api-a")
        assert page.status_code == 200 and old in page.text
        assert _kept_pages(), "the anonymous page is kept"
        assert old in http.get("/territories/api-a").text  # answered from what is kept
        renamed = http.patch(f"/api/resources/{rid}", json={"properties": {"name": new}},
                             headers=World.auth(world.editor) | {"If-Match": '"1"'})
        assert renamed.status_code == 200, renamed.text
        again = http.get("/territories/api-a")  # at once: no wait, no retry
        assert new in again.text and old not in again.text
    finally:
        with transaction(migrated) as session:
            resources.delete(session, uuid.UUID(rid), "test", None)
