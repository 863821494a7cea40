"""Field checks shared by the API, the CLI and the importers; each error names its field."""

import re
from typing import Any
from urllib.parse import urlparse

import opening_hours
from email_validator import EmailNotValidError, validate_email

from carto import vocab
from carto.errors import FieldError, Invalid, Text
from carto.i18n import msg

NAME_MAX = 200
PHONE_PATTERN = r"^\+?[0-9 ().\-]{6,25}$"
_PHONE = re.compile(PHONE_PATTERN)
# What `url` takes: http(s), a host (no brackets: an IPv6 host left open is unreadable), no
# space, no NUL.
URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^\s/?#\[\]\x00]+(?:[/?#][^\s\x00]*)?$"
# What `name` takes: something besides spaces (as str.strip sees them), no NUL (api.limits).
NAME_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


class Collector:
    """Gathers every field error of one input, so the caller sees them all at once."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: Text) -> None:
        self.errors.append(FieldError(field, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise Invalid(None, self.errors)  # the detail lists the fields


# What text a request may bring, in a JSON body (api.limits), a query string (api.query) or a
# form (the page routers): PostgreSQL's text holds no NUL character, and UTF-8 no lone surrogate
# (which a str parsed from JSON's "\\ud800" may hold). The rule as a JSON Schema pattern for
# /openapi.json (a surrogate is not valid JSON text to begin with): NUL_FREE_PATTERN.
NUL = "\x00"
NUL_FREE_PATTERN = r"^[^\x00]*$"


def flaw(text: str) -> str | None:
    """Why `text` cannot be stored (the catalogue key), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "error.body.surrogate"
    return "error.validation.nul" if NUL in text else None


def flaw_message(key: str) -> Text:
    """The sentence of a `flaw`."""
    return msg("error.validation.nul") if key == "error.validation.nul" \
        else msg("error.body.surrogate")


def unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The path ("properties.name", "stakes.0") of the first string or key of `value` (parsed
    JSON, a form's fields, a parameter's values) that cannot be stored, with its `flaw`; or
    None. A key at fault is named with the character escaped (\\u0000), so the path can be
    shown."""
    if isinstance(value, str):
        found = flaw(value)
        return (path or "body", found) if found else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            found = flaw(str(key))
            if found is not None:
                shown = "".join(c if flaw(c) is None else f"\\u{ord(c):04x}" for c in here)
                return shown, found
            inner = unstorable(item, here)
            if inner:
                return inner
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            inner = unstorable(item, f"{path}.{i}" if path else str(i))
            if inner:
                return inner
    return None


def reject_unstorable(value: Any, path: str = "") -> None:
    """`unstorable` as an error naming the field (a form's; JSON bodies are checked whole by
    api.limits before any handler)."""
    found = unstorable(value, path)
    if found:
        raise Invalid.field(found[0], flaw_message(found[1]))


def name(value: Any, errors: Collector, field: str = "name") -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.add(field, msg("error.validation.name_required"))
        return None
    if len(value) > NAME_MAX:
        errors.add(field, msg("error.validation.name_too_long", max=NAME_MAX, given=len(value)))
        return None
    return value


def optional_text(value: Any, errors: Collector, field: str, max_len: int = 10_000) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors.add(field, msg("error.validation.text_expected"))
        return None
    if len(value) > max_len:
        errors.add(field, msg("error.validation.text_too_long", max=max_len))
        return None
    return value or None


def code_in(value: Any, allowed: set[str] | dict[str, Any], errors: Collector, field: str) -> Any:
    if not isinstance(value, str | int) or isinstance(value, bool) or value not in allowed:
        errors.add(field, msg("error.validation.unknown_code", value=value,
                                  expected=", ".join(sorted(map(str, allowed)))))
        return None
    return value


def codes_in(
    value: Any, allowed: set[str] | dict[str, Any], errors: Collector, field: str
) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.add(field, msg("error.validation.codes_expected"))
        return []
    unknown = [v for v in value if v not in allowed]
    if unknown:
        errors.add(field, msg("error.validation.unknown_codes", values=", ".join(unknown)))
        return []
    return sorted(set(value), key=value.index)


def opening_hours_text(value: Any, errors: Collector, field: str = "opening_hours") -> str | None:
    text = optional_text(value, errors, field, 500)
    if text is None:
        return None
    try:
        opening_hours.OpeningHours(text)
    except Exception:
        errors.add(field, msg("error.validation.opening_hours", value=text))
        return None
    return text


def email(value: Any, errors: Collector, field: str = "email") -> str | None:
    text = optional_text(value, errors, field, 254)
    if text is None:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        errors.add(field, msg("error.validation.email", value=text))
        return None


def url(value: Any, errors: Collector, field: str = "website") -> str | None:
    text = optional_text(value, errors, field, 500)
    if text is None:
        return None
    try:
        parsed = urlparse(text)
    except ValueError:  # "http://[": an IPv6 host left open
        parsed = urlparse("")
    if parsed.scheme not in ("http", "https") or not parsed.netloc or " " in text:
        errors.add(field, msg("error.validation.url"))
        return None
    return text


def phone(value: Any, errors: Collector, field: str = "phone") -> str | None:
    text = optional_text(value, errors, field, 40)
    if text is None:
        return None
    if not _PHONE.match(text):
        errors.add(field, msg("error.validation.phone"))
        return None
    return text


def food_groups(value: Any, errors: Collector, field: str = "products") -> list[str]:
    return codes_in(value, vocab.food_groups(), errors, field)
