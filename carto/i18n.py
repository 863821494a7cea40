"""The message catalogue: every string a person reads, French first, English available."""

import csv
from functools import lru_cache

from carto import DATA_DIR

LANGS = ("fr", "en")


@lru_cache
def catalogue() -> dict[str, dict[str, str]]:
    with (DATA_DIR / "i18n" / "messages.csv").open(encoding="utf-8", newline="") as fh:
        return {row["key"]: {"fr": row["fr"], "en": row["en"]} for row in csv.DictReader(fh)}


def pick_lang(requested: str | None) -> str:
    return requested if requested in LANGS else "fr"


def t(key: str, lang: str = "fr", **values: object) -> str:
    """Translate `key`; a missing key shows itself rather than failing a page."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["fr"]
    return text.format(**values) if values else text
