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


def find_nul(value: Any, path: str = "") -> str | None:
    """The path of the first string holding a NUL character (PostgreSQL text refuses it)."""
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return sub
            found = find_nul(item, sub)
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_nul(item, f"{path}[{i}]")
            if found:
                return found
    return None


def reject_nul(value: Any, path: str = "") -> None:
    found = find_nul(value, path)
    if found:
        raise Invalid.field(found, msg("error.validation.nul"))


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
