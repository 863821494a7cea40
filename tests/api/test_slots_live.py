"""A write overtakes queued reads on a real server (api.deps.Slots; tests/api/test_slots.py
checks the order on the event loop).

The reads are made slow without anything in the app for tests: they read a link's level
history (`GET /api/links/{id}/levels`) while the test holds that table locked ACCESS
EXCLUSIVE, so every one of them stays unfinished until the test lets go. The write (a new
resource) touches no such table. With a pool of three connections, more reads than
connections queue; the write is answered while they all still wait. Without the slots the
reads take every pooled connection (and then every worker thread) and the write waits for
them: it would be answered only after the lock is released."""

import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from api.main import create_app
from carto import config
from carto.db import get_engine
from tests.api.test_writes_live import _resource
from tests.apiworld import World, feature
from tests.servers import serve

READS = 10  # more than the pool (3) and the worker threads (8)


@pytest.fixture(scope="module")
def pool_of_three(migrated: str, demo_loaded: object) -> Iterator[str]:
    """A live server whose sync engine has three connections, no overflow (its own URL:
    engines are cached per URL); a read then holds at most one slot, two are for writes."""
    url = migrated + ("&" if "?" in migrated else "?") + "application_name=pool_of_three"
    mp = pytest.MonkeyPatch()
    try:
        mp.setenv("POOL_SIZE", "3")
        mp.setenv("POOL_OVERFLOW", "0")
        mp.setenv("POOL_TIMEOUT", "60")
        config.database_settings.cache_clear()
        engine = get_engine(url)
        with serve(create_app(url)) as base:
            yield base
        engine.dispose()
    finally:
        mp.undo()
        config.database_settings.cache_clear()


def _waiting_on_locks(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND application_name = 'pool_of_three'").fetchone()
    return int(row[0]) if row else 0


def test_a_write_is_answered_while_more_reads_than_slots_wait(
        pool_of_three: str, world: World, migrated: str) -> None:
    editor = World.auth(world.editor)
    with httpx.Client(base_url=pool_of_three, timeout=60) as http:
        a = _resource(http, world.editor, "Épicerie (file d'attente)")
        b = _resource(http, world.editor, "Ferme (file d'attente)")
        link = http.post("/api/links", headers=editor, json={
            "source": a, "target": b, "category": "producers_suppliers", "level": 2,
            "territory": "api-a"})
        assert link.status_code == 201, link.text
        levels = f"/api/links/{link.json()['id']}/levels"
        assert http.get(levels).status_code == 200

    finished: list[tuple[float, int]] = []

    def read() -> None:
        with httpx.Client(base_url=pool_of_three, timeout=60) as client:
            status = client.get(levels).status_code
        finished.append((time.monotonic(), status))

    libpq = migrated.replace("+psycopg", "")
    with psycopg.connect(libpq, autocommit=True) as watch, psycopg.connect(libpq) as holder:
        holder.execute("LOCK TABLE link_level_history IN ACCESS EXCLUSIVE MODE")
        readers = [threading.Thread(target=read) for _ in range(READS)]
        for thread in readers:
            thread.start()
        deadline = time.monotonic() + 20
        while _waiting_on_locks(watch) == 0:  # a read is in, blocked on the lock
            assert time.monotonic() < deadline, "no read reached the database"
            time.sleep(0.05)
        time.sleep(1)  # the others have arrived and queue (in the slots, or in the pool)
        with httpx.Client(base_url=pool_of_three, timeout=10) as client:  # stuck: fails
            started = time.monotonic()
            written = client.post("/api/resources", json=feature(name="Ajout pressé"),
                                  headers=editor)
            answered = time.monotonic()
        queued = len(finished)
        time.sleep(0.5)  # long enough for a write stuck behind the reads to be seen as such
        holder.rollback()  # the reads go on
    for thread in readers:
        thread.join(timeout=60)
    assert written.status_code == 201, written.text
    assert queued == 0, "a read finished while the table was locked"
    assert answered - started < 5, answered - started
    assert sorted(status for _, status in finished) == [200] * READS
    assert all(at > answered for at, _ in finished)
