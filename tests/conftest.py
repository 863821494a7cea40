"""Each test run gets its own database on the server DATABASE_URL names, dropped at the end.

The schema is migrated from empty, the reference data and the demo are loaded once; tests that
write use their own territory or roll back, so the demo counts stay what the files say.
"""

import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from carto import demo, migrate
from carto.backup import libpq
from carto.config import DatabaseSettings, database_settings
from carto.db import get_engine, session_factory, transaction
from tests.apiworld import World, build

# Pages under test fetch no basemap tiles from the internet: without a tile URL the maps show
# the communes as background (tests/pages/test_maps_browser.py serves or breaks tiles on purpose).
os.environ.setdefault("TERREAU_MAP_TILE_URL", "")
# The CLI speaks the locale's language (LANG); the suite reads its French, whatever the machine's.
os.environ.setdefault("TERREAU_LANG", "fr")
# The suite asks for hundreds of analyses and sends wrong tokens on purpose from one address:
# its limits are high, except in tests/api/test_gap_limits.py, which gives its own app low ones.
os.environ.setdefault("TERREAU_RATE_GAP", "100000/minute")
os.environ.setdefault("TERREAU_RATE_NEARBY", "100000/minute")
os.environ.setdefault("TERREAU_RATE_FAILED_TOKENS", "100000/minute")
os.environ.setdefault("TERREAU_RATE_GAP_CONCURRENCY", "4")
os.environ.setdefault("TERREAU_RATE_WORKSHOP_JOIN", "100000/minute")
os.environ.setdefault("TERREAU_RATE_WORKSHOP_VOTE", "100000/minute")



@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    base = make_url(DatabaseSettings().database_url)
    name = f"terreau_test_{uuid.uuid4().hex[:10]}"
    admin = libpq(str(base.set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url
    database_settings.cache_clear()  # the CLI and the app read it from the environment
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    migrate.upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def demo_loaded(migrated: str) -> demo.LoadReport:
    with transaction(migrated) as session:
        return demo.load(session)


@pytest.fixture
def session(demo_loaded: demo.LoadReport, migrated: str) -> Iterator[Session]:
    """A session whose work is rolled back at the end of the test."""
    s = session_factory(migrated)()
    s.begin()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture(scope="session")
def client(demo_loaded: demo.LoadReport, migrated: str) -> Iterator[TestClient]:
    from api.main import create_app

    with TestClient(create_app(migrated)) as c:
        yield c


@pytest.fixture(scope="session")
def live_server(demo_loaded: demo.LoadReport, migrated: str) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, for the browser tests."""
    from api.main import create_app
    from tests.servers import serve

    with serve(create_app(migrated)) as url:
        yield url


@pytest.fixture(scope="session")
def world(demo_loaded: demo.LoadReport, migrated: str) -> World:
    """Two test territories (api-a: Sète, api-b: Mèze) and a token per role."""
    return build(migrated)


@pytest.fixture(scope="session")
def ogc_world(demo_loaded: demo.LoadReport, migrated: str) -> "OgcWorld":
    """A territory of its own with what readers may not see (tests/ogcworld.py)."""
    from tests import ogcworld

    return ogcworld.build(migrated)


if TYPE_CHECKING:
    from tests.ogcworld import OgcWorld


@pytest.fixture(scope="module")
def added_resources(migrated: str) -> Iterator[list["uuid.UUID"]]:
    """The ids of the resources a test module adds through the pages: soft-deleted at its end,
    so that the demo's counts stay what data/demo says."""
    from carto import resources
    from carto.db import transaction
    from carto.models import Resource

    ids: list[uuid.UUID] = []
    yield ids
    with transaction(migrated) as session:
        for rid in ids:
            if session.get(Resource, rid).deleted_at is None:  # type: ignore[union-attr]
                resources.delete(session, rid, "test", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers from what a test uses (pyproject.toml lists them): `db` for every test with a
    database fixture, `browser` for the *_browser modules and tests using chromium; tests mark
    themselves `browser` or `slow` when the rule cannot see it."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "database_url" in fixtures:
            item.add_marker(pytest.mark.db)
        if item.module is not None and item.module.__name__.endswith("_browser") \
                or "chromium" in fixtures:
            item.add_marker(pytest.mark.browser)
