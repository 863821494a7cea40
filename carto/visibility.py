"""Who sees what: the one place where the reading rules are written, as SQL predicates.

- a reader (no token) sees validated, not deleted, public, non-draft resources; private persons
  only at their commune's centre;
- a contributor also sees, in its territory, members-only resources and its own pending items;
- an editor sees everything of its territory, pending included, and exact private locations;
- an admin sees everything.
Every list, single read, export, map and nearby query goes through these predicates.
"""

from dataclasses import dataclass
from typing import Any

READER, CONTRIBUTOR, EDITOR, ADMIN = "reader", "contributor", "editor", "admin"


@dataclass(frozen=True)
class Principal:
    role: str = READER
    territory_id: int | None = None
    actor: str = "anonymous"
    token_id: int | None = None

    @property
    def is_editor(self) -> bool:
        return self.role in (EDITOR, ADMIN)


ANONYMOUS = Principal()


def _in_territory(alias: str) -> str:
    return (f"EXISTS (SELECT 1 FROM resource_territory vrt WHERE vrt.resource_id = {alias}.id "
            "AND vrt.territory_id = :vis_territory)")


def resource_predicate(principal: Principal, alias: str = "r") -> tuple[str, dict[str, Any]]:
    """SQL that is true for the rows of `resource AS alias` the principal may read."""
    a = alias
    public = (f"({a}.deleted_at IS NULL AND {a}.moderation = 'validated' "
              f"AND {a}.visibility = 'public' AND {a}.status <> 'draft')")
    params: dict[str, Any] = {"vis_territory": principal.territory_id,
                              "vis_actor": principal.actor}
    if principal.role == ADMIN:
        return f"({a}.deleted_at IS NULL)", params
    if principal.role == EDITOR:
        return (f"({public} OR ({a}.deleted_at IS NULL AND {_in_territory(a)}))", params)
    if principal.role == CONTRIBUTOR:
        own_or_members = (f"({a}.deleted_at IS NULL AND {_in_territory(a)} AND "
                          f"(({a}.moderation = 'validated' AND {a}.visibility = 'members') "
                          f"OR ({a}.moderation = 'pending' AND {a}.created_by = :vis_actor)))")
        return f"({public} OR {own_or_members})", params
    return public, params


def link_predicate(principal: Principal, link: str = "l", source: str = "s",
                   target: str = "t") -> tuple[str, dict[str, Any]]:
    """True for links the principal may read: both ends readable, and the link itself."""
    src, params = resource_predicate(principal, source)
    tgt, _ = resource_predicate(principal, target)
    lk = link
    if principal.role == ADMIN:
        own = "true"
    elif principal.role == EDITOR:
        own = f"({lk}.moderation = 'validated' OR {lk}.territory_id = :vis_territory)"
    elif principal.role == CONTRIBUTOR:
        own = (f"({lk}.moderation = 'validated' OR ({lk}.moderation = 'pending' "
               f"AND {lk}.created_by = :vis_actor AND {lk}.territory_id = :vis_territory))")
    else:
        own = f"{lk}.moderation = 'validated'"
    return f"({lk}.deleted_at IS NULL AND {own} AND {src} AND {tgt})", params


def concealed(principal: Principal, alias: str = "r") -> str:
    """True for a private person whose home the principal may not see: only the editors of
    their territory (and admins) see the exact point, the address and the contacts."""
    a = alias
    exact_allowed = "true" if principal.role == ADMIN else (
        _in_territory(a) if principal.role == EDITOR else "false")
    return f"(({a}.is_private OR {a}.kind = 'private_person') AND NOT {exact_allowed})"


def shown_geom(principal: Principal, alias: str = "r") -> str:
    """The point to show: private persons are moved to their commune's centre (or a 0.05° grid
    when the commune is unknown) unless the principal edits their territory."""
    a = alias
    return (f"CASE WHEN {concealed(principal, a)} "
            f"THEN coalesce((SELECT ST_PointOnSurface(vc.geom) FROM commune vc "
            f"WHERE vc.code = {a}.commune_code), ST_SnapToGrid({a}.geom, 0.05)) "
            f"ELSE {a}.geom END")


def shown_precision(principal: Principal, alias: str = "r") -> str:
    a = alias
    return f"CASE WHEN {concealed(principal, a)} THEN 'commune' ELSE {a}.location_precision END"


def shown_private_text(principal: Principal, column: str, alias: str = "r") -> str:
    """A column that could locate or reach a private person (address, phone...): NULL unless
    the principal may see their home."""
    return f"CASE WHEN {concealed(principal, alias)} THEN NULL ELSE {alias}.{column} END"
