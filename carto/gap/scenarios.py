"""A scenario (PARCEL's levers) and the checks of the numbers people type: a bad value raises
Invalid naming its field."""

import math
from dataclasses import dataclass
from typing import Any

from carto.config import gap_settings
from carto.errors import Invalid
from carto.gap.coefficients import CURRENT_DIET, Coefficients, load_coefficients
from carto.i18n import msg


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


def finite_number(name: str, value: Any) -> float:
    """A float from what a person typed or a JSON body held; anything else (text, NaN,
    infinity) is an Invalid naming the field, never a 500."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise Invalid.field(name, msg("error.gap.number", value=value)) from exc
    if not math.isfinite(number):
        raise Invalid.field(name, msg("error.gap.finite"))
    return number


SHARES = ("organic_share", "relocalised_share", "waste_reduction")  # fractions, 0..1


def parameter_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each scenario parameter as `scenario` checks it (the same bounds,
    the same diets), for the API's parameters in /openapi.json."""
    share: dict[str, Any] = {"minimum": 0, "maximum": 1}
    return {"radius_km": {"minimum": 0, "maximum": gap_settings().max_radius_km},
            "diet": {"enum": list(load_coefficients().diet_codes)},
            **dict.fromkeys(SHARES, share)}


def scenario(radius_km: Any = 0.0, diet: str | None = CURRENT_DIET, organic_share: Any = 0.0,
             relocalised_share: Any = 1.0, waste_reduction: Any = 0.0,
             coefs: Coefficients | None = None) -> Scenario:
    """A checked scenario; a bad value raises Invalid naming the parameter. None is the
    default; an empty diet is not a diet."""
    coefs = coefs or load_coefficients()
    radius = finite_number("radius_km", 0.0 if radius_km is None else radius_km)
    most = gap_settings().max_radius_km
    if not 0 <= radius <= most:
        raise Invalid.field("radius_km", msg("error.gap.radius", max=most, value=radius))
    diet = CURRENT_DIET if diet is None else diet
    if diet not in coefs.diet_codes:
        raise Invalid.field("diet", msg("error.gap.diet", value=diet,
                                        expected=", ".join(coefs.diet_codes)))
    shares = {}
    for name, value, default in zip(SHARES, (organic_share, relocalised_share, waste_reduction),
                                    (0.0, 1.0, 0.0), strict=True):
        share = finite_number(name, default if value is None else value)
        if not 0 <= share <= 1:
            raise Invalid.field(name, msg("error.gap.share", value=share))
        shares[name] = share
    return Scenario(radius, diet, **shares)
