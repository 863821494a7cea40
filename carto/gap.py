"""Gap analysis: how far local production is from feeding a territory, per food group.

Two halves, kept apart on purpose:

- **pure functions** (no database): demand, land needed, supply from producers and from farmland,
  coverage, shortfall, land to close it, the CRATer-style land ratios and PARCEL's scenario levers.
  They take plain numbers and the coefficients, so they are tested with hand-computed examples and
  properties, and reused for 1,100 communes at once;
- **the SQL that feeds them**: the perimeter (a territory, a list of communes or a polygon) and its
  population, the producers of the catchment as a reader may see them (`carto.visibility`), the
  farmland of its communes, and the coefficient overrides.

Method and sources: ../shared/reference/gap-analysis.md and docs/gap-analysis.md. Coefficients are
data (data/reference/*.csv, each row with its source, year and certainty mark), not code.

Three indicator families never mixed: the **land ratio** (farmland vs farmland needed, CRATer's
"adéquation théorique", PARCEL's "potentiel nourricier"); the **tonnage coverage** (what mapped
producers declare vs local demand); and what people actually eat locally, which nothing here
measures (hence the caveat on every output).
"""

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import DATA_DIR, territories, vocab
from carto.errors import Conflict, FieldError, Invalid, NotFound
from carto.geo import as_multipolygon
from carto.i18n import t
from carto.referential import COMMUNE_POPULATION_SOURCE, COMMUNE_POPULATION_YEAR
from carto.text import SpreadsheetWriter
from carto.visibility import ANONYMOUS, Principal, resource_predicate

REFERENCE_DIR = DATA_DIR / "reference"

IN_SCOPE = ("vegetables", "fruits", "potatoes", "cereals", "pulses", "oils", "sugar", "dairy",
            "eggs", "meat")
LIVESTOCK = ("dairy", "eggs", "meat")
OUT_OF_SCOPE = ("fish", "beverages")
# Resources whose declared outputs and surfaces count as local supply.
PRODUCING_KINDS = ("producer", "shared_garden")
CURRENT_DIET = "current"
MAX_RADIUS_KM = 200.0
# A commune's farmland counts for a perimeter when at least this share of its area is inside.
FARMLAND_COMMUNE_SHARE = 0.5

PARAMETERS = {
    "consumption_kg": "kg/pers./an",
    "yield_t_ha": "t/ha",
    "organic_ratio": "fraction",
    "waste_share": "fraction",
}
GLOBAL_PRODUCT = "*"

def caveat(lang: str = "fr") -> str:
    """The warning every output carries, from the message catalogue the page uses too."""
    sentence = t("gap.caveat", lang)
    return sentence[:1].upper() + sentence[1:]


# ---------------------------------------------------------------------------------------------
# Coefficients (data/reference/*.csv)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Coefficient:
    """One number of the method, with where it comes from. `default` and `override` are set
    when a territory, a department or an admin replaced the file's value."""

    parameter: str
    product: str
    value: float
    unit: str
    source: str
    year: str = ""
    mark: str = ""
    note: str = ""
    default: float | None = None
    override: str | None = None

    @property
    def overridden(self) -> bool:
        return self.override is not None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "parameter": self.parameter, "product": self.product, "value": self.value,
            "unit": self.unit, "source": self.source, "year": self.year, "mark": self.mark,
            "overridden": self.overridden,
        }
        if self.note:
            out["note"] = self.note
        if self.overridden:
            out["default"] = self.default
            out["override"] = self.override
        return out


@dataclass(frozen=True)
class CropUse:
    """What a crop group's surface can feed: a product (food), the livestock pool, or nothing
    (vines, low-productivity land, other crops: reported apart)."""

    crop_group: str
    use: str  # food | livestock | vines | excluded | other
    product: str | None
    source: str
    mark: str
    note: str = ""


@dataclass(frozen=True)
class Coefficients:
    consumption: Mapping[str, Coefficient]  # product -> kg/person/year (current diet)
    yields: Mapping[str, Coefficient]  # product -> t/ha
    organic: Mapping[str, Coefficient]  # product -> organic yield / conventional yield
    diets: Mapping[str, Mapping[str, Coefficient]]  # diet -> product -> index (%)
    waste_share: Coefficient
    references: Mapping[str, Coefficient]  # national figures for calibration
    product_group: Mapping[str, str]
    product_label: Mapping[str, tuple[str, str]]
    crop_uses: Mapping[str, CropUse]

    @property
    def diet_codes(self) -> tuple[str, ...]:
        return (CURRENT_DIET, *self.diets)

    def label(self, product: str, lang: str = "fr") -> str:
        fr, en = self.product_label.get(product, (product, product))
        return en if lang == "en" else fr

    def used(self, diet: str = CURRENT_DIET) -> list[Coefficient]:
        """The coefficients an analysis rests on, for its `sources` list."""
        rows: list[Coefficient] = []
        for product, group in self.product_group.items():
            if group not in IN_SCOPE:
                continue
            for table in (self.consumption, self.yields, self.organic):
                if product in table:
                    rows.append(table[product])
            if diet != CURRENT_DIET and product in self.diets.get(diet, {}):
                rows.append(self.diets[diet][product])
        rows.append(self.waste_share)
        return rows

    def overridden(self) -> list[Coefficient]:
        tables: list[Mapping[str, Coefficient]] = [self.consumption, self.yields, self.organic]
        found = [c for table in tables for c in table.values() if c.overridden]
        if self.waste_share.overridden:
            found.append(self.waste_share)
        return found

    def with_overrides(self, overrides: Iterable["Override"]) -> "Coefficients":
        """A copy where each override replaces the file's value (most specific scope last)."""
        tables: dict[str, dict[str, Coefficient]] = {
            "consumption_kg": dict(self.consumption), "yield_t_ha": dict(self.yields),
            "organic_ratio": dict(self.organic)}
        waste = self.waste_share
        for o in sorted(overrides, key=lambda o: o.rank):
            base = waste if o.parameter == "waste_share" else tables[o.parameter].get(o.product)
            if base is None:
                continue
            new = replace(base, value=o.value, source=o.source, year=str(o.year or ""),
                          mark="override", default=base.default if base.overridden
                          else base.value, override=o.scope_label)
            if o.parameter == "waste_share":
                waste = new
            else:
                tables[o.parameter][o.product] = new
        return replace(self, consumption=tables["consumption_kg"], yields=tables["yield_t_ha"],
                       organic=tables["organic_ratio"], waste_share=waste)


def _read(name: str) -> list[dict[str, str]]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@lru_cache
def load_coefficients() -> Coefficients:
    """The coefficients as the files give them (cached: they change with a deployment)."""
    group: dict[str, str] = {}
    label: dict[str, tuple[str, str]] = {}
    basis: dict[str, str] = {}
    for row in _read("products.csv"):
        p = row["product"]
        group[p], label[p], basis[p] = row["food_group"], (row["label_fr"], row["label_en"]), \
            row["basis"]
    consumption = {row["product"]: Coefficient(
        "consumption_kg", row["product"], float(row["kg_per_person_year"]),
        f"kg/pers./an ({basis.get(row['product'], '')})", row["source"], row["year"], row["mark"],
        row["note"]) for row in _read("consumption.csv")}
    yields = {row["product"]: Coefficient(
        "yield_t_ha", row["product"], float(row["yield_t_per_ha"]),
        f"t/ha ({basis.get(row['product'], '')})", row["source"], row["year"], row["mark"],
        row["note"]) for row in _read("yields.csv")}
    organic = {row["product"]: Coefficient("organic_ratio", row["product"],
                                           float(row["organic_ratio"]), "fraction", row["source"],
                                           row["year"], row["mark"], row["note"])
               for row in _read("organic_yields.csv")}
    diets: dict[str, dict[str, Coefficient]] = defaultdict(dict)
    for row in _read("diets.csv"):
        diets[row["diet"]][row["product"]] = Coefficient(
            f"diet_index:{row['diet']}", row["product"], float(row["index_pct"]), "%",
            row["source"], row["year"], row["mark"])
    references: dict[str, Coefficient] = {}
    for row in _read("parameters.csv"):
        references[row["parameter"]] = Coefficient(
            row["parameter"], GLOBAL_PRODUCT, float(row["value"]), row["unit"], row["source"],
            row["year"], row["mark"], row["note"])
    crop_uses = {row["crop_group"]: CropUse(row["crop_group"], row["use"], row["product"] or None,
                                            row["source"], row["mark"], row["note"])
                 for row in _read("crop_uses.csv")}
    coefs = Coefficients(consumption, yields, organic, dict(diets), references["waste_share"],
                         references, group, label, crop_uses)
    _check(coefs)
    return coefs


def _check(coefs: Coefficients) -> None:
    """Fail loudly at start-up if the files disagree with each other or with the vocabularies."""
    problems = []
    for table in (coefs.consumption, coefs.yields, coefs.organic, *coefs.diets.values()):
        problems += [f"{p}: not in products.csv" for p in table if p not in coefs.product_group]
    for p, g in coefs.product_group.items():
        if g not in IN_SCOPE and g not in OUT_OF_SCOPE:
            problems.append(f"{p}: unknown food group {g}")
        if g in IN_SCOPE and p not in coefs.yields:
            problems.append(f"{p}: no yield")
        if g in IN_SCOPE and p not in coefs.organic:
            problems.append(f"{p}: no organic ratio")
    for crop, use in coefs.crop_uses.items():
        if crop not in vocab.crop_groups():
            problems.append(f"crop_uses.csv: unknown crop group {crop}")
        if use.use == "food" and use.product not in coefs.yields:
            problems.append(f"crop_uses.csv: {crop} -> {use.product} has no yield")
    missing_crops = set(vocab.crop_groups()) - set(coefs.crop_uses)
    if missing_crops:
        problems.append(f"crop_uses.csv: missing {sorted(missing_crops)}")
    for group in IN_SCOPE:
        if not any(g == group and p in coefs.consumption for p, g in coefs.product_group.items()):
            problems.append(f"no consumption for {group}")
    if problems:
        raise RuntimeError("data/reference is inconsistent: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# Scenario (PARCEL's levers) and checks of user input
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """radius_km widens the producers counted around the perimeter; organic_share scales yields by
    the organic coefficients for that share of production (0 = current practice: the average
    yields); relocalised_share is the share of consumption to produce locally; waste_reduction
    removes that share of the 18 % lost or wasted."""

    radius_km: float = 0.0
    diet: str = CURRENT_DIET
    organic_share: float = 0.0
    relocalised_share: float = 1.0
    waste_reduction: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"radius_km": self.radius_km, "diet": self.diet,
                "organic_share": self.organic_share, "relocalised_share": self.relocalised_share,
                "waste_reduction": self.waste_reduction}


def _number(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise Invalid.field(name, f"un nombre est attendu, pas {value!r}") from exc
    if not math.isfinite(number):
        raise Invalid.field(name, "un nombre fini est attendu")
    return number


def scenario(radius_km: Any = 0.0, diet: str | None = CURRENT_DIET, organic_share: Any = 0.0,
             relocalised_share: Any = 1.0, waste_reduction: Any = 0.0,
             coefs: Coefficients | None = None) -> Scenario:
    """A checked scenario; a bad value raises Invalid naming the parameter."""
    coefs = coefs or load_coefficients()
    radius = _number("radius_km", 0.0 if radius_km is None else radius_km)
    if not 0 <= radius <= MAX_RADIUS_KM:
        raise Invalid.field("radius_km", f"rayon entre 0 et {MAX_RADIUS_KM:g} km attendu : {radius:g}")
    diet = diet or CURRENT_DIET
    if diet not in coefs.diet_codes:
        raise Invalid.field("diet", f"régime inconnu : {diet!r} (attendus : "
                                    f"{', '.join(coefs.diet_codes)})")
    shares = {}
    for name, value, default in (("organic_share", organic_share, 0.0),
                                 ("relocalised_share", relocalised_share, 1.0),
                                 ("waste_reduction", waste_reduction, 0.0)):
        share = _number(name, default if value is None else value)
        if not 0 <= share <= 1:
            raise Invalid.field(name, f"une fraction entre 0 et 1 est attendue (0.25 pour 25 %) : "
                                      f"{share:g}")
        shares[name] = share
    return Scenario(radius, diet, **shares)


# ---------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------

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


def demand_t(population: float, coefs: Coefficients, sc: Scenario) -> dict[str, float]:
    """t/year per product that the scenario asks local land to supply."""
    return {p: population * kg / 1000 * sc.relocalised_share
            for p, kg in per_capita_kg(coefs, sc).items()}


def land_needed_ha(demand: Mapping[str, float], coefs: Coefficients, sc: Scenario
                   ) -> dict[str, float]:
    """ha per product to grow `demand` (out-of-scope products need none)."""
    return {p: t / effective_yield(coefs, p, sc.organic_share)
            for p, t in demand.items() if p in coefs.yields}


def livestock_weights(land: Mapping[str, float], coefs: Coefficients) -> dict[str, float]:
    """How a hectare of grassland or fodder is shared between milk, eggs and meat: in proportion
    to the land each needs here (the current national diet when nothing is needed)."""
    products = [p for p, g in coefs.product_group.items() if g in LIVESTOCK and p in coefs.yields]
    weights = {p: land.get(p, 0.0) for p in products}
    if sum(weights.values()) <= 0:
        weights = {p: coefs.consumption[p].value / coefs.yields[p].value for p in products
                   if p in coefs.consumption}
    total = sum(weights.values())
    return {p: w / total for p, w in weights.items()}


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


def tonnage(ha_by_product: Mapping[str, float], coefs: Coefficients, sc: Scenario
            ) -> dict[str, float]:
    """t/year that surfaces yield in the scenario."""
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
            farmland_ha: Mapping[str, float] | None = None) -> Gap:
    """The whole analysis from plain numbers.

    declared_t: producers' declared output (t/year) per food group; producer_ha: producers'
    surfaces (ha) per crop group for the groups they declared no output of; farmland_ha: the
    perimeter's farmland (ha) per crop group, None when none was imported (ratios unknown).
    """
    if not population > 0:
        raise Conflict("population inconnue ou nulle : la demande ne peut pas être calculée",
                       [])
    declared_t = declared_t or {}
    demand = demand_t(population, coefs, sc)
    land = land_needed_ha(demand, coefs, sc)
    weights = livestock_weights(land, coefs)
    producers = allocate(producer_ha or {}, coefs, weights)
    farm = allocate(farmland_ha or {}, coefs, weights)
    demand_g = by_group({p: t for p, t in demand.items() if p in coefs.yields}, coefs)
    land_g = by_group(land, coefs)
    estimated_g = by_group(tonnage(producers.by_product, coefs, sc), coefs)
    farm_t_g = by_group(tonnage(farm.by_product, coefs, sc), coefs)
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


# ---------------------------------------------------------------------------------------------
# Perimeters and population (SQL)
# ---------------------------------------------------------------------------------------------

@dataclass
class Perimeter:
    """What is analysed: its geometry as SQL, its communes, its population and where it comes
    from. `farmland_communes` are the communes at least half inside (their farmland counts)."""

    kind: str  # territory | communes | polygon
    name: str
    area_sql: str
    area_params: dict[str, Any]
    slug: str | None = None
    territory_id: int | None = None
    level: str | None = None
    communes: list[str] = field(default_factory=list)
    farmland_communes: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    population: int | None = None
    population_source: str | None = None
    population_year: int | None = None
    # catchments already computed for this perimeter, by radius (the page asks twice: supply
    # and map)
    catchments: dict[float, bytes] = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "slug": self.slug, "level": self.level,
                "communes": self.communes, "farmland_communes": self.farmland_communes}


def _shares(session: Session, area_sql: str, params: dict[str, Any],
            restrict: list[str] | None = None) -> list[dict[str, Any]]:
    """Communes touching the area, with the share of their surface inside it. When the communes'
    areas add up to the area's, they are whole and no intersection is computed."""
    where = "AND c.code = ANY(:restrict)" if restrict is not None else ""
    rows = session.execute(text(f"""
        WITH area AS MATERIALIZED ({area_sql})
        SELECT c.code, c.department, c.population, ST_Area(c.geom) AS area,
               (SELECT ST_Area(g) FROM area) AS total
        FROM commune c, area
        WHERE c.geom && area.g AND ST_Intersects(c.geom, area.g) {where}
        ORDER BY c.code"""), params | {"restrict": restrict}).mappings().all()
    if not rows:
        return []
    whole = abs(sum(r["area"] for r in rows) - rows[0]["total"]) <= 0.005 * rows[0]["total"]
    if whole:
        return [dict(r) | {"share": 1.0} for r in rows]
    shares: dict[str, Any] = dict(session.execute(text(f"""
        WITH area AS MATERIALIZED ({area_sql})
        SELECT c.code, least(1.0, ST_Area(ST_Intersection(c.geom, area.g))
                                  / nullif(ST_Area(c.geom), 0))
        FROM commune c, area WHERE c.code = ANY(:codes)"""),
        params | {"codes": [r["code"] for r in rows]}).all())
    return [dict(r) | {"share": float(shares.get(r["code"]) or 0.0)} for r in rows]


def _missing_population(name: str, slug: str | None) -> Conflict:
    how = (f"carto territory create --slug {slug} … --population N --population-source « … » "
           "--replace" if slug else "les propriétés population et population_source du polygone")
    return Conflict(
        f"population inconnue pour « {name} » : l'analyse a besoin du nombre d'habitants. "
        f"Saisissez une population et sa source ({how}).",
        [FieldError("population", "à saisir, avec sa source (population_source)")])


def territory_area(session: Session, slug: str) -> Perimeter:
    """A territory's geometry, communes and departments, with its population when it is known:
    hand-entered (with its source), or the INSEE sum when it is made of whole communes (a
    neighbourhood never is). Coverage maps and overrides need no more than this."""
    territory = territories.get(session, slug)
    area_sql = "SELECT geom AS g FROM territory WHERE id = :area_tid"
    params = {"area_tid": territory.id}
    linked = list(session.scalars(text(
        "SELECT commune_code FROM territory_commune WHERE territory_id = :id ORDER BY 1"),
        {"id": territory.id}))
    communes = _shares(session, area_sql, params, linked)
    per = Perimeter("territory", territory.name, area_sql, params, slug=territory.slug,
                    territory_id=territory.id, level=territory.level,
                    communes=[c["code"] for c in communes],
                    farmland_communes=[c["code"] for c in communes
                                       if c["share"] >= FARMLAND_COMMUNE_SHARE],
                    departments=sorted({c["department"] for c in communes}))
    if territory.population:
        per.population = int(territory.population)
        per.population_source = territory.population_source
        per.population_year = territory.population_year
    elif territory.level != "neighbourhood" and communes and all(
            c["share"] >= 0.99 and c["population"] for c in communes):
        per.population = sum(int(c["population"]) for c in communes)
        per.population_source = COMMUNE_POPULATION_SOURCE
        per.population_year = COMMUNE_POPULATION_YEAR
    return per


def territory_perimeter(session: Session, slug: str) -> Perimeter:
    """A territory to analyse: its area with a population; none → 409 saying what to enter."""
    per = territory_area(session, slug)
    if not per.population:
        raise _missing_population(per.name, per.slug)
    return per


def communes_perimeter(session: Session, codes: Iterable[str]) -> Perimeter:
    """A custom perimeter made of whole communes: population is their sum."""
    wanted = sorted({c.strip() for c in codes if c and c.strip()})
    if not wanted:
        raise Invalid.field("communes", "au moins un code INSEE est attendu (ex. 34108,34301)")
    if len(wanted) > 5000:
        raise Invalid.field("communes", "5 000 communes au plus")
    rows = session.execute(text("""
        SELECT code, name, department, population FROM commune WHERE code = ANY(:codes)
        ORDER BY code"""), {"codes": wanted}).mappings().all()
    missing = sorted(set(wanted) - {r["code"] for r in rows})
    if missing:
        raise Invalid.field("communes", f"codes INSEE inconnus : {', '.join(missing)}")
    name = rows[0]["name"] if len(rows) == 1 else f"{len(rows)} communes"
    per = Perimeter("communes", name,
                    "SELECT ST_Union(geom) AS g FROM commune WHERE code = ANY(:area_codes)",
                    {"area_codes": wanted}, communes=wanted, farmland_communes=wanted,
                    departments=sorted({r["department"] for r in rows}))
    if any(r["population"] is None for r in rows):
        raise _missing_population(name, None)
    per.population = sum(int(r["population"]) for r in rows)
    per.population_source = COMMUNE_POPULATION_SOURCE
    per.population_year = COMMUNE_POPULATION_YEAR
    if not per.population:
        raise _missing_population(name, None)
    return per


def polygon_perimeter(session: Session, geojson: dict[str, Any], name: str | None = None,
                      population: Any = None, population_source: str | None = None
                      ) -> Perimeter:
    """A drawn perimeter. Population as given (with its source), else estimated from the communes
    it covers, each in proportion to the share of its surface inside (said so in the source)."""
    geometry = as_multipolygon(geojson)
    params = {"area_geojson": json.dumps(geometry.__geo_interface__)}
    area_sql = "SELECT ST_SetSRID(ST_GeomFromGeoJSON(:area_geojson), 4326) AS g"
    communes = _shares(session, area_sql, params)
    per = Perimeter("polygon", name or "Périmètre dessiné", area_sql, params,
                    communes=[c["code"] for c in communes],
                    farmland_communes=[c["code"] for c in communes
                                       if c["share"] >= FARMLAND_COMMUNE_SHARE],
                    departments=sorted({c["department"] for c in communes}))
    if population is not None:
        value = _number("population", population)
        if value <= 0 or value != int(value):
            raise Invalid.field("population", "un nombre entier d'habitants positif est attendu")
        if not (population_source or "").strip():
            raise Invalid.field("population_source", "une population saisie doit citer sa source")
        per.population, per.population_source = int(value), population_source
        return per
    estimate = sum((c["population"] or 0) * c["share"] for c in communes)
    if estimate < 1:
        raise _missing_population(per.name, None)
    per.population = round(estimate)
    per.population_source = ("Estimation : " + COMMUNE_POPULATION_SOURCE + ", au prorata de la "
                             "surface de chaque commune comprise dans le périmètre")
    per.population_year = COMMUNE_POPULATION_YEAR
    return per


# ---------------------------------------------------------------------------------------------
# Supply from the database (SQL written by hand; plans checked in tests/test_gap_db.py and
# bench/gap.py)
# ---------------------------------------------------------------------------------------------

def catchment_cte(area_sql: str) -> str:
    """`area` (the perimeter) and `catchment` (area widened by :radius_m metres on the ellipsoid).
    The perimeter is simplified by 1/200 of the radius before buffering: at most 0.5 % of it."""
    return f"""
        area AS MATERIALIZED ({area_sql}),
        catchment AS MATERIALIZED (
            SELECT CASE WHEN CAST(:radius_m AS float8) > 0
                        THEN ST_Buffer(ST_SimplifyPreserveTopology(
                                 area.g, CAST(:radius_m AS float8) / 200 / 111320)::geography,
                             CAST(:radius_m AS float8))::geometry
                        ELSE area.g END AS g
            FROM area)"""


def catchment(session: Session, per: Perimeter, radius_km: float) -> bytes:
    """The catchment as EWKB, computed once. It is then bound as a constant into the supply
    query, so the planner estimates how many producers fall in it (from the column's
    statistics) and joins their outputs by hash rather than by thousands of index probes; a
    CTE would hide the geometry from it (estimate: 3 rows)."""
    if radius_km not in per.catchments:
        per.catchments[radius_km] = bytes(session.scalar(
            text(f"WITH {catchment_cte(per.area_sql)} SELECT ST_AsEWKB(g) FROM catchment"),
            per.area_params | {"radius_m": radius_km * 1000}))
    return per.catchments[radius_km]


def _producers_cte(principal: Principal) -> tuple[str, dict[str, Any]]:
    """`p`: the producers in the catchment (:catchment, EWKB) that `principal` may read; the
    spatial test uses resource_geom_gist."""
    visible, params = resource_predicate(principal, "r")
    sql = f"""
        p AS MATERIALIZED (
            SELECT r.id FROM resource r
            WHERE ST_Intersects(r.geom, ST_GeomFromEWKB(CAST(:catchment AS bytea)))
              AND r.kind = ANY(CAST(:kinds AS text[])) AND r.status = 'active' AND {visible})"""
    return sql, params | {"kinds": list(PRODUCING_KINDS)}


def _crop_params(coefs: Coefficients) -> dict[str, Any]:
    """For each crop group, the food groups whose declared output makes its surface redundant."""
    crops, groups = [], []
    for crop, use in coefs.crop_uses.items():
        crops.append(crop)
        if use.use == "livestock":
            groups.append(",".join(LIVESTOCK))
        elif use.use == "food" and use.product:
            groups.append(coefs.product_group[use.product])
        else:
            groups.append("")
    return {"crop_codes": crops, "crop_food_groups": groups}


SUPPLY_SQL = """
    WITH {producers},
    o AS MATERIALIZED (
        SELECT o.resource_id, o.food_group, o.kg_per_year, o.year
        FROM resource_output o JOIN p ON p.id = o.resource_id),
    s AS MATERIALIZED (
        SELECT s.resource_id, s.crop_group, s.hectares, s.year
        FROM resource_surface s JOIN p ON p.id = s.resource_id)
    SELECT 'declared' AS what, o.food_group AS key, sum(o.kg_per_year) / 1000.0 AS amount,
           min(o.year) AS y0, max(o.year) AS y1
    FROM o GROUP BY o.food_group
    UNION ALL
    SELECT 'surface', s.crop_group, sum(s.hectares), min(s.year), max(s.year)
    FROM s
    JOIN unnest(CAST(:crop_codes AS text[]), CAST(:crop_food_groups AS text[])) AS m(crop, groups)
      ON m.crop = s.crop_group
    WHERE NOT EXISTS (SELECT 1 FROM o o2 WHERE o2.resource_id = s.resource_id
                      AND o2.food_group = ANY(string_to_array(m.groups, ',')))
    GROUP BY s.crop_group
    UNION ALL
    SELECT 'producers', 'all', count(*), NULL, NULL FROM p
    UNION ALL
    SELECT 'producers', 'counted', count(*), NULL, NULL
    FROM (SELECT resource_id FROM o UNION SELECT resource_id FROM s) c"""


@dataclass
class ProducerSupply:
    declared_t: dict[str, float] = field(default_factory=dict)
    surfaces_ha: dict[str, float] = field(default_factory=dict)
    counted: int = 0
    mapped_only: int = 0
    years: tuple[int | None, int | None] = (None, None)

    def as_dict(self) -> dict[str, Any]:
        return {"counted": self.counted, "mapped_without_output": self.mapped_only,
                "declared_t": {k: round(v, 3) for k, v in sorted(self.declared_t.items())},
                "surfaces_ha": {k: round(v, 2) for k, v in sorted(self.surfaces_ha.items())},
                "years": list(self.years)}


def producer_supply(session: Session, per: Perimeter, radius_km: float,
                    principal: Principal = ANONYMOUS, coefs: Coefficients | None = None
                    ) -> ProducerSupply:
    """Declared outputs (t) per food group and surfaces (ha) per crop group of the producers in
    the catchment that `principal` may read; a surface counts only for the food groups its
    producer declared no output of (declared output wins, never both)."""
    coefs = coefs or load_coefficients()
    producers, params = _producers_cte(principal)
    sql = SUPPLY_SQL.format(producers=producers)
    params = params | _crop_params(coefs) | {"catchment": catchment(session, per, radius_km)}
    out = ProducerSupply()
    years: list[int] = []
    mapped = 0
    for what, key, amount, y0, y1 in session.execute(text(sql), params):
        if what == "declared":
            out.declared_t[key] = float(amount)
        elif what == "surface":
            out.surfaces_ha[key] = float(amount)
        elif key == "counted":
            out.counted = int(amount)
        else:
            mapped = int(amount)
        years += [y for y in (y0, y1) if y is not None]
    out.mapped_only = mapped - out.counted
    out.years = (min(years), max(years)) if years else (None, None)
    return out


LATEST_FARMLAND = """
    SELECT DISTINCT ON (coalesce(f.commune_code, ''), f.territory_id, f.crop_group)
           f.commune_code, f.crop_group, f.hectares, f.year, f.source
    FROM farmland f
    WHERE {where}
    ORDER BY coalesce(f.commune_code, ''), f.territory_id, f.crop_group, f.year DESC, f.id DESC"""


@dataclass
class FarmlandSupply:
    ha_by_crop: dict[str, float] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    scope: str = "communes"  # communes | territory | none (nothing imported: ratios unknown)


def farmland(session: Session, per: Perimeter) -> FarmlandSupply:
    """Farmland per crop group: the rows entered for the territory itself if any, else those of
    its communes at least half inside; per commune and crop group, the latest year (and the last
    import when one year has several)."""
    out = FarmlandSupply(scope="none")
    params: dict[str, Any]
    if per.territory_id is not None and session.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM farmland WHERE territory_id = :tid)"),
            {"tid": per.territory_id}):
        where, params = "f.territory_id = :tid", {"tid": per.territory_id}
        out.scope = "territory"
    elif per.farmland_communes:
        where, params = "f.commune_code = ANY(:codes)", {"codes": per.farmland_communes}
        out.scope = "communes"
    else:
        return out
    rows = session.execute(text(f"""
        WITH latest AS ({LATEST_FARMLAND.format(where=where)})
        SELECT crop_group, source, year, sum(hectares) AS ha, count(*) AS n
        FROM latest GROUP BY crop_group, source, year"""), params).mappings().all()
    if not rows:
        out.scope = "none"
    sources: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        out.ha_by_crop[r["crop_group"]] = out.ha_by_crop.get(r["crop_group"], 0.0) + float(r["ha"])
        entry = sources.setdefault((r["source"], r["year"]),
                                   {"source": r["source"], "year": r["year"], "hectares": 0.0,
                                    "rows": 0})
        entry["hectares"] += float(r["ha"])
        entry["rows"] += int(r["n"])
    out.sources = [s | {"hectares": round(s["hectares"], 2)}
                   for s in sorted(sources.values(), key=lambda s: (-s["year"], s["source"]))]
    return out


# ---------------------------------------------------------------------------------------------
# Coefficient overrides (table gap_override, migration 0003)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Override:
    id: int
    parameter: str
    product: str
    value: float
    source: str
    year: int | None
    territory_id: int | None
    territory_slug: str | None
    department: str | None
    created_by: str

    @property
    def rank(self) -> int:
        """Applied in this order, so the most specific wins: all territories, department,
        territory."""
        return 2 if self.territory_id is not None else 1 if self.department else 0

    @property
    def scope_label(self) -> str:
        if self.territory_slug:
            return f"territoire {self.territory_slug}"
        if self.department:
            return f"département {self.department}"
        return "tous les territoires (administration)"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "parameter": self.parameter, "product": self.product,
                "value": self.value, "source": self.source, "year": self.year,
                "territory": self.territory_slug, "department": self.department,
                "scope": self.scope_label, "created_by": self.created_by}


OVERRIDE_SELECT = """
    SELECT o.id, o.parameter, o.product, o.value, o.source, o.year, o.territory_id,
           t.slug AS territory_slug, o.department, o.created_by
    FROM gap_override o LEFT JOIN territory t ON t.id = o.territory_id"""


def _override(row: Any) -> Override:
    return Override(id=int(row["id"]), parameter=row["parameter"], product=row["product"],
                    value=float(row["value"]), source=row["source"], year=row["year"],
                    territory_id=row["territory_id"], territory_slug=row["territory_slug"],
                    department=row["department"], created_by=row["created_by"])


def overrides_for(session: Session, per: Perimeter | None) -> list[Override]:
    """Overrides that apply: every global one, those of a department holding all the perimeter's
    communes, and those of the territory itself (without a perimeter: the global ones)."""
    department = per.departments[0] if per and len(per.departments) == 1 else None
    rows = session.execute(text(OVERRIDE_SELECT + """
        WHERE (o.territory_id IS NULL AND o.department IS NULL)
           OR o.department = :dept OR o.territory_id = :tid"""),
        {"dept": department, "tid": per.territory_id if per else None}).mappings().all()
    return [_override(r) for r in rows]


def coefficients_in_force(session: Session, territory_slug: str | None = None) -> Coefficients:
    """The reference coefficients with the overrides that apply to a territory, or to all."""
    per = territory_area(session, territory_slug) if territory_slug else None
    return load_coefficients().with_overrides(overrides_for(session, per))


def list_overrides(session: Session, territory_slug: str | None = None) -> list[Override]:
    where, params = "", {}
    if territory_slug:
        where, params = " WHERE t.slug = :slug", {"slug": territory_slug}
    rows = session.execute(text(OVERRIDE_SELECT + where + " ORDER BY o.id"), params).mappings()
    return [_override(r) for r in rows]


def check_override(parameter: str, product: str, value: Any, source: str | None,
                   coefs: Coefficients | None = None) -> float:
    coefs = coefs or load_coefficients()
    if parameter not in PARAMETERS:
        raise Invalid.field("parameter", f"paramètre inconnu : {parameter!r} (attendus : "
                                         f"{', '.join(PARAMETERS)})")
    known = {"consumption_kg": coefs.consumption, "yield_t_ha": coefs.yields,
             "organic_ratio": coefs.organic}.get(parameter, {GLOBAL_PRODUCT: coefs.waste_share})
    if product not in known:
        raise Invalid.field("product", f"produit inconnu pour {parameter} : {product!r} "
                                       f"(attendus : {', '.join(known)})")
    number = _number("value", value)
    bounds = {"consumption_kg": (0.0, 5000.0), "yield_t_ha": (0.001, 1000.0),
              "organic_ratio": (0.01, 2.0), "waste_share": (0.0, 0.9)}[parameter]
    if not bounds[0] <= number <= bounds[1]:
        raise Invalid.field("value", f"valeur hors de [{bounds[0]:g}, {bounds[1]:g}] : {number:g}")
    if not (source or "").strip():
        raise Invalid.field("source", "une valeur remplacée doit citer sa source")
    return number


def set_override(session: Session, parameter: str, product: str, value: Any, source: str,
                 actor: str, year: int | None = None, territory_id: int | None = None,
                 department: str | None = None) -> int:
    """Create or replace the override of one coefficient for one scope; returns its id."""
    number = check_override(parameter, product, value, source)
    if territory_id is not None and department:
        raise Invalid.field("department", "un territoire ou un département, pas les deux")
    if department and not session.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM commune WHERE department = :d)"), {"d": department}):
        raise Invalid.field("department", f"département inconnu : {department}")
    if year is not None and not 1900 <= year <= 2100:
        raise Invalid.field("year", f"année invalide : {year}")
    return int(session.scalar(text("""
        INSERT INTO gap_override (territory_id, department, parameter, product, value, source,
                                  year, created_by)
        VALUES (:tid, :dept, :parameter, :product, :value, :source, :year, :actor)
        ON CONFLICT (coalesce(territory_id, 0), coalesce(department, ''), parameter, product)
        DO UPDATE SET value = EXCLUDED.value, source = EXCLUDED.source, year = EXCLUDED.year,
                      created_by = EXCLUDED.created_by, created_at = now()
        RETURNING id"""), {"tid": territory_id, "dept": department or None,
                           "parameter": parameter, "product": product, "value": number,
                           "source": source.strip(), "year": year, "actor": actor}))


def get_override(session: Session, override_id: int) -> Override:
    row = session.execute(text(OVERRIDE_SELECT + " WHERE o.id = :id"),
                          {"id": override_id}).mappings().first()
    if row is None:
        raise NotFound(f"valeur remplacée inconnue : {override_id}", [])
    return _override(row)


def delete_override(session: Session, override_id: int) -> None:
    get_override(session, override_id)
    session.execute(text("DELETE FROM gap_override WHERE id = :id"), {"id": override_id})


# ---------------------------------------------------------------------------------------------
# The analysis of a perimeter, and its serialisations
# ---------------------------------------------------------------------------------------------

@dataclass
class Analysis:
    perimeter: Perimeter
    gap: Gap
    coefs: Coefficients
    producers: ProducerSupply
    farmland: FarmlandSupply


def analyse(session: Session, per: Perimeter, sc: Scenario, principal: Principal = ANONYMOUS
            ) -> Analysis:
    base = load_coefficients()
    coefs = base.with_overrides(overrides_for(session, per))
    producers = producer_supply(session, per, sc.radius_km, principal, coefs)
    land = farmland(session, per)
    assert per.population is not None
    result = compute(per.population, coefs, sc, producers.declared_t, producers.surfaces_ha,
                     land.ha_by_crop if land.scope != "none" else None)
    return Analysis(per, result, coefs, producers, land)


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def as_dict(a: Analysis, lang: str = "fr") -> dict[str, Any]:
    """The JSON body: t to the kilogram (3 decimals), ha to 1/100, ratios as fractions."""
    g, per = a.gap, a.perimeter
    foods = vocab.food_groups()
    groups = [{
        "group": r.group, "label": foods[r.group].label(lang),
        "demand_t": round(r.demand_t, 3), "land_needed_ha": round(r.land_needed_ha, 2),
        "supply_producers_t": round(r.supply_producers_t, 3),
        "supply_farmland_t": round(r.supply_farmland_t, 3), "farmland_ha": round(r.farmland_ha, 2),
        "coverage": _r(r.coverage, 4), "coverage_farmland": _r(r.coverage_farmland, 4),
        "shortfall_t": round(r.shortfall_t, 3), "land_to_close_ha": round(r.land_to_close_ha, 2),
    } for r in g.groups]
    t = g.totals
    return {
        "perimeter": per.describe(),
        "population": per.population,
        "population_source": per.population_source,
        "population_year": per.population_year,
        "scenario": g.scenario.as_dict(),
        "groups": groups,
        "totals": {
            "demand_t": round(t.demand_t, 3), "land_needed_ha": round(t.land_needed_ha, 2),
            "land_needed_m2_per_person": round(t.land_needed_m2_per_person, 1),
            "farmland_ha": round(t.farmland_ha, 2),
            "land_ratio_gross": _r(t.land_ratio_gross, 4),
            "land_ratio_capped": _r(t.land_ratio_capped, 4),
            "supply_producers_t": round(t.supply_producers_t, 3),
            "coverage_capped": _r(t.coverage_capped, 4),
            "shortfall_t": round(t.shortfall_t, 3), "land_to_close_ha": round(t.land_to_close_ha, 2),
            "vines_ha": round(t.vines_ha, 2), "low_productivity_ha": round(t.excluded_ha, 2),
            "other_ha": round(t.other_ha, 2),
        },
        "out_of_scope": [
            {"group": k, "demand_t": _r(v["demand_t"], 3),
             "supply_producers_t": _r(v["supply_producers_t"], 3),
             "reason": "no farmland need (excluded by PARCEL)" if k == "fish"
             else "beverages are excluded by PARCEL and CRATer; vines are reported apart"}
            for k, v in g.out_of_scope.items()],
        "producers": a.producers.as_dict() | {"radius_km": g.scenario.radius_km,
                                              "kinds": list(PRODUCING_KINDS)},
        "farmland": {"scope": a.farmland.scope, "sources": a.farmland.sources},
        "sources": [c.as_dict() for c in a.coefs.used(g.scenario.diet)],
        "overridden": [c.as_dict() for c in a.coefs.overridden()],
        "caveat": caveat(lang),
        "method": "docs/gap-analysis.md; ../shared/reference/gap-analysis.md (CRATer, PARCEL)",
    }


CSV_COLUMNS = ("group", "label", "demand_t", "land_needed_ha", "supply_producers_t",
               "supply_farmland_t", "farmland_ha", "coverage", "coverage_farmland", "shortfall_t",
               "land_to_close_ha")


def to_csv(a: Analysis, lang: str = "fr") -> str:
    """One row per food group and a total row; below a blank line, the population, scenario,
    caveat, overridden values and every coefficient with its source (for a spreadsheet)."""
    import io

    body = as_dict(a, lang)
    buf = io.StringIO()
    w = SpreadsheetWriter(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for row in body["groups"]:
        w.writerow([row[c] if row[c] is not None else "" for c in CSV_COLUMNS])
    t = body["totals"]
    w.writerow(["total", "", t["demand_t"], t["land_needed_ha"], t["supply_producers_t"], "",
                t["farmland_ha"], t["coverage_capped"] if t["coverage_capped"] is not None else "",
                "", t["shortfall_t"], t["land_to_close_ha"]])
    w.writerow([])
    w.writerow(["note", "value", "detail"])
    w.writerow(["population", body["population"], body["population_source"] or ""])
    for k, v in body["scenario"].items():
        w.writerow([f"scenario.{k}", v, ""])
    for k in ("land_ratio_gross", "land_ratio_capped", "land_needed_m2_per_person"):
        w.writerow([k, "" if t[k] is None else t[k], ""])
    w.writerow(["caveat", "", body["caveat"]])
    for c in body["overridden"]:
        w.writerow([f"overridden.{c['parameter']}.{c['product']}", c["value"],
                    f"{c['override']} (au lieu de {c['default']}) : {c['source']}"])
    w.writerow([])
    w.writerow(["parameter", "product", "value", "unit", "source", "year", "mark", "overridden"])
    for c in body["sources"]:
        w.writerow([c["parameter"], c["product"], c["value"], c["unit"], c["source"], c["year"],
                    c["mark"], "yes" if c["overridden"] else "no"])
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Every commune at once (choropleths)
# ---------------------------------------------------------------------------------------------

COMMUNE_SUPPLY_SQL = """
    WITH c AS MATERIALIZED (
        SELECT code, geom FROM commune WHERE code = ANY(:codes)
    ), p AS MATERIALIZED (
        SELECT r.id, c.code
        FROM c JOIN resource r ON ST_Intersects(r.geom, c.geom)
        WHERE r.kind = ANY(CAST(:kinds AS text[])) AND r.status = 'active' AND {visible}
    )
    SELECT 'declared' AS what, p.code, o.food_group AS key, sum(o.kg_per_year) / 1000.0 AS amount
    FROM resource_output o JOIN p ON p.id = o.resource_id
    GROUP BY p.code, o.food_group
    UNION ALL
    SELECT 'surface', p.code, s.crop_group, sum(s.hectares)
    FROM resource_surface s JOIN p ON p.id = s.resource_id
    JOIN unnest(CAST(:crop_codes AS text[]), CAST(:crop_food_groups AS text[])) AS m(crop, groups)
      ON m.crop = s.crop_group
    WHERE NOT EXISTS (SELECT 1 FROM resource_output o2 WHERE o2.resource_id = s.resource_id
                      AND o2.food_group = ANY(string_to_array(m.groups, ',')))
    GROUP BY p.code, s.crop_group
    UNION ALL
    SELECT 'farmland', latest.commune_code, latest.crop_group, sum(latest.hectares)
    FROM ({latest}) latest
    GROUP BY latest.commune_code, latest.crop_group
"""


def commune_coverage(session: Session, codes: list[str], sc: Scenario,
                     principal: Principal = ANONYMOUS) -> list[dict[str, Any]]:
    """Per commune: population, producers' capped coverage (Σ_g min(1, P_g/D_g)·B_g / Σ B_g) and
    CRATer land ratios, from the producers located in it and its own farmland. Global overrides
    apply; territory and department ones do not (a commune list spans several)."""
    coefs = coefficients_in_force(session)
    visible, vparams = resource_predicate(principal, "r")
    sql = COMMUNE_SUPPLY_SQL.format(
        visible=visible, latest=LATEST_FARMLAND.format(where="f.commune_code = ANY(:codes)"))
    params = vparams | _crop_params(coefs) | {"codes": codes, "kinds": list(PRODUCING_KINDS)}
    declared: dict[str, dict[str, float]] = defaultdict(dict)
    surfaces: dict[str, dict[str, float]] = defaultdict(dict)
    farm: dict[str, dict[str, float]] = defaultdict(dict)
    target = {"declared": declared, "surface": surfaces, "farmland": farm}
    for what, code, key, amount in session.execute(text(sql), params):
        target[what][code][key] = float(amount)
    rows = session.execute(text(
        "SELECT code, name, population FROM commune WHERE code = ANY(:codes) ORDER BY code"),
        {"codes": codes}).all()
    out = []
    for code, name, population in rows:
        entry: dict[str, Any] = {"code": code, "name": name, "population": population,
                                 "coverage_capped": None, "land_ratio_gross": None,
                                 "land_ratio_capped": None, "supply_producers_t": 0.0}
        if population:
            g = compute(population, coefs, sc, declared.get(code), surfaces.get(code),
                        farm.get(code))
            entry.update(coverage_capped=_r(g.totals.coverage_capped, 4),
                         land_ratio_gross=_r(g.totals.land_ratio_gross, 4),
                         land_ratio_capped=_r(g.totals.land_ratio_capped, 4),
                         supply_producers_t=round(g.totals.supply_producers_t, 3))
        out.append(entry)
    return out


def department_communes(session: Session, departments: list[str]) -> list[str]:
    codes = list(session.scalars(text(
        "SELECT code FROM commune WHERE department = ANY(:d) ORDER BY code"), {"d": departments}))
    if not codes:
        raise Invalid.field("departments", f"aucune commune pour : {', '.join(departments)}")
    return codes


# ---------------------------------------------------------------------------------------------
# What the page's map draws
# ---------------------------------------------------------------------------------------------

def map_layers(session: Session, per: Perimeter, radius_km: float,
               principal: Principal = ANONYMOUS, limit: int = 2000) -> dict[str, Any]:
    """Simplified GeoJSON of the perimeter, the catchment and the perimeter's communes, and the
    producers of the catchment (at the position a reader may see), for a server-drawn map."""
    from carto.visibility import shown_geom

    producers, params = _producers_cte(principal)
    params = params | per.area_params | {"catchment": catchment(session, per, radius_km),
                                         "limit": limit, "codes": per.communes}
    shapes = session.execute(text(f"""
        WITH area AS MATERIALIZED ({per.area_sql}),
        c AS (SELECT ST_GeomFromEWKB(CAST(:catchment AS bytea)) AS g),
        box AS (SELECT greatest(ST_XMax(g) - ST_XMin(g), ST_YMax(g) - ST_YMin(g)) AS size FROM c)
        SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(area.g, box.size / 800), 5) AS area,
               ST_AsGeoJSON(ST_SimplifyPreserveTopology(c.g, box.size / 800), 5) AS catchment,
               (SELECT json_agg(json_build_object(
                    'code', cm.code, 'name', cm.name,
                    'label', json_build_array(ST_X(ST_PointOnSurface(cm.geom)),
                                              ST_Y(ST_PointOnSurface(cm.geom))),
                    'geometry', ST_AsGeoJSON(ST_SimplifyPreserveTopology(cm.geom, box.size / 800),
                                             5)::json) ORDER BY cm.code)
                FROM commune cm WHERE cm.code = ANY(:codes)) AS communes
        FROM area, c, box"""), params).mappings().one()
    points = session.execute(text(f"""
        WITH {producers}
        SELECT r.name, ST_X(pt) AS lon, ST_Y(pt) AS lat,
               EXISTS (SELECT 1 FROM resource_output o WHERE o.resource_id = r.id)
               OR EXISTS (SELECT 1 FROM resource_surface s WHERE s.resource_id = r.id) AS counted
        FROM p JOIN resource r ON r.id = p.id
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, 'r')} AS pt) s
        ORDER BY counted DESC, r.name
        LIMIT :limit"""), params).mappings().all()
    return {"area": json.loads(shapes["area"]), "catchment": json.loads(shapes["catchment"]),
            "communes": shapes["communes"] or [],
            "producers": [dict(p) for p in points]}
