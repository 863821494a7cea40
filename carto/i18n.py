"""The message catalogue: every string a person reads, French first, English complete.

Texts live in data/i18n/messages.csv (`key,fr,en`, placeholders in `str.format` style). Code
never writes a sentence a person reads: pages call `t(key, lang)`, and errors carry a
`Message` (`msg(key, **values)`) that is put into words only when the language of the reader
is known (`api.problems`: the `lang` parameter, then `Accept-Language`)."""

import csv
from dataclasses import dataclass
from functools import lru_cache

from carto import DATA_DIR

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"


@lru_cache
def catalogue() -> dict[str, dict[str, str]]:
    with (DATA_DIR / "i18n" / "messages.csv").open(encoding="utf-8", newline="") as fh:
        return {row["key"]: {"fr": row["fr"], "en": row["en"]} for row in csv.DictReader(fh)}


def pick_lang(requested: str | None) -> str:
    return requested if requested in LANGS else DEFAULT_LANG


def negotiate(requested: str | None, accept_language: str | None = None) -> str:
    """The reader's language: an explicit `lang` (fr or en) wins, then the best of fr/en in an
    `Accept-Language` header (RFC 9110 quality values; `en-GB` counts as `en`), then French."""
    if requested in LANGS:
        return requested  # type: ignore[return-value]
    best, best_q = DEFAULT_LANG, 0.0
    for item in (accept_language or "").split(","):
        tag, _, rest = item.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in rest.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if primary in LANGS and q > best_q:
            best, best_q = primary, q
    return best


def t(key: str, lang: str = DEFAULT_LANG, /, **values: object) -> str:
    """Translate `key`; a missing key shows itself rather than failing a page (and
    tests/house/test_messages.py fails for any key the code names that the catalogue lacks)."""
    entry = catalogue().get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["fr"]
    if not values:
        return text
    shown = {k: v.render(lang) if isinstance(v, Message) else v for k, v in values.items()}
    return text.format(**shown)


@dataclass(frozen=True)
class Message:
    """A sentence for a person, not yet in words: a catalogue key and its values (which may be
    Messages themselves). Rendered in the reader's language where it is shown."""

    key: str
    values: tuple[tuple[str, object], ...] = ()

    def render(self, lang: str = DEFAULT_LANG) -> str:
        return t(self.key, lang, **dict(self.values))

    def __str__(self) -> str:  # logs, the CLI, f-strings: French, the default
        return self.render(DEFAULT_LANG)


def msg(key: str, /, **values: object) -> Message:
    """`msg("error.bbox.order")`: the one way code names a sentence people read."""
    return Message(key, tuple(values.items()))


def render(text: "Message | str", lang: str = DEFAULT_LANG) -> str:
    """A Message in `lang`; a plain string (data such as a name, never a sentence) as it is."""
    return text.render(lang) if isinstance(text, Message) else text

