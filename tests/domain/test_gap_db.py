"""The gap analysis against PostGIS: the hand-computed example, the catchment, visibility,
population rules, farmland selection, overrides, per-commune coverage and the query plans."""

import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import gap, resources, territories
from carto.errors import Conflict, Invalid, NotFound
from carto.gap import analysis, supply
from carto.territories import TerritorySpec
from carto.visibility import ANONYMOUS, EDITOR, Principal, resource_predicate, shown_in

SQUARE = {"type": "Polygon", "coordinates": [[[3.74, 43.44], [3.76, 43.44], [3.76, 43.46],
                                              [3.74, 43.46], [3.74, 43.44]]]}
SLUG = "gap-exemple"


def _producer(session: Session, name: str, lon: float, lat: float, **extra: Any) -> Any:
    data = {"name": name, "kind": "producer", "lon": lon, "lat": lat,
            "location_precision": "exact", "territories": [SLUG]} | extra
    return resources.create(session, data, "test", force=True)


@pytest.fixture
def example(session: Session) -> Session:
    """A square inside Frontignan with 10,000 inhabitants (hand-entered), two producers inside,
    one 2.4 km outside, and one inside that only members may see."""
    territories.create_from_polygon(session, TerritorySpec(
        slug=SLUG, name="Exemple", population=10_000, population_source="test"), SQUARE)
    _producer(session, "Maraîchère A", 3.75, 43.45, outputs=[
        {"food_group": "vegetables", "kg_per_year": 50_000, "year": 2024, "source": "test"}])
    _producer(session, "Ferme B", 3.752, 43.452,
              surfaces=[{"crop_group": "vegetables", "hectares": 2},
                        {"crop_group": "permanent_grassland", "hectares": 5}],
              outputs=[{"food_group": "eggs", "kg_per_year": 3_000}])
    _producer(session, "Verger C (dehors)", 3.79, 43.45,
              outputs=[{"food_group": "fruits", "kg_per_year": 10_000}])
    _producer(session, "Jardin D (membres)", 3.748, 43.448, visibility="members",
              outputs=[{"food_group": "vegetables", "kg_per_year": 20_000}])
    return session


def _analyse(session: Session, sc: gap.Scenario | None = None,
             principal: Principal = ANONYMOUS) -> dict[str, Any]:
    per = gap.territory_perimeter(session, SLUG)
    body = gap.as_dict(gap.analyse(session, per, sc or gap.scenario(), principal))
    body["by_group"] = {g["group"]: g for g in body["groups"]}
    return body


def test_hand_computed_example_to_the_kilogram_and_hectare(example: Session) -> None:
    """10,000 people, current diet, current practice, 100 % relocalised, radius 0.

    vegetables: demand 10,000 × 97.3 kg = 973,000 kg = 973.000 t; land 973 / 28 = 34.75 ha.
      producers: A declares 50,000 kg; B declares no vegetables, so its 2 ha × 28 t/ha = 56 t
      count: 106.000 t; coverage 106 / 973 = 0.1089; shortfall 867.000 t; land to close
      867 / 28 = 30.96 ha.
    eggs: demand 10,000 × 13.1 kg = 131.000 t; land 131 / 1.80 = 72.78 ha; B declares 3,000 kg
      of eggs, so its 5 ha of grassland (livestock land) are not counted again: supply 3.000 t,
      shortfall 128.000 t, land to close 128 / 1.80 = 71.11 ha.
    fruits: 460 t temperate (41.82 ha at 11 t/ha) + 15 t nuts (15 ha at 1 t/ha) = 475.000 t,
      56.82 ha; C is outside (radius 0) and D is members-only: neither counts publicly.
    """
    body = _analyse(example)
    assert body["population"] == 10_000 and body["population_source"] == "test"
    veg, eggs, fruits = (body["by_group"][g] for g in ("vegetables", "eggs", "fruits"))
    assert veg["demand_t"] == 973.0 and veg["land_needed_ha"] == 34.75
    assert veg["supply_producers_t"] == 106.0 and veg["coverage"] == 0.1089
    assert veg["shortfall_t"] == 867.0 and veg["land_to_close_ha"] == 30.96
    assert eggs["demand_t"] == 131.0 and eggs["land_needed_ha"] == 72.78
    assert eggs["supply_producers_t"] == 3.0 and eggs["shortfall_t"] == 128.0
    assert eggs["land_to_close_ha"] == 71.11
    assert fruits["demand_t"] == 475.0 and fruits["land_needed_ha"] == 56.82
    assert fruits["supply_producers_t"] == 0.0
    assert body["by_group"]["meat"]["supply_producers_t"] == 0.0  # B's grassland: not twice
    assert body["producers"]["counted"] == 2
    assert body["totals"]["land_needed_ha"] == pytest.approx(3313.17, abs=0.01)
    assert body["farmland"]["scope"] == "none"  # the square holds < 50 % of Frontignan
    assert body["overridden"] == [] and body["caveat"]
    assert {"parameter", "product", "value", "source", "year", "mark"} <= set(body["sources"][0])


def test_radius_zero_counts_only_producers_inside(example: Session) -> None:
    inside = _analyse(example, gap.scenario(radius_km=0))
    assert inside["by_group"]["fruits"]["supply_producers_t"] == 0
    assert inside["producers"]["counted"] == 2
    near = _analyse(example, gap.scenario(radius_km=2))  # C is ≈ 2.4 km east of the square
    assert near["producers"]["counted"] == 2
    wider = _analyse(example, gap.scenario(radius_km=5))
    assert wider["by_group"]["fruits"]["supply_producers_t"] == 10.0
    assert wider["by_group"]["vegetables"]["supply_producers_t"] == 106.0
    assert wider["producers"]["counted"] >= 3


def test_members_only_producers_count_for_their_editors_only(example: Session) -> None:
    tid = territories.get(example, SLUG).id
    editor = Principal(role=EDITOR, territory_id=tid, actor="editor")
    public = _analyse(example)
    private = _analyse(example, principal=editor)
    assert public["by_group"]["vegetables"]["supply_producers_t"] == 106.0
    assert private["by_group"]["vegetables"]["supply_producers_t"] == 126.0
    other = Principal(role=EDITOR, territory_id=tid + 10_000, actor="elsewhere")
    assert _analyse(example, principal=other)["by_group"]["vegetables"][
        "supply_producers_t"] == 106.0


def test_deleted_closed_and_non_producers_do_not_count(example: Session) -> None:
    example.execute(text("UPDATE resource SET status = 'closed' WHERE name = 'Maraîchère A'"))
    assert _analyse(example)["by_group"]["vegetables"]["supply_producers_t"] == 56.0
    example.execute(text("UPDATE resource SET kind = 'shop' WHERE name = 'Ferme B'"))
    assert _analyse(example)["by_group"]["vegetables"]["supply_producers_t"] == 0.0


def test_adding_a_producer_in_the_database_never_increases_a_shortfall(example: Session) -> None:
    before = _analyse(example)
    _producer(example, "Nouvelle ferme", 3.745, 43.455, outputs=[
        {"food_group": "meat", "kg_per_year": 4_000}, {"food_group": "vegetables",
                                                       "kg_per_year": 1_000}])
    after = _analyse(example)
    for g in gap.IN_SCOPE:
        assert after["by_group"][g]["shortfall_t"] <= before["by_group"][g]["shortfall_t"]
    assert after["by_group"]["meat"]["shortfall_t"] == pytest.approx(
        before["by_group"]["meat"]["shortfall_t"] - 4.0)


def test_population_rules(session: Session) -> None:
    frontignan = gap.territory_perimeter(session, "frontignan")
    expected = session.scalar(text("SELECT population FROM commune WHERE code = '34108'"))
    assert frontignan.population == expected and "INSEE" in (frontignan.population_source or "")
    celleneuve = gap.territory_perimeter(session, "montpellier-celleneuve")
    assert celleneuve.population == 1420 and "QP034004" in (celleneuve.population_source or "")
    assert celleneuve.farmland_communes == []  # a neighbourhood is not Montpellier's farmland
    with pytest.raises(Conflict) as err:
        gap.territory_perimeter(session, "montpellier-centre")
    assert err.value.errors[0].field == "population"
    assert "population" in err.value.detail and "source" in err.value.detail
    with pytest.raises(NotFound):
        gap.territory_perimeter(session, "atlantis")
    haut_allier = gap.territory_perimeter(session, "haut-allier")
    assert len(haut_allier.communes) == 10 == len(haut_allier.farmland_communes)


def test_custom_perimeters(session: Session) -> None:
    codes = ["34108", "34301"]
    per = gap.communes_perimeter(session, codes)
    expected = session.scalar(text("SELECT sum(population) FROM commune WHERE code = ANY(:c)"),
                              {"c": codes})
    assert per.population == expected and per.farmland_communes == codes
    with pytest.raises(Invalid) as err:
        gap.communes_perimeter(session, ["34108", "99999"])
    assert err.value.errors[0].field == "communes"
    drawn = gap.polygon_perimeter(session, SQUARE)
    assert drawn.population and drawn.population < expected  # areal estimate, said so
    assert "prorata" in (drawn.population_source or "")
    given = gap.polygon_perimeter(session, SQUARE, population=1234, population_source="comptage")
    assert given.population == 1234
    with pytest.raises(Invalid) as err:
        gap.polygon_perimeter(session, SQUARE, population=1234)
    assert err.value.errors[0].field == "population_source"
    sea = {"type": "Polygon", "coordinates": [[[4.0, 42.5], [4.1, 42.5], [4.1, 42.6],
                                               [4.0, 42.6], [4.0, 42.5]]]}
    with pytest.raises(Conflict):
        gap.polygon_perimeter(session, sea)


def test_farmland_latest_year_per_commune_and_territory_rows_first(session: Session) -> None:
    session.execute(text("""
        INSERT INTO farmland (commune_code, crop_group, hectares, year, source) VALUES
        ('34108', 'vegetables', 10, 2020, 'ancien'), ('34108', 'vegetables', 12, 2023, 'RPG'),
        ('34108', 'vines', 900, 2023, 'RPG'), ('34108', 'summer_pasture', 50, 2023, 'RPG'),
        ('34108', 'permanent_grassland', 30, 2023, 'RPG')"""))
    per = gap.territory_perimeter(session, "frontignan")
    land = gap.farmland(session, per)
    assert land.ha_by_crop == {"vegetables": 12, "vines": 900, "summer_pasture": 50,
                               "permanent_grassland": 30}
    assert land.scope == "communes" and land.sources[0]["source"] == "RPG"
    body = gap.as_dict(gap.analyse(session, per, gap.scenario()))
    assert body["totals"]["farmland_ha"] == 42.0  # vegetables + grassland
    assert body["totals"]["vines_ha"] == 900 and body["totals"]["low_productivity_ha"] == 50
    tid = territories.get(session, "frontignan").id
    session.execute(text("""INSERT INTO farmland (territory_id, crop_group, hectares, year, source)
                            VALUES (:t, 'orchards', 7, 2024, 'saisie')"""), {"t": tid})
    own = gap.farmland(session, per)
    assert own.scope == "territory" and own.ha_by_crop == {"orchards": 7}


def test_overrides_by_scope(session: Session) -> None:
    tid = territories.get(session, "frontignan").id
    gap.set_override(session, "yield_t_ha", "vegetables", 20, "Chambre d'agriculture 34",
                     "test", 2023, department="34")
    per = gap.territory_perimeter(session, "frontignan")
    body = gap.as_dict(gap.analyse(session, per, gap.scenario()))
    veg = next(g for g in body["groups"] if g["group"] == "vegetables")
    assert veg["land_needed_ha"] == round(veg["demand_t"] / 20, 2)
    assert body["overridden"][0]["override"] == "département 34"
    assert body["overridden"][0]["default"] == 28.0
    gap.set_override(session, "yield_t_ha", "vegetables", 25, "Enquête locale", "test",
                     territory_id=tid)
    body = gap.as_dict(gap.analyse(session, per, gap.scenario()))
    assert [o["value"] for o in body["overridden"]] == [25.0]
    vauvert = gap.as_dict(gap.analyse(session, gap.territory_perimeter(session, "vauvert"),
                                      gap.scenario()))
    assert vauvert["overridden"] == []  # Gard: neither override applies
    with pytest.raises(Invalid) as err:
        gap.set_override(session, "yield_t_ha", "bananas", 20, "x", "test")
    assert err.value.errors[0].field == "product"
    with pytest.raises(Invalid) as err:
        gap.set_override(session, "yield_t_ha", "vegetables", 20, " ", "test")
    assert err.value.errors[0].field == "source"


def test_commune_coverage(example: Session) -> None:
    codes = gap.department_communes(example, ["34"])
    rows = {r["code"]: r for r in gap.commune_coverage(example, codes, gap.scenario())}
    assert len(rows) == len(codes) > 300
    frontignan = rows["34108"]
    assert frontignan["supply_producers_t"] == pytest.approx(50 + 56 + 3 + 10)  # A, B, C
    assert 0 < frontignan["coverage_capped"] < 0.01
    # no producer of Montpellier declares anything: unknown (null), not a measured 0 % (issue 12)
    assert rows["34172"]["coverage_capped"] is None
    assert rows["34172"]["known"] == {"producers": False, "farmland": False}


def test_catchment_query_uses_the_spatial_index(example: Session) -> None:
    """The producers of a catchment are found through a spatial index: resource_geom_gist,
    or resource_kind_geom_gist (migration 0012) with the kind as an index condition. 5,000
    producers are spread over Hérault and the table analysed (in this rolled-back transaction),
    so the planner sees a realistic table rather than the demo's hundred rows."""
    example.execute(text("""
        INSERT INTO resource (id, name, kind, geom, location_precision, created_by, updated_by)
        SELECT gen_random_uuid(), 'Plan ' || g, 'producer',
               ST_SetSRID(ST_MakePoint(2.6 + random() * 1.6, 43.2 + random() * 0.8), 4326),
               'exact', 'test', 'test'
        FROM generate_series(1, 5000) g"""))
    example.execute(text("ANALYZE resource"))
    per = gap.territory_perimeter(example, SLUG)
    producers, params = supply._producers_cte(ANONYMOUS)
    sql = f"EXPLAIN WITH {producers} SELECT count(*) FROM p"
    params |= {"catchment": gap.catchment(example, per, 30)}
    plan = "\n".join(example.scalars(text(sql), params))
    assert re.search(r"\bresource_(kind_)?geom_gist\b", plan), plan


def test_commune_coverage_plans_the_communes_with_their_statistics(example: Session) -> None:
    """The communes of a coverage are not hidden behind a materialised CTE: the planner reads
    their statistics to expect how many producers they hold (33 expected for 27,616 found in
    bench/gap.py, and every output and surface probed by index, when they were)."""
    coefs = gap.coefficients_in_force(example)
    visible, vparams = resource_predicate(ANONYMOUS, "r")
    sql = analysis.COMMUNE_SUPPLY_SQL.format(
        visible=visible, inside=shown_in(ANONYMOUS, "c.geom"),
        latest=supply.LATEST_FARMLAND.format(where="f.commune_code = ANY(:codes)"))
    params = vparams | supply._crop_params(coefs) | {
        "codes": gap.department_communes(example, ["34"]),
        "kinds": list(supply.PRODUCING_KINDS)}
    plan = "\n".join(example.scalars(text("EXPLAIN " + sql), params))
    assert "CTE Scan on c " not in plan, plan
