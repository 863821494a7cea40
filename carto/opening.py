"""Opening hours (OpenStreetMap `opening_hours` syntax): open at a moment, next opening, and a
short sentence for people.

The resources are in France: times are read in Europe/Paris and public holidays ("PH") are the
French ones. Parsing is cached per expression, because the same few strings come back on every
request ("Mo-Fr 09:00-12:00,14:00-18:00; PH off"...).
"""

from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import opening_hours

TIMEZONE = ZoneInfo("Europe/Paris")
COUNTRY = "FR"
# How far ahead "next opening" looks: beyond, a place is shown as closed with no date.
HORIZON = timedelta(days=370)

_DAYS = {
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
_TEXT = {
    "fr": {
        "open_until": "Ouvert jusqu'à {t}",
        "open": "Ouvert",
        "opens": "Fermé · ouvre {when}",
        "closed": "Fermé",
        "unknown": "Horaires non renseignés",
        "unreadable": "Horaires illisibles",
        "today": "à {t}",
        "tomorrow": "demain à {t}",
        "day": "{d} à {t}",
        "date": "le {dd}/{mm} à {t}",
        "until_day": "Ouvert jusqu'à {d} {t}",
    },
    "en": {
        "open_until": "Open until {t}",
        "open": "Open",
        "opens": "Closed · opens {when}",
        "closed": "Closed",
        "unknown": "No opening hours given",
        "unreadable": "Unreadable hours",
        "today": "at {t}",
        "tomorrow": "tomorrow at {t}",
        "day": "{d} at {t}",
        "date": "on {dd}/{mm} at {t}",
        "until_day": "Open until {d} {t}",
    },
}


@lru_cache(maxsize=4096)
def parse(expression: str) -> opening_hours.OpeningHours | None:
    """The parsed expression, or None when it is not valid OSM syntax."""
    try:
        return opening_hours.OpeningHours(expression, timezone=TIMEZONE, country=COUNTRY)
    except Exception:
        return None


def local(moment: datetime) -> datetime:
    """A moment as Paris wall-clock time; a naive datetime is taken as already local."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=TIMEZONE)
    return moment.astimezone(TIMEZONE)


def is_open(expression: str | None, moment: datetime) -> bool | None:
    """True/False; None when there are no hours or they cannot be read."""
    if not expression or not expression.strip():
        return None
    parsed = parse(expression)
    if parsed is None:
        return None
    return bool(parsed.is_open(local(moment)))


def _change(parsed: opening_hours.OpeningHours, moment: datetime) -> datetime | None:
    nxt = parsed.next_change(moment)
    if nxt is None:
        return None
    nxt = local(nxt)
    return nxt if nxt - moment <= HORIZON else None


def next_opening(expression: str | None, moment: datetime) -> datetime | None:
    """When a closed place opens next (None if open now, unknown, or not within a year)."""
    parsed = parse(expression) if expression else None
    if parsed is None:
        return None
    moment = local(moment)
    if parsed.is_open(moment):
        return None
    cursor = moment
    for _ in range(8):  # skip "unknown" stretches, which are not openings
        nxt = _change(parsed, cursor)
        if nxt is None:
            return None
        if parsed.is_open(nxt):
            return nxt
        cursor = nxt
    return None


def closes_at(expression: str | None, moment: datetime) -> datetime | None:
    """When an open place closes (None if closed, unknown, or open beyond a year, e.g. 24/7)."""
    parsed = parse(expression) if expression else None
    if parsed is None:
        return None
    moment = local(moment)
    if not parsed.is_open(moment):
        return None
    return _change(parsed, moment)


def _hm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _when(target: datetime, moment: datetime, lang: str) -> str:
    words = _TEXT[lang]
    days = (target.date() - moment.date()).days
    if days == 0:
        return words["today"].format(t=_hm(target))
    if days == 1:
        return words["tomorrow"].format(t=_hm(target))
    if days < 7:
        return words["day"].format(d=_DAYS[lang][target.weekday()], t=_hm(target))
    return words["date"].format(dd=f"{target.day:02d}", mm=f"{target.month:02d}", t=_hm(target))


class Status(NamedTuple):
    """What a list of places shows for one expression at one moment."""

    open: bool | None  # None: no hours, or unreadable
    next_opening: datetime | None  # when closed
    closes_at: datetime | None  # when open (None: open beyond the horizon, e.g. 24/7)
    text: str  # "Ouvert jusqu'à 12:00", "Fermé · ouvre lundi à 09:00"...


def status(expression: str | None, moment: datetime, lang: str = "fr") -> Status:
    """Everything `describe`, `is_open`, `next_opening` and `closes_at` say, computed once.
    OSM hours have a resolution of one minute, so the answer is the same for every second of a
    minute: it is cached per (expression, minute, language), which makes the twenty results
    of a nearby request (a handful of distinct expressions, "now") nearly free."""
    lang = lang if lang in _TEXT else "fr"
    return _status(expression or None, local(moment).replace(second=0, microsecond=0), lang)


@lru_cache(maxsize=8192)
def _status(expression: str | None, moment: datetime, lang: str) -> Status:
    words = _TEXT[lang]
    if not expression or not expression.strip():
        return Status(None, None, None, words["unknown"])
    parsed = parse(expression)
    if parsed is None:
        return Status(None, None, None, words["unreadable"])
    if parsed.is_open(moment):
        until = _change(parsed, moment)
        if until is None:
            text = words["open"]
        elif until.date() == moment.date():
            text = words["open_until"].format(t=_hm(until))
        elif (until.date() - moment.date()).days == 1 and until.hour < 6:
            text = words["open_until"].format(t=_hm(until))  # an overnight range
        else:
            text = words["until_day"].format(d=_DAYS[lang][until.weekday()], t=_hm(until))
        return Status(True, None, until, text)
    opens = next_opening(expression, moment)
    text = words["closed"] if opens is None else words["opens"].format(when=_when(opens, moment, lang))
    return Status(False, opens, None, text)


def describe(expression: str | None, moment: datetime, lang: str = "fr") -> str:
    """ "Ouvert jusqu'à 12:00", "Fermé · ouvre lundi à 09:00", "Horaires non renseignés"."""
    return status(expression, moment, lang).text
