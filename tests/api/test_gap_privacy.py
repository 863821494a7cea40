"""The gap analysis never reveals a private household (issue 10 §3): perimeters, catchments and
per-commune coverage count each producer where the caller is shown it (`visibility.shown_in`).

Before, `POST /api/gap` with a tiny polygon around a private producer's home answered with that
household's declared output. The property: for a random home in the commune, a tiny polygon and
a radius around it, the anonymous answer equals the answer for the same shape moved elsewhere in
the commune; the same shape around the commune's centre (where the household is shown) counts
it, and an admin's token counts it at home.
"""

import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from carto import gap
from carto.db import transaction
from carto.visibility import ADMIN, ANONYMOUS, Principal
from tests.apiworld import World

COMMUNE = "34293"  # La Salvetat-sur-Agout, 90 km², no demo resource within 4 km
NEIGHBOUR = "34107"  # Fraisse-sur-Agout, which touches it
KG = 1234.0  # the household's declared vegetables


@dataclass
class Place:
    url: str
    centre: tuple[float, float]


@pytest.fixture(scope="module")
def place(demo_loaded: Any, migrated: str) -> Place:
    with transaction(migrated) as session:
        x, y = session.execute(text("SELECT ST_X(centre), ST_Y(centre) FROM commune "
                                    "WHERE code = :c"), {"c": COMMUNE}).one()
        others = session.scalar(text("""
            SELECT count(*) FROM resource r, commune c
            WHERE c.code = :c AND ST_DWithin(r.geom, c.geom, 0.05)"""), {"c": COMMUNE})
    assert others == 0, "the probe needs a commune with no other resource around"
    return Place(migrated, (float(x), float(y)))


def _point_in_commune(url: str, seed: int) -> tuple[float, float]:
    with transaction(url) as session:
        x, y = session.execute(text("""
            SELECT ST_X(p), ST_Y(p) FROM (SELECT (ST_Dump(ST_GeneratePoints(geom, 1, :seed))).geom
                                          AS p FROM commune WHERE code = :c) g"""),
                               {"seed": seed, "c": COMMUNE}).one()
    return float(x), float(y)


@contextmanager
def household(url: str, lon: float, lat: float, commune: str = COMMUNE) -> Iterator[uuid.UUID]:
    """A private producer (is_private) with a declared output, committed (the API reads it in
    its own transactions), removed after."""
    rid = uuid.uuid4()
    with transaction(url) as session:
        session.execute(text("""
            INSERT INTO resource (id, name, kind, geom, location_precision, visibility,
                                  moderation, is_private, status, commune_code, created_by,
                                  updated_by)
            VALUES (:id, 'Potager d''une habitante', 'producer',
                    ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'exact', 'public', 'validated', true,
                    'active', :commune, 'test', 'test')"""),
            {"id": rid, "x": lon, "y": lat, "commune": commune})
        session.execute(text("""
            INSERT INTO resource_output (resource_id, food_group, kg_per_year, year, source)
            VALUES (:id, 'vegetables', :kg, 2024, 'test')"""), {"id": rid, "kg": KG})
    try:
        yield rid
    finally:
        with transaction(url) as session:
            session.execute(text("DELETE FROM resource WHERE id = :id"), {"id": rid})


def _square(cx: float, cy: float, half: float) -> dict[str, Any]:
    ring = [[cx - half, cy - half], [cx + half, cy - half], [cx + half, cy + half],
            [cx - half, cy + half], [cx - half, cy - half]]
    return {"type": "Feature", "properties": {"population": 100, "population_source": "test"},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def supply(client: TestClient, cx: float, cy: float, half: float, radius_km: float,
           headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What POST /api/gap says of the producers for the square of half-side `half` (degrees)
    around (cx, cy) widened by `radius_km`."""
    response = client.post("/api/gap", params={"radius_km": radius_km},
                           json=_square(cx, cy, half), headers=headers or {})
    assert response.status_code == 200, response.text
    body = response.json()
    veg = next(g for g in body["groups"] if g["group"] == "vegetables")
    return {"producers": {k: body["producers"][k] for k in
                          ("counted", "mapped_without_output", "declared_t")},
            "vegetables_t": veg["supply_producers_t"]}


def _metres(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    dx = (lon1 - lon0) * 111_320 * math.cos(math.radians(lat0))
    return math.hypot(dx, (lat1 - lat0) * 110_574)


def _reaches(cx: float, cy: float, half: float, radius_km: float,
             point: tuple[float, float]) -> bool:
    """Whether the catchment of the square around (cx, cy) may hold `point`."""
    return _metres(cx, cy, *point) <= half * 111_320 * 1.5 + radius_km * 1000 + 50


@settings(max_examples=15, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much])
@given(home_seed=st.integers(1, 10_000), elsewhere_seed=st.integers(1, 10_000),
       half=st.floats(1e-5, 2e-3), radius_km=st.sampled_from([0.0, 0.05, 0.3, 1.0]))
def test_a_polygon_around_a_private_home_answers_as_the_same_shape_elsewhere(
        client: TestClient, place: Place, world: World, home_seed: int, elsewhere_seed: int,
        half: float, radius_km: float) -> None:
    home = _point_in_commune(place.url, home_seed)
    elsewhere = _point_in_commune(place.url, elsewhere_seed)
    assume(_metres(*home, *elsewhere) > 2 * (half * 111_320 * 1.5 + radius_km * 1000))
    assume(not _reaches(*home, half, radius_km, place.centre))
    assume(not _reaches(*elsewhere, half, radius_km, place.centre))
    with household(place.url, *home):
        around_home = supply(client, *home, half, radius_km)
        assert around_home == supply(client, *elsewhere, half, radius_km)
        assert around_home["producers"]["counted"] == 0
        # shown at the commune's centre: the same shape there counts the household ...
        at_centre = supply(client, *place.centre, half, radius_km)
        assert at_centre["producers"]["counted"] == 1
        assert at_centre["producers"]["declared_t"] == {"vegetables": KG / 1000}
        # ... and whoever may see the home counts it there
        admin = supply(client, *home, half, radius_km, World.auth(world.admin))
        assert admin["producers"]["declared_t"] == {"vegetables": KG / 1000}


def test_commune_coverage_counts_a_household_in_the_commune_it_is_shown_in(place: Place) -> None:
    """A private household whose point lies in one commune but which is recorded in the next
    is shown at the next one's centre: an anonymous choropleth counts it there, not where it
    lives; an admin counts it where it is."""
    sc = gap.scenario()
    home = _point_in_commune(place.url, 7)
    with household(place.url, *home, commune=NEIGHBOUR), transaction(place.url) as session:
        def supplied(principal: Principal) -> dict[str, float]:
            rows = gap.commune_coverage(session, [COMMUNE, NEIGHBOUR], sc, principal)
            return {r["code"]: r["supply_producers_t"] for r in rows}

        assert supplied(ANONYMOUS) == {COMMUNE: 0.0, NEIGHBOUR: KG / 1000}
        assert supplied(Principal(role=ADMIN)) == {COMMUNE: KG / 1000, NEIGHBOUR: 0.0}


def test_the_page_map_and_the_supply_agree_on_where_a_household_is(place: Place) -> None:
    """The map layers draw the producers the supply counted, at the position shown: a
    catchment that holds the commune's centre draws the household there, one around its home
    does not draw it at all."""
    home = _point_in_commune(place.url, 11)
    assert _metres(*home, *place.centre) > 500
    with household(place.url, *home), transaction(place.url) as session:
        for (cx, cy), expected in ((home, []), (place.centre, [place.centre])):
            per = gap.polygon_perimeter(session, _square(cx, cy, 0.001)["geometry"],
                                        population=100, population_source="test")
            layers = gap.map_layers(session, per, 0.0)
            drawn = [(p["lon"], p["lat"]) for p in layers["producers"]]
            assert [(round(x, 6), round(y, 6)) for x, y in drawn] == \
                [(round(x, 6), round(y, 6)) for x, y in expected]
