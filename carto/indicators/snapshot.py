"""A territory's cooperation network as it was on a given day: the one reading of the database
every indicator, the evolution and the exports start from.

What "as it was that day" means, from what the database keeps:

- a link exists on day D when its level history starts on or before D (the first level is dated
  by the link's `started_on` or the document that observed it; a link without history, e.g.
  bulk-inserted, starts on its `started_on` or its creation day) and its status on D was
  `active`;
- its status on D is the one the last change-log entry recorded by the end of D left; when
  the record itself was logged later (the demo's links are recorded today, dated by the 2019
  document), the status just before the first entry after D; its current status when the log
  says nothing (bulk-inserted rows). An `ended` set later does not reach back;
- its level on D is the last level-history row dated on or before D;
- an actor exists on D when it was created on or before D, or is an end of a link existing on D
  (the demo's actors were loaded today, their links dated by the 2019 document).

Who sees what is `carto.visibility`: only the resources and links the principal may read now,
at the position the principal is shown (`shown_geom`). Deleted links and resources are not
part of any day (the predicates leave them out); closed resources are not actors any more.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.errors import NotFound
from carto.i18n import msg
from carto.visibility import Principal, link_predicate, resource_predicate, shown_geom


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID
    name: str
    kind: str
    lon: float | None
    lat: float | None
    in_territory: bool = True


@dataclass(frozen=True)
class LinkAt:
    """A link as it stood on the snapshot's day."""

    id: uuid.UUID
    source: uuid.UUID
    target: uuid.UUID
    category: str
    level: int


@dataclass
class Snapshot:
    territory_id: int
    slug: str
    name: str
    at: date
    actors: dict[uuid.UUID, Actor] = field(default_factory=dict)
    links: dict[uuid.UUID, LinkAt] = field(default_factory=dict)


def territory_row(session: Session, slug: str) -> dict[str, Any]:
    row = session.execute(text("SELECT id, slug, name FROM territory WHERE slug = :s"),
                          {"s": slug}).mappings().first()
    if row is None:
        raise NotFound(msg("error.indicators.territory_unknown", slug=slug))
    return dict(row)


def _links_sql(principal: Principal) -> tuple[str, dict[str, Any]]:
    visible, params = link_predicate(principal, "l", "s", "t")
    sql = f"""
        WITH lk AS MATERIALIZED (
            SELECT l.id, l.source_id, l.target_id, l.category, l.level, l.status,
                   coalesce(l.started_on, CAST(l.created_at AS date)) AS fallback_start,
                   s.name AS source_name, s.kind AS source_kind,
                   t.name AS target_name, t.kind AS target_kind,
                   ST_X(sg.g) AS source_lon, ST_Y(sg.g) AS source_lat,
                   ST_X(tg.g) AS target_lon, ST_Y(tg.g) AS target_lat
            FROM link l
            JOIN resource s ON s.id = l.source_id
            JOIN resource t ON t.id = l.target_id
            CROSS JOIN LATERAL (SELECT {shown_geom(principal, "s")} AS g) sg
            CROSS JOIN LATERAL (SELECT {shown_geom(principal, "t")} AS g) tg
            WHERE l.territory_id = :tid AND {visible}
        ),
        hist AS (
            SELECT h.link_id, min(h.changed_on) AS first_on,
                   (array_agg(h.level ORDER BY h.changed_on DESC, h.id DESC)
                      FILTER (WHERE h.changed_on <= :at))[1] AS level_at
            FROM link_level_history h WHERE h.link_id IN (SELECT id FROM lk)
            GROUP BY h.link_id
        ),
        upto AS (  -- the last change recorded by the end of the day: the status it left
            SELECT DISTINCT ON (c.entity_id) c.entity_id, c.after ->> 'status' AS status_then
            FROM change_log c
            WHERE c.entity_type = 'link' AND c.entity_id IN (SELECT id FROM lk)
              AND c.at < CAST(:at AS date) + 1
            ORDER BY c.entity_id, c.at DESC, c.id DESC
        ),
        later AS (  -- else the first change recorded after the day: the status before it
            SELECT DISTINCT ON (c.entity_id) c.entity_id,
                   coalesce(c.before ->> 'status', c.after ->> 'status') AS status_then
            FROM change_log c
            WHERE c.entity_type = 'link' AND c.entity_id IN (SELECT id FROM lk)
              AND c.at >= CAST(:at AS date) + 1
            ORDER BY c.entity_id, c.at, c.id
        ),
        dated AS (
            SELECT lk.*, coalesce(upto.status_then, later.status_then, lk.status) AS status_at,
                   CASE WHEN hist.link_id IS NULL THEN lk.level ELSE hist.level_at END
                     AS level_at,
                   coalesce(hist.first_on, lk.fallback_start) AS first_on
            FROM lk LEFT JOIN hist ON hist.link_id = lk.id
            LEFT JOIN upto ON upto.entity_id = lk.id LEFT JOIN later ON later.entity_id = lk.id
        )
        SELECT * FROM dated
        WHERE first_on <= :at AND status_at = 'active' AND level_at IS NOT NULL"""
    return sql, params


def _actors_sql(principal: Principal) -> tuple[str, dict[str, Any]]:
    visible, params = resource_predicate(principal, "r")
    sql = f"""
        SELECT r.id, r.name, r.kind, ST_X(sg.g) AS lon, ST_Y(sg.g) AS lat,
               CAST(r.created_at AS date) <= :at AS existed
        FROM resource_territory rt
        JOIN resource r ON r.id = rt.resource_id
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg
        WHERE rt.territory_id = :tid AND r.status <> 'closed' AND {visible}"""
    return sql, params


def snapshot(session: Session, principal: Principal, slug: str, at: date | None = None
             ) -> Snapshot:
    """The territory's actors and links on day `at` (default today), as `principal` sees them."""
    territory = territory_row(session, slug)
    day = at or date.today()
    snap = Snapshot(territory["id"], territory["slug"], territory["name"], day)
    sql, params = _actors_sql(principal)
    params |= {"tid": territory["id"], "at": day}
    members: dict[uuid.UUID, Actor] = {}
    existed: set[uuid.UUID] = set()
    for row in session.execute(text(sql), params).mappings():
        members[row["id"]] = Actor(row["id"], row["name"], row["kind"], row["lon"], row["lat"])
        if row["existed"]:
            existed.add(row["id"])
    sql, params = _links_sql(principal)
    params |= {"tid": territory["id"], "at": day}
    for row in session.execute(text(sql), params).mappings():
        snap.links[row["id"]] = LinkAt(row["id"], row["source_id"], row["target_id"],
                                       row["category"], int(row["level_at"]))
        for end in ("source", "target"):
            rid = row[f"{end}_id"]
            if rid in members:
                existed.add(rid)
            elif rid not in snap.actors:
                snap.actors[rid] = Actor(rid, row[f"{end}_name"], row[f"{end}_kind"],
                                         row[f"{end}_lon"], row[f"{end}_lat"], in_territory=False)
    for rid in existed:
        snap.actors[rid] = members[rid]
    return snap


def first_day(session: Session, principal: Principal, slug: str) -> date | None:
    """The earliest day a link of the territory the principal may see is dated from: where an
    evolution "since the beginning" starts."""
    territory = territory_row(session, slug)
    visible, params = link_predicate(principal, "l", "s", "t")
    found = session.scalar(text(f"""
        SELECT min(coalesce((SELECT min(h.changed_on) FROM link_level_history h
                             WHERE h.link_id = l.id),
                            l.started_on, CAST(l.created_at AS date)))
        FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.territory_id = :tid AND {visible}"""), params | {"tid": territory["id"]})
    return found
