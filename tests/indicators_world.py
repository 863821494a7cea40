"""Small hand-built cooperation networks for the indicator tests: actors placed by hand in a
test territory (Sète, commune 34301), links created through carto.links with dated levels."""

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import links, territories
from carto.territories import TerritorySpec

SOURCE = "indicator tests"


def territory(session: Session, slug: str, code: str = "34301") -> int:
    t = territories.create_from_communes(session, TerritorySpec(slug=slug, name=f"{slug} (test)"),
                                         [code])
    session.flush()
    return t.id


def actor(session: Session, tid: int, name: str, kind: str, lon: float = 3.6957,
          lat: float = 43.4028, commune: str | None = "34301", **extra: Any) -> uuid.UUID:
    rid = uuid.uuid4()
    cols = {"visibility": "public", "moderation": "validated", "is_private": False,
            "status": "active", **extra}
    session.execute(text(f"""
        INSERT INTO resource (id, name, kind, geom, location_precision, commune_code,
                              provenance, source_name, created_by, updated_by,
                              {', '.join(cols)})
        VALUES (:id, :name, :kind, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'exact', :commune,
                'import', :src, 'test', 'test', {', '.join(':' + c for c in cols)})"""),
        {"id": rid, "name": name, "kind": kind, "lon": lon, "lat": lat, "commune": commune,
         "src": SOURCE, **cols})
    session.execute(text("INSERT INTO resource_territory VALUES (:r, :t)"), {"r": rid, "t": tid})
    return rid


def link(session: Session, slug: str, a: uuid.UUID, b: uuid.UUID, level: int,
         category: str = "territorial_structures", on: date | None = None,
         moderation: str = "validated") -> uuid.UUID:
    created = links.create(session, {"source": str(a), "target": str(b), "category": category,
                                     "level": level, "territory": slug}, "test",
                           moderation=moderation, level_on=on)
    session.flush()
    return created.id


def set_level(session: Session, link_id: uuid.UUID, level: int, on: date) -> None:
    """A level change dated `on` (the API dates it today; the history is what counts)."""
    session.execute(text("UPDATE link SET level = :lv WHERE id = :id"), {"lv": level, "id": link_id})
    session.execute(text("""INSERT INTO link_level_history (link_id, level, changed_on, changed_by)
                            VALUES (:id, :lv, :on, 'test')"""),
                    {"id": link_id, "lv": level, "on": on})


def end(session: Session, link_id: uuid.UUID, at: datetime) -> None:
    """The link ended at `at` (through carto.links, then its change-log row dated `at`)."""
    current = links.get(session, link_id)
    links.update(session, link_id, {"status": "ended"}, "test", current.version)
    session.flush()
    # the record's creation (logged today) moved before its end, as it happened
    session.execute(text("""UPDATE change_log SET at = CASE WHEN action = 'create'
                              THEN CAST(:at AS timestamptz) - interval '1 day' ELSE :at END
                            WHERE entity_id = :id"""), {"at": at, "id": link_id})
