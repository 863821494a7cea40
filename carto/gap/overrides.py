"""Coefficient overrides (table gap_override, migration 0003): a territory, a department or an
admin replaces one reference value, with its source; the most specific scope wins."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.errors import Invalid, NotFound
from carto.gap.coefficients import GLOBAL_PRODUCT, PARAMETERS, Coefficients, load_coefficients
from carto.gap.perimeter import Perimeter, territory_area
from carto.gap.scenarios import finite_number
from carto.i18n import msg


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


# What an override may set each parameter to (the reference tables' own ranges, widened).
BOUNDS = {"consumption_kg": (0.0, 5000.0), "yield_t_ha": (0.001, 1000.0),
          "organic_ratio": (0.01, 2.0), "waste_share": (0.0, 0.9)}


def _products(parameter: str, coefs: Coefficients) -> Any:
    """The products a parameter has a reference value for (waste_share: the one, `*`)."""
    return {"consumption_kg": coefs.consumption, "yield_t_ha": coefs.yields,
            "organic_ratio": coefs.organic}.get(parameter, {GLOBAL_PRODUCT: coefs.waste_share})


def override_shapes(coefs: Coefficients | None = None) -> list[dict[str, Any]]:
    """The JSON Schema of `check_override`, one shape per parameter: its products and the
    bounds of its value (waste_share has no product: `*`, empty or none)."""
    coefs = coefs or load_coefficients()
    shapes = []
    for parameter, (low, high) in BOUNDS.items():
        products = sorted(_products(parameter, coefs))
        product: dict[str, Any] = {"enum": products}
        if products == [GLOBAL_PRODUCT]:
            product = {"enum": [GLOBAL_PRODUCT, "", None]}
        shape: dict[str, Any] = {"properties": {
            "parameter": {"const": parameter}, "product": product,
            "value": {"type": "number", "minimum": low, "maximum": high}}}
        if products != [GLOBAL_PRODUCT]:
            shape["required"] = ["product"]
        shapes.append(shape)
    return shapes


def check_override(parameter: str, product: str, value: Any, source: str | None,
                   coefs: Coefficients | None = None) -> float:
    coefs = coefs or load_coefficients()
    if parameter not in PARAMETERS:
        raise Invalid.field("parameter", msg("error.gap.parameter", value=parameter,
                                             expected=", ".join(PARAMETERS)))
    known = _products(parameter, coefs)
    if product not in known:
        raise Invalid.field("product", msg("error.gap.product", parameter=parameter,
                                           value=product, expected=", ".join(known)))
    number = finite_number("value", value)
    bounds = BOUNDS[parameter]
    if not bounds[0] <= number <= bounds[1]:
        raise Invalid.field("value", msg("error.gap.value_bounds", low=bounds[0], high=bounds[1],
                                         value=number))
    if not (source or "").strip():
        raise Invalid.field("source", msg("error.gap.override_source"))
    return number


def set_override(session: Session, parameter: str, product: str, value: Any, source: str,
                 actor: str, year: int | None = None, territory_id: int | None = None,
                 department: str | None = None) -> int:
    """Create or replace the override of one coefficient for one scope; returns its id."""
    number = check_override(parameter, product, value, source)
    if territory_id is not None and department:
        raise Invalid.field("department", msg("error.gap.territory_or_department"))
    if department and not session.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM commune WHERE department = :d)"), {"d": department}):
        raise Invalid.field("department", msg("error.gap.department", value=department))
    if year is not None and not 1900 <= year <= 2100:
        raise Invalid.field("year", msg("error.gap.year_invalid", value=year))
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
        raise NotFound(msg("error.gap.override_unknown", id=override_id))
    return _override(row)


def delete_override(session: Session, override_id: int) -> None:
    get_override(session, override_id)
    session.execute(text("DELETE FROM gap_override WHERE id = :id"), {"id": override_id})
