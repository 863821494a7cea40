"""Who may write what: the one home of the write rules. HTTP, the CLI, the importers and the
workshop mode all go through the domain functions (carto.resources, carto.links,
carto.moderation), which call these checks when they act for a `Principal`; routers keep one
call and never test a role themselves.

The rules:
- a reader (no token) writes nothing (401); a role below the one asked is a 403;
- a token acts in its own territory only (an admin anywhere): a resource is placed in the
  territories of the token, a link belongs to one territory of the token;
- both ends of a link belong to the link's territory and are visible to the writer; when the
  territory is omitted and the ends share exactly one territory where the writer may write, it
  is that one; re-pointing a link obeys the same rule;
- editing, deleting, restoring, moderating and reading the history are for the editors of the
  row's territory (a resource: one of its territories; a link: its territory); merging two
  resources, or saying they are not a duplicate, for the editors of a territory of both;
- editor-only fields (`created_by`, `updated_by`, `moderation_note`) and histories go only to
  the editors of that territory.
Reading rules (who sees what) stay in carto.visibility; these checks use them.
"""

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Unauthenticated
from carto.i18n import msg
from carto.lifecycle import Guard
from carto.models import Link, Resource, Territory
from carto.visibility import (
    ADMIN,
    CONTRIBUTOR,
    EDITOR,
    READER,
    Principal,
    link_predicate,
    resource_predicate,
)

RANK = {READER: 0, CONTRIBUTOR: 1, EDITOR: 2, ADMIN: 3}


def system(actor: str) -> Principal:
    """Trusted code acting as itself (the demo loader, the CLI's loaders): every right."""
    return Principal(role=ADMIN, actor=actor)


def as_principal(actor: Principal | str) -> Principal:
    """The writer a domain function acts for: a Principal as given, a name as `system`."""
    return actor if isinstance(actor, Principal) else system(actor)


def require(principal: Principal, role: str, territory_ids: Iterable[int] | None = None) -> None:
    """Raise unless `principal` has at least `role` and (non-admins) acts in one of the
    territories concerned (None: no territory concerned)."""
    if principal.role == READER:
        raise Unauthenticated(msg("error.auth.token_needed", role=role))
    if principal.workshop_id is not None and principal.workshop_state != "open":
        raise Forbidden(msg("error.workshops.token_closed") if principal.workshop_state == "closed"
                        else msg("error.workshops.token_ended"))
    if RANK[principal.role] < RANK[role]:
        raise Forbidden(msg("error.auth.role", role=principal.role, needed=role))
    if territory_ids is not None and not may_write_in(principal, territory_ids):
        raise Forbidden(msg("error.auth.territory"))


def facilitate(principal: Principal, territory_id: int) -> None:
    """Creating, closing and running a workshop (questions, moderation of what it added): the
    editors of its territory (an admin anywhere)."""
    require(principal, EDITOR, {territory_id})


def workshop_provenance(principal: Principal, workshop: Any, state: str,
                        territory_ids: set[int]) -> int:
    """An addition made in a workshop carries it (`workshop_id`: its feed, counters, summary
    and output). A participant's token adds only in its own workshop; anyone else names it,
    and must be a facilitator (an editor of its territory), while it is open, adding in its
    territory (a facilitator's own additions from the workshop's pages)."""
    if principal.workshop_id is not None:
        if principal.workshop_id != workshop.id:
            raise Invalid.field("workshop", msg("error.workshops.other_workshop"))
        return int(workshop.id)
    facilitate(principal, workshop.territory_id)
    if state != "open":
        said = msg("error.workshops.not_open", code=workshop.code)
        raise Conflict(said, [FieldError("workshop", said)])
    if workshop.territory_id not in territory_ids:
        raise Invalid.field("workshop", msg("error.workshops.outside", code=workshop.code))
    return int(workshop.id)


def vote(principal: Principal, workshop_id: int) -> None:
    """One person, one vote: only a participant's token of this workshop votes, while the
    workshop is open (a facilitator who wants a voice joins as a participant)."""
    require(principal, CONTRIBUTOR)
    if principal.workshop_id != workshop_id:
        raise Forbidden(msg("error.workshops.not_participant"))


def may_write_in(principal: Principal, territory_ids: Iterable[int]) -> bool:
    """True when the token is valid in one of these territories."""
    return principal.role == ADMIN or principal.territory_id in set(territory_ids)


def edits(principal: Principal, territory_ids: Iterable[int]) -> bool:
    """An editor of one of these territories (or an admin): sees the editor-only fields and
    histories, edits, moderates."""
    return principal.role == ADMIN or (principal.role == EDITOR
                                       and principal.territory_id in set(territory_ids))


def editor_fields_sql(principal: Principal, alias: str = "r") -> str:
    """SQL, true for the rows of `resource AS alias` whose editor-only fields the principal may
    read (the same rule as `edits`, for lists built by the database)."""
    if principal.role == ADMIN:
        return "true"
    if principal.role != EDITOR or principal.territory_id is None:
        return "false"
    return (f"EXISTS (SELECT 1 FROM resource_territory pet WHERE pet.resource_id = {alias}.id "
            f"AND pet.territory_id = {int(principal.territory_id)})")


def moderation_for(principal: Principal) -> str:
    """What a new row of this writer starts as: editors publish, contributors propose."""
    return "validated" if principal.is_editor else "pending"


# --- visibility of a single row, for the writer -------------------------------------------

def sees_resource(session: Session, principal: Principal, resource_id: uuid.UUID) -> bool:
    visible, params = resource_predicate(principal, "r")
    return bool(session.scalar(text(
        f"SELECT EXISTS (SELECT 1 FROM resource r WHERE r.id = :id AND {visible})"),
        params | {"id": resource_id}))


def sees_link(session: Session, principal: Principal, link_id: uuid.UUID) -> bool:
    visible, params = link_predicate(principal, "l", "s", "t")
    return bool(session.scalar(text(
        f"""SELECT EXISTS (SELECT 1 FROM link l JOIN resource s ON s.id = l.source_id
                           JOIN resource t ON t.id = l.target_id
                           WHERE l.id = :id AND {visible})"""),
        params | {"id": link_id}))


# --- resources ------------------------------------------------------------------------------

def resource_territories(resource: Resource) -> set[int]:
    return {t.id for t in resource.territories}


def create_resource(principal: Principal, territories: list[Territory], force: bool) -> str:
    """A new resource goes only into the writer's own territory; `force` (a point far from its
    territories) is an editor's call. Returns the moderation state it starts in."""
    ids = {t.id for t in territories}
    require(principal, CONTRIBUTOR, ids or None)
    if principal.role != ADMIN and ids - {principal.territory_id}:
        raise Forbidden(msg("error.resources.other_territory"))
    if force and not principal.is_editor:
        raise Forbidden(msg("error.resources.force_editor"))
    return moderation_for(principal)


def edit_resource(session: Session, principal: Principal) -> Guard:
    """The check run on the locked resource before any change (edit, delete, restore,
    moderation): a 403 unless one edits one of its territories, a 404 for what even they may
    not see."""
    require(principal, CONTRIBUTOR)

    def check(resource: Resource) -> None:
        ids = resource_territories(resource)
        require(principal, EDITOR, ids)
        if resource.deleted_at is None and not sees_resource(session, principal, resource.id):
            raise NotFound(msg("error.lifecycle.resource_unknown", id=resource.id))
    return check


def merge_resources(session: Session, principal: Principal) -> Guard:
    """A merge (carto.duplicates) changes both resources: the check run on each locked row is
    an edit's (editors of its territories; a 404 for what they may not see)."""
    return edit_resource(session, principal)


def dismiss_duplicate(session: Session, principal: Principal, first: Resource,
                      second: Resource) -> None:
    """Saying two resources are not a duplicate ("Pas un doublon"): an editor of a territory
    both belong to (pairs are flagged within a territory; an admin anywhere); a 404 for a
    resource they may not see."""
    require(principal, EDITOR)
    for resource in (first, second):
        if resource.deleted_at is not None or not sees_resource(session, principal, resource.id):
            raise NotFound(msg("error.lifecycle.resource_unknown", id=resource.id))
    require(principal, EDITOR, resource_territories(first) & resource_territories(second))


def move_resource(principal: Principal, before: set[int], after: set[int]) -> None:
    """Changing a resource's territories: it stays in one of the writer's, and no territory
    but the writer's own is added."""
    if before == after or principal.role == ADMIN:
        return
    if principal.territory_id not in after:
        raise Forbidden(msg("error.permissions.leaves_territory"))
    if after - before - {principal.territory_id}:
        raise Forbidden(msg("error.resources.other_territory"))


# --- links ----------------------------------------------------------------------------------

def link_territories(link: Link) -> set[int]:
    """The territories whose editors answer for a link: its own; for the few old links
    without one, those of its ends."""
    if link.territory_id is not None:
        return {link.territory_id}
    return {t.id for end in (link.source, link.target) for t in end.territories}


def place_link(session: Session, principal: Principal, source_id: uuid.UUID,
               target_id: uuid.UUID, territory: Territory | None) -> Territory:
    """The territory a link (new or re-pointed) belongs to, after checking the rule: both ends
    visible to the writer and members of that territory, the writer's token valid there.
    Without a territory: the one territory both ends share where the writer may write."""
    errors: list[FieldError] = []
    ends: dict[str, Resource] = {}
    for field, rid in (("source", source_id), ("target", target_id)):
        resource = session.get(Resource, rid)
        if resource is None or not sees_resource(session, principal, rid):
            errors.append(FieldError(field, msg("error.permissions.end_unknown", id=rid)))
        else:
            ends[field] = resource
    if errors:
        raise Invalid(None, errors)
    shared = resource_territories(ends["source"]) & resource_territories(ends["target"])
    if territory is None:
        writable = sorted(t for t in shared if may_write_in(principal, {t}))
        if len(writable) != 1:
            raise Invalid.field("territory", msg("error.permissions.no_shared_territory")
                                if not writable
                                else msg("error.permissions.several_shared_territories"))
        found = session.get(Territory, writable[0])
        assert found is not None
        territory = found
    require(principal, CONTRIBUTOR, {territory.id})
    outside = [FieldError(field, msg("error.permissions.end_outside", territory=territory.slug))
               for field, end in ends.items() if territory.id not in resource_territories(end)]
    if outside:
        raise Invalid(None, outside)
    return territory


def edit_link(session: Session, principal: Principal) -> Guard:
    """The check run on the locked link before any change: 403 unless one edits the link's
    territory, 404 for what even they may not see."""
    require(principal, CONTRIBUTOR)

    def check(link: Link) -> None:
        ids = link_territories(link)
        require(principal, EDITOR, ids)
        if link.deleted_at is None and not sees_link(session, principal, link.id):
            raise NotFound(msg("error.lifecycle.link_unknown", id=link.id))
    return check


def moderation_queue(principal: Principal, territory_id: int | None) -> int | None:
    """The territory whose pending contributions the principal may list: the one asked, or
    its own when none is asked (an admin: every territory, None). Editors only."""
    if territory_id is None and principal.role != ADMIN:
        territory_id = principal.territory_id
    require(principal, EDITOR, {territory_id} if territory_id is not None else None)
    return territory_id


def read_history(principal: Principal, territory_ids: set[int]) -> None:
    """Change logs hold exact positions and pending values: editors of the territory only."""
    require(principal, EDITOR, territory_ids)


def shown_fields(principal: Principal, territory_ids: set[int], props: dict[str, Any],
                 hidden: Iterable[str]) -> dict[str, Any]:
    """`props` without the editor-only fields unless the principal edits that territory."""
    if edits(principal, territory_ids):
        return props
    return {k: v for k, v in props.items() if k not in set(hidden)}


# --- territories ----------------------------------------------------------------------------

def edit_territory(principal: Principal, territory_id: int) -> None:
    """A territory's own figures (its population with its source, its farmland surfaces):
    entered by the editors of that territory (an admin anywhere)."""
    require(principal, EDITOR, {territory_id})


def edit_override(principal: Principal, territory_id: int | None) -> None:
    """A gap coefficient override, to add or remove: a territory's by the editors of that
    territory; one for a department or for every territory (no territory) by an admin."""
    if territory_id is None:
        require(principal, ADMIN)
    else:
        require(principal, EDITOR, {territory_id})
