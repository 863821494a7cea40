"""The vocabularies (kinds, categories, levels, food and crop groups...) read from data/vocab/.

They are data, not code: labels, colours and icons change by editing the CSV files. Resource
kinds are also a database table (editable by admins); the CSV seeds it.
"""

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from carto import DATA_DIR

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
def kinds() -> dict[str, Term]:
    return _read("kinds")


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


TERRITORY_LEVELS = ("commune", "intercommunality", "neighbourhood", "custom")
VISIBILITIES = ("public", "members")
RESOURCE_STATUSES = ("active", "closed", "draft")
LINK_STATUSES = ("active", "ended")
MODERATION_STATES = ("pending", "validated", "rejected")
PROVENANCES = ("import", "workshop", "demo")
ROLES = ("contributor", "editor", "admin")
