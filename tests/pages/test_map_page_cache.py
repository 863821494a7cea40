"""An anonymous territory page is computed once per write, and a large territory's page carries
its map's first view (issue 18: first markers against a bare Leaflet page)."""

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.routers import maps as map_routes
from carto import resources
from carto.config import map_settings
from carto.db import transaction
from tests.apiworld import World, feature
from tests.mapfixtures import PRIVATE_LAT, PRIVATE_LON, XssTerritory, xss_territory

__all__ = ["xss_territory"]  # the fixture, imported for pytest


def config_of(html: str) -> dict[str, Any]:
    start = html.index('{"lang":')
    value, _ = json.JSONDecoder().raw_decode(html[start:])
    return value


@pytest.fixture
def embed_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Lets a test set TERREAU_MAP_EMBED_LIMIT; settings are read again afterwards."""
    yield monkeypatch
    monkeypatch.delenv("TERREAU_MAP_EMBED_LIMIT", raising=False)
    map_settings.cache_clear()


def _limit(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setenv("TERREAU_MAP_EMBED_LIMIT", str(n))
    map_settings.cache_clear()


def test_a_cached_anonymous_page_reads_no_counts(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The counts (territory_stats), lists and map of an anonymous page, and the map alone of
    an iframe, come from the cache once computed (per territory and language)."""
    first = client.get("/territories/pezenas")
    alone = client.get("/territories/pezenas/map.html")
    assert first.status_code == 200 and alone.status_code == 200

    def no_summary(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the page computed its counts again")

    monkeypatch.setattr(map_routes.mapdata, "territory_summary", no_summary)
    again = client.get("/territories/pezenas")
    assert again.status_code == 200
    assert config_of(again.text) == config_of(first.text)
    assert again.text.count('<tr id="r-') == first.text.count('<tr id="r-')
    assert config_of(client.get("/territories/pezenas/map.html").text) == config_of(alone.text)
    assert client.get("/territories/nowhere").status_code == 404


def test_a_write_through_the_api_drops_the_cached_page(client: TestClient, world: World,
                                                       migrated: str) -> None:
    """Created through the API, a resource is on the next anonymous page; deleted, it is gone
    (every accepted write drops the cached pages: carto.cache.edited)."""
    name = f"Jardin du cache {uuid.uuid4().hex[:6]}"
    before = client.get("/territories/api-a").text
    assert name not in before
    created = client.post("/api/resources", headers=World.auth(world.editor),
                          json=feature(name=name))
    assert created.status_code == 201
    rid = created.json()["id"]
    after = client.get("/territories/api-a").text
    assert name in after
    assert any(r["name"] == name for r in config_of(after)["resources"])
    with transaction(migrated) as session:
        resources.delete(session, uuid.UUID(rid), "test", None)
    assert name not in client.get("/territories/api-a").text


def test_a_large_territory_page_carries_its_first_view(client: TestClient,
                                                       embed_limit: pytest.MonkeyPatch) -> None:
    """The page of a map loaded by viewport carries, for each zoom a screen may fit it at,
    exactly what features.json answers for a box that holds the territory's resources."""
    _limit(embed_limit, 5)
    cfg = config_of(client.get("/territories/frontignan").text)
    assert cfg["mode"] == "viewport"
    first = cfg["first"]
    south, west, north, east = first["extent"]
    box = f"{west - 0.01:.5f},{south - 0.01:.5f},{east + 0.01:.5f},{north + 0.01:.5f}"
    assert len(first["views"]) >= 2
    for zoom, view in first["views"].items():
        asked = client.get(f"/territories/frontignan/map/features.json?bbox={box}&zoom={zoom}")
        assert asked.json() == view, zoom
    total = sum(c[2] for c in next(iter(first["views"].values()))["clusters"])
    assert total == cfg["counts"]["resources"] > 5
    alone = config_of(client.get("/territories/frontignan/map.html").text)
    assert alone["first"] == first  # the map alone for an iframe too


def test_the_first_view_shows_private_persons_where_the_map_does(
        client: TestClient, xss_territory: XssTerritory,
        embed_limit: pytest.MonkeyPatch) -> None:
    _limit(embed_limit, 1)
    cfg = config_of(client.get(f"/territories/{xss_territory.slug}").text)
    assert cfg["mode"] == "viewport" and cfg["first"]
    for view in cfg["first"]["views"].values():
        for cluster in view["clusters"]:
            assert (cluster[1], cluster[0]) != (PRIVATE_LON, PRIVATE_LAT)
            assert PRIVATE_LAT not in cluster[4] and PRIVATE_LON not in cluster[4]


def test_a_small_territory_and_a_download_carry_no_first_view(client: TestClient) -> None:
    assert "first" not in config_of(client.get("/territories/frontignan").text)
    assert "first" not in config_of(client.get("/territories/frontignan/map.html?download=1").text)


def test_a_page_made_while_a_write_drops_the_pages_is_not_kept(session: Any) -> None:
    """PAGES is a carto.cache.Entries: a page is made once and kept; one whose making saw the
    set dropped (a write committed meanwhile) is answered but not kept."""
    pages = map_routes.PAGES
    key = ("test", uuid.uuid4().hex)
    assert pages.entry(session, key, lambda: {"n": 1}) == {"n": 1}
    assert pages.entry(session, key, lambda: {"n": 2}) == {"n": 1}  # kept

    def during_a_write() -> dict[str, Any]:
        pages.invalidate(session)
        return {"n": 3}

    other = ("test", uuid.uuid4().hex)
    assert pages.entry(session, other, during_a_write) == {"n": 3}
    assert pages.entry(session, other, lambda: {"n": 4}) == {"n": 4}  # made again
    assert pages.entry(session, key, lambda: {"n": 5}) == {"n": 5}  # all were dropped


def test_a_list_cut_under_the_map_says_so(client: TestClient,
                                          embed_limit: pytest.MonkeyPatch) -> None:
    """A territory loaded by viewport lists its first TABLE_ROWS_LARGE resources and links,
    each list saying how many it shows of how many (the map shows them all)."""
    embed_limit.setattr(map_routes, "TABLE_ROWS_LARGE", 2)
    _limit(embed_limit, 3)
    map_routes.PAGES.invalidate()  # its key does not hold the number of rows
    try:
        page = client.get("/territories/frontignan").text
    finally:
        map_routes.PAGES.invalidate()
    cfg = config_of(page)
    assert page.count('<tr id="r-') == 2 and page.count('<tr id="l-') == 2
    for total in (cfg["counts"]["resources"], cfg["counts"]["links"]):
        assert f"Seules les 2 premières lignes sont listées ici (sur {total})" in page
    embed_limit.delenv("TERREAU_MAP_EMBED_LIMIT")
    map_settings.cache_clear()
    try:
        assert "premières lignes" not in client.get("/territories/frontignan").text  # embedded
    finally:
        map_routes.PAGES.invalidate()


@pytest.mark.parametrize(("lang", "resources_label", "links_label"),
                         [("fr", "Ressources", "Liens de coopération"),
                          ("en", "Resources", "Cooperation links")])
def test_each_list_under_the_map_scrolls_from_the_keyboard(client: TestClient, lang: str,
                                                          resources_label: str,
                                                          links_label: str) -> None:
    """Both lists' scroll boxes are focusable regions named in the reader's language."""
    page = client.get(f"/territories/frontignan?lang={lang}").text
    for label, table in ((resources_label, "resources"), (links_label, "links")):
        box = (f'<div class="table-scroll" tabindex="0" role="region" aria-label="{label}">'
               f'<table id="{table}">')
        assert box in page
