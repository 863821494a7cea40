"""Gap analysis: how far local production is from feeding a territory, per food group.

The package follows the method's seams:

- `coefficients`: the reference values (data/reference/*.csv, each row with its source, year and
  certainty mark) and the food groups in scope;
- `scenarios`: PARCEL's levers and the checks of the numbers people type;
- `method`: the pure functions (no database) — demand, land needed, supply, coverage, shortfall,
  land to close it, CRATer's land ratios — tested with hand-computed examples and properties;
- `perimeter`: a territory, a list of communes or a drawn polygon, and its population;
- `supply`: the producers of the catchment as a reader may see them (`carto.visibility`), and
  the perimeter's farmland (SQL written by hand);
- `overrides`: coefficients replaced for a territory, a department or all (table gap_override);
- `analysis`: the analysis of one perimeter, every commune at once, the page's map layers;
- `report`: JSON, CSV, the plain-words summary, number formats, the terminal table;
- `charts`: the page's inline SVG charts and map.

Three indicator families never mixed: the **land ratio** (farmland vs farmland needed, CRATer's
"adéquation théorique", PARCEL's "potentiel nourricier"); the **tonnage coverage** (what mapped
producers declare vs local demand); and what people actually eat locally, which nothing here
measures (hence the caveat on every output).

Method and sources: /work/shared/reference/gap-analysis.md and docs/gap-analysis.md. The names
below are the package's public interface (`from carto import gap; gap.analyse(...)`); each is
defined once, in the module named above.
"""

from carto.gap.analysis import Analysis, analyse, commune_coverage, map_layers
from carto.gap.coefficients import (
    CURRENT_DIET,
    GLOBAL_PRODUCT,
    IN_SCOPE,
    LIVESTOCK,
    OUT_OF_SCOPE,
    PARAMETERS,
    Coefficient,
    Coefficients,
    CropUse,
    load_coefficients,
)
from carto.gap.method import (
    Allocation,
    Gap,
    GroupResult,
    Totals,
    allocate,
    by_group,
    capped_coverage,
    compute,
    coverage,
    demand_t,
    effective_yield,
    land_needed_ha,
    land_ratios,
    land_to_close,
    livestock_weights,
    per_capita_kg,
    shortfall,
    tonnage,
)
from carto.gap.overrides import (
    Override,
    check_override,
    coefficients_in_force,
    delete_override,
    get_override,
    list_overrides,
    override_shapes,
    overrides_for,
    set_override,
)
from carto.gap.perimeter import (
    FARMLAND_COMMUNE_SHARE,
    PERIMETER_PROPERTIES,
    Perimeter,
    communes_perimeter,
    department_communes,
    polygon_perimeter,
    territory_area,
    territory_perimeter,
)
from carto.gap.report import CSV_COLUMNS, as_dict, caveat, to_csv
from carto.gap.scenarios import Scenario, parameter_schemas, scenario
from carto.gap.supply import (
    PRODUCING_KINDS,
    SUPPLY_SQL,
    FarmlandSupply,
    ProducerSupply,
    catchment,
    catchment_cte,
    farmland,
    producer_supply,
)
from carto.visibility import ANONYMOUS

__all__ = [
    "ANONYMOUS", "CSV_COLUMNS", "CURRENT_DIET", "FARMLAND_COMMUNE_SHARE", "GLOBAL_PRODUCT",
    "IN_SCOPE", "LIVESTOCK", "OUT_OF_SCOPE", "PARAMETERS", "PRODUCING_KINDS",
    "SUPPLY_SQL", "Allocation", "Analysis", "Coefficient", "Coefficients", "CropUse",
    "FarmlandSupply", "Gap", "GroupResult", "Override", "Perimeter", "ProducerSupply",
    "Scenario", "Totals", "allocate", "analyse", "as_dict", "by_group", "capped_coverage",
    "catchment", "catchment_cte", "caveat", "check_override", "override_shapes", "coefficients_in_force",
    "commune_coverage", "communes_perimeter", "compute", "coverage", "delete_override",
    "demand_t", "department_communes", "effective_yield", "farmland", "get_override",
    "land_needed_ha", "land_ratios", "land_to_close", "list_overrides", "livestock_weights",
    "load_coefficients", "map_layers", "overrides_for", "parameter_schemas", "per_capita_kg",
    "PERIMETER_PROPERTIES", "polygon_perimeter",
    "producer_supply", "scenario", "set_override", "shortfall", "territory_area",
    "territory_perimeter", "to_csv", "tonnage",
]
