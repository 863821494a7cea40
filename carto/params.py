"""Request parameters, parsed once for every endpoint (no web framework here): bounding boxes,
code lists, numbers, page sizes and cursors. One behaviour each, and every error names the
parameter (`Invalid.field`), which api.problems answers with a 400 on a GET.

- `bbox`: `minlon,minlat,maxlon,maxlat` (OGC's 6-number 3D form accepted, heights ignored);
  values beyond WGS84 are clamped to it (a map zoomed out past the antimeridian asks for more
  than the world); anything but `BBOX_PATTERN` (non-numbers, spaces, NaN, infinities, a number
  too long to be finite) and min > max are refused.
- code lists: repeatable and/or comma-separated (`kind=a&kind=b`, `kind=a,b`), each code
  checked against the allowed ones (no spaces around: `kind=a, b` is refused, as its pattern
  says), duplicates dropped, order kept. A vocabulary that is data (kinds are a table that grows
  at run time) is documented by `codes_schema`: a pattern, the vocabulary named as the `format`,
  an unknown code a 400 naming the parameter (never an enum frozen at start-up); a fixed few
  (statuses) by `fixed_codes_schema`, whose pattern lists them.
- INSEE codes: `commune_codes`, `department_codes`, comma-separated, by the pattern each
  documents.
- days: `day`, YYYY-MM-DD only (`format: date`, `DATE_SCHEMA`); moments: `moment`, RFC 3339's
  date-time with its offset (`format: date-time`, `DATETIME_SCHEMA`).
- numbers: finite decimals with a point; integers are digits only.
- `limit`: an integer of at least 1; above the endpoint's maximum it is clamped (OGC API
  Features' rule: a larger limit is not an error).
- `cursor`: the opaque keyset cursor of the `next` links (exactly what `encode_cursor` writes).
- choices (`format`, ...): one value among a fixed few; `one_of` is its JSON Schema, which the
  API's parameters carry into /openapi.json (the same tuple: no second copy of the list).
"""

import base64
import binascii
import math
import re
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from carto.errors import FieldError, Invalid
from carto.i18n import msg

BBox = tuple[float, float, float, float]  # minlon, minlat, maxlon, maxlat


@dataclass(frozen=True)
class Box:
    """A parsed bbox with named sides, and its ST_MakeEnvelope parameters."""

    west: float
    south: float
    east: float
    north: float

    @property
    def tuple(self) -> BBox:
        return self.west, self.south, self.east, self.north

    def params(self) -> dict[str, float]:
        """For `ST_MakeEnvelope(:w, :s, :e, :n, 4326)`."""
        return {"w": self.west, "s": self.south, "e": self.east, "n": self.north}


# A number as the bbox reads it: a decimal with a point, an optional exponent; bounded so that
# every match is finite (a bbox is refused as a whole, never read half).
_NUMBER = r"[-+]?(?:[0-9]{1,20}(?:\.[0-9]{0,20})?|\.[0-9]{1,20})(?:[eE][-+]?[0-9]{1,2})?"
BBOX_PATTERN = rf"^{_NUMBER}(?:,{_NUMBER}){{3}}(?:,{_NUMBER},{_NUMBER})?$"
_BBOX = re.compile(BBOX_PATTERN)
# What /openapi.json says of a bbox: its pattern, and `format: bbox` for the rule no pattern
# can hold (west <= east, south <= north).
BBOX_SCHEMA: dict[str, Any] = {"type": "string", "format": "bbox", "pattern": BBOX_PATTERN}


def bbox(value: str | None, name: str = "bbox") -> BBox | None:
    """None when absent; see the module's rule."""
    if value is None:
        return None
    if not _BBOX.fullmatch(value):
        raise Invalid.field(name, msg("error.bbox.numbers"))
    parts = [float(p) for p in value.split(",")]
    if len(parts) == 6:  # OGC allows a 3D bbox; the heights are ignored
        parts = [parts[0], parts[1], parts[3], parts[4]]
    minx, miny, maxx, maxy = parts
    if minx > maxx or miny > maxy:
        raise Invalid.field(name, msg("error.bbox.order"))
    return (max(minx, -180.0), max(miny, -90.0), min(maxx, 180.0), min(maxy, 90.0))


def box(value: str | None, name: str = "bbox") -> Box:
    """A bbox that must be given."""
    found = bbox(value, name)
    if found is None:
        raise Invalid.field(name, msg("error.param.required"))
    return Box(*found)


# A vocabulary's code: what POST /api/kinds takes for a new kind (api.schemas.KindIn), and what
# every code of the CSV vocabularies looks like (tests/house/test_one_source.py), so a value of
# a code list is exactly `codes_pattern()`: codes of this shape separated by commas.
CODE_PATTERN = r"[a-z][a-z0-9_]{1,40}"


def codes_pattern(code: str = CODE_PATTERN, empty: bool = False) -> str:
    """One value of a code list: `code`s separated by commas; with `empty`, nothing at all too
    (a map's `kinds=`: every layer off)."""
    listed = rf"{code}(?:,{code})*"
    return rf"^(?:{listed})?$" if empty else rf"^{listed}$"


def codes_schema(vocabulary: str, known: Iterable[str], repeatable: bool = True,
                 empty: bool = False) -> dict[str, Any]:
    """The JSON Schema of a code list that `codes` checks against a vocabulary which is data:
    the pattern of its shape, `format: <vocabulary>-codes` for what no pattern can hold (each
    code one of that vocabulary's, else a 400 naming the parameter), the first of `known` as
    an example. `repeatable`: an array of such values (`kind=a&kind=b,c`)."""
    value = {"type": "string", "pattern": codes_pattern(empty=empty),
             "format": f"{vocabulary}-codes", "examples": list(known)[:1]}
    return {"type": "array", "items": value} if repeatable else value


def fixed_codes_schema(allowed: Sequence[str], repeatable: bool = True) -> dict[str, Any]:
    """The JSON Schema of a code list among a fixed few (`codes(..., allowed, ...)` with the
    same tuple): the pattern lists them."""
    code = "(?:" + "|".join(re.escape(c) for c in allowed) + ")"
    value = {"type": "string", "pattern": codes_pattern(code)}
    return {"type": "array", "items": value} if repeatable else value


def codes(raws: Iterable[str] | str | None, allowed: Collection[str], name: str,
          errors: list[FieldError] | None = None) -> list[str]:
    """Repeatable and comma-separated codes, each known. With `errors`, mistakes are appended
    there (to report every parameter at once); without, the first one raises."""
    if raws is None:
        return []
    if isinstance(raws, str):
        raws = [raws]
    out: list[str] = []
    found: list[FieldError] = []
    for raw in raws:
        for code in raw.split(","):
            if not code:
                found.append(FieldError(name, msg("error.param.empty_value")))
            elif code not in allowed:
                found.append(FieldError(name, msg("error.param.unknown_code", code=code,
                                                  allowed=", ".join(sorted(allowed)))))
            elif code not in out:
                out.append(code)
    if found:
        if errors is None:
            raise Invalid(None, found[:1])
        errors.extend(found)
    return out


# INSEE codes: a commune's is its department's two characters (2A and 2B in Corsica) and three
# digits; a department's, two characters, or three overseas (971...976).
COMMUNE_CODE_PATTERN = r"(?:[0-9]{2}|2[AB])[0-9]{3}"
DEPARTMENT_CODE_PATTERN = r"(?:[0-9]{2}|2[AB]|97[1-6])"
COMMUNE_CODES_SCHEMA: dict[str, Any] = {
    "type": "string", "pattern": codes_pattern(COMMUNE_CODE_PATTERN), "format": "commune-codes",
    "examples": ["34108"]}
DEPARTMENT_CODES_SCHEMA: dict[str, Any] = {
    "type": "string", "pattern": codes_pattern(DEPARTMENT_CODE_PATTERN),
    "format": "department-codes", "examples": ["48"]}
_COMMUNES = re.compile(COMMUNE_CODES_SCHEMA["pattern"])
_DEPARTMENTS = re.compile(DEPARTMENT_CODES_SCHEMA["pattern"])


def commune_codes(raw: str, name: str = "communes") -> list[str]:
    """INSEE commune codes, comma-separated (`COMMUNE_CODES_SCHEMA`); whether they exist is
    the caller's question (a 400 naming the unknown ones)."""
    if not _COMMUNES.fullmatch(raw):
        raise Invalid.field(name, msg("error.param.commune_codes", raw=raw))
    return raw.split(",")


def department_codes(raw: str, name: str = "departments") -> list[str]:
    """Department codes, comma-separated (`DEPARTMENT_CODES_SCHEMA`)."""
    if not _DEPARTMENTS.fullmatch(raw):
        raise Invalid.field(name, msg("error.param.department_codes", raw=raw))
    return raw.split(",")


# A day is YYYY-MM-DD and nothing else (date.fromisoformat alone also takes 20260101 and
# 2026-W01-1): RFC 3339's full-date, what `format: date` means in /openapi.json.
DATE_SCHEMA: dict[str, Any] = {"type": "string", "format": "date"}
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def day(value: Any, name: str) -> date | None:
    """None when absent; a real calendar day, else Invalid naming the parameter."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and _DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise Invalid.field(name, msg("error.indicators.date", value=value))


# A moment is RFC 3339's date-time and nothing else (`format: date-time`): a day, "T", a time
# with seconds, an offset (datetime.fromisoformat alone also takes a space, no seconds, no
# offset, 20261205T1800).
DATETIME_SCHEMA: dict[str, Any] = {"type": "string", "format": "date-time"}
_MOMENT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
                     r"(?:[Zz]|[-+][0-9]{2}:[0-9]{2})$")


def moment(value: Any, name: str) -> datetime:
    """An aware datetime from RFC 3339 text, else Invalid naming the field."""
    if isinstance(value, str) and _MOMENT.fullmatch(value):
        try:
            return datetime.fromisoformat(value.upper())
        except ValueError:
            pass
    raise Invalid.field(name, msg("error.param.moment", value=value))


def choice(value: str, allowed: Sequence[str], name: str) -> str:
    """`value` if it is one of `allowed` (in that order in the message), else Invalid."""
    if value not in allowed:
        raise Invalid.field(name, msg("error.indicators.format", allowed=", ".join(allowed),
                                      value=value))
    return value


def one_of(allowed: Sequence[str]) -> dict[str, Any]:
    """The JSON Schema of `choice(..., allowed, ...)`, for the OpenAPI of a parameter."""
    return {"enum": list(allowed)}


def number(raw: str, name: str) -> float:
    """A finite decimal number (with a point)."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise Invalid.field(name, msg("error.param.number", raw=raw)) from None
    if not math.isfinite(value):
        raise Invalid.field(name, msg("error.param.finite", raw=raw))
    return value


def integer(raw: str, name: str, low: int, high: int) -> int:
    """An integer within [low, high], digits only."""
    text = raw.strip()
    if not text.isdigit() or not low <= int(text) <= high:
        raise Invalid.field(name, msg("error.param.integer", low=low, high=high, raw=raw))
    return int(text)


# What /openapi.json says of a page size: at least 1 (above the maximum is not an error).
LIMIT_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1}


def limit(raw: str | int | None, default: int, maximum: int, name: str = "limit") -> int:
    """A page size: at least 1, clamped to `maximum`."""
    if raw is None:
        return default
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise Invalid.field(name, msg("error.param.limit", raw=str(raw)))
    return min(int(text), maximum)


# A cursor is what encode_cursor writes: a UUID's 16 bytes in unpadded base64url, 22
# characters (every such string decodes to 16 bytes); an empty one is no cursor.
CURSOR_PATTERN = r"^(?:[A-Za-z0-9_-]{22})?$"
_CURSOR = re.compile(CURSOR_PATTERN)
CURSOR_SCHEMA: dict[str, Any] = {"type": "string", "pattern": CURSOR_PATTERN}


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None, name: str = "cursor") -> uuid.UUID | None:
    if not cursor:
        return None
    if not _CURSOR.fullmatch(cursor):  # base64 alone would drop characters it does not know
        raise Invalid.field(name, msg("error.cursor.unreadable"))
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=="))
    except (ValueError, binascii.Error):
        raise Invalid.field(name, msg("error.cursor.unreadable")) from None
