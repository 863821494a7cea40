"""The vocabularies (kinds, categories, levels, food and crop groups...) read from data/vocab/.

They are data, not code: labels, colours and icons change by editing the CSV files. Resource
kinds are the exception: their one source is the table `resource_kind` (admins add and relabel
kinds through /api/kinds), read through one cache (`resource_kinds`); kinds.csv only seeds the
table (`seed_kinds`, carto.referential).
"""

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import DATA_DIR
from carto.cache import DbCache

VOCAB_DIR = DATA_DIR / "vocab"


@dataclass(frozen=True)
class Term:
    code: str
    label_fr: str
    label_en: str
    extra: dict[str, str]

    def label(self, lang: str = "fr") -> str:
        return self.label_en if lang == "en" else self.label_fr


def _read(name: str, key: str = "code") -> dict[str, Term]:
    path: Path = VOCAB_DIR / f"{name}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    terms: dict[str, Term] = {}
    for row in rows:
        code = row.pop(key)
        terms[code] = Term(code, row.pop("label_fr"), row.pop("label_en"), row)
    return terms


@lru_cache
def seed_kinds() -> dict[str, Term]:
    """The kinds a new database starts with (data/vocab/kinds.csv); read them with
    `resource_kinds`, which sees what admins changed."""
    return _read("kinds")


def _load_kinds(session: Session) -> dict[str, Term]:
    rows = session.execute(text(
        "SELECT code, label_fr, label_en, color, icon, sort_order FROM resource_kind "
        "ORDER BY sort_order, code"))
    return {r.code: Term(r.code, r.label_fr, r.label_en,
                         {"color": r.color or "", "icon": r.icon or "",
                          "sort_order": str(r.sort_order)}) for r in rows}


# Invalidated by the writes to resource_kind (api/routers/vocab.py); other worker processes
# see an admin's change within KINDS_TTL seconds.
KINDS_TTL = 60.0
KINDS = DbCache("kinds", _load_kinds, ttl=KINDS_TTL)


def resource_kinds(session: Session, wanted: tuple[str, ...] | set[str] = ()) -> dict[str, Term]:
    """The kinds of the database, in display order: the one source of kind codes, labels,
    colours and icons. A code of `wanted` not among them is looked up again once (an admin
    may have just added it in another worker)."""
    found = KINDS.get(session)
    if wanted and not set(wanted) <= found.keys():
        KINDS.invalidate(session)
        found = KINDS.get(session)
    return found


@lru_cache
def categories() -> dict[str, Term]:
    return _read("categories")


@lru_cache
def levels() -> dict[int, Term]:
    return {int(k): v for k, v in _read("levels", key="level").items()}


@lru_cache
def food_groups() -> dict[str, Term]:
    return _read("food_groups")


@lru_cache
def crop_groups() -> dict[str, Term]:
    return _read("crop_groups")


@lru_cache
def precisions() -> dict[str, Term]:
    return _read("precisions")


@lru_cache
def access_conditions() -> dict[str, Term]:
    return _read("access")


@lru_cache
def labels(terms: Callable[[], dict[str, Term]], lang: str) -> dict[str, str]:
    """Code -> label in `lang` of a file vocabulary (`labels(food_groups, "fr")`), built once:
    nearby labels every row of every answer with it, the maps' and nearby page's scripts get
    it as data. Shared: read it, never change it."""
    return {code: term.label(lang) for code, term in terms().items()}


# A kind every database has (kinds.csv seeds it; /api/nearby's default): the example given
# for the kind code lists in /openapi.json (carto.params.codes_schema).
KIND_EXAMPLE = "producer"
TERRITORY_LEVELS = ("commune", "intercommunality", "neighbourhood", "custom")
# Positions that are not the place itself (data/vocab/precisions.csv): a centre stands for it.
APPROXIMATE_PRECISIONS = ("commune", "neighbourhood", "approximate")
VISIBILITIES = ("public", "members")
RESOURCE_STATUSES = ("active", "closed", "draft")
LINK_STATUSES = ("active", "ended")
MODERATION_STATES = ("pending", "validated", "rejected")
PROVENANCES = ("import", "workshop", "demo")
ROLES = ("contributor", "editor", "admin")
