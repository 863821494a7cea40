"""Who sees what: the one place where the reading rules are written, as SQL predicates.

- a reader (no token) sees validated, not deleted, public, non-draft resources; private persons
  only at their commune's centre;
- a contributor also sees, in its territory, members-only resources and its own pending items;
- an editor sees everything of its territory, pending included, and exact private locations;
- an admin sees everything;
- a workshop participant (a contributor token of a workshop, issue 14) also sees what the other
  participants of its workshop added while it waits for an editor ("à valider").
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
    workshop_id: int | None = None  # a workshop participant's token (carto.workshops)
    workshop_state: str | None = None  # "open", "closed" or "ended": it writes while "open"

    @property
    def is_editor(self) -> bool:
        return self.role in (EDITOR, ADMIN)


ANONYMOUS = Principal()


def _in_territory(alias: str) -> str:
    return (f"EXISTS (SELECT 1 FROM resource_territory vrt WHERE vrt.resource_id = {alias}.id "
            "AND vrt.territory_id = :vis_territory)")


def resource_predicate(principal: Principal, alias: str = "r") -> tuple[str, dict[str, Any]]:
    """SQL that is true for the rows of `resource AS alias` the principal may read. The
    readers' part is the predicate of the partial index resource_public_idx (migration 0009),
    and with `concealed` a reader's part of resource_listed_walk_gist's (0014): a change
    here must go there too (tests/api/test_api_plans.py, test_nearby_plans.py fail otherwise)."""
    a = alias
    public = (f"({a}.deleted_at IS NULL AND {a}.moderation = 'validated' "
              f"AND {a}.visibility = 'public' AND {a}.status <> 'draft')")
    params: dict[str, Any] = {"vis_territory": principal.territory_id,
                              "vis_actor": principal.actor}
    if principal.workshop_id is not None:
        params["vis_workshop"] = principal.workshop_id
    if principal.role == ADMIN:
        return f"({a}.deleted_at IS NULL)", params
    if principal.role == EDITOR:
        return (f"({public} OR ({a}.deleted_at IS NULL AND {_in_territory(a)}))", params)
    if principal.role == CONTRIBUTOR:
        own_or_members = (f"({a}.deleted_at IS NULL AND {_in_territory(a)} AND "
                          f"(({a}.moderation = 'validated' AND {a}.visibility = 'members') "
                          f"OR ({a}.moderation = 'pending' AND {a}.created_by = :vis_actor)))")
        if principal.workshop_id is not None:
            own_or_members = (f"({own_or_members} OR ({a}.deleted_at IS NULL "
                              f"AND {a}.moderation = 'pending' "
                              f"AND {a}.workshop_id = :vis_workshop))")
        return f"({public} OR {own_or_members})", params
    return public, params


def reads_public_only(principal: Principal) -> bool:
    """True when `resource_predicate(principal)` is the readers' part alone, the predicate of
    the readers' partial indexes (resource_public_idx, 0009; resource_listed_walk_gist, 0014):
    a statement may then be worded for those indexes (carto.nearby.sql.walk)."""
    return principal.role == READER


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
        if principal.workshop_id is not None:
            own = (f"({own} OR ({lk}.moderation = 'pending' "
                   f"AND {lk}.workshop_id = :vis_workshop))")
    else:
        own = f"{lk}.moderation = 'validated'"
    return f"({lk}.deleted_at IS NULL AND {own} AND {src} AND {tgt})", params


def private_person(alias: str = "r") -> str:
    """True for a private person's row, whoever asks: the rows whose home may be concealed
    (the predicate of the partial index resource_private_idx, migration 0004)."""
    return f"({alias}.is_private OR {alias}.kind = 'private_person')"


def concealed(principal: Principal, alias: str = "r") -> str:
    """True for a private person whose home the principal may not see: only the editors of
    their territory (and admins) see the exact point, the address and the contacts."""
    a = alias
    exact_allowed = "true" if principal.role == ADMIN else (
        _in_territory(a) if principal.role == EDITOR else "false")
    return f"({private_person(a)} AND NOT {exact_allowed})"


# A private person without a commune is shown on this grid (degrees): the shown point is at most
# GRID / 2 * sqrt(2) from the real one, so `ST_Expand(shape, GRID)` around a shape holds every
# real point whose shown point can fall in it.
GRID = 0.05


def shown_geom(principal: Principal, alias: str = "r") -> str:
    """THE position `principal` is shown of `resource AS alias`, as an SQL expression: private
    persons at their commune's centre (`commune.centre`, migration 0005; a 0.05° grid cell when
    the commune is unknown) unless the principal edits their territory; everyone else where
    they are. Every output, distance and order uses it; filters use `shown_in`, its
    index-friendly equivalent."""
    a = alias
    return (f"CASE WHEN {concealed(principal, a)} "
            f"THEN coalesce((SELECT vc.centre FROM commune vc WHERE vc.code = {a}.commune_code), "
            f"ST_SnapToGrid({a}.geom, {GRID})) "
            f"ELSE {a}.geom END")


def shown_in(principal: Principal, shape: str, alias: str = "r") -> str:
    """True when the position `principal` is shown of `resource AS alias` (`shown_geom`)
    intersects `shape` (an SQL geometry expression in EPSG:4326: an envelope, a polygon, a
    catchment). The same truth as `ST_Intersects(shown_geom(...), shape)`, worded so that
    each branch has an index: rows shown where they are by resource_geom_gist; concealed
    private persons by their commune (the communes whose centre is in the shape, through
    commune_centre_gist, then resource_private_idx), or without a commune by their grid cell.
    A concealed row is never tested on its real point beyond what its shown point tells:
    probing with ever smaller shapes finds the commune's centre, not the home.
    `tests/api/test_privacy.py` holds both: the same answers as the plain test, and the property."""
    a = alias
    hidden = concealed(principal, a)
    return (
        f"(({a}.geom && {shape} AND NOT {hidden} AND ST_Intersects({a}.geom, {shape}))"
        f" OR ({private_person(a)} AND {a}.commune_code = ANY(ARRAY("
        f"SELECT vc.code FROM commune vc WHERE vc.centre && {shape} "
        f"AND ST_Intersects(vc.centre, {shape}))) AND {hidden})"
        f" OR ({private_person(a)} AND {a}.commune_code IS NULL "
        f"AND {a}.geom && ST_Expand({shape}, {GRID}) AND {hidden} "
        f"AND ST_Intersects(ST_SnapToGrid({a}.geom, {GRID}), {shape})))"
    )


def shown_precision(principal: Principal, alias: str = "r") -> str:
    a = alias
    return f"CASE WHEN {concealed(principal, a)} THEN 'commune' ELSE {a}.location_precision END"


# What could locate or reach a private person: NULL unless the principal may see their home.
MASKED_COLUMNS = ("address", "location_note", "website", "phone", "email")


def shown_private_text(principal: Principal, column: str, alias: str = "r") -> str:
    """A column that could locate or reach a private person (address, phone...): NULL unless
    the principal may see their home."""
    return f"CASE WHEN {concealed(principal, alias)} THEN NULL ELSE {alias}.{column} END"


def masked_columns(principal: Principal, alias: str = "r",
                   columns: tuple[str, ...] = MASKED_COLUMNS) -> str:
    """`col AS col, ...` for each of `columns` (of MASKED_COLUMNS), masked as
    `shown_private_text` says: the select-list every read of those columns uses."""
    unknown = set(columns) - set(MASKED_COLUMNS)
    assert not unknown, f"not a masked column: {unknown}"
    return ", ".join(f"{shown_private_text(principal, c, alias)} AS {c}" for c in columns)
