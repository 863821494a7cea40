"""What a workshop added, read for the live map, the projector, the moderation page and the
end summary. Rows are the workshop's by their `workshop_id` (set at creation, migration 0006);
each read goes through carto.visibility, so a participant sees the others' additions while they
wait ("à valider", the rule is visibility's) and a reader only what is validated."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import permissions
from carto.models import Workshop
from carto.visibility import Principal, link_predicate, resource_predicate, shown_geom


def marker(session: Session, workshop_id: int) -> str:
    """Changes whenever something the feed shows changes: a row added (count), a row changed
    (its version goes up: edits, moderation, deletion), a question or a vote, the workshop
    closing. Cheap (the partial indexes on workshop_id), polled by the live connections."""
    row = session.execute(text("""
        SELECT (SELECT count(*) || '.' || coalesce(sum(version), 0) FROM resource
                WHERE workshop_id = :w) AS r,
               (SELECT count(*) || '.' || coalesce(sum(version), 0) FROM link
                WHERE workshop_id = :w) AS l,
               (SELECT count(*) || '.' || count(closed_at) FROM workshop_question
                WHERE workshop_id = :w) AS q,
               (SELECT count(*) || '.' || coalesce(extract(epoch FROM max(v.voted_at)), 0)
                FROM workshop_vote v JOIN workshop_question wq ON wq.id = v.question_id
                WHERE wq.workshop_id = :w) AS v,
               (SELECT coalesce(extract(epoch FROM closed_at), 0) FROM workshop
                WHERE id = :w) AS c"""), {"w": workshop_id}).one()
    return f"{row.r}:{row.l}:{row.q}:{row.v}:{row.c}"


def items(session: Session, principal: Principal, workshop_id: int) -> dict[str, Any]:
    """The workshop's resources and links the principal may see, with their shown position."""
    visible, params = resource_predicate(principal, "r")
    geom = shown_geom(principal, "r")
    resources = session.execute(text(f"""
        SELECT r.id::text AS id, r.name, r.kind, r.moderation, r.version,
               ST_X({geom}) AS lon, ST_Y({geom}) AS lat, r.created_at
        FROM resource r
        WHERE r.workshop_id = :w AND {visible}
        ORDER BY r.created_at, r.id"""), params | {"w": workshop_id}).mappings().all()
    lvisible, lparams = link_predicate(principal, "l", "s", "t")
    links = session.execute(text(f"""
        SELECT l.id::text AS id, l.source_id::text AS source, l.target_id::text AS target,
               s.name AS source_name, t.name AS target_name, l.category, l.level,
               l.moderation, l.version,
               ST_X({shown_geom(principal, "s")}) AS source_lon,
               ST_Y({shown_geom(principal, "s")}) AS source_lat,
               ST_X({shown_geom(principal, "t")}) AS target_lon,
               ST_Y({shown_geom(principal, "t")}) AS target_lat, l.created_at
        FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.workshop_id = :w AND {lvisible}
        ORDER BY l.created_at, l.id"""), lparams | {"w": workshop_id}).mappings().all()
    return {"resources": [_plain(r) for r in resources], "links": [_plain(r) for r in links]}


def _plain(row: Any) -> dict[str, Any]:
    out = dict(row)
    if out.get("created_at") is not None:
        out["created_at"] = out["created_at"].isoformat()
    return out


def counters(session: Session, workshop_id: int) -> dict[str, Any]:
    """How many additions by kind and by category (rejected and deleted ones left out):
    numbers only, for the projector."""
    kinds = session.execute(text("""
        SELECT kind, count(*) FROM resource
        WHERE workshop_id = :w AND deleted_at IS NULL AND moderation <> 'rejected'
        GROUP BY kind ORDER BY count(*) DESC, kind"""), {"w": workshop_id}).all()
    categories = session.execute(text("""
        SELECT category, count(*) FROM link
        WHERE workshop_id = :w AND deleted_at IS NULL AND moderation <> 'rejected'
        GROUP BY category ORDER BY count(*) DESC, category"""), {"w": workshop_id}).all()
    return {"resources": sum(n for _, n in kinds), "links": sum(n for _, n in categories),
            "by_kind": {k: n for k, n in kinds}, "by_category": {c: n for c, n in categories}}


# The participant who wrote a row: its actor is "token:<id>:<name>" (carto.tokens.principal).
_AUTHOR = """(SELECT p.pseudonym FROM workshop_participant p
             WHERE {alias}.created_by LIKE 'token:%'
               AND p.token_id = split_part({alias}.created_by, ':', 2)::integer)"""


def pending(session: Session, principal: Principal, workshop: Workshop) -> dict[str, Any]:
    """The moderation queue of a workshop, with each author's pseudonym: its facilitators only
    (the editors of its territory)."""
    permissions.facilitate(principal, workshop.territory_id)
    visible, params = resource_predicate(principal, "r")
    geom = shown_geom(principal, "r")
    resources = session.execute(text(f"""
        SELECT r.id::text AS id, r.name, r.kind, r.description, r.version,
               ST_X({geom}) AS lon, ST_Y({geom}) AS lat, {_AUTHOR.format(alias="r")} AS pseudonym,
               r.created_at
        FROM resource r
        WHERE r.workshop_id = :w AND r.moderation = 'pending' AND {visible}
        ORDER BY r.created_at, r.id"""), params | {"w": workshop.id}).mappings().all()
    lvisible, lparams = link_predicate(principal, "l", "s", "t")
    links = session.execute(text(f"""
        SELECT l.id::text AS id, s.name AS source_name, t.name AS target_name, l.category,
               l.level, l.description, l.version, {_AUTHOR.format(alias="l")} AS pseudonym,
               l.created_at
        FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.workshop_id = :w AND l.moderation = 'pending' AND {lvisible}
        ORDER BY l.created_at, l.id"""), lparams | {"w": workshop.id}).mappings().all()
    return {"resources": [_plain(r) for r in resources], "links": [_plain(r) for r in links]}


def summary(session: Session, workshop: Workshop) -> dict[str, Any]:
    """At the end: what was added by kind, by category and level, and what was validated
    (counts: anyone holding the code may read them)."""
    kinds = session.execute(text("""
        SELECT kind, count(*) AS added, count(*) FILTER (WHERE moderation = 'validated')
               AS validated
        FROM resource WHERE workshop_id = :w AND deleted_at IS NULL
        GROUP BY kind ORDER BY kind"""), {"w": workshop.id}).mappings().all()
    links = session.execute(text("""
        SELECT category, level, count(*) AS added,
               count(*) FILTER (WHERE moderation = 'validated') AS validated
        FROM link WHERE workshop_id = :w AND deleted_at IS NULL
        GROUP BY category, level ORDER BY category, level"""),
        {"w": workshop.id}).mappings().all()
    states = session.execute(text("""
        SELECT moderation, count(*) FROM (
            SELECT moderation FROM resource WHERE workshop_id = :w AND deleted_at IS NULL
            UNION ALL
            SELECT moderation FROM link WHERE workshop_id = :w AND deleted_at IS NULL) x
        GROUP BY moderation"""), {"w": workshop.id}).all()
    by_state = {s: n for s, n in states}
    return {
        "resources_by_kind": [dict(r) for r in kinds],
        "links_by_category_and_level": [dict(r) for r in links],
        "validated": by_state.get("validated", 0),
        "pending": by_state.get("pending", 0),
        "rejected": by_state.get("rejected", 0),
        "added": sum(by_state.values()),
    }


def outline(session: Session, territory_id: int) -> dict[str, Any]:
    """The territory's boundary, simplified for a tablet's map, and its bounding box."""
    row = session.execute(text("""
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0005), 5) AS shape,
               ST_XMin(geom) AS x0, ST_YMin(geom) AS y0, ST_XMax(geom) AS x1, ST_YMax(geom) AS y1
        FROM territory WHERE id = :t"""), {"t": territory_id}).one()
    return {"shape": row.shape, "bbox": [row.x0, row.y0, row.x1, row.y1]}
