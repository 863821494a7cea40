"""Contributions from workshop participants enter as pending; an editor validates or rejects
them (with a reason). Each decision is a change-log entry."""

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import history, links, resources
from carto.errors import Conflict, Invalid


def _decide(session: Session, entity_type: str, entity_id: uuid.UUID, actor: str,
            decision: str, reason: str | None) -> Any:
    module: Any = resources if entity_type == "resource" else links
    item = module.get(session, entity_id)
    if item.moderation != "pending":
        raise Conflict(f"rien à modérer : l'élément est « {item.moderation} »", [])
    before = module.snapshot(item)
    item.moderation = decision
    item.moderation_note = reason
    item.version += 1
    item.updated_by = actor
    session.flush()
    action = "validate" if decision == "validated" else "reject"
    history.record(session, entity_type, item.id, action, actor, before, module.snapshot(item))
    return item


def validate(session: Session, entity_type: str, entity_id: uuid.UUID, actor: str) -> Any:
    return _decide(session, entity_type, entity_id, actor, "validated", None)


def reject(session: Session, entity_type: str, entity_id: uuid.UUID, actor: str,
           reason: str) -> Any:
    if not reason or not reason.strip():
        raise Invalid.field("reason", "un refus doit dire pourquoi")
    return _decide(session, entity_type, entity_id, actor, "rejected", reason.strip())


def pending(session: Session, territory_id: int | None) -> dict[str, list[dict[str, Any]]]:
    """What waits for a decision in a territory (all territories when None)."""
    resources_rows = session.execute(text("""
        SELECT r.id, r.name, r.kind, r.created_by, r.created_at, r.version
        FROM resource r
        WHERE r.moderation = 'pending' AND r.deleted_at IS NULL
          AND (CAST(:tid AS integer) IS NULL OR EXISTS (
              SELECT 1 FROM resource_territory rt
              WHERE rt.resource_id = r.id AND rt.territory_id = :tid))
        ORDER BY r.created_at, r.id"""), {"tid": territory_id}).mappings()
    link_rows = session.execute(text("""
        SELECT l.id, l.category, l.level, l.source_id, s.name AS source_name, l.target_id,
               t.name AS target_name, l.created_by, l.created_at, l.version
        FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.moderation = 'pending' AND l.deleted_at IS NULL
          AND (CAST(:tid AS integer) IS NULL OR l.territory_id = :tid)
        ORDER BY l.created_at, l.id"""), {"tid": territory_id}).mappings()
    return {"resources": [dict(r) for r in resources_rows],
            "links": [dict(r) for r in link_rows]}
