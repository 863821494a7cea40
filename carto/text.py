"""Text helpers shared by search and geocoding."""

import re
import unicodedata

_SEPARATORS = re.compile(r"[\s\-'’_.]+")


def fold(value: str) -> str:
    """Accent- and case-insensitive key: "Saint-Flour-de-Mercoire" -> "saint flour de mercoire"."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


def slugify(value: str) -> str:
    return fold(value).replace(" ", "-")


def like_escape(value: str) -> str:
    """`value` taken literally inside a LIKE pattern (PostgreSQL's default escape, backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

