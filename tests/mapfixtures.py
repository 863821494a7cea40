"""A throwaway territory for the map tests: hostile names, a private person, hidden rows.

It has its own slug and is deleted at the end of each module that uses it, so the demo
territories keep their counts and other modules never see it.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from carto import links, resources, territories
from carto.db import transaction
from carto.territories import TerritorySpec

SLUG = "test-cartes-xss"
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_DESCRIPTION = 'Une description avec <script>alert("description")</script> dedans.'
# Template syntax typed by a contributor: shown as typed, never evaluated by the server.
TEMPLATE_TEXT = "Ouvert {{ 7*7 }} jours {% if true %}sur 7{% endif %} {# note #}"
LINK_DESCRIPTION = "Un lien <script>alert('lien')</script> & « guillemets »."
# Frontignan's commune (34108): real point of the private person, far from the commune centre.
PRIVATE_LON, PRIVATE_LAT = 3.70, 43.44


@dataclass
class XssTerritory:
    slug: str
    xss_id: str
    other_id: str
    private_id: str
    pending_id: str
    members_id: str
    link_id: str


def _create(session: Any, **values: Any) -> str:
    moderation = values.pop("moderation", "validated")
    data = {"kind": "association", "territories": [SLUG], "commune": "34108",
            "location_precision": "exact", **values}
    return str(resources.create(session, data, "test:maps", moderation=moderation).id)


@pytest.fixture(scope="module")
def xss_territory(demo_loaded: Any, migrated: str) -> Iterator[XssTerritory]:
    with transaction(migrated) as session:
        territories.create_from_communes(
            session, TerritorySpec(slug=SLUG, name="Test <cartes> & échappement"), ["34108"])
        session.flush()
        xss = _create(session, name=XSS_NAME, description=XSS_DESCRIPTION, kind="food_aid",
                      lon=3.745, lat=43.447, opening_hours="Mo-Fr 09:00-12:00",
                      products=["vegetables"], phone="04 67 00 00 00")
        other = _create(session, name="Voisin <b>gras</b>", lon=3.75, lat=43.45,
                        description=TEMPLATE_TEXT)
        private = _create(session, name="Habitante (personne privée)", is_private=True,
                          lon=PRIVATE_LON, lat=PRIVATE_LAT, phone="06 00 00 00 00",
                          address="12 rue Secrète")
        pending = _create(session, name="Proposition en attente", lon=3.751, lat=43.451,
                          moderation="pending")
        members = _create(session, name="Réservé aux membres", lon=3.752, lat=43.452,
                          visibility="members")
        link = links.create(session, {
            "source": xss, "target": other, "category": "aid_associations", "level": 3,
            "description": LINK_DESCRIPTION, "stakes": ["<img src=y onerror=alert(2)>"],
            "territory": SLUG, "started_on": "2021-03-01"}, "test:maps",
            level_on=date(2021, 3, 1))
        session.flush()
        link_id = str(link.id)
    try:
        yield XssTerritory(SLUG, xss, other, private, pending, members, link_id)
    finally:
        with transaction(migrated) as session:
            ids = [uuid.UUID(i) for i in (xss, other, private, pending, members)]
            session.execute(text("DELETE FROM link WHERE source_id = ANY(:ids) OR "
                                 "target_id = ANY(:ids)"), {"ids": ids})
            session.execute(text("DELETE FROM resource WHERE id = ANY(:ids)"), {"ids": ids})
            session.execute(text("DELETE FROM territory WHERE slug = :slug"), {"slug": SLUG})
