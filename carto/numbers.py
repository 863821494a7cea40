"""Numbers as people write and read them, in one place: the formatters every page and report
uses (12 345,6 and 4 % in French, 12,345.6 and 4% in English; registered once as template
globals by api/templating.py) and the reader of a decimal typed in a spreadsheet cell
(`3,25`, `3.25`, `1 234,5`), used by every importer."""

import math

from carto.i18n import DEFAULT_LANG, t


def number(value: float | None, lang: str = DEFAULT_LANG, digits: int = 0) -> str:
    """12 345,6 in French (narrow no-break space, decimal comma), 12,345.6 in English."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def percent(fraction: float | None, lang: str = DEFAULT_LANG) -> str:
    """0.04 → « 4 % »; under 1 % but not zero → « moins de 1 % »."""
    if fraction is None:
        return "–"
    pct = fraction * 100
    if 0 < pct < 1:
        return t("number.less_than_one_percent", lang)
    nbsp = "\u202f" if lang == "fr" else ""
    return f"{number(round(pct), lang)}{nbsp}%"


def decimal(raw: str) -> float | None:
    """A finite decimal written the French or the English way (`43,4476`, `43.4476`,
    `1 234,5`), else None: the importers' one reading of a number cell."""
    try:
        out = float(raw)  # the common case, fast
    except ValueError:
        value = raw.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "")
        if value.count(",") == 1 and "." not in value:
            value = value.replace(",", ".")
        try:
            out = float(value)
        except ValueError:
            return None
    return out if math.isfinite(out) else None
