"""The method as pure functions (no database): demand, land needed, supply from producers and from
farmland, coverage, shortfall, land to close it, the CRATer-style land ratios. They take plain
numbers and the coefficients, so they are tested with hand-computed examples and properties, and
reused for 1,100 communes at once (docs/gap-analysis.md gives the formulas)."""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from carto.errors import Conflict, FieldError
from carto.gap.coefficients import IN_SCOPE, LIVESTOCK, OUT_OF_SCOPE, Coefficients
from carto.gap.scenarios import Scenario
from carto.i18n import msg


def per_capita_kg(coefs: Coefficients, sc: Scenario) -> dict[str, float]:
    """kg/person/year per product in the scenario: current consumption × diet index × (1 − the
    share of waste avoided). Fish stays in (reported out of scope)."""
    index = coefs.diets.get(sc.diet, {})
    kept = 1 - coefs.waste_share.value * sc.waste_reduction
    return {p: c.value * (index[p].value / 100 if p in index else 1.0) * kept
            for p, c in coefs.consumption.items()}


def effective_yield(coefs: Coefficients, product: str, organic_share: float) -> float:
    """t/ha when `organic_share` of the land is farmed organically: the harmonic mix of the two
    yields (PARCEL: surface_organic = surface_conventional / ratio)."""
    conventional = coefs.yields[product].value
    ratio = coefs.organic[product].value if product in coefs.organic else 1.0
    return conventional / ((1 - organic_share) + organic_share / ratio)


def demand_t(population: float, coefs: Coefficients, sc: Scenario,
             per_capita: Mapping[str, float] | None = None) -> dict[str, float]:
    """t/year per product that the scenario asks local land to supply (`per_capita`: its
    `per_capita_kg`, if known)."""
    if per_capita is None:
        per_capita = per_capita_kg(coefs, sc)
    return {p: population * kg / 1000 * sc.relocalised_share for p, kg in per_capita.items()}


def land_needed_ha(demand: Mapping[str, float], coefs: Coefficients, sc: Scenario,
                   yields: Mapping[str, float] | None = None) -> dict[str, float]:
    """ha per product to grow `demand` (out-of-scope products need none; `yields`: the
    effective ones, if known)."""
    if yields is None:
        yields = {p: effective_yield(coefs, p, sc.organic_share) for p in coefs.yields}
    return {p: t / yields[p] for p, t in demand.items() if p in yields}


def livestock_products(coefs: Coefficients) -> list[str]:
    return [p for p, g in coefs.product_group.items() if g in LIVESTOCK and p in coefs.yields]


def livestock_weights(land: Mapping[str, float], coefs: Coefficients,
                      products: list[str] | None = None) -> dict[str, float]:
    """How a hectare of grassland or fodder is shared between milk, eggs and meat: in proportion
    to the land each needs here (the current national diet when nothing is needed)."""
    if products is None:
        products = livestock_products(coefs)
    weights = {p: land.get(p, 0.0) for p in products}
    if sum(weights.values()) <= 0:
        weights = {p: coefs.consumption[p].value / coefs.yields[p].value for p in products
                   if p in coefs.consumption}
    total = sum(weights.values())
    return {p: w / total for p, w in weights.items()}


@dataclass(frozen=True)
class Basis:
    """What `compute` needs that depends on the coefficients and the scenario only, not on the
    perimeter: worked out once for 1,100 communes (`commune_coverage`), with the same
    arithmetic as per perimeter, so both give the same numbers to the last bit."""

    per_capita_kg: dict[str, float]
    yields: dict[str, float]  # effective t/ha per product in the scenario's organic share
    livestock: list[str]


def basis(coefs: Coefficients, sc: Scenario) -> Basis:
    return Basis(per_capita_kg(coefs, sc),
                 {p: effective_yield(coefs, p, sc.organic_share) for p in coefs.yields},
                 livestock_products(coefs))


@dataclass
class Allocation:
    """Surfaces (ha) per product, plus what no food need can use."""

    by_product: dict[str, float] = field(default_factory=dict)
    vines_ha: float = 0.0
    excluded_ha: float = 0.0
    other_ha: float = 0.0


def allocate(ha_by_crop: Mapping[str, float], coefs: Coefficients,
             weights: Mapping[str, float]) -> Allocation:
    """Crop-group surfaces → products (crop_uses.csv); grassland and fodder spread over the
    livestock products by `weights`; vines, low-productivity and other land set apart."""
    out = Allocation()
    for crop, ha in ha_by_crop.items():
        use = coefs.crop_uses.get(crop)
        if use is None or use.use == "other":
            out.other_ha += ha
        elif use.use == "vines":
            out.vines_ha += ha
        elif use.use == "excluded":
            out.excluded_ha += ha
        elif use.use == "livestock":
            for p, w in weights.items():
                out.by_product[p] = out.by_product.get(p, 0.0) + ha * w
        else:
            assert use.product is not None
            out.by_product[use.product] = out.by_product.get(use.product, 0.0) + ha
    return out


def tonnage(ha_by_product: Mapping[str, float], coefs: Coefficients, sc: Scenario,
            yields: Mapping[str, float] | None = None) -> dict[str, float]:
    """t/year that surfaces yield in the scenario (`yields`: the effective ones, if known)."""
    if yields is not None:
        return {p: ha * yields[p] for p, ha in ha_by_product.items()}
    return {p: ha * effective_yield(coefs, p, sc.organic_share) for p, ha in ha_by_product.items()}


def by_group(values: Mapping[str, float], coefs: Coefficients) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for p, v in values.items():
        out[coefs.product_group[p]] += v
    return dict(out)


def coverage(supply: float, demand: float) -> float | None:
    """supply / demand as a fraction (1.0 = 100 %); None when nothing is demanded."""
    return supply / demand if demand > 0 else None


def shortfall(demand: float, supply: float) -> float:
    return max(0.0, demand - supply)


def land_to_close(shortfall_t: float, demand: float, land: float) -> float:
    """ha to add to grow the shortfall, at the group's mean yield in the scenario (land / demand)."""
    return shortfall_t * land / demand if demand > 0 else 0.0


def land_ratios(farmland: Mapping[str, float], needed: Mapping[str, float]
                ) -> tuple[float | None, float | None]:
    """CRATer's ratios: gross Σ S_g / Σ B_g, and capped-weighted Σ min(S_g, B_g) / Σ B_g (a
    surplus of one group does not cover a deficit of another)."""
    total = sum(needed.values())
    if total <= 0:
        return None, None
    gross = sum(farmland.get(g, 0.0) for g in needed) / total
    capped = sum(min(farmland.get(g, 0.0), b) for g, b in needed.items()) / total
    return gross, capped


def capped_coverage(supply: Mapping[str, float], demand: Mapping[str, float],
                    land: Mapping[str, float]) -> float | None:
    """One figure per perimeter (choropleths): Σ_g min(1, supply_g/demand_g) · B_g / Σ B_g."""
    total = sum(land.get(g, 0.0) for g in demand)
    if total <= 0:
        return None
    return sum(min(1.0, supply.get(g, 0.0) / d) * land.get(g, 0.0)
               for g, d in demand.items() if d > 0) / total


@dataclass(frozen=True)
class GroupResult:
    group: str
    demand_t: float
    land_needed_ha: float
    supply_producers_t: float
    supply_farmland_t: float
    farmland_ha: float
    coverage: float | None
    coverage_farmland: float | None
    shortfall_t: float
    land_to_close_ha: float


@dataclass(frozen=True)
class Totals:
    demand_t: float
    land_needed_ha: float
    land_needed_m2_per_person: float
    farmland_ha: float
    land_ratio_gross: float | None
    land_ratio_capped: float | None
    supply_producers_t: float
    coverage_capped: float | None
    shortfall_t: float
    land_to_close_ha: float
    vines_ha: float
    excluded_ha: float
    other_ha: float


@dataclass(frozen=True)
class Gap:
    population: float
    scenario: Scenario
    groups: list[GroupResult]
    totals: Totals
    out_of_scope: dict[str, dict[str, float | None]]


def compute(population: float, coefs: Coefficients, sc: Scenario,
            declared_t: Mapping[str, float] | None = None,
            producer_ha: Mapping[str, float] | None = None,
            farmland_ha: Mapping[str, float] | None = None, base: Basis | None = None) -> Gap:
    """The whole analysis from plain numbers.

    declared_t: producers' declared output (t/year) per food group; producer_ha: producers'
    surfaces (ha) per crop group for the groups they declared no output of; farmland_ha: the
    perimeter's farmland (ha) per crop group, None when none was imported (ratios unknown);
    base: `basis(coefs, sc)`, when many perimeters share them.
    """
    if not population > 0:
        raise Conflict(msg("error.gap.population_zero"),
                       [FieldError("population", msg("error.gap.population_field"))])
    declared_t = declared_t or {}
    fixed = base or basis(coefs, sc)
    demand = demand_t(population, coefs, sc, fixed.per_capita_kg)
    land = land_needed_ha(demand, coefs, sc, fixed.yields)
    weights = livestock_weights(land, coefs, fixed.livestock)
    producers = allocate(producer_ha or {}, coefs, weights)
    farm = allocate(farmland_ha or {}, coefs, weights)
    demand_g = by_group({p: t for p, t in demand.items() if p in coefs.yields}, coefs)
    land_g = by_group(land, coefs)
    estimated_g = by_group(tonnage(producers.by_product, coefs, sc, fixed.yields), coefs)
    farm_t_g = by_group(tonnage(farm.by_product, coefs, sc, fixed.yields), coefs)
    farm_ha_g = by_group(farm.by_product, coefs)
    groups = []
    for g in IN_SCOPE:
        d, b = demand_g.get(g, 0.0), land_g.get(g, 0.0)
        supply = declared_t.get(g, 0.0) + estimated_g.get(g, 0.0)
        short = shortfall(d, supply)
        groups.append(GroupResult(
            group=g, demand_t=d, land_needed_ha=b, supply_producers_t=supply,
            supply_farmland_t=farm_t_g.get(g, 0.0), farmland_ha=farm_ha_g.get(g, 0.0),
            coverage=coverage(supply, d), coverage_farmland=coverage(farm_t_g.get(g, 0.0), d),
            shortfall_t=short, land_to_close_ha=land_to_close(short, d, b)))
    gross, capped = land_ratios({r.group: r.farmland_ha for r in groups},
                                {r.group: r.land_needed_ha for r in groups})
    if farmland_ha is None:  # no farmland data at all: the ratios are unknown, not zero
        gross = capped = None
    total_land = sum(r.land_needed_ha for r in groups)
    totals = Totals(
        demand_t=sum(r.demand_t for r in groups), land_needed_ha=total_land,
        land_needed_m2_per_person=total_land * 10_000 / population,
        farmland_ha=sum(r.farmland_ha for r in groups), land_ratio_gross=gross,
        land_ratio_capped=capped, supply_producers_t=sum(r.supply_producers_t for r in groups),
        coverage_capped=capped_coverage({r.group: r.supply_producers_t for r in groups},
                                        {r.group: r.demand_t for r in groups},
                                        {r.group: r.land_needed_ha for r in groups}),
        shortfall_t=sum(r.shortfall_t for r in groups),
        land_to_close_ha=sum(r.land_to_close_ha for r in groups),
        vines_ha=farm.vines_ha, excluded_ha=farm.excluded_ha, other_ha=farm.other_ha)
    out: dict[str, dict[str, float | None]] = {}
    for g in OUT_OF_SCOPE:
        d = sum(t for p, t in demand.items() if coefs.product_group[p] == g)
        out[g] = {"demand_t": d if d > 0 else None,
                  "supply_producers_t": declared_t.get(g) if g in declared_t else None}
    return Gap(population, sc, groups, totals, out)


def rounded(value: float | None, digits: int) -> float | None:
    """round() that lets an unknown (None) through: JSON says null, never a misleading 0."""
    return None if value is None else round(value, digits)
