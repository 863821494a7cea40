"""A territory of its own for the OGC API tests (Mende, far from the demo), with what readers
may not see: a private person (home far from the commune's centre), a members-only resource, a
pending contribution, a deleted resource, and links to each. Committed once per test run."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text

from carto import territories
from carto.db import transaction
from carto.models import Resource, Territory
from carto.territories import TerritorySpec
from carto.visibility import ANONYMOUS, resource_predicate

SLUG = "ogc-mende"
COMMUNE = "48095"  # Mende
HOME = (3.5321, 44.5342)  # the private person's real home, inside Mende, away from its centre
GARDEN = (3.4993, 44.5182)


@dataclass
class OgcWorld:
    private_id: str
    members_id: str
    pending_id: str
    deleted_id: str
    public_id: str
    centre: tuple[float, float]  # where readers are shown the private person


def _resource(session: object, name: str, point: tuple[float, float], **values: object) -> str:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    resource = Resource(name=name, kind=values.pop("kind", "shared_garden"),
                        geom=f"SRID=4326;POINT({point[0]} {point[1]})",
                        location_precision="exact", commune_code=COMMUNE, created_by="ogc-test",
                        updated_by="ogc-test", products=[], access_conditions=[], **values)
    session.add(resource)
    session.flush()
    session.execute(text("INSERT INTO resource_territory VALUES (:r, :t)"),
                    {"r": resource.id, "t": territories.id_of(session, SLUG)})
    return str(resource.id)


def build(url: str) -> OgcWorld:
    with transaction(url) as session:
        if session.scalar(select(Territory.id).where(Territory.slug == SLUG)) is None:
            territories.create_from_communes(
                session, TerritorySpec(slug=SLUG, name="Mende (test OGC)"), [COMMUNE])
        public_id = _resource(session, "Jardin <b>public</b> & partagé", GARDEN,
                              updated_at=datetime(2020, 5, 1, tzinfo=UTC))
        private_id = _resource(session, "Potager de Mme X", HOME, is_private=True,
                               address="3 rue secrète", phone="0600000000")
        members_id = _resource(session, "Local réservé", GARDEN, visibility="members")
        pending_id = _resource(session, "Proposition en attente", GARDEN, moderation="pending")
        deleted_id = _resource(session, "Ancien jardin", GARDEN,
                               deleted_at=datetime.now(UTC), deleted_by="ogc-test")
        tid = territories.id_of(session, SLUG)
        for other in (private_id, members_id):
            session.execute(text("""
                INSERT INTO link (id, source_id, target_id, category, level, territory_id,
                                  created_by, updated_by)
                VALUES (gen_random_uuid(), :a, :b, 'residents_volunteers', 3, :t, 'ogc-test',
                        'ogc-test')"""), {"a": public_id, "b": other, "t": tid})
        x, y = session.execute(text(
            "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM commune "
            "WHERE code = :c) p"), {"c": COMMUNE}).one()
        return OgcWorld(private_id, members_id, pending_id, deleted_id, public_id, (x, y))


def public_count(url: str, where: str = "true", params: dict[str, object] | None = None) -> int:
    """What the database says a reader may see: the count clients must reach."""
    visible, vis_params = resource_predicate(ANONYMOUS, "r")
    with transaction(url) as session:
        return int(session.scalar(text(f"SELECT count(*) FROM resource r WHERE {visible} "
                                       f"AND {where}"), vis_params | (params or {})) or 0)
