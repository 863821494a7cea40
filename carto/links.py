"""Cooperation links: create, update (a level change appends to the level history), delete,
restore. The life cycle is carto.lifecycle's, the rules carto.permissions'."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from carto import lifecycle, params, permissions, validation, vocab
from carto.errors import Conflict, Invalid, NotFound
from carto.i18n import msg
from carto.models import ChangeLog, Link, LinkLevelChange, Resource, Territory
from carto.visibility import CONTRIBUTOR, Principal
from carto.workshops import sessions as workshop_sessions

SIMPLE_FIELDS = (
    "category",
    "level",
    "stakes",
    "description",
    "started_on",
    "status",
    "directed",
    "provenance",
    "source_name",
    "external_id",
    "licence",
)
FIELDS = (*SIMPLE_FIELDS, "source", "target", "territory", "level_note")


def get(session: Session, link_id: uuid.UUID, include_deleted: bool = False) -> Link:
    link = session.get(Link, link_id)
    if link is None or (link.deleted_at is not None and not include_deleted):
        raise NotFound(msg("error.links.unknown", id=link_id))
    return link


def snapshot(link: Link) -> dict[str, Any]:
    return {
        "source": str(link.source_id),
        "target": str(link.target_id),
        "category": link.category,
        "level": link.level,
        "stakes": list(link.stakes or []),
        "description": link.description,
        "started_on": link.started_on.isoformat() if link.started_on else None,
        "status": link.status,
        "directed": link.directed,
        "territory": link.territory.slug if link.territory else None,
        "moderation": link.moderation,
        "provenance": link.provenance,
        "source_name": link.source_name,
        "external_id": link.external_id,
        "licence": link.licence,
        "version": link.version,
        "deleted": link.deleted_at is not None,
    }


def _resource_ref(
    session: Session, value: Any, field: str, errors: validation.Collector
) -> uuid.UUID | None:
    try:
        rid = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        errors.add(field, msg("error.links.end_id", value=value))
        return None
    resource = session.get(Resource, rid)
    if resource is None:
        errors.add(field, msg("error.resources.unknown", id=rid))
        return None
    if resource.deleted_at is not None:
        errors.add(field, msg("error.links.deleted_end", id=rid))
        return None
    return rid


def clean(session: Session, data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    errors = validation.Collector()
    for key in data:
        if key not in FIELDS:
            errors.add(key, msg("validation.extra_forbidden"))
    out: dict[str, Any] = {}

    def given(key: str) -> bool:
        return key in data or not partial

    for end in ("source", "target"):
        if given(end):
            out[f"{end}_id"] = _resource_ref(session, data.get(end), end, errors)
    if out.get("source_id") and out.get("source_id") == out.get("target_id"):
        errors.add("target", msg("error.links.same_ends"))
    if given("category"):
        out["category"] = validation.code_in(
            data.get("category"), vocab.categories(), errors, "category"
        )
    if given("level"):
        level = data.get("level")
        if not isinstance(level, int) or isinstance(level, bool) or level not in vocab.levels():
            errors.add("level", msg("error.links.level_unknown", value=level))
        else:
            out["level"] = level
    if "stakes" in data:
        stakes = [] if data["stakes"] is None else data["stakes"]
        if not isinstance(stakes, list) or not all(
            isinstance(s, str) and 0 < len(s) <= 200 for s in stakes
        ):
            errors.add("stakes", msg("error.links.stakes"))
        else:
            out["stakes"] = stakes
    if "description" in data:
        out["description"] = validation.optional_text(data["description"], errors, "description")
    if "level_note" in data:
        out["level_note"] = validation.optional_text(data["level_note"], errors, "level_note", 1000)
    if "started_on" in data and data["started_on"] is not None:
        value = data["started_on"]
        try:  # YYYY-MM-DD, the one parser of days
            out["started_on"] = value if isinstance(value, date) else \
                params.day(value, "started_on")
        except Invalid as exc:
            errors.errors.extend(exc.errors)
    elif "started_on" in data:
        out["started_on"] = None
    for key, allowed in (("status", vocab.LINK_STATUSES), ("provenance", vocab.PROVENANCES)):
        if key in data:
            out[key] = validation.code_in(data[key], set(allowed), errors, key)
    if "directed" in data:
        if not isinstance(data["directed"], bool):
            errors.add("directed", msg("error.validation.boolean"))
        out["directed"] = data["directed"]
    for key in ("source_name", "external_id", "licence"):
        if key in data:
            out[key] = validation.optional_text(data[key], errors, key, 200)
    if "territory" in data and data["territory"] is not None:
        if not isinstance(data["territory"], str):
            errors.add("territory", msg("error.links.territory_slug"))
            errors.raise_if_any()
        territory = session.scalar(select(Territory).where(Territory.slug == data["territory"]))
        if territory is None:
            errors.add("territory", msg("error.territories.unknown", slug=data["territory"]))
        out["territory"] = territory
    errors.raise_if_any()
    return out


def _check_duplicate(session: Session, link: Link) -> None:
    """Say which link already holds the pair and category, rather than a bare constraint error."""
    if link.status != "active" or link.deleted_at is not None:
        return
    a, b = link.source_id, link.target_id
    existing = session.scalar(
        select(Link.id).where(
            Link.id != link.id,
            Link.category == link.category,
            Link.status == "active",
            Link.deleted_at.is_(None),
            or_(and_(Link.source_id == a, Link.target_id == b),
                and_(Link.source_id == b, Link.target_id == a)),
        )
    )
    if existing is not None:
        raise Conflict(
            msg("error.links.duplicate", id=existing),
            [validation.FieldError("target", msg("error.links.duplicate_of", id=existing))],
        )


def _apply(link: Link, values: dict[str, Any]) -> None:
    for key in ("source_id", "target_id", *SIMPLE_FIELDS, "territory"):
        if key in values and key != "level":
            setattr(link, key, values[key])


def _append_level(session: Session, link: Link, level: int, note: str | None, actor: str,
                  on: date | None = None) -> None:
    session.add(LinkLevelChange(link_id=link.id, level=level, note=note, changed_by=actor,
                                changed_on=on or date.today()))


def _content(picture: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in picture.items() if k not in ("version", "deleted")}


def _replay(session: Session, prior: Link, candidate: Link, actor: str,
            level_note: str | None) -> Link:
    """The same creation sent again (same id, author and content) answers the link it made;
    the same id for anything else is a conflict."""
    first = session.scalar(select(ChangeLog.after).where(
        ChangeLog.entity_type == ENTITY.type, ChangeLog.entity_id == prior.id,
        ChangeLog.action == "create").order_by(ChangeLog.id).limit(1))
    note = session.scalar(select(LinkLevelChange.note).where(LinkLevelChange.link_id == prior.id)
                          .order_by(LinkLevelChange.id).limit(1))
    if prior.created_by != actor or first is None or note != level_note \
            or _content(first) != _content(snapshot(candidate)):
        raise lifecycle.taken(ENTITY, prior.id)
    return prior


def create(
    session: Session,
    data: dict[str, Any],
    actor: Principal | str,
    moderation: str | None = None,
    link_id: uuid.UUID | None = None,
    level_on: date | None = None,
) -> Link:
    """A new link at version 1, in a territory both ends belong to (carto.permissions.
    place_link). `actor`: the writer, or a name for trusted code (every right). `link_id` may
    come from the client: a replay creates nothing. `level_on` dates the first level (e.g. the
    document that observed it); default today."""
    principal = permissions.as_principal(actor)
    permissions.require(principal, CONTRIBUTOR)
    data = dict(data)
    code = data.pop("workshop", None)
    values = clean(session, data)
    territory = permissions.place_link(session, principal, values["source_id"],
                                       values["target_id"], values.get("territory"))
    values["territory"] = territory
    workshop_id = workshop_sessions.provenance(session, principal, code, {territory.id})
    link = Link(id=link_id or uuid.uuid4(),
                moderation=moderation or permissions.moderation_for(principal),
                created_by=principal.actor, updated_by=principal.actor, version=1, stakes=[],
                status="active", directed=False, provenance="workshop", level=values["level"],
                workshop_id=workshop_id)  # made in a workshop (carto.workshops.sessions)
    _apply(link, values)
    prior = lifecycle.existing(session, ENTITY, link_id)
    if prior is not None:
        return _replay(session, prior, link, principal.actor, values.get("level_note"))
    _check_duplicate(session, link)
    lifecycle.created(session, ENTITY, link, principal.actor)
    _append_level(session, link, link.level, values.get("level_note"), principal.actor,
                  level_on or link.started_on)
    return link


def update(
    session: Session, link_id: uuid.UUID, changes: dict[str, Any], actor: Principal | str,
    expected_version: int | None, level_must_move: bool = False,
) -> Link:
    """A change; a new level joins the level history (one row per accepted change: the row
    lock makes concurrent level changes queue, and the losers get a 412)."""
    principal = permissions.as_principal(actor)
    guard = permissions.edit_link(session, principal)
    values = clean(session, changes, partial=True)  # the body first: a wrong one is a 422,
    with lifecycle.change(session, ENTITY, link_id, expected_version,  # whatever the version
                          principal.actor, guard=guard) as link:
        if level_must_move and values.get("level") == link.level:
            raise Invalid.field("level", msg("error.links.level_same", level=link.level))
        if values.get("source_id", link.source_id) == values.get("target_id", link.target_id):
            raise Invalid.field("target", msg("error.links.same_ends"))
        moved = any(key in values for key in ("source_id", "target_id", "territory"))
        _apply(link, values)
        if moved:
            link.territory = permissions.place_link(
                session, principal, link.source_id, link.target_id,
                values.get("territory", link.territory))
        if "level" in values and values["level"] != link.level:
            link.level = values["level"]
            _append_level(session, link, link.level, values.get("level_note"),
                          principal.actor)
        _check_duplicate(session, link)
    return link


def change_level(session: Session, link_id: uuid.UUID, level: Any, note: Any,
                 actor: Principal | str, expected_version: int | None) -> Link:
    """Raise or lower a link's level, saying why: the road travelled is read from these notes
    (the link's page asks for one). A note is required and the level must move; the change goes
    through `update`, hence the rules, the row lock, the version check and one level-history
    row."""
    if not isinstance(note, str) or not note.strip():
        raise Invalid.field("level_note", msg("error.links.level_note_needed"))
    return update(session, link_id, {"level": level, "level_note": note.strip()}, actor,
                  expected_version, level_must_move=True)


def delete(session: Session, link_id: uuid.UUID, actor: Principal | str,
           expected_version: int | None) -> Link:
    principal = permissions.as_principal(actor)
    return lifecycle.soft_delete(session, ENTITY, link_id, expected_version, principal.actor,
                                 permissions.edit_link(session, principal))


def restore(session: Session, link_id: uuid.UUID, actor: Principal | str,
            expected_version: int | None = None) -> Link:
    principal = permissions.as_principal(actor)
    with lifecycle.change(session, ENTITY, link_id, expected_version, principal.actor,
                          "restore", permissions.edit_link(session, principal),
                          deleted=True) as link:
        link.deleted_at = None
        link.deleted_by = None
        _check_duplicate(session, link)
    return link


ENTITY = lifecycle.Entity("link", Link, snapshot)


def level_history(session: Session, link_id: uuid.UUID) -> list[LinkLevelChange]:
    get(session, link_id, include_deleted=True)
    return list(session.scalars(
        select(LinkLevelChange).where(LinkLevelChange.link_id == link_id)
        .order_by(LinkLevelChange.changed_on, LinkLevelChange.id)))

