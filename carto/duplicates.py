"""Duplicates (issue 14): the same place entered twice, typically once in a workshop and once
before it. Flagged for the editors in moderation; merged by them, keeping both histories.

Two live resources of a territory are flagged when
- their names are the same but for accents, case, punctuation and word order (the name key,
  `carto.text.name_key`, stored as `resource.name_key` by its SQL twin) and they lie within
  `RADIUS_M` metres (ST_DWithin on geography: metres on the sphere);
- or one of them waits in the moderation queue, and their name keys are close (a trigram
  similarity of at least `SIMILAR`, which forgives a typo, with the same numbers: "Jardin
  partagé 1" and "Jardin partagé 2" are two gardens) within the same radius (its neighbours
  through the partial GiST index `resource_geog_gist`);
- or they carry the same external id (the same OpenStreetMap node brought in under two source
  names: the unique index is on the pair, so the id alone is what repeats);
- and no editor said they are not a duplicate ("Pas un doublon": `dismiss`, stored in
  `duplicate_dismissal`; `undismiss` takes it back, `dismissals` lists them for the page).

A dismissal is a mark on a pair, not a versioned record: it has no version and no change
log. Taking it back deletes the row; the deletion is undone by saying "Pas un doublon" again
(who said it and when are then the new ones). What the pair's two records are is unchanged
either way, and their own histories say nothing of it.

A merge soft-deletes the merged resource with a pointer to the one kept (`merged_into`) and
re-points its links to the kept one, each through carto.lifecycle (one change-log row each):
both change logs stay as they are. A link that would join the kept resource to itself is
deleted, and so is one that would repeat a live link of the same pair and category; the
report says which.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from carto import lifecycle, links, permissions, resources, vocab
from carto.errors import Conflict, FieldError, Invalid, NotFound
from carto.i18n import msg
from carto.models import DuplicateDismissal, Link, Resource
from carto.visibility import Principal, resource_predicate

RADIUS_M = 300
SIMILAR = 0.8  # pg_trgm similarity of the name keys: "epicerie solidare" ~ "epicerie solidaire"
MAX_PAIRS = 200


def _pairs_sql(principal: Principal, territory_id: int | None) -> tuple[str, dict[str, Any]]:
    """Candidate pairs (a_id, b_id), written for their plans (tests/domain/test_duplicates.py):
    - the same name key: the keys that repeat are found first (a GROUP BY on the name key of
      the live rows), then their rows by the index on the key, and the pairs within the radius;
    - the same external id: the same, on the external id;
    - a near name (a typo) is looked for around the pending rows only (the moderation queue:
      what a workshop just added), each one's neighbours found by the geography GiST index:
      comparing every row with every neighbour would cost a trigram similarity per pair of
      neighbours (seconds for 20,000 rows in a town).
    The territory and the visibility of both rows are checked on the few rows found."""
    seen_a, params = resource_predicate(principal, "a")
    seen_b, _ = resource_predicate(principal, "b")

    def here(x: str) -> str:
        if territory_id is None:
            return "true"
        return (f"EXISTS (SELECT 1 FROM resource_territory t{x} WHERE t{x}.resource_id = {x}.id "
                f"AND t{x}.territory_id = :tid)")

    live = "{x}.deleted_at IS NULL AND {x}.moderation <> 'rejected'"
    both = (f"{live.format(x='a')} AND {live.format(x='b')} AND {here('a')} AND {here('b')} "
            f"AND {seen_a} AND {seen_b}")
    near = "ST_DWithin(b.geom::geography, a.geom::geography, :radius)"
    statuses = ", ".join(f"'{code}'" for code in vocab.RESOURCE_STATUSES)
    sql = f"""
        SELECT a.id AS a_id, b.id AS b_id
        FROM (SELECT name_key FROM resource WHERE deleted_at IS NULL
              GROUP BY name_key HAVING count(*) > 1) d
        JOIN resource a ON a.name_key = d.name_key AND a.deleted_at IS NULL
        JOIN resource b ON b.name_key = d.name_key AND b.deleted_at IS NULL AND b.id > a.id
        WHERE {near} AND {both}
        UNION
        SELECT a.id, b.id
        FROM (SELECT external_id FROM resource
              WHERE external_id IS NOT NULL AND deleted_at IS NULL
              GROUP BY external_id HAVING count(*) > 1) d
        JOIN resource a ON a.external_id = d.external_id AND a.deleted_at IS NULL
        JOIN resource b ON b.external_id = d.external_id AND b.deleted_at IS NULL
             AND b.id > a.id
        WHERE {both}
        UNION
        SELECT a.id, b.id FROM resource a
        JOIN resource b ON b.deleted_at IS NULL AND b.id <> a.id AND {near}
             AND similarity(b.name_key, a.name_key) >= :similar
             AND regexp_replace(b.name_key, '[^0-9]+', ' ', 'g')
                 = regexp_replace(a.name_key, '[^0-9]+', ' ', 'g')
        WHERE a.moderation = 'pending' AND a.status IN ({statuses})  -- resource_status_idx
          AND {both}"""
    return sql, params | {"tid": territory_id, "radius": RADIUS_M, "similar": SIMILAR}


def pairs(session: Session, principal: Principal, territory_id: int | None) -> list[dict[str, Any]]:
    """The flagged pairs of a territory (every territory when None), nearest first, each with
    why it is flagged. For editors (the moderation queue's rule)."""
    territory_id = permissions.moderation_queue(principal, territory_id)
    sql, params = _pairs_sql(principal, territory_id)
    rows = session.execute(text(f"""
        WITH found AS ({sql})
        SELECT DISTINCT ON (least(f.a_id, f.b_id), greatest(f.a_id, f.b_id))
               a.id AS a_id, a.name AS a_name, a.kind AS a_kind, a.moderation AS a_moderation,
               a.created_by AS a_created_by, a.created_at AS a_created_at,
               a.version AS a_version, a.external_id AS a_external_id,
               b.id AS b_id, b.name AS b_name, b.kind AS b_kind, b.moderation AS b_moderation,
               b.created_by AS b_created_by, b.created_at AS b_created_at,
               b.version AS b_version, b.external_id AS b_external_id,
               a.name_key = b.name_key AS same_name,
               similarity(a.name_key, b.name_key) >= :similar AS similar_name,
               a.external_id IS NOT NULL AND a.external_id = b.external_id AS same_external_id,
               round(ST_Distance(a.geom::geography, b.geom::geography)) AS distance_m
        FROM found f
        JOIN resource a ON a.id = least(f.a_id, f.b_id)
        JOIN resource b ON b.id = greatest(f.a_id, f.b_id)
        WHERE NOT EXISTS (SELECT 1 FROM duplicate_dismissal d  -- "Pas un doublon"
                          WHERE d.a_id = a.id AND d.b_id = b.id)
        ORDER BY least(f.a_id, f.b_id), greatest(f.a_id, f.b_id)"""), params).mappings()
    out: list[dict[str, Any]] = []
    for row in rows:
        pair = {side: {k[2:]: row[k] for k in row if k.startswith(f"{side}_")}
                for side in ("a", "b")}
        a, b = pair["a"], pair["b"]
        if _older_first(b, a):
            a, b = b, a  # the one to keep first: validated, then the older
        reasons = ["external_id"] if row["same_external_id"] else []
        if row["distance_m"] <= RADIUS_M and (row["same_name"] or row["similar_name"]):
            reasons.insert(0, "same_name" if row["same_name"] else "similar_name")
        out.append({"keep": a, "merge": b, "reasons": reasons,
                    "distance_m": int(row["distance_m"])})
    out.sort(key=lambda p: (p["distance_m"], p["keep"]["name"], str(p["keep"]["id"])))
    return out[:MAX_PAIRS]


def dismiss(session: Session, first_id: uuid.UUID, second_id: uuid.UUID,
            actor: Principal | str) -> tuple[DuplicateDismissal, bool]:
    """"Pas un doublon": the pair is stored (smaller id first) and never flagged again. Saying
    it twice stores it once (False: it was already there). Editors of a territory of both
    (carto.permissions.dismiss_duplicate)."""
    principal = permissions.as_principal(actor)
    a_id, b_id = _dismissed_pair(session, principal, first_id, second_id)
    made = session.execute(
        insert(DuplicateDismissal).values(a_id=a_id, b_id=b_id, dismissed_by=principal.actor)
        .on_conflict_do_nothing().returning(DuplicateDismissal.a_id)).first()
    dismissal = session.get(DuplicateDismissal, (a_id, b_id), populate_existing=True)
    assert dismissal is not None
    return dismissal, made is not None


def _dismissed_pair(session: Session, principal: Principal, first_id: uuid.UUID,
                    second_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    """The pair in its stored order (smaller id first), once the principal may say of it
    that it is, or is not, a duplicate (carto.permissions.dismiss_duplicate)."""
    if first_id == second_id:
        raise Invalid.field("resources", msg("error.duplicates.same_pair"))
    a_id, b_id = sorted((first_id, second_id))
    found = []
    for rid in (a_id, b_id):
        row = session.get(Resource, rid)
        if row is None:
            raise NotFound(msg("error.lifecycle.resource_unknown", id=rid))
        found.append(row)
    permissions.dismiss_duplicate(session, principal, found[0], found[1])
    return a_id, b_id


def undismiss(session: Session, first_id: uuid.UUID, second_id: uuid.UUID,
              actor: Principal | str) -> None:
    """Take back a "Pas un doublon": the pair may be flagged again (when it still looks like
    one). The same rule as saying it; a 404 when it was not said (or already taken back; a
    resource with itself never is)."""
    principal = permissions.as_principal(actor)
    if first_id == second_id:
        raise NotFound(msg("error.duplicates.not_dismissed", a=first_id, b=second_id))
    a_id, b_id = _dismissed_pair(session, principal, first_id, second_id)
    gone = session.execute(text(
        "DELETE FROM duplicate_dismissal WHERE a_id = :a AND b_id = :b RETURNING a_id"),
        {"a": a_id, "b": b_id}).first()
    if gone is None:
        raise NotFound(msg("error.duplicates.not_dismissed", a=a_id, b=b_id))


def dismissals(session: Session, principal: Principal,
               territory_id: int | None) -> list[dict[str, Any]]:
    """The pairs said not to be duplicates, of a territory (every one when None), newest
    first, for the editors who may take them back: both records live and seen by them."""
    territory_id = permissions.moderation_queue(principal, territory_id)
    seen_a, params = resource_predicate(principal, "a")
    seen_b, _ = resource_predicate(principal, "b")
    here = "true" if territory_id is None else " AND ".join(
        f"EXISTS (SELECT 1 FROM resource_territory t{x} WHERE t{x}.resource_id = {x}.id "
        f"AND t{x}.territory_id = :tid)" for x in ("a", "b"))
    rows = session.execute(text(f"""
        SELECT a.id AS a_id, a.name AS a_name, b.id AS b_id, b.name AS b_name,
               d.dismissed_by, d.dismissed_at
        FROM duplicate_dismissal d
        JOIN resource a ON a.id = d.a_id AND a.deleted_at IS NULL
        JOIN resource b ON b.id = d.b_id AND b.deleted_at IS NULL
        WHERE {here} AND {seen_a} AND {seen_b}
        ORDER BY d.dismissed_at DESC, a.id, b.id
        LIMIT :max"""), params | {"tid": territory_id, "max": MAX_PAIRS}).mappings()
    return [{"a": {"id": r["a_id"], "name": r["a_name"]},
             "b": {"id": r["b_id"], "name": r["b_name"]},
             "dismissed_by": r["dismissed_by"], "dismissed_at": r["dismissed_at"]}
            for r in rows]


def _older_first(x: dict[str, Any], y: dict[str, Any]) -> bool:
    """True when `x` is the better one to keep than `y`: validated before pending, then the
    older entry."""
    return (x["moderation"] != "validated", x["created_at"]) \
        < (y["moderation"] != "validated", y["created_at"])


@dataclass
class MergeReport:
    """What a merge did, for the answer and the page that says it."""

    merged: uuid.UUID
    into: uuid.UUID
    repointed: list[uuid.UUID] = field(default_factory=list)
    removed_self_links: list[uuid.UUID] = field(default_factory=list)
    removed_duplicates: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"merged": str(self.merged), "into": str(self.into), "links": {
            "repointed": [str(i) for i in self.repointed],
            "removed_self_links": [str(i) for i in self.removed_self_links],
            "removed_duplicates": [{"id": str(i), "duplicate_of": str(j)}
                                   for i, j in self.removed_duplicates]}}


def _same_pair(session: Session, link: Link, source: uuid.UUID,
               target: uuid.UUID) -> uuid.UUID | None:
    """A live active link of the same category between these two ends (either way), other
    than `link`: the one a re-pointed link would repeat."""
    return session.scalar(select(Link.id).where(
        Link.id != link.id, Link.category == link.category, Link.status == "active",
        Link.deleted_at.is_(None),
        ((Link.source_id == source) & (Link.target_id == target))
        | ((Link.source_id == target) & (Link.target_id == source))))


def merge(session: Session, resource_id: uuid.UUID, into_id: uuid.UUID,
          actor: Principal | str, expected_version: int | None) -> MergeReport:
    """Merge `resource_id` into `into_id` (see the module's docstring). `expected_version` is
    the merged resource's (If-Match). Both rows are locked in one statement, in id order
    (carto.lifecycle.lock_all), so merges that share a resource queue, whether of the same
    pair either way or of pairs sharing one (A+B with B+C, or with C+A): the first wins; the
    next ones find the version moved (412) or a resource already merged (409), never a cycle
    of waits nor of pointers (tests/api/test_merge_live.py)."""
    principal = permissions.as_principal(actor)
    if resource_id == into_id:
        raise Invalid.field("into", msg("error.duplicates.same"))
    guard = permissions.merge_resources(session, principal)
    locked = lifecycle.lock_all(session, resources.ENTITY,
                                {resource_id: expected_version, into_id: None}, guard,
                                deleted=None)
    merged, kept = locked[resource_id], locked[into_id]
    for row, field_name in ((merged, "resource"), (kept, "into")):
        if row.deleted_at is None:
            continue
        if row.merged_into is None:  # deleted, not merged: as unknown as before
            raise NotFound(msg("error.lifecycle.resource_unknown", id=row.id))
        said = msg("error.duplicates.already_merged", id=row.id, into=row.merged_into) \
            if row is merged else msg("error.duplicates.kept_merged", id=row.id,
                                      into=row.merged_into)
        raise Conflict(said, [FieldError(field_name, said)], {"merged_into": str(row.merged_into)})
    if not permissions.resource_territories(kept) & permissions.resource_territories(merged):
        raise Invalid.field("into", msg("error.duplicates.no_shared_territory"))
    report = MergeReport(resource_id, into_id)
    _repoint_links(session, principal, report)
    with lifecycle.change(session, resources.ENTITY, resource_id, None, principal.actor,
                          "merge", guard) as row:
        row.deleted_at = _now(session)
        row.deleted_by = principal.actor
        row.merged_into = into_id
    return report


def _now(session: Session) -> Any:
    return session.scalar(text("SELECT now()"))


def _repoint_links(session: Session, principal: Principal, report: MergeReport) -> None:
    """Every live link of the merged resource moves to the kept one, or is deleted when it
    would become a self-link or repeat a live link (each through carto.lifecycle)."""
    merged, kept = report.merged, report.into
    link_guard = permissions.edit_link(session, principal)
    ids = sorted(session.scalars(select(Link.id).where(
        Link.deleted_at.is_(None), (Link.source_id == merged) | (Link.target_id == merged))))
    for link_id in ids:
        link = lifecycle.lock(session, links.ENTITY, link_id, None, link_guard)
        source = kept if link.source_id == merged else link.source_id
        target = kept if link.target_id == merged else link.target_id
        if source == target:
            lifecycle.soft_delete(session, links.ENTITY, link_id, None, principal.actor,
                                  link_guard)
            report.removed_self_links.append(link_id)
            continue
        twin = _same_pair(session, link, source, target) if link.status == "active" else None
        if twin is not None:
            lifecycle.soft_delete(session, links.ENTITY, link_id, None, principal.actor,
                                  link_guard)
            report.removed_duplicates.append((link_id, twin))
            continue
        try:
            permissions.place_link(session, principal, source, target, link.territory)
        except Invalid as exc:
            raise Invalid(None, [FieldError("into", msg("error.duplicates.link_outside",
                                                        link=link_id))]) from exc
        with lifecycle.change(session, links.ENTITY, link_id, None, principal.actor,
                              guard=link_guard) as moved:
            moved.source_id, moved.target_id = source, target
        report.repointed.append(link_id)
