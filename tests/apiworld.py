"""Two test territories and a token per role, committed once for the API tests; the demo
territories stay untouched."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from carto import territories, tokens
from carto.db import transaction
from carto.models import Territory
from carto.territories import TerritorySpec

SETE = (3.6957, 43.4028)  # a point in Sète (api-a)
MEZE = (3.6055, 43.4256)  # a point in Mèze (api-b)


@dataclass
class World:
    contributor: str
    editor: str
    other_editor: str
    admin: str

    @staticmethod
    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def build(url: str) -> World:
    with transaction(url) as session:
        for slug, name, code in (("api-a", "Sète (test)", "34301"),
                                 ("api-b", "Mèze (test)", "34157")):
            if session.scalar(select(Territory.id).where(Territory.slug == slug)) is None:
                territories.create_from_communes(session, TerritorySpec(slug=slug, name=name),
                                                 [code])
        return World(
            contributor=tokens.create(session, "contributor", "api-a", "participant").token,
            editor=tokens.create(session, "editor", "api-a", "animatrice").token,
            other_editor=tokens.create(session, "editor", "api-b", "voisin").token,
            admin=tokens.create(session, "admin", None, "admin").token,
        )


def feature(name: str = "Jardin d'essai", kind: str = "shared_garden",
            territories_: list[str] | None = None, point: tuple[float, float] = SETE,
            **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(point)},
            "properties": {"name": name, "kind": kind, "territories": territories_ or ["api-a"],
                           "location_precision": "exact", **props}}
