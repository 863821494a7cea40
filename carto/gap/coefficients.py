"""The method's coefficients, as data (data/reference/*.csv, each row with its source, year and
certainty mark), and the food groups they cover. Loaded once and checked against each other and
the vocabularies; overrides (carto.gap.overrides) make copies, never edit them."""

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from carto import DATA_DIR, vocab

if TYPE_CHECKING:
    from carto.gap.overrides import Override

REFERENCE_DIR = DATA_DIR / "reference"

IN_SCOPE = ("vegetables", "fruits", "potatoes", "cereals", "pulses", "oils", "sugar", "dairy",
            "eggs", "meat")
LIVESTOCK = ("dairy", "eggs", "meat")
OUT_OF_SCOPE = ("fish", "beverages")
CURRENT_DIET = "current"

PARAMETERS = {
    "consumption_kg": "kg/pers./an",
    "yield_t_ha": "t/ha",
    "organic_ratio": "fraction",
    "waste_share": "fraction",
}
GLOBAL_PRODUCT = "*"


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
