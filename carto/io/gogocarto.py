"""GoGoCarto: an `elements.json` export (`{"licence", "ontology", "data": [...]}` from
/api/elements.json, or a bare list) → rows of the resource importer.

Each element: `name`, `geo {latitude, longitude}` (or `lat`/`lng`), `address
{streetAddress, postalCode, addressLocality}`, `categories` (names, or `categoriesFull`
objects), `openHours` (`{"Mo": "09:00-12:00, 14:00-18:00", ...}`) rewritten in the
OpenStreetMap syntax, `telephone`, `email`, `website`, `description`. Categories → kind through
data/io/gogocarto_categories.csv (names folded: case and accents ignored), else a kind's own
code or label (the importer tries them); an element none of whose categories is known is
rejected naming them."""

import csv
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from carto.i18n import msg
from carto.io.columns import IO_DIR, key
from carto.io.pipeline import Row
from carto.io.readers import KIND_CANDIDATES, KIND_UNKNOWN

SOURCE = "GoGoCarto"
DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
HEADER = ["external_id", "name", "kind", "description", "address", "commune", "lat", "lon",
          "opening_hours", "phone", "email", "website", "source_name", "licence"]
_SPAN = re.compile(r"(\d{1,2})\s*(?:[:hH.]\s*(\d{2})?)?\s*(?:-|–|à|a|to)\s*"
                   r"(\d{1,2})\s*(?:[:hH.]\s*(\d{2})?)?")


@lru_cache
def crosswalk() -> dict[str, str]:
    with (IO_DIR / "gogocarto_categories.csv").open(encoding="utf-8", newline="") as fh:
        return {key(row["category"]): row["kind"] for row in csv.DictReader(fh)}


def looks_like(data: Any) -> bool:
    elements = data.get("data") if isinstance(data, dict) else data
    if not isinstance(elements, list) or not elements:
        return False
    first = next((e for e in elements[:20] if isinstance(e, dict)), None)
    return first is not None and ("geo" in first or "categoriesFull" in first
                                  or "openHours" in first)


def _spans(text: str) -> list[str] | None:
    spans = []
    for h1, m1, h2, m2 in _SPAN.findall(text):
        spans.append(f"{int(h1):02d}:{m1 or '00'}-{int(h2):02d}:{m2 or '00'}")
    return spans or None


def opening_hours(hours: Any) -> str:
    """GoGoCarto's `{"Mo": "09:00-12:00, 14:00-18:00", ...}` in OSM syntax, consecutive days
    with the same hours grouped: `Mo-Fr 09:00-12:00,14:00-18:00; Sa 09:00-12:00`. Text that
    reads as no hours is given back as it is (the importer's check then names it)."""
    if isinstance(hours, str):
        return hours.strip()
    if not isinstance(hours, dict):
        return ""
    by_day: dict[str, str] = {}
    for day, value in hours.items():
        name = str(day)[:2].capitalize()
        if name not in DAYS or value in (None, "", [], {}):
            continue
        raw = " , ".join(map(str, value)) if isinstance(value, list) else str(value)
        spans = _spans(raw)
        if spans is None:
            return f"{name} {raw}"
        by_day[name] = ",".join(spans)
    groups: list[tuple[list[str], str]] = []
    for day in DAYS:
        if day not in by_day:
            continue
        if groups and groups[-1][1] == by_day[day] and \
                DAYS.index(groups[-1][0][-1]) == DAYS.index(day) - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], by_day[day]))
    return "; ".join((days[0] if len(days) == 1 else f"{days[0]}-{days[-1]}") + " " + spans
                     for days, spans in groups)


def _categories(element: dict[str, Any]) -> list[str]:
    full = element.get("categoriesFull")
    if isinstance(full, list) and full:
        return [str(c.get("name")) for c in full if isinstance(c, dict) and c.get("name")]
    raw = element.get("categories") or element.get("taxonomy") or []
    return [str(c) for c in (raw if isinstance(raw, list) else [raw]) if c not in (None, "")]


def kind_of(categories: list[str]) -> str | None:
    """The first category the crosswalk knows."""
    walk = crosswalk()
    return next((walk[key(c)] for c in categories if key(c) in walk), None)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def rows(elements: list[Any], licence: str) -> Iterator[Row]:
    for i, e in enumerate(elements, start=1):
        if not isinstance(e, dict):
            continue
        geo: dict[str, Any] = e["geo"] if isinstance(e.get("geo"), dict) else {}
        lat = geo.get("latitude", e.get("lat", e.get("latitude")))
        lon = geo.get("longitude", e.get("lng", e.get("long", e.get("longitude"))))
        address: dict[str, Any] = e["address"] if isinstance(e.get("address"), dict) else {}
        street = _text(address.get("streetAddress"))
        place = " ".join(x for x in (_text(address.get("postalCode")),
                                     _text(address.get("addressLocality"))) if x)
        located = lat not in (None, "") and lon not in (None, "")
        values: dict[str, Any] = {
            "external_id": _text(e.get("id")), "name": _text(e.get("name") or e.get("title")),
            "kind": "", "description": _text(e.get("description")),
            "address": _text(address.get("customFormatedAddress"))
            or ", ".join(x for x in (street, place) if x),
            # the locality places a row only without coordinates (it is often a postal name)
            "commune": "" if located else _text(address.get("addressLocality")),
            "lat": _text(lat), "lon": _text(lon),
            "opening_hours": opening_hours(e.get("openHours")),
            "phone": _text(e.get("telephone") or e.get("phone")),
            "email": _text(e.get("email")), "website": _text(e.get("website")),
            "source_name": SOURCE, "licence": licence}
        categories = _categories(e)
        kind = kind_of(categories)
        if kind is None:  # a category may still name a kind by its code or label
            values[KIND_CANDIDATES] = categories
            values[KIND_UNKNOWN] = ("kind", msg("error.import.gogocarto_no_kind",
                                                categories=", ".join(categories) or "—"))
        else:
            values["kind"] = kind
        yield Row(i, values)


def table(data: Any) -> Any:
    """The importer's table of an elements.json document."""
    from carto.errors import Invalid
    from carto.io.readers import Table

    elements = data.get("data") if isinstance(data, dict) else data
    if not isinstance(elements, list):
        raise Invalid.field("file", msg("error.import.not_gogocarto"))
    licence = _text(data.get("licence")) if isinstance(data, dict) else ""
    return Table(list(HEADER), rows(elements, licence), total=len(elements))
