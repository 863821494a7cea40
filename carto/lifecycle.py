"""The life cycle of versioned rows (resources and links), written once: create, change under
a version check, soft delete, restore, moderate; each accepted change bumps the version and
writes exactly one change-log row.

Why a row lock: the version is checked on a row read with `SELECT ... FOR UPDATE`, so the check
and the change are one atomic step. Of N writers holding the same version, the first locks the
row; the others wait for its COMMIT, then read the row again (PostgreSQL re-reads a locked row
once it is released, even under READ COMMITTED), see the new version and get a 412. Without the
lock, a plain SELECT, a comparison in Python and an unconditional UPDATE let both writers win
(two change-log rows for one version, a text silently lost).

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

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import history
from carto.errors import Conflict, NotFound, PreconditionFailed

Guard = Callable[[Any], None]


@dataclass(frozen=True)
class Entity:
    """What the life cycle needs to know about a kind of versioned row."""

    type: str  # change_log.entity_type
    model: Any  # the mapped class
    label: str  # "la ressource", for messages
    unknown: str  # "ressource inconnue"
    snapshot: Callable[[Any], dict[str, Any]]  # the picture stored in the change log


def lock(
    session: Session, entity: Entity, row_id: uuid.UUID, expected_version: int | None,
    guard: Guard | None = None, deleted: bool | None = False,
) -> Any:
    """The row, locked until the end of the transaction, at the version the caller had.

    `deleted`: False for a live row (a deleted one is a 404), True for a deleted one (restore:
    a live one is a 409), None for either. `expected_version` None skips the check (trusted
    callers such as the demo loader, or a moderation decision sent without If-Match)."""
    row = session.get(entity.model, row_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(f"{entity.unknown} : {row_id}", [])
    if guard is not None:
        guard(row)
    if expected_version is not None and row.version != expected_version:
        raise PreconditionFailed(
            f"{entity.label} a été modifié(e) entre-temps (version {row.version}, vous aviez la "
            f"{expected_version}) : rechargez avant d'enregistrer", [])
    if deleted is False and row.deleted_at is not None:
        raise NotFound(f"{entity.unknown} : {row_id}", [])
    if deleted is True and row.deleted_at is None:
        raise Conflict(f"{entity.label} n'est pas supprimé(e)", [])
    return row


def _without_version(picture: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in picture.items() if k != "version"}


def accept(session: Session, entity: Entity, row: Any, action: str, actor: str,
           before: dict[str, Any]) -> bool:
    """Close an accepted change on a locked row: version + 1, who and when, one change-log
    row. A change that changed nothing is no change: no new version, no log row (False)."""
    session.flush()
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
    change (nothing is accepted if the block raises: the transaction rolls it back)."""
    row = lock(session, entity, row_id, expected_version, guard, deleted)
    before = entity.snapshot(row)
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
            raise Conflict(f"rien à modérer : l'élément est « {row.moderation} »", [])
        row.moderation = decision
        row.moderation_note = reason
    return row


# --- creation, with client-generated ids --------------------------------------------------

def _claim(session: Session, entity: Entity, row_id: uuid.UUID) -> None:
    """Serialise the creations that carry the same id (a client replaying its request), until
    the end of the transaction: the second one waits for the first to commit, then finds its
    row. The key is the id's first 8 bytes, which is what a UUID's randomness is made of."""
    key = int.from_bytes(hashlib.blake2b(f"{entity.type}:{row_id}".encode(),
                                         digest_size=8).digest(), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def existing(session: Session, entity: Entity, row_id: uuid.UUID | None) -> Any | None:
    """The row a creation with this client id already made (locked), or None for a new id."""
    if row_id is None:
        return None
    _claim(session, entity, row_id)
    return session.get(entity.model, row_id, with_for_update=True, populate_existing=True)


def created(session: Session, entity: Entity, row: Any, actor: str) -> Any:
    """Insert a new row at version 1 and its one "create" change-log row."""
    session.add(row)
    session.flush()
    history.record(session, entity.type, row.id, "create", actor, None, entity.snapshot(row))
    return row
