"""The change log: who changed what, when, with the values before and after."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from carto import cache
from carto.models import ChangeLog


def record(
    session: Session,
    entity_type: str,
    entity_id: uuid.UUID,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """One change-log row: every accepted write of a resource or a link passes here (through
    carto.lifecycle), so this is where the caches of what they show are dropped."""
    cache.edited(session)
    session.add(
        ChangeLog(
            entity_type=entity_type,
            entity_id=entity_id,
            action=action,
            actor=actor,
            before=before,
            after=after,
        )
    )


def entries(session: Session, entity_type: str, entity_id: uuid.UUID) -> list[ChangeLog]:
    return list(
        session.scalars(
            select(ChangeLog)
            .where(ChangeLog.entity_type == entity_type, ChangeLog.entity_id == entity_id)
            .order_by(ChangeLog.id)
        )
    )


def version_picture(session: Session, entity_type: str, entity_id: uuid.UUID,
                    version: int) -> dict[str, Any] | None:
    """The row as it was at `version` (the `after` of the change that made it), or None when
    the log does not hold it: what a form opened at that version showed (a conflict compares
    it with what was saved meanwhile)."""
    found = session.scalar(
        select(ChangeLog.after)
        .where(ChangeLog.entity_type == entity_type, ChangeLog.entity_id == entity_id,
               ChangeLog.after["version"].as_integer() == version)
        .order_by(ChangeLog.id.desc()).limit(1))
    return dict(found) if found else None
