"""The resource form (issue 13) as data: what its fields hold (`Values`, strings as typed),
read from a posted form or from a resource's change-log picture, turned into the payload the
API's domain call takes (`payload`), compared group by group (a conflict, the history) and put
into words. No write rule here: roles, territories, moderation, versions and the checks of
every value are carto.resources' and carto.permissions'.

Where a resource is: tapped on the map (lon, lat, precision "exact"), or a commune typed
(its centre, precision "commune"; `at_commune` says so when coordinates are filled too)."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api import conflicts
from api.forms import plain, text, texts
from carto import numbers, opening, places, vocab
from carto.errors import FieldError, Invalid
from carto.i18n import msg, t
from carto.numbers import decimal as number  # a number as people type it (1 200,5)

Values = dict[str, Any]

TEXTS = ("name", "kind", "description", "commune", "lon", "lat", "location_precision",
         "address", "price_note", "documents_needed", "opening_hours", "website", "phone",
         "email", "visibility", "status", "output_year")
LISTS = ("products", "access_conditions")
FLAGS = ("is_private", "at_commune")
OPTIONAL = ("description", "address", "price_note", "documents_needed", "opening_hours",
            "website", "phone", "email")
PRODUCER = "producer"

# The groups of the form a person changes together; a conflict and the history speak of them.
GROUPS: dict[str, tuple[str, ...]] = {
    "name": ("name",), "kind": ("kind",), "description": ("description",),
    "position": ("lon", "lat", "location_precision", "at_commune"), "commune": ("commune",),
    "address": ("address",), "products": ("products",),
    "access_conditions": ("access_conditions",), "price_note": ("price_note",),
    "documents_needed": ("documents_needed",), "opening_hours": ("opening_hours",),
    "website": ("website",), "phone": ("phone",), "email": ("email",),
    "visibility": ("visibility",), "is_private": ("is_private",), "status": ("status",),
    "outputs": ("outputs", "output_year"), "surfaces": ("surfaces",),
}


def empty(kind: str = "") -> Values:
    """A new resource's form: exact position when tapped, public, active."""
    return {**{k: "" for k in TEXTS}, **{k: [] for k in LISTS}, "is_private": False,
            "at_commune": False, "kind": kind, "location_precision": "exact",
            "visibility": "public", "status": "active", "outputs": {}, "surfaces": {},
            "sources": {}}


def from_form(form: FormData) -> Values:
    values = empty()
    for key in TEXTS:
        values[key] = text(form, key)
    for key in LISTS:
        values[key] = texts(form, key)
    for key in FLAGS:
        values[key] = bool(text(form, key))
    values["outputs"] = {g: text(form, f"out_{g}") for g in vocab.food_groups()
                         if text(form, f"out_{g}")}
    values["surfaces"] = {g: text(form, f"surf_{g}") for g in vocab.crop_groups()
                          if text(form, f"surf_{g}")}
    values["sources"] = {g: text(form, f"src_{g}") for g in vocab.food_groups()
                         if text(form, f"src_{g}")}
    return values


def shown(value: float | None, lang: str, digits: int) -> str:
    """A number as the reader writes it, in a field or a sentence ("1 200,5", "43,4592" in
    French: carto.numbers.number; "1200.5" in English), without trailing zeros;
    `carto.numbers.decimal` reads it back."""
    if value is None:
        return ""
    # English without a thousands separator: "1,200" would read back as 1.2
    text = numbers.number(float(value), lang, digits) if lang == "fr" \
        else f"{float(value):.{digits}f}"
    point = "," if lang == "fr" else "."
    return text.rstrip("0").rstrip(point) if point in text else text


def from_snapshot(session: Session, picture: dict[str, Any], lang: str = "fr") -> Values:
    """The form as it opens on a resource (its change-log picture, carto.resources.snapshot),
    its numbers in the reader's language."""
    values = empty(picture.get("kind") or "")
    for key in ("name", "location_precision", "visibility", "status", *OPTIONAL):
        values[key] = plain(picture.get(key))
    values["lon"] = shown(picture.get("lon"), lang, 6)
    values["lat"] = shown(picture.get("lat"), lang, 6)
    values["commune"] = places.commune_label(session, picture.get("commune"))
    values["at_commune"] = picture.get("location_precision") == "commune"
    for key in LISTS:
        values[key] = list(picture.get(key) or [])
    values["is_private"] = bool(picture.get("is_private"))
    outputs = picture.get("outputs") or []
    values["outputs"] = {o["food_group"]: shown(o["kg_per_year"], lang, 1) for o in outputs}
    values["sources"] = {o["food_group"]: o["source"] for o in outputs if o.get("source")}
    values["output_year"] = plain(next((o["year"] for o in outputs if o.get("year")), None))
    values["surfaces"] = {s["crop_group"]: shown(s["hectares"], lang, 2)
                          for s in picture.get("surfaces") or []}
    return values


def _amounts(rows: dict[str, str], key: str, amount: str, field: str, year: int | None,
             sources: dict[str, str], errors: list[FieldError]) -> list[dict[str, Any]]:
    out = []
    for group, typed in rows.items():
        value = number(typed)
        if value is None:
            errors.append(FieldError(f"{field}_{group}", msg("rform.error.number", value=typed)))
            continue
        out.append({key: group, amount: value, "year": year, "source": sources.get(group)})
    return out


def payload(session: Session, values: Values, territory: str | None = None,
            editing: bool = False) -> tuple[dict[str, Any], list[FieldError]]:
    """The body the API's domain call takes (carto.resources.create/update), and what the form
    itself could not read (a commune not found, a number that is not one). The domain checks
    the rest; `territory` is the new resource's territory."""
    errors: list[FieldError] = []
    data: dict[str, Any] = {"name": values["name"], "kind": values["kind"] or None}
    if not values["kind"]:
        errors.append(FieldError("kind", msg("rform.error.kind")))
    for key in OPTIONAL:
        data[key] = values[key] or None
    for key in LISTS:
        data[key] = values[key]
    data["visibility"] = values["visibility"] or "public"
    data["is_private"] = values["is_private"]
    if editing and values["status"]:
        data["status"] = values["status"]
    if territory is not None:
        data["territories"] = [territory]
    _place(session, values, data, errors)
    year = None
    if values["output_year"]:
        found = number(values["output_year"])
        if found is None or not found.is_integer():
            errors.append(FieldError("output_year", msg("rform.error.year")))
        else:
            year = int(found)
    if values["kind"] == PRODUCER or values["outputs"] or values["surfaces"]:
        data["outputs"] = _amounts(values["outputs"], "food_group", "kg_per_year", "out", year,
                                   values["sources"], errors)
        data["surfaces"] = _amounts(values["surfaces"], "crop_group", "hectares", "surf", year,
                                    {}, errors)
    return data, errors


def _place(session: Session, values: Values, data: dict[str, Any],
           errors: list[FieldError]) -> None:
    lon, lat = number(values["lon"]), number(values["lat"])
    tapped = lon is not None and lat is not None and not values["at_commune"]
    commune = None
    if values["commune"]:
        try:
            commune = places.find_commune(session, values["commune"])
        except Invalid as exc:
            errors.extend(exc.errors)
    if tapped:
        assert lon is not None and lat is not None
        data["lon"], data["lat"] = lon, lat
        data["location_precision"] = values["location_precision"] or "exact"
        if commune is None and not values["commune"]:
            commune = places.commune_at(session, lon, lat)
        data["commune"] = commune.code if commune else None
    elif commune is not None:
        data["lon"], data["lat"] = commune.lon, commune.lat
        data["location_precision"] = "commune"
        data["commune"] = commune.code
    elif not values["commune"]:
        if values["lon"] or values["lat"]:
            errors.append(FieldError("lon", msg("rform.error.coordinates")))
        errors.append(FieldError("commune", msg("rform.error.where")))


def form_field(field: str) -> str:
    """The form field a domain error is about: `geometry.longitude` → lon, `outputs[1].year` →
    output_year, `products` → products."""
    head = field.split("[")[0].split(".")[0]
    if head == "geometry":
        return "lon"
    if head == "outputs" and field.endswith(".year"):
        return "output_year"
    if head in ("outputs", "surfaces", "location_precision", "territories"):
        return {"location_precision": "lon", "territories": "commune"}.get(head, head)
    return head


# --- comparing and saying -------------------------------------------------------------------

def _comparable(values: Values, group: str) -> Any:
    if group == "position":
        lon, lat = number(values["lon"]), number(values["lat"])
        return (round(lon, 6) if lon is not None else None,
                round(lat, 6) if lat is not None else None, values["location_precision"])
    if group == "outputs":
        return ({g: number(v) for g, v in values["outputs"].items()}, values["output_year"])
    if group == "surfaces":
        return {g: number(v) for g, v in values["surfaces"].items()}
    if group in LISTS:
        return sorted(values[group])
    value = values[group]
    return value.strip() if isinstance(value, str) else value


FIELDS = conflicts.Groups(GROUPS, _comparable)


def changed_groups(before: Values, after: Values) -> list[str]:
    return FIELDS.changed(before, after)


def keep_sources(merged: Values, theirs: Values, yours: Values) -> Values:
    """The per-field sources typed are kept beside theirs when a form is merged."""
    if yours.get("sources"):
        merged["sources"] = {**theirs.get("sources", {}), **yours["sources"]}
    return merged


def options(lang: str) -> dict[str, list[tuple[str, str]]]:
    """The choices of the form, in the reader's language: (code, label)."""
    return {
        "products": [(c, g.label(lang)) for c, g in vocab.food_groups().items()],
        "access": [(c, a.label(lang)) for c, a in vocab.access_conditions().items()],
        "visibility": [(c, t(f"rform.visibility.{c}", lang)) for c in vocab.VISIBILITIES],
        "status": [(c, t(f"rform.status.{c}", lang)) for c in vocab.RESOURCE_STATUSES],
    }


def when(moment: datetime) -> str:
    """A change's time as people read it here: Paris wall-clock, day first."""
    return opening.local(moment).strftime("%d/%m/%Y %H:%M")


def _labels(codes: Iterable[str], terms: dict[str, vocab.Term], lang: str) -> str:
    return ", ".join(terms[c].label(lang) if c in terms else c for c in codes)


def words(session: Session, values: Values, group: str, lang: str) -> str:
    """A group's value said for people ("Légumes, Fruits", "oui", "43.459, 3.423 (position
    exacte)"); "—" for nothing."""
    none = "—"
    if group == "kind":
        kinds = vocab.resource_kinds(session)
        kind = kinds.get(values["kind"])
        return kind.label(lang) if kind else values["kind"] or none
    if group == "position":
        precisions = vocab.precisions()
        p = values["location_precision"]
        said = precisions[p].label(lang) if p in precisions else p
        if values["lat"] and values["lon"]:
            return t("rform.position_words", lang, lat=values["lat"], lon=values["lon"],
                     precision=said)
        return said or none
    if group == "products":
        return _labels(values["products"], vocab.food_groups(), lang) or none
    if group == "access_conditions":
        return _labels(values["access_conditions"], vocab.access_conditions(), lang) or none
    if group in ("is_private",):
        return t("rform.yes" if values[group] else "rform.no", lang)
    if group == "visibility":
        return t(f"rform.visibility.{values['visibility']}", lang) if values["visibility"] \
            else none
    if group == "status":
        return t(f"rform.status.{values['status']}", lang) if values["status"] else none
    if group == "opening_hours" and values["opening_hours"]:
        return values["opening_hours"]
    if group in ("outputs", "surfaces"):
        terms = vocab.food_groups() if group == "outputs" else vocab.crop_groups()
        unit = "rform.kg_per_year" if group == "outputs" else "rform.hectares"
        parts = [f"{terms[g].label(lang) if g in terms else g} : "
                 f"{t(unit, lang, amount=v)}" for g, v in values[group].items()]
        return "; ".join(parts) or none
    value = values.get(group)
    return str(value) if value else none


def hours_check(value: str, lang: str, now: datetime) -> dict[str, Any]:
    """What the form says under the opening hours as they are typed: the server's own check
    (carto.validation.opening_hours_text, the rule every write obeys) and, when they read, what
    a visitor would see now."""
    from carto import validation

    errors = validation.Collector()
    checked = validation.opening_hours_text(value, errors)
    if errors.errors:
        return {"valid": False, "message": errors.errors[0].text(lang)}
    if checked is None:
        return {"valid": True, "message": ""}
    return {"valid": True, "message": opening.describe(checked, now, lang)}
