"""Column names as people write them → the fields an importer knows (data/io/*.csv).

Matching ignores case, accents, spacing and punctuation, in French or English: « Code INSEE »,
« code_insee » and « CODE-INSEE » are one column. The same files describe each column for the
template's explanation sheet."""

import csv
from dataclasses import dataclass
from functools import lru_cache

from carto import DATA_DIR
from carto.text import fold

IO_DIR = DATA_DIR / "io"


@lru_cache(maxsize=65_536)
def key(name: str) -> str:
    """The matching key of a column name or a label: folded, without spaces (cached: kinds,
    products and communes repeat down a file)."""
    return fold(str(name)).replace(" ", "")


@dataclass(frozen=True)
class Column:
    field: str
    aliases: tuple[str, ...]
    label_fr: str
    label_en: str
    help_fr: str
    help_en: str
    example: str


@lru_cache
def columns(name: str = "columns") -> tuple[Column, ...]:
    """`columns` (resources) or `link_columns`."""
    with (IO_DIR / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return tuple(Column(r["field"], tuple(r["aliases"].split("|")), r["label_fr"],
                            r["label_en"], r["help_fr"], r["help_en"], r["example"])
                     for r in csv.DictReader(fh))


@lru_cache
def aliases(name: str = "columns") -> dict[str, str]:
    out: dict[str, str] = {}
    for column in columns(name):
        for alias in (column.field, *column.aliases, column.label_fr, column.label_en):
            out.setdefault(key(alias), column.field)
    return out


def match(header: list[str], name: str = "columns") -> dict[str, str]:
    """{header cell as written: field} for the cells that name a known field (the first cell
    naming a field wins; the others are ignored)."""
    known = aliases(name)
    out: dict[str, str] = {}
    taken: set[str] = set()
    for cell in header:
        found = known.get(key(cell))
        if found and found not in taken:
            out[cell] = found
            taken.add(found)
    return out


def score(header: list[str], name: str = "columns") -> int:
    return len(match(header, name))


def any_score(header: list[str]) -> int:
    """How well a row reads as a header of resources or of links (to find the header)."""
    return max(score(header), score(header, "link_columns"))
