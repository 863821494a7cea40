"""`carto backup FILE` and `carto restore FILE`: the whole database in pg_dump's custom format.

A dump carries its schema version (the `alembic_version` row). Restore reads it first and
refuses a dump whose version this code does not know (made by a newer Terreau: restoring it
would leave a schema the code cannot read), restores into an empty database only (never over
live data), in one transaction, then migrates an older dump up to the current schema."""

import re
import shutil
import subprocess
from pathlib import Path

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from carto.errors import Conflict, Invalid
from carto.i18n import msg
from carto.migrate import alembic_config, upgrade

_COPY = re.compile(r"^COPY [\w.\"]*alembic_version \(version_num\) FROM stdin;$", re.M)


def libpq(url: str) -> str:
    """The URL pg_dump and psycopg understand (no `+psycopg` driver suffix)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise Conflict(msg("error.backup.tool_missing", tool=name))
    return path


def revisions() -> tuple[str | None, set[str]]:
    """The head revision of this code's migrations, and every revision they know."""
    script = ScriptDirectory.from_config(alembic_config())
    return script.get_current_head(), {r.revision for r in script.walk_revisions()}


def backup(url: str, path: Path) -> None:
    """Everything, schema and data, in pg_dump's custom format (compressed, selective restore)."""
    done = subprocess.run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(path),
                           "--dbname", libpq(url)], capture_output=True, text=True)
    if done.returncode != 0:
        raise Conflict(msg("error.backup.dump_failed", reason=done.stderr.strip()[-500:]))


def dump_revision(path: Path) -> str | None:
    """The schema version a dump holds, read from its `alembic_version` data."""
    if not path.is_file():
        raise Invalid.field("file", msg("error.backup.no_file", path=str(path)))
    done = subprocess.run([_tool("pg_restore"), "--data-only", "--table=alembic_version",
                           "--file=-", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise Invalid.field("file", msg("error.backup.unreadable", path=str(path)))
    found = _COPY.search(done.stdout)
    if found is None:
        return None
    first = done.stdout[found.end():].lstrip("\n").split("\n", 1)[0].strip()
    return first if first and first != "\\." else None


def _ensure_empty(url: str) -> None:
    target = make_url(url)
    admin = libpq(str(target.set(database="postgres")))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (target.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{target.database}"')
            return
    with psycopg.connect(libpq(url)) as conn:
        tables = conn.execute("""
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%%' AND c.relname <> 'spatial_ref_sys'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid
                              AND d.deptype = 'e')""").fetchone()
    if tables and tables[0]:
        raise Conflict(msg("error.backup.not_empty", database=str(target.database)))


def restore(url: str, path: Path) -> str:
    """Restore `path` into the empty (or missing) database `url`; returns the schema version
    the database ends at."""
    revision = dump_revision(path)
    head, known = revisions()
    if revision is None:
        raise Invalid.field("file", msg("error.backup.no_version", path=str(path)))
    if revision not in known:
        raise Conflict(msg("error.backup.newer", revision=revision, head=head or "-"))
    _ensure_empty(url)
    done = subprocess.run([_tool("pg_restore"), "--no-owner", "--exit-on-error",
                           "--single-transaction", "--dbname", libpq(url), str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise Conflict(msg("error.backup.restore_failed", reason=done.stderr.strip()[-500:]))
    if revision != head:
        upgrade(url, with_communes=False)
    return head or revision
