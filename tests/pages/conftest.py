"""Fixtures of the page tests: the basemap switched off, or made unreachable; the pages with
forms and what they show."""

from collections.abc import Iterator

import pytest

from carto.config import map_settings
from tests.apiworld import World
from tests.formpages import FormWorld, build


def _tiles(monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[None]:
    monkeypatch.setenv("TERREAU_MAP_TILE_URL", url)
    map_settings.cache_clear()
    yield
    monkeypatch.undo()
    map_settings.cache_clear()


@pytest.fixture
def no_tiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No tile URL: the maps draw the communes (and nothing is fetched elsewhere)."""
    yield from _tiles(monkeypatch, "")


@pytest.fixture
def unreachable_tiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tiles from a port nobody serves (route them to abort in the page)."""
    yield from _tiles(monkeypatch, "http://127.0.0.1:9/{z}/{x}/{y}.png")


@pytest.fixture(scope="session")
def form_world(live_server: str, world: World) -> FormWorld:
    """The pages with forms and what they show (tests/formpages.py), made once."""
    return build(live_server, world)
