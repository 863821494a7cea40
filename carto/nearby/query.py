"""A nearby query: its parameters (each error names its parameter), its origin, its result."""

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import opening, places, territories, vocab
from carto import params as request_params
from carto.errors import FieldError, Invalid, NotFound
from carto.i18n import msg
from carto.validation import Collector
from carto.visibility import (
    Principal,
    resource_predicate,
    shown_geom,
)

DEFAULT_RADIUS_KM = 30.0
MAX_RADIUS_KM = 200.0
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
DEFAULT_KINDS = ("producer",)
COUNT_CAP = 40  # at least; 2 x limit when that is more (the default limit: 20)
SINGLE = ("lat", "lon", "commune", "resource", "territory", "radius_km", "limit", "open_at", "lang")
REPEATABLE = ("kind", "product", "access")
PARAMETERS = SINGLE + REPEATABLE




@dataclass(frozen=True)
class Origin:
    type: str  # "point", "commune" or "resource"
    lon: float
    lat: float
    label: str
    code: str | None = None
    department: str | None = None
    resource_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "label": self.label,
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
        }
        if self.code:
            out["code"] = self.code
        if self.department:
            out["department"] = self.department
        if self.resource_id:
            out["id"] = str(self.resource_id)
        return out


@dataclass(frozen=True)
class NearbyQuery:
    origin: Origin
    kinds: tuple[str, ...] = DEFAULT_KINDS
    products: tuple[str, ...] = ()
    access: tuple[str, ...] = ()
    territory: str | None = None
    territory_id: int | None = None
    radius_m: float = DEFAULT_RADIUS_KM * 1000
    limit: int = DEFAULT_LIMIT
    open_at: datetime | None = None  # aware, Europe/Paris
    lang: str = "fr"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": list(self.kinds),
            "product": list(self.products),
            "access": list(self.access),
            "territory": self.territory,
            "radius_km": self.radius_m / 1000,
            "limit": self.limit,
            "open_at": self.open_at.isoformat() if self.open_at else None,
        }


@dataclass
class NearbyResult:
    query: NearbyQuery
    features: list[dict[str, Any]]
    matched: int
    matched_exact: bool
    without_hours: int | None  # with open_at: matches within the radius that give no hours
    without_hours_exact: bool
    moment: datetime  # the time opening statuses refer to
    stats: dict[str, int] = field(default_factory=dict)  # batches and rows read (bench)
    closed: int | None = None  # with open_at: matches within the radius closed at that time

    def as_geojson(self) -> dict[str, Any]:
        return {
            "type": "FeatureCollection",
            "features": self.features,
            "origin": self.query.origin.as_json(),
            "query": self.query.as_json(),
            "matched": self.matched,
            "matched_exact": self.matched_exact,
            "returned": len(self.features),
            "without_hours": self.without_hours,
            "closed": self.closed,
            "without_hours_exact": self.without_hours_exact if self.without_hours is not None else None,
            "opening_reference": self.moment.isoformat(timespec="minutes"),
        }



# ---------------------------------------------------------------------------- parsing


def _number(raw: str, name: str, errors: Collector) -> float | None:
    try:
        return request_params.number(raw, name)
    except Invalid as exc:
        errors.errors.extend(exc.errors)
        return None


def _codes(raws: Sequence[str], allowed: Collection[str], name: str,
           errors: Collector) -> tuple[str, ...]:
    """Repeatable parameters: `kind=a&kind=b` or `kind=a,b` (carto.params.codes)."""
    return tuple(request_params.codes(raws, allowed, name, errors.errors))


def parse_moment(raw: str, name: str = "open_at") -> datetime:
    """ISO 8601 date and time; without an offset it is Paris time. `now` is accepted."""
    value = raw.strip()
    if value.lower() == "now":
        return datetime.now(opening.TIMEZONE)
    if len(value) < 11 or value[10] not in "T ":
        raise Invalid.field(name, msg("error.nearby.datetime", value=raw))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid.field(name, msg("error.nearby.datetime_unreadable", value=raw)) from exc
    return opening.local(moment)


def parse(session: Session, principal: Principal, params: Mapping[str, Sequence[str]]) -> NearbyQuery:
    """Check every parameter (each error names its parameter), then resolve the origin.
    Unknown names and NUL characters are refused before this by the API's one query-string
    rule (api/query.py, documented parameters: PARAMETERS); a name outside PARAMETERS is
    passed over here."""
    errors = Collector()
    one: dict[str, str] = {}
    for name in SINGLE:
        values = list(params.get(name, []))
        if len(values) > 1:
            errors.add(name, msg("error.nearby.once"))
        elif values:
            one[name] = values[0]

    lat = _number(one["lat"], "lat", errors) if "lat" in one else None
    lon = _number(one["lon"], "lon", errors) if "lon" in one else None
    if lat is not None and not -90 <= lat <= 90:
        errors.add("lat", msg("error.geo.latitude", value=lat))
    if lon is not None and not -180 <= lon <= 180:
        errors.add("lon", msg("error.geo.longitude", value=lon))
    if ("lat" in one) != ("lon" in one):
        missing = "lon" if "lat" in one else "lat"
        errors.add(missing, msg("error.nearby.lat_lon_pair"))
    given = [
        n
        for n, present in (
            ("lat & lon", "lat" in one or "lon" in one),
            ("commune", "commune" in one),
            ("resource", "resource" in one),
        )
        if present
    ]
    if not given:
        errors.add("origin", msg("error.nearby.origin_required"))
    elif len(given) > 1:
        errors.add(
            "origin",
            msg("error.nearby.one_origin", given=", ".join(given)),
        )

    radius_km = DEFAULT_RADIUS_KM
    if "radius_km" in one:
        value = _number(one["radius_km"], "radius_km", errors)
        if value is not None and not 0 < value <= MAX_RADIUS_KM:
            errors.add("radius_km", msg("error.nearby.radius", max=MAX_RADIUS_KM, value=value))
        elif value is not None:
            radius_km = value
    limit = DEFAULT_LIMIT
    if "limit" in one:
        try:  # clamped to MAX_LIMIT (carto.params.limit)
            limit = request_params.limit(one["limit"], DEFAULT_LIMIT, MAX_LIMIT)
        except Invalid as exc:
            errors.errors.extend(exc.errors)
    open_at = None
    if "open_at" in one:
        try:
            open_at = parse_moment(one["open_at"])
        except Invalid as exc:
            errors.errors.extend(exc.errors)

    kinds: tuple[str, ...] = DEFAULT_KINDS
    if "kind" in params:
        requested = {c.strip() for raw in params["kind"] for c in raw.split(",")}
        kinds = _codes(params["kind"], vocab.resource_kinds(session, requested), "kind", errors)
    products = _codes(params.get("product", []), vocab.food_groups(), "product", errors)
    access = _codes(params.get("access", []), vocab.access_conditions(), "access", errors)
    errors.raise_if_any()
    # a slug that names nothing: a 404 naming it, as in every query (territories.filter_id)
    territory_id = territories.filter_id(session, one["territory"].strip()
                                         if "territory" in one else None)

    if "commune" in one:
        origin = commune_origin(session, one["commune"])
    elif "resource" in one:
        origin = resource_origin(session, principal, one["resource"])
    else:
        assert lon is not None and lat is not None
        origin = point_origin(lon, lat)
    return NearbyQuery(
        origin=origin,
        kinds=kinds,
        products=products,
        access=access,
        territory=one.get("territory", "").strip() or None,
        territory_id=territory_id,
        radius_m=radius_km * 1000,
        limit=limit,
        open_at=open_at,
        lang="en" if one.get("lang") == "en" else "fr",
    )



def commune_origin(session: Session, value: str) -> Origin:
    """A commune by its INSEE code or its name (carto.places.find_commune), at its centre."""
    place = places.find_commune(session, value)
    return Origin("commune", place.lon, place.lat, place.label, code=place.code,
                  department=place.department)


def resource_origin(session: Session, principal: Principal, value: str) -> Origin:
    """A resource the caller may see, at the position the caller may see."""
    try:
        rid = uuid.UUID(value.strip())
    except ValueError as exc:
        raise Invalid.field("resource", msg("error.nearby.resource_id", value=value)) from exc
    visible, params = resource_predicate(principal, "r")
    row = (
        session.execute(
            text(f"""
        SELECT r.name, ST_X(sg.g) AS lon, ST_Y(sg.g) AS lat
        FROM resource r CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg
        WHERE r.id = :id AND {visible}"""),
            params | {"id": rid},
        )
        .mappings()
        .first()
    )
    if row is None:  # none, or one this reader may not see: a 404 naming the parameter
        unknown = msg("error.resources.unknown", id=value)
        raise NotFound(unknown, [FieldError("resource", unknown)])
    return Origin("resource", float(row["lon"]), float(row["lat"]), row["name"], resource_id=rid)


def point_origin(lon: float, lat: float) -> Origin:
    """A point as given. (Which commune it falls in is not looked up: the point-in-polygon test
    on a commune's full boundary cost a fifth of a request.)"""
    return Origin("point", lon, lat, f"{lat:.5f}, {lon:.5f}")
