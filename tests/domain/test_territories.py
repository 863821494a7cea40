"""Territories built from communes or from a polygon."""

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import territories
from carto.errors import Conflict, Invalid
from carto.territories import TerritorySpec


def test_built_from_communes_sums_population_and_unions_polygons(session: Session) -> None:
    codes = ["34108", "34301", "34157"]  # Frontignan, Sète, Mireval
    expected = session.scalar(text("SELECT sum(population) FROM commune WHERE code = ANY(:c)"),
                              {"c": codes})
    territory = territories.create_from_communes(
        session, TerritorySpec(slug="bassin-de-thau-test", name="Thau (test)"), codes)
    row = session.execute(text(
        """SELECT population, ST_IsValid(geom) AS valid, GeometryType(geom) AS type,
                  ST_NumGeometries(geom) AS parts,
                  abs(ST_Area(geom) - (SELECT sum(ST_Area(geom)) FROM commune
                                       WHERE code = ANY(:c))) AS area_gap
           FROM territory WHERE id = :id"""), {"id": territory.id, "c": codes}).mappings().one()
    assert row["population"] == expected > 40000
    assert row["valid"] and row["type"] == "MULTIPOLYGON"
    assert row["area_gap"] < 1e-6
    assert sorted(c.code for c in territory.communes) == sorted(codes)
    assert "INSEE" in (territory.population_source or "")


def test_built_from_a_polygon_finds_its_communes(session: Session) -> None:
    square = {"type": "Polygon", "coordinates": [[[3.86, 43.60], [3.87, 43.60], [3.87, 43.61],
                                                   [3.86, 43.61], [3.86, 43.60]]]}
    territory = territories.create_from_polygon(
        session, TerritorySpec(slug="carre-test", name="Carré", population=500,
                               population_source="comptage en atelier"), square)
    assert [c.code for c in territory.communes] == ["34172"]  # Montpellier
    assert territory.population == 500


def test_bad_input_names_the_field(session: Session) -> None:
    with pytest.raises(Invalid) as err:
        territories.create_from_communes(session, TerritorySpec(slug="x", name="X"), ["99999"])
    assert err.value.errors[0].field == "communes"
    bowtie = {"type": "Polygon", "coordinates": [[[3, 43], [4, 44], [4, 43], [3, 44], [3, 43]]]}
    with pytest.raises(Invalid) as err:
        territories.create_from_polygon(session, TerritorySpec(slug="y", name="Y"), bowtie)
    assert err.value.errors[0].field == "geometry"
    with pytest.raises(Invalid) as err:
        territories.create_from_communes(session, TerritorySpec(slug="Pas Bon", name="Z"),
                                         ["34108"])
    assert err.value.errors[0].field == "slug"
    with pytest.raises(Conflict):
        territories.create_from_communes(session, TerritorySpec(slug="frontignan", name="F"),
                                         ["34108"])
