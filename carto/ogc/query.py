"""The `items` request of OGC API – Features, read and checked once.

Every parameter is known or refused: an unknown name, a malformed value, a CRS other than
CRS84 is an `Invalid` naming the parameter (400 with `{code, description}`). `limit` above the
maximum is clamped, as the standard asks; `limit`, `bbox` and code lists go through
`carto.params` (the one parameter module).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from carto import params as request_params
from carto.errors import Invalid, InvalidParameter
from carto.i18n import msg
from carto.ogc import CRS84, DEFAULT_LIMIT, MAX_LIMIT
from carto.ogc.catalogue import TERRITORY, Collection

# Parameters every `items` request may carry besides the collection's own filters.
COMMON = ("limit", "bbox", "bbox-crs", "datetime", "cursor", "f", "lang", "crs")
FORMATS = ("json", "geojson", "html")
# `territory` takes one value: a resource belongs to several, and the keyset walks one's index.
SINGLE_VALUED = {TERRITORY.name}


@dataclass
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None  # `datetime`: last update at or after
    end: datetime | None = None  # and at or before
    filters: dict[str, list[str]] = field(default_factory=dict)
    cursor: str | None = None
    format: str | None = None

    def values(self, name: str) -> list[str]:
        return self.filters.get(name, [])


def check_known(params: Mapping[str, Sequence[str]], allowed: Sequence[str]) -> None:
    """Refuse a parameter the endpoint does not define, and a parameter given twice."""
    for name, values in params.items():
        if name not in allowed:
            raise InvalidParameter.field(name, msg("error.ogc.param_unknown",
                                                   allowed=", ".join(allowed)))
        if len(values) > 1:
            raise InvalidParameter.field(name, msg("error.ogc.param_repeated"))
        if any("\x00" in v for v in values):
            raise InvalidParameter.field(name, msg("error.param.nul"))


def format_of(params: Mapping[str, Sequence[str]]) -> str | None:
    values = params.get("f")
    if not values:
        return None
    if values[0] not in FORMATS:
        raise Invalid.field("f", msg("error.ogc.value_unknown", value=values[0],
                                          allowed=", ".join(FORMATS)))
    return values[0]


def parse_limit(value: str | None) -> int:
    return request_params.limit(value, DEFAULT_LIMIT, MAX_LIMIT)


def _crs(name: str, value: str | None) -> None:
    if value is not None and value.strip() != CRS84:
        raise Invalid.field(name, msg("error.ogc.crs", crs=CRS84))


def _moment(text: str, end: bool) -> datetime:
    """An RFC 3339 date-time, or a date (its whole day: the start of it, or the end)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day, time.min, UTC)
            return moment + timedelta(days=1, microseconds=-1) if end else moment
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Invalid.field("datetime", msg("error.ogc.datetime")) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_datetime(value: str | None) -> tuple[datetime | None, datetime | None]:
    if value is None:
        return None, None
    if "/" not in value:
        if len(value) == 10:
            return _moment(value, False), _moment(value, True)
        instant = _moment(value, False)
        return instant, instant
    first, _, last = value.partition("/")
    start = None if first in ("", "..") else _moment(first, False)
    stop = None if last in ("", "..") else _moment(last, True)
    if start is None and stop is None:
        raise Invalid.field("datetime", msg("error.ogc.datetime_open"))
    if start is not None and stop is not None and start > stop:
        raise Invalid.field("datetime", msg("error.ogc.datetime_order"))
    return start, stop


def _filter_values(collection: Collection, name: str, raw: str) -> list[str]:
    spec = collection.filter(name)
    assert spec is not None
    if spec.values:
        values = request_params.codes(raw, spec.values, name)
    else:
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not values:
            raise Invalid.field(name, msg("error.ogc.empty"))
    if name in SINGLE_VALUED and len(values) > 1:
        raise Invalid.field(name, msg("error.ogc.single"))
    if spec.type == "integer" and not all(v.isdigit() for v in values):
        raise Invalid.field(name, msg("error.ogc.integer"))
    return values


def parse_items(collection: Collection, params: Mapping[str, Sequence[str]]) -> ItemsQuery:
    """The checked request; filters on other things than the collection's properties are 400."""
    check_known(params, [*COMMON, *(f.name for f in collection.filters)])

    def one(name: str) -> str | None:
        values = params.get(name)
        return values[0] if values else None

    _crs("bbox-crs", one("bbox-crs"))
    _crs("crs", one("crs"))
    if one("datetime") is not None and not collection.temporal:
        raise Invalid.field("datetime", msg("error.ogc.no_datetime"))
    start, end = parse_datetime(one("datetime"))
    filters = {f.name: _filter_values(collection, f.name, raw)
               for f in collection.filters if (raw := one(f.name)) is not None}
    cursor = one("cursor")
    if cursor is not None and not cursor:
        raise Invalid.field("cursor", msg("error.ogc.cursor"))
    return ItemsQuery(limit=parse_limit(one("limit")), bbox=request_params.bbox(one("bbox")),
                      start=start, end=end, filters=filters, cursor=cursor,
                      format=format_of(params))
