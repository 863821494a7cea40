"""The life cycle of versioned rows (resources and links), written once: create, change under
a version check, soft delete, restore, moderate; each accepted change bumps the version and
writes exactly one change-log row.

Why a row lock: the version is checked on a row read with `SELECT ... FOR NO KEY UPDATE`, so the
check and the change are one atomic step. Of N writers holding the same version, the first locks the
row; the others wait for its COMMIT, then read the row again (PostgreSQL re-reads a locked row
once it is released, even under READ COMMITTED), see the new version and get a 412. Without the
lock, a plain SELECT, a comparison in Python and an unconditional UPDATE let both writers win
(two change-log rows for one version, a text silently lost).

One lock for every writer (`lock_all`; `lock` is it for one row): FOR NO KEY UPDATE. No change
here rewrites a row's id, so nothing needs FOR UPDATE, which also blocks the FOR KEY SHARE of
foreign-key checks: a link created (or re-pointed) to a resource being edited would wait for
that edit, and two such waits crossed are a deadlock (tests/api/test_locks_live.py).

One write per change: the block of `change` runs without autoflush and `accept` flushes once,
the change and the new version together (one UPDATE, one row version, one round of foreign-key
checks), where it used to flush the change and then the version (two UPDATEs of the row).

Callers: carto.resources, carto.links, carto.moderation (and through them the HTTP routers, the
CLI, the loaders). A `guard` (from carto.permissions) runs on the locked row, before the version
check, so that what the writer may not see stays a 404 and not a 412.
"""

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from carto import cache, history
from carto.errors import Conflict, FieldError, NotFound, PreconditionFailed
from carto.i18n import Message, msg

Guard = Callable[[Any], None]


@dataclass(frozen=True)
class Entity:
    """What the life cycle needs to know about a kind of versioned row."""

    type: str  # change_log.entity_type, and the middle of its message keys
    model: Any  # the mapped class
    snapshot: Callable[[Any], dict[str, Any]]  # the picture stored in the change log

    @property
    def is_link(self) -> bool:
        return self.type == "link"


# Messages name the kind of row ("la ressource ... modifiée", "le lien ... modifié").
def _unknown(entity: Entity, row_id: uuid.UUID) -> Message:
    return msg("error.lifecycle.link_unknown", id=row_id) if entity.is_link \
        else msg("error.lifecycle.resource_unknown", id=row_id)


def _stale(entity: Entity, current: int, expected: int) -> Message:
    return msg("error.lifecycle.link_stale", current=current, expected=expected) \
        if entity.is_link \
        else msg("error.lifecycle.resource_stale", current=current, expected=expected)


def _not_deleted(entity: Entity) -> Message:
    return msg("error.lifecycle.link_not_deleted") if entity.is_link \
        else msg("error.lifecycle.resource_not_deleted")


def lock(
    session: Session, entity: Entity, row_id: uuid.UUID, expected_version: int | None,
    guard: Guard | None = None, deleted: bool | None = False,
) -> Any:
    """The row, locked until the end of the transaction, at the version the caller had
    (`populate_existing`: a copy already in the session is re-read, so lock first, then read).

    `deleted`: False for a live row (a deleted one is a 404), True for a deleted one (restore:
    a live one is a 409), None for either. `expected_version` None skips the check (trusted
    callers such as the demo loader, or a moderation decision sent without If-Match)."""
    return lock_all(session, entity, {row_id: expected_version}, guard, deleted)[row_id]


def lock_all(
    session: Session, entity: Entity, expected: dict[uuid.UUID, int | None],
    guard: Guard | None = None, deleted: bool | None = False,
) -> dict[uuid.UUID, Any]:
    """Several rows locked at once, in id order (`expected`: each id and the version its
    caller had, or None), then each checked as `lock` checks one. For a writer that changes
    several rows together and whose changes reach other rows' keys (a merge: links re-pointed
    from one resource to the other).

    Two things make such writers wait for each other in a cycle, both measured by
    tests/api/test_merge_live.py (PostgreSQL then fails one with a deadlock error, a 503):
    - rows locked one by one in the order each request names them: as soon as three writers
      share rows pairwise (A+B, B+C, C+A) each holds one row the next one wants. Here they are
      locked in one statement, `ORDER BY id`: every writer asks for the lowest id first, so
      such waits form a line;
    - the foreign-key checks of the rows it then writes: a re-pointed link has its ends
      checked, each taking FOR KEY SHARE on its resource, which waits for a writer holding
      that resource FOR UPDATE, itself waiting for the first (two merges into one resource, a
      link between the two merged). These rows keep their keys, so they are locked FOR NO KEY
      UPDATE: it excludes the other writers as FOR UPDATE does, and lets the key checks
      through.
    The first writer wins; the others read the rows as it left them."""
    rows = {row.id: row for row in session.scalars(
        select(entity.model).where(entity.model.id.in_(list(expected)))
        .order_by(entity.model.id).with_for_update(key_share=True)
        .execution_options(populate_existing=True))}
    return {row_id: _checked(entity, rows.get(row_id), row_id, version, guard, deleted)
            for row_id, version in sorted(expected.items())}


def _checked(entity: Entity, row: Any, row_id: uuid.UUID, expected_version: int | None,
             guard: Guard | None, deleted: bool | None) -> Any:
    """The checks on a locked row (`lock`): there, allowed, at the version, in its state."""
    if row is None:
        raise NotFound(_unknown(entity, row_id))
    if guard is not None:
        guard(row)
    if expected_version is not None and row.version != expected_version:
        raise PreconditionFailed(_stale(entity, row.version, expected_version))
    if deleted is False and row.deleted_at is not None:
        raise NotFound(_unknown(entity, row_id))
    if deleted is True and row.deleted_at is None:
        raise Conflict(_not_deleted(entity), [FieldError("deleted", _not_deleted(entity))])
    return row


def _without_version(picture: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in picture.items() if k != "version"}


def accept(session: Session, entity: Entity, row: Any, action: str, actor: str,
           before: dict[str, Any]) -> bool:
    """Close an accepted change on a locked row: version + 1, who and when, written with the
    change in one flush, and one change-log row. A change that changed nothing is no change: no
    new version, no log row (False). The comparison is on the snapshots, in Python: nothing of
    the change is flushed before (see `change`)."""
    if action == "update" and _without_version(entity.snapshot(row)) == _without_version(before):
        return False
    row.version += 1
    row.updated_by = actor
    row.updated_at = datetime.now(UTC)
    session.flush()
    history.record(session, entity.type, row.id, action, actor, before, entity.snapshot(row))
    return True


@contextmanager
def change(
    session: Session, entity: Entity, row_id: uuid.UUID, expected_version: int | None,
    actor: str, action: str = "update", guard: Guard | None = None,
    deleted: bool | None = False,
) -> Iterator[Any]:
    """`with change(...) as row:` lock and check, let the block change `row`, then accept the
    change (nothing is accepted if the block raises: the transaction rolls it back). The block
    runs without autoflush, so that its queries (validation, duplicates, places) do not write
    the half-made change: `accept` writes it once, with its version."""
    row = lock(session, entity, row_id, expected_version, guard, deleted)
    before = entity.snapshot(row)
    with session.no_autoflush:
        yield row
    accept(session, entity, row, action, actor, before)


def soft_delete(session: Session, entity: Entity, row_id: uuid.UUID,
                expected_version: int | None, actor: str, guard: Guard | None = None) -> Any:
    with change(session, entity, row_id, expected_version, actor, "delete", guard) as row:
        row.deleted_at = datetime.now(UTC)
        row.deleted_by = actor
    return row


def decide(session: Session, entity: Entity, row_id: uuid.UUID, expected_version: int | None,
           actor: str, decision: str, reason: str | None, guard: Guard | None = None) -> Any:
    """A moderation decision on a pending row. Two decisions sent together: the second waits
    for the first, then finds nothing left to moderate (409), or a newer version (412)."""
    action = "validate" if decision == "validated" else "reject"
    with change(session, entity, row_id, expected_version, actor, action, guard) as row:
        if row.moderation != "pending":
            raise Conflict(msg("error.lifecycle.nothing_to_moderate", state=row.moderation),
                           [FieldError("moderation", msg("error.lifecycle.nothing_to_moderate",
                                                         state=row.moderation))])
        row.moderation = decision
        row.moderation_note = reason
    return row


# --- creation, with client-generated ids --------------------------------------------------

def _claim(session: Session, entity: Entity, row_id: uuid.UUID) -> None:
    """Serialise the creations that carry the same id (a client replaying its request), until
    the end of the transaction: the second one waits for the first to commit, then finds its
    row. The key is a 64-bit hash of the kind and the id (advisory locks take a bigint); two
    ids sharing a key only wait for each other, they never mix."""
    key = int.from_bytes(hashlib.blake2b(f"{entity.type}:{row_id}".encode(),
                                         digest_size=8).digest(), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def existing(session: Session, entity: Entity, row_id: uuid.UUID | None) -> Any | None:
    """The row a creation with this client id already made (locked), or None for a new id."""
    if row_id is None:
        return None
    _claim(session, entity, row_id)
    return session.get(entity.model, row_id, with_for_update={"key_share": True},
                       populate_existing=True)


def created(session: Session, entity: Entity, row: Any, actor: str) -> Any:
    """Insert a new row at version 1 and its one "create" change-log row."""
    session.add(row)
    session.flush()
    history.record(session, entity.type, row.id, "create", actor, None, entity.snapshot(row))
    return row


def taken(entity: Entity, row_id: uuid.UUID) -> Conflict:
    """The answer to a creation whose client id names a row with other content (409)."""
    taken_id = msg("error.lifecycle.link_id_taken", id=row_id) if entity.is_link \
        else msg("error.lifecycle.resource_id_taken", id=row_id)
    return Conflict(taken_id,
                    [FieldError("id", msg("error.lifecycle.id_other_content"))])


# --- in bulk (imports): the same rules, one statement for many rows ----------------------------
# An import of 100,000 rows cannot afford a flush and a snapshot per row in Python. These two
# write what `created` and `change` write, for every row a query names at once: version 1 and
# one "create" row; or version + 1, who and when, and one "update" row with before and after.
# `snapshot_sql` pictures `resource AS r` (or `link AS r`) exactly as `Entity.snapshot` does
# (carto.io.resources.SNAPSHOT, held equal by tests/io/test_io_resources.py).


def created_in_bulk(session: Session, entity_type: str, ids_sql: str, snapshot_sql: str,
                    actor: str, params: dict[str, Any]) -> None:
    """The "create" change-log rows of the rows whose ids `ids_sql` selects (just inserted at
    version 1 by the caller)."""
    table = "link" if entity_type == "link" else "resource"
    cache.edited(session)
    session.execute(text(f"""
        INSERT INTO change_log (entity_type, entity_id, action, actor, before, after)
        SELECT :entity_type, r.id, 'create', :lc_actor, NULL, {snapshot_sql}
        FROM {table} r WHERE r.id IN ({ids_sql})"""),
                    {**params, "entity_type": entity_type, "lc_actor": actor})


def changed_in_bulk(session: Session, entity_type: str, ids_sql: str, set_sql: str,
                    from_sql: str, snapshot_sql: str, actor: str,
                    params: dict[str, Any]) -> None:
    """Change the rows `ids_sql` selects (`UPDATE table r SET {set_sql} FROM {from_sql}`, the
    caller matching `from_sql` to `r.id` in it), each locked, versioned and logged once."""
    table = "link" if entity_type == "link" else "resource"
    p = {**params, "entity_type": entity_type, "lc_actor": actor}
    cache.edited(session)
    session.execute(text(f"""
        CREATE TEMP TABLE lifecycle_before ON COMMIT DROP AS
        SELECT r.id, {snapshot_sql} AS snap FROM {table} r
        WHERE r.id IN ({ids_sql}) FOR NO KEY UPDATE OF r"""), p)
    session.execute(text(f"""
        UPDATE {table} r SET {set_sql}, version = r.version + 1, updated_by = :lc_actor,
               updated_at = now()
        FROM {from_sql} AND r.id IN (SELECT id FROM lifecycle_before)"""), p)
    session.execute(text(f"""
        INSERT INTO change_log (entity_type, entity_id, action, actor, before, after)
        SELECT :entity_type, r.id, 'update', :lc_actor, b.snap, {snapshot_sql}
        FROM lifecycle_before b JOIN {table} r ON r.id = b.id"""), p)
    session.execute(text("DROP TABLE lifecycle_before"))
