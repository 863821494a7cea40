"""One lock rule for every edit (carto.lifecycle: FOR NO KEY UPDATE) and one write per change,
seen from a real server: a link created to a resource being edited does not wait for the edit,
and an accepted change rewrites its row once.

The races of writers on one row (PATCH against PATCH, against DELETE, validate against reject,
level changes) are in tests/api/test_writes_live.py and must keep passing under this rule."""

import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import links, resources
from carto.db import session_factory
from tests.api.test_writes_live import RACES, _log, _resource, _rows, race
from tests.apiworld import World


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def _link(a: str, b: str, level: int = 1) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "source": a, "target": b,
            "category": "producers_suppliers", "level": level, "territory": "api-a"}


def test_a_link_to_resources_being_edited_does_not_wait(http: httpx.Client, world: World,
                                                        migrated: str) -> None:
    """Both ends are held by an edit not yet committed (as a slow PATCH holds them); the
    link's creation checks its foreign keys (FOR KEY SHARE on each end): under FOR UPDATE it
    waited for the edit, here it goes through at once."""
    a = _resource(http, world.editor, "Cantine (verrou)")
    b = _resource(http, world.editor, "Ferme (verrou)")
    editing = session_factory(migrated)()
    editing.begin()
    try:
        resources.update(editing, uuid.UUID(a), {"description": "en cours"}, "verrou", 1)
        resources.update(editing, uuid.UUID(b), {"description": "en cours"}, "verrou", 1)
        editing.flush()
        created = http.post("/api/links", json=_link(a, b), timeout=5,
                            headers=World.auth(world.editor))
        assert created.status_code == 201, created.text
    finally:
        editing.rollback()
        editing.close()


def test_edits_of_both_ends_and_a_link_between_them_all_pass(
        http: httpx.Client, world: World, live_server: str, migrated: str) -> None:
    """A PATCH on each end and a new link between them, released together: three 2xx, each
    logged once, no deadlock (a 503) and no 412 (they do not share a row)."""
    editor = World.auth(world.editor)
    for round_ in range(RACES):
        a = _resource(http, world.editor, f"Épicerie (course {round_})")
        b = _resource(http, world.editor, f"Verger (course {round_})")
        body = _link(a, b)
        statuses = race(live_server, [
            lambda c, a=a: c.patch(f"/api/resources/{a}", headers=editor | {"If-Match": '"1"'},
                                   json={"properties": {"description": "bout a"}}),
            lambda c, b=b: c.patch(f"/api/resources/{b}", headers=editor | {"If-Match": '"1"'},
                                   json={"properties": {"description": "bout b"}}),
            lambda c, body=body: c.post("/api/links", json=body, headers=editor)])
        assert statuses == [200, 200, 201], statuses
        assert _log(migrated, a) == _log(migrated, b) == ["create", "update"]
        assert _log(migrated, str(body["id"])) == ["create"]


def _updates(session: Session, table: str) -> int:
    """Row versions this transaction has written in `table` (UPDATEs, HOT or not)."""
    return int(session.scalar(text(
        "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = :t"), {"t": table}))


def test_an_accepted_change_writes_its_row_once(http: httpx.Client, world: World,
                                                session: Session, migrated: str) -> None:
    """The change and its version in one UPDATE (it was the change, then the version: two
    row versions, and twice a link's foreign-key checks)."""
    a = _resource(http, world.editor, "Boulangerie (une écriture)")
    b = _resource(http, world.editor, "Moulin (une écriture)")
    lid = http.post("/api/links", json=_link(a, b), headers=World.auth(world.editor)).json()["id"]

    before = _updates(session, "resource")
    edited = resources.update(session, uuid.UUID(a), {"description": "une fois"}, "test", 1)
    session.flush()
    assert edited.version == 2 and _updates(session, "resource") - before == 1

    before = _updates(session, "link")
    moved = links.update(session, uuid.UUID(lid), {"level": 3, "level_note": "monte"}, "test", 1)
    session.flush()
    assert moved.version == 2 and moved.level == 3 and _updates(session, "link") - before == 1

    before = _updates(session, "resource")
    resources.delete(session, uuid.UUID(b), "test", 1)
    session.flush()
    assert _updates(session, "resource") - before == 1

    before = _updates(session, "resource")  # a change that changes nothing writes nothing
    resources.update(session, uuid.UUID(a), {"description": "une fois"}, "test", 2)
    session.flush()
    assert _updates(session, "resource") == before
    assert _rows(migrated, "SELECT version FROM resource WHERE id = %s", a) == [(1,)]
