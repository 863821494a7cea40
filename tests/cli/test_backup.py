"""`carto backup` / `carto restore` (issue 10 §8): a restore into an empty database gives back
every table, row for row; a dump from a newer schema, or a database that is not empty, is
refused."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from carto import backup
from carto.cli import app
from carto.config import database_settings
from carto.db import get_engine

runner = CliRunner()
pytestmark = pytest.mark.slow


def _tables(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a checksum of the sorted rows of every table of the public schema."""
    with psycopg.connect(backup.libpq(url)) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        out = {}
        for name in names:
            row = conn.execute(
                f'SELECT count(*), md5(coalesce(string_agg(t::text, E\'\\n\' ORDER BY t::text), '
                f"'')) FROM \"{name}\" t").fetchone()
            assert row is not None
            out[name] = (int(row[0]), str(row[1]))
    return out


@pytest.fixture
def empty_url(migrated: str) -> Iterator[str]:
    """The URL of a database that does not exist yet (restore creates it), dropped after."""
    url = make_url(migrated).set(database=f"terreau_restore_{uuid.uuid4().hex[:8]}")
    rendered = url.render_as_string(hide_password=False)
    yield rendered
    get_engine(rendered).dispose()
    admin = backup.libpq(str(url.set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def _cli(url: str, *args: str) -> tuple[int, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", url)
        database_settings.cache_clear()
        try:
            result = runner.invoke(app, list(args))
        finally:
            database_settings.cache_clear()
    return result.exit_code, result.output


def test_restore_gives_back_every_table(migrated: str, demo_loaded: object, tmp_path: Path,
                                        empty_url: str) -> None:
    dump = tmp_path / "terreau.dump"
    code, out = _cli(migrated, "backup", str(dump))
    assert code == 0, out
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    head, _ = backup.revisions()
    assert backup.dump_revision(dump) == head
    before = _tables(migrated)
    code, out = _cli(empty_url, "restore", str(dump))
    assert code == 0, out
    after = _tables(empty_url)
    assert after == before
    assert before["resource"][0] > 0 and before["link"][0] > 0 and before["commune"][0] > 0


def test_restore_refuses_a_database_that_is_not_empty(migrated: str, demo_loaded: object,
                                                      tmp_path: Path) -> None:
    dump = tmp_path / "terreau.dump"
    assert _cli(migrated, "backup", str(dump))[0] == 0
    code, out = _cli(migrated, "restore", str(dump))
    assert code == 1 and "vide" in out


def test_restore_refuses_a_dump_from_a_newer_schema(migrated: str, tmp_path: Path,
                                                    empty_url: str) -> None:
    future = make_url(migrated).set(database=f"terreau_future_{uuid.uuid4().hex[:8]}")
    admin = backup.libpq(str(future.set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{future.database}"')
    try:
        future_url = future.render_as_string(hide_password=False)
        with psycopg.connect(backup.libpq(future_url), autocommit=True) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
        dump = tmp_path / "future.dump"
        backup.backup(future_url, dump)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{future.database}" WITH (FORCE)')
    code, out = _cli(empty_url, "restore", str(dump))
    assert code == 1 and "9999_from_the_future" in out and "plus récent" in out
    admin_empty = backup.libpq(str(make_url(empty_url).set(database="postgres")))
    with psycopg.connect(admin_empty) as conn:  # refused before anything was created
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (make_url(empty_url).database,)).fetchone() is None


def test_restore_refuses_a_file_that_is_not_a_dump(tmp_path: Path, empty_url: str) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("pas une sauvegarde")
    code, out = _cli(empty_url, "restore", str(bogus))
    assert code == 1 and "illisible" in out
