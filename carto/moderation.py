"""Contributions from workshop participants enter as pending; an editor validates or rejects
them (with a reason). Each decision is a change-log entry."""

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import history, lifecycle, links, permissions, resources
from carto.errors import Invalid
from carto.i18n import msg
from carto.visibility import Principal


def _decide(session: Session, entity_type: str, entity_id: uuid.UUID, actor: Principal | str,
            decision: str, reason: str | None, expected_version: int | None) -> Any:
    principal = permissions.as_principal(actor)
    if entity_type == "resource":
        entity, guard = resources.ENTITY, permissions.edit_resource(session, principal)
    else:
        entity, guard = links.ENTITY, permissions.edit_link(session, principal)
    return lifecycle.decide(session, entity, entity_id, expected_version, principal.actor,
                            decision, reason, guard)


def validate(session: Session, entity_type: str, entity_id: uuid.UUID, actor: Principal | str,
             expected_version: int | None = None) -> Any:
    return _decide(session, entity_type, entity_id, actor, "validated", None, expected_version)


def reject(session: Session, entity_type: str, entity_id: uuid.UUID, actor: Principal | str,
           reason: str, expected_version: int | None = None) -> Any:
    if not reason or not reason.strip():
        raise Invalid.field("reason", msg("error.moderation.reason"))
    return _decide(session, entity_type, entity_id, actor, "rejected", reason.strip(),
                   expected_version)


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


# What the moderation page shows of a contribution: the last change of the row, field by field
# (a creation has nothing before it). Bookkeeping fields are left out.
_NOT_SHOWN = {"version", "moderation", "deleted", "provenance", "outputs", "surfaces"}


def proposal(session: Session, entity_type: str, entity_id: uuid.UUID) -> dict[str, Any] | None:
    """The last change of a pending row as (field, before, after) triples, with who made it
    and when; None when the row has no change-log entry (nothing to show)."""
    entries = history.entries(session, entity_type, entity_id)
    if not entries:
        return None
    last = entries[-1]
    before, after = last.before or {}, last.after or {}
    fields = [(key, before.get(key), after.get(key)) for key in after
              if key not in _NOT_SHOWN and before.get(key) != after.get(key)
              and (last.before is not None or after.get(key) not in (None, [], ""))]
    return {"action": last.action, "actor": last.actor, "at": last.at, "fields": fields,
            "edited": len(entries) > 1}
