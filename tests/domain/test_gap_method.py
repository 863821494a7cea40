"""The gap analysis's pure functions: the national check against PARCEL, properties, scenarios,
land ratios and the checks on user input. No database here."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carto import gap
from carto.errors import Conflict, Invalid
from carto.gap import method

COEFS = gap.load_coefficients()
CURRENT = gap.scenario()


def _group(result: gap.Gap, code: str) -> gap.GroupResult:
    return next(r for r in result.groups if r.group == code)


def test_national_land_per_person_is_within_20_percent_of_parcel() -> None:
    """64.5 million people, no producers, current diet, current practice, 100 % relocalised:
    the land needed per person is compared with PARCEL's national result (20,891 kha / 64.5 M
    ≈ 3,240 m², gap-analysis.md, data/reference/parameters.csv).

    We find about 3,313 m² (+2 %). Where the difference comes from:
    - livestock (≈ 2,825 m²) is calibrated on PARCEL's 2,823 m²: the yields of milk, eggs and
      meat are relative intensities [R] scaled so that their national sum is PARCEL's, so this
      part agrees by construction (the +2 m² are rounding of the published yields);
    - crops (≈ 488 m²) exceed PARCEL's 417 m² (vegetables 34 + fruits 42 + cereals and other
      crops 341): our oils (160 m², rapeseed at ≈ 1.2 t of oil/ha for all 19.2 kg, where PARCEL
      splits rapeseed and sunflower), a nuts placeholder [R] (15 m²) and FAOSTAT 2017 cereals
      (127.2 kg, grain equivalent) instead of PARCEL's 61-product list; vegetables (34.8 m²)
      and temperate fruits (41.8 m²) match PARCEL since their yields are derived from it;
    - newer PARCEL versions quote about 4,000 m² and ADEME 2020 4,300 m² (imports included):
      our figure sits with the 2019 method note it was calibrated on.
    """
    population = COEFS.references["national_population"].value
    parcel = COEFS.references["parcel_land_per_person_current"].value
    result = gap.compute(population, COEFS, CURRENT)
    m2 = result.totals.land_needed_m2_per_person
    assert abs(m2 - parcel) / parcel < 0.20, m2
    assert 3200 < m2 < 3400  # what the docstring explains
    livestock = sum(_group(result, g).land_needed_ha for g in gap.LIVESTOCK) * 10_000 / population
    assert livestock == pytest.approx(2823, rel=0.005)
    assert _group(result, "vegetables").land_needed_ha * 10_000 / population \
        == pytest.approx(34, rel=0.05)
    assert result.totals.supply_producers_t == 0 and result.totals.farmland_ha == 0


def test_organic_scenarios_against_parcel_are_documented_not_tuned() -> None:
    """Only the current scenario is a calibration target; the organic ones are reported in
    docs/gap-analysis.md as they come (+13 % for 100 % organic, +23 % and +27 % with the diet
    variants: our pulses and nuts, multiplied by 10–30, rest on placeholders [R])."""
    population = COEFS.references["national_population"].value
    for diet, key, bound in (("current", "parcel_land_per_person_organic", 0.20),
                             ("animal-25", "parcel_land_per_person_organic_animal-25", 0.30),
                             ("animal-50", "parcel_land_per_person_organic_animal-50", 0.35)):
        sc = gap.scenario(diet=diet, organic_share=1)
        m2 = gap.compute(population, COEFS, sc).totals.land_needed_m2_per_person
        parcel = COEFS.references[key].value
        assert abs(m2 - parcel) / parcel < bound, (diet, m2, parcel)


populations = st.floats(min_value=1, max_value=1e7, allow_nan=False)
scenarios = st.builds(
    gap.Scenario, radius_km=st.just(0.0), diet=st.sampled_from(COEFS.diet_codes),
    organic_share=st.floats(0, 1), relocalised_share=st.floats(0.01, 1),
    waste_reduction=st.floats(0, 1))
tonnes = st.dictionaries(st.sampled_from(gap.IN_SCOPE), st.floats(0, 1e5), max_size=5)
hectares = st.dictionaries(st.sampled_from(sorted(COEFS.crop_uses)), st.floats(0, 1e4),
                           max_size=6)


@settings(max_examples=60, deadline=None)
@given(populations, scenarios, tonnes, hectares)
def test_doubling_population_doubles_demand_and_land(population: float, sc: gap.Scenario,
                                                     declared: dict[str, float],
                                                     farmland: dict[str, float]) -> None:
    one = gap.compute(population, COEFS, sc, declared, None, farmland)
    two = gap.compute(2 * population, COEFS, sc, declared, None, farmland)
    for a, b in zip(one.groups, two.groups, strict=True):
        assert b.demand_t == pytest.approx(2 * a.demand_t, rel=1e-9)
        assert b.land_needed_ha == pytest.approx(2 * a.land_needed_ha, rel=1e-9)
    assert two.totals.land_needed_m2_per_person == pytest.approx(
        one.totals.land_needed_m2_per_person, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(populations, scenarios, tonnes, hectares, hectares)
def test_one_basis_for_many_communes_gives_the_same_numbers_to_the_last_bit(
        population: float, sc: gap.Scenario, declared: dict[str, float],
        surfaces: dict[str, float], farmland: dict[str, float]) -> None:
    """commune_coverage works out the scenario's basis once for 1,100 communes: each commune's
    gap is exactly the one its own analysis gives."""
    base = method.basis(COEFS, sc)
    assert gap.compute(population, COEFS, sc, declared, surfaces, farmland, base) == \
        gap.compute(population, COEFS, sc, declared, surfaces, farmland)


@settings(max_examples=60, deadline=None)
@given(populations, scenarios, tonnes, hectares, tonnes, hectares)
def test_adding_a_producer_never_increases_a_shortfall(
        population: float, sc: gap.Scenario, declared: dict[str, float],
        surfaces: dict[str, float], more_declared: dict[str, float],
        more_surfaces: dict[str, float]) -> None:
    before = gap.compute(population, COEFS, sc, declared, surfaces)
    merged_t = {g: declared.get(g, 0) + more_declared.get(g, 0)
                for g in {*declared, *more_declared}}
    merged_ha = {c: surfaces.get(c, 0) + more_surfaces.get(c, 0)
                 for c in {*surfaces, *more_surfaces}}
    after = gap.compute(population, COEFS, sc, merged_t, merged_ha)
    for a, b in zip(before.groups, after.groups, strict=True):
        assert b.shortfall_t <= a.shortfall_t + 1e-9
        assert b.land_to_close_ha <= a.land_to_close_ha + 1e-9
        assert b.supply_producers_t >= a.supply_producers_t - 1e-9


def test_less_animal_products_lowers_meat_land_and_raises_pulses_land() -> None:
    current = gap.compute(10_000, COEFS, CURRENT)
    for diet in ("animal-25", "animal-50"):
        variant = gap.compute(10_000, COEFS, gap.scenario(diet=diet))
        assert _group(variant, "meat").land_needed_ha < _group(current, "meat").land_needed_ha
        assert _group(variant, "pulses").land_needed_ha > _group(current, "pulses").land_needed_ha
        assert _group(variant, "vegetables").demand_t > _group(current, "vegetables").demand_t
        assert variant.totals.land_needed_ha < current.totals.land_needed_ha
    half = gap.compute(10_000, COEFS, gap.scenario(diet="animal-50"))
    # −50 %: ruminant meat × 0.2 and other meat × 0.5 (PARCEL Table 3), pulses × 30
    assert _group(half, "meat").demand_t == pytest.approx(10 * (27.1 * 0.2 + 59.7 * 0.5))
    assert _group(half, "pulses").demand_t == pytest.approx(10 * 1.9 * 30)


def test_levers_organic_relocalisation_and_waste() -> None:
    base = gap.compute(1000, COEFS, CURRENT)
    organic = gap.compute(1000, COEFS, gap.scenario(organic_share=1))
    veg, veg_bio = _group(base, "vegetables"), _group(organic, "vegetables")
    assert veg_bio.demand_t == veg.demand_t
    assert veg_bio.land_needed_ha == pytest.approx(veg.land_needed_ha / 0.77)
    half_bio = gap.effective_yield(COEFS, "vegetables", 0.5)
    assert half_bio == pytest.approx(28 / (0.5 + 0.5 / 0.77))
    relocalised = gap.compute(1000, COEFS, gap.scenario(relocalised_share=0.25))
    assert relocalised.totals.demand_t == pytest.approx(base.totals.demand_t * 0.25)
    no_waste = gap.compute(1000, COEFS, gap.scenario(waste_reduction=1))
    assert no_waste.totals.land_needed_ha == pytest.approx(base.totals.land_needed_ha * 0.82)
    nothing = gap.compute(1000, COEFS, gap.scenario(relocalised_share=0))
    assert all(r.coverage is None and r.shortfall_t == 0 for r in nothing.groups)
    assert nothing.totals.land_ratio_gross is None


def test_farmland_land_ratios_gross_and_capped() -> None:
    """Hand-computed: 1,000 people; 10 ha of vegetables (need 3.475 ha) and nothing else.
    gross = 10 / 331.317 ; capped = 3.475 / 331.317 (the surplus covers nothing else)."""
    result = gap.compute(1000, COEFS, CURRENT, farmland_ha={"vegetables": 10, "vines": 50,
                                                            "summer_pasture": 40, "fallow": 5,
                                                            "other": 2})
    total_need = result.totals.land_needed_ha
    assert total_need == pytest.approx(331.317, abs=0.001)
    assert result.totals.farmland_ha == 10
    assert result.totals.land_ratio_gross == pytest.approx(10 / total_need)
    assert result.totals.land_ratio_capped == pytest.approx(97.3 / 28 / total_need)
    assert (result.totals.vines_ha, result.totals.excluded_ha, result.totals.other_ha) == (50, 45, 2)
    veg = _group(result, "vegetables")
    assert veg.supply_farmland_t == pytest.approx(280) and veg.coverage_farmland \
        == pytest.approx(280 / 97.3)
    # grassland feeds milk, eggs and meat in proportion to the land each needs
    grass = gap.compute(1000, COEFS, CURRENT, farmland_ha={"permanent_grassland": 100})
    livestock = [_group(grass, g) for g in gap.LIVESTOCK]
    assert sum(r.farmland_ha for r in livestock) == pytest.approx(100)
    ratios = {r.farmland_ha / r.land_needed_ha for r in livestock}
    assert max(ratios) - min(ratios) < 1e-9


def test_pure_helpers() -> None:
    assert gap.coverage(5, 0) is None and gap.coverage(5, 10) == 0.5
    assert gap.shortfall(10, 12) == 0 and gap.shortfall(10, 4) == 6
    assert gap.land_to_close(6, 10, 2) == pytest.approx(1.2)
    assert gap.land_ratios({"a": 5, "b": 0}, {"a": 2, "b": 2}) == (1.25, 0.5)
    assert gap.capped_coverage({"a": 5}, {"a": 2, "b": 2}, {"a": 1, "b": 3}) == 0.25


def test_no_population_is_a_conflict_not_a_division_by_zero() -> None:
    with pytest.raises(Conflict):
        gap.compute(0, COEFS, CURRENT)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"radius_km": -1}, "radius_km"), ({"radius_km": 1000}, "radius_km"),
    ({"radius_km": math.nan}, "radius_km"), ({"radius_km": "loin"}, "radius_km"),
    ({"organic_share": 1.5}, "organic_share"), ({"relocalised_share": -0.1}, "relocalised_share"),
    ({"waste_reduction": 2}, "waste_reduction"), ({"diet": "paleo"}, "diet"),
])
def test_bad_scenarios_name_the_parameter(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(Invalid) as err:
        gap.scenario(**kwargs)  # type: ignore[arg-type]
    assert err.value.errors[0].field == field


def test_every_coefficient_has_a_source_and_a_mark() -> None:
    rows = [*COEFS.consumption.values(), *COEFS.yields.values(), *COEFS.organic.values(),
            *(c for d in COEFS.diets.values() for c in d.values()), COEFS.waste_share]
    for c in rows:
        assert c.source.strip() and c.mark in ("V", "D", "R"), c
        assert c.value >= 0
    used = COEFS.used("animal-50")
    assert any(c.parameter == "diet_index:animal-50" for c in used)


def test_overrides_replace_values_and_say_so() -> None:
    override = gap.Override(1, "yield_t_ha", "vegetables", 20.0, "Chambre d'agriculture 34",
                            2023, None, None, "34", "admin")
    local = gap.Override(2, "yield_t_ha", "vegetables", 22.0, "Enquête locale", 2024, 7,
                         "exemple", None, "editor")
    coefs = COEFS.with_overrides([local, override])
    assert coefs.yields["vegetables"].value == 22.0  # the territory's wins over the department's
    assert coefs.yields["vegetables"].default == 28.0
    assert coefs.yields["vegetables"].override == "territoire exemple"
    assert [c.product for c in coefs.overridden()] == ["vegetables"]
    result = gap.compute(1000, coefs, CURRENT)
    assert _group(result, "vegetables").land_needed_ha == pytest.approx(97.3 / 22)
    assert COEFS.yields["vegetables"].value == 28.0  # the cached reference is untouched
