"""Words and numbers for people: the JSON body and the CSV of an analysis, the plain-words
summary, number formats, and the terminal table. Shared by the page, the CLI and the API; text
from the message catalogue (data/i18n/messages.csv, keys `gap.*`)."""

import io
import math
from typing import Any

from carto import vocab
from carto.gap.analysis import Analysis
from carto.gap.method import GroupResult, rounded
from carto.gap.supply import PRODUCING_KINDS
from carto.i18n import t
from carto.numbers import number, percent  # the gap page reads them as fmt.number, fmt.percent
from carto.text import SpreadsheetWriter


def caveat(lang: str = "fr") -> str:
    """The warning every output carries, from the message catalogue the page uses too."""
    sentence = t("gap.caveat", lang)
    return sentence[:1].upper() + sentence[1:]


def as_dict(a: Analysis, lang: str = "fr") -> dict[str, Any]:
    """The JSON body: t to the kilogram (3 decimals), ha to 1/100, ratios as fractions."""
    g, per = a.gap, a.perimeter
    foods = vocab.food_groups()
    # Unknown is null, never a misleading 0: no producer declaring anything leaves the
    # coverage, the shortfall and the land to close unknown; no farmland, its figures.
    supply, land = a.producers.counted > 0, a.farmland.scope != "none"

    def known(value: float | None, digits: int, is_known: bool) -> float | None:
        return rounded(value, digits) if is_known else None

    groups = [{
        "group": r.group, "label": foods[r.group].label(lang),
        "demand_t": round(r.demand_t, 3), "land_needed_ha": round(r.land_needed_ha, 2),
        "supply_producers_t": round(r.supply_producers_t, 3),
        "supply_farmland_t": known(r.supply_farmland_t, 3, land),
        "farmland_ha": known(r.farmland_ha, 2, land),
        "coverage": known(r.coverage, 4, supply),
        "coverage_farmland": known(r.coverage_farmland, 4, land),
        "shortfall_t": known(r.shortfall_t, 3, supply),
        "land_to_close_ha": known(r.land_to_close_ha, 2, supply),
    } for r in g.groups]
    t = g.totals
    return {
        "perimeter": per.describe(),
        "population": per.population,
        "population_source": per.population_source,
        "population_year": per.population_year,
        "scenario": g.scenario.as_dict(),
        "groups": groups,
        "totals": {
            "demand_t": round(t.demand_t, 3), "land_needed_ha": round(t.land_needed_ha, 2),
            "land_needed_m2_per_person": round(t.land_needed_m2_per_person, 1),
            "farmland_ha": known(t.farmland_ha, 2, land),
            "land_ratio_gross": rounded(t.land_ratio_gross, 4),
            "land_ratio_capped": rounded(t.land_ratio_capped, 4),
            "supply_producers_t": round(t.supply_producers_t, 3),
            "coverage_capped": known(t.coverage_capped, 4, supply),
            "shortfall_t": known(t.shortfall_t, 3, supply),
            "land_to_close_ha": known(t.land_to_close_ha, 2, supply),
            "vines_ha": round(t.vines_ha, 2), "low_productivity_ha": round(t.excluded_ha, 2),
            "other_ha": round(t.other_ha, 2),
        },
        "out_of_scope": [
            {"group": k, "demand_t": rounded(v["demand_t"], 3),
             "supply_producers_t": rounded(v["supply_producers_t"], 3),
             "reason": "no farmland need (excluded by PARCEL)" if k == "fish"
             else "beverages are excluded by PARCEL and CRATer; vines are reported apart"}
            for k, v in g.out_of_scope.items()],
        "producers": a.producers.as_dict() | {"radius_km": g.scenario.radius_km,
                                              "kinds": list(PRODUCING_KINDS)},
        "farmland": {"scope": a.farmland.scope, "sources": a.farmland.sources},
        "known": {"producers": supply, "farmland": land},
        "sources": [c.as_dict() for c in a.coefs.used(g.scenario.diet)],
        "overridden": [c.as_dict() for c in a.coefs.overridden()],
        "caveat": caveat(lang),
        "method": "docs/gap-analysis.md; ../shared/reference/gap-analysis.md (CRATer, PARCEL)",
    }


CSV_COLUMNS = ("group", "label", "demand_t", "land_needed_ha", "supply_producers_t",
               "supply_farmland_t", "farmland_ha", "coverage", "coverage_farmland", "shortfall_t",
               "land_to_close_ha")


def to_csv(a: Analysis, lang: str = "fr") -> str:
    """One row per food group and a total row; below a blank line, the population, scenario,
    caveat, overridden values and every coefficient with its source (for a spreadsheet)."""
    body = as_dict(a, lang)
    buf = io.StringIO()
    w = SpreadsheetWriter(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for row in body["groups"]:
        w.writerow([row[c] if row[c] is not None else "" for c in CSV_COLUMNS])
    t = body["totals"]
    total = ["total", "", t["demand_t"], t["land_needed_ha"], t["supply_producers_t"], "",
             t["farmland_ha"], t["coverage_capped"], "",
             t["shortfall_t"], t["land_to_close_ha"]]
    w.writerow(["" if v is None else v for v in total])
    w.writerow([])
    w.writerow(["note", "value", "detail"])
    w.writerow(["population", body["population"], body["population_source"] or ""])
    for k, v in body["scenario"].items():
        w.writerow([f"scenario.{k}", v, ""])
    for k in ("land_ratio_gross", "land_ratio_capped", "land_needed_m2_per_person"):
        w.writerow([k, "" if t[k] is None else t[k], ""])
    w.writerow(["caveat", "", body["caveat"]])
    for c in body["overridden"]:
        w.writerow([f"overridden.{c['parameter']}.{c['product']}", c["value"],
                    f"{c['override']} (au lieu de {c['default']}) : {c['source']}"])
    w.writerow([])
    w.writerow(["parameter", "product", "value", "unit", "source", "year", "mark", "overridden"])
    for c in body["sources"]:
        w.writerow([c["parameter"], c["product"], c["value"], c["unit"], c["source"], c["year"],
                    c["mark"], "yes" if c["overridden"] else "no"])
    return buf.getvalue()


def about(value: float, lang: str = "fr") -> str:
    """A figure rounded the way one says it: 3,5 · 84 · 870 · 12 000."""
    if value <= 0:
        return "0"
    if value < 10:
        return number(round(value, 1), lang, 1 if round(value, 1) != int(round(value, 1)) else 0)
    if value < 100:
        return number(round(value), lang)
    magnitude = 10 ** (int(math.floor(math.log10(value))) - 1)
    return number(round(value / magnitude) * magnitude, lang)


def _group(result: Analysis, code: str) -> GroupResult:
    return next(r for r in result.gap.groups if r.group == code)


def plural(key: str, n: int, lang: str = "fr", **values: object) -> str:
    """`key.one` or `key.other`: French puts 0 and 1 in the singular, English only 1."""
    one = n <= 1 if lang == "fr" else n == 1
    return t(f"{key}.{'one' if one else 'other'}", lang, n=n, **values)


FEMININE_HEADS = ("cc ", "communauté", "métropole", "région", "commune ", "vallée", "plaine")
MASCULINE_HEADS = ("pays ", "grand ", "bassin", "département", "quartier", "parc ")


def of_name(name: str, lang: str = "fr") -> str:
    """« de Frontignan », « d'Agde », « de la CC du Haut Allier Margeride », « du Pays de Lunel »:
    the French complement of a territory's name (English: the name as it is)."""
    if lang != "fr":
        return name
    low = name.lower()
    if low.startswith(FEMININE_HEADS):
        return f"de la {name}"
    if low.startswith(MASCULINE_HEADS):
        return f"du {name}"
    if low[:1] in "aeiouyàâéèêëîïôöûüh":
        return f"d'{name}"
    return f"de {name}"


def summary(a: Analysis, lang: str = "fr") -> list[str]:
    """The sentences a facilitator reads out. When no mapped producer declares anything, the
    producers' coverage is unknown, not zero: that is said first, then what is known (the needs
    in tonnes and hectares, the producers mapped) and how to fill the gap in the data. Otherwise
    vegetables first (market gardening is what a territory can start with), the largest gap,
    the producers counted, the whole need; then the land ratios, or that they are unknown."""
    name = of_name(a.perimeter.name, lang)
    g = a.gap
    p = a.producers
    radius = g.scenario.radius_km
    where = (t("gap.summary.within_radius", lang, km=number(radius, lang, 0 if radius == int(radius)
                                                            else 1))
             if radius > 0 else t("gap.summary.inside", lang))
    lines = []
    veg = _group(a, "vegetables")
    if not p.counted:
        lines.append(t("gap.summary.unknown_supply", lang, where=where, name=name))
        lines.append(t("gap.summary.needs", lang, population=number(a.perimeter.population, lang),
                       tonnes=about(g.totals.demand_t, lang),
                       ha=about(g.totals.land_needed_ha, lang),
                       m2=number(g.totals.land_needed_m2_per_person, lang),
                       veg_t=about(veg.demand_t, lang), veg_ha=about(veg.land_needed_ha, lang)))
        if p.mapped_only:
            lines.append(plural("gap.summary.mapped_only", p.mapped_only, lang, where=where))
        lines.append(t("gap.summary.how_to_add", lang))
    else:
        group = t("gap.in_group.vegetables", lang)
        if veg.shortfall_t > 0:
            lines.append(t("gap.summary.group_short", lang, pct=percent(veg.coverage, lang),
                           group=group, name=name, ha=about(veg.land_to_close_ha, lang),
                           land=t("gap.land_word.vegetables", lang)))
        else:
            lines.append(t("gap.summary.group_covered", lang, pct=percent(veg.coverage, lang),
                           group=group, name=name))
        worst = max((r for r in g.groups if r.group != "vegetables"),
                    key=lambda r: r.land_to_close_ha)
        if worst.land_to_close_ha > 0:
            lines.append(t("gap.summary.worst", lang,
                           group=t(f"gap.in_group.{worst.group}", lang),
                           pct=percent(worst.coverage, lang),
                           ha=about(worst.land_to_close_ha, lang),
                           land=t(f"gap.land_word.{worst.group}", lang)))
        lines.append(plural("gap.summary.producers", p.counted, lang, where=where))
        if p.mapped_only:
            lines.append(plural("gap.summary.mapped_only", p.mapped_only, lang, where=where))
        lines.append(t("gap.summary.total", lang,
                       population=number(a.perimeter.population, lang),
                       ha=about(g.totals.land_needed_ha, lang),
                       m2=number(g.totals.land_needed_m2_per_person, lang),
                       close=about(g.totals.land_to_close_ha, lang)))
    if a.farmland.scope != "none":
        lines.append(t("gap.summary.farmland", lang, ha=about(g.totals.farmland_ha, lang),
                       gross=percent(g.totals.land_ratio_gross, lang),
                       capped=percent(g.totals.land_ratio_capped, lang)))
    else:
        lines.append(t("gap.summary.no_farmland", lang))
    return lines


def coefficient(value: float | None, lang: str = "fr") -> str:
    """A coefficient as people write it: 97,3 · 0,18 · 28 (up to three decimals, no trailing
    zeros; a decimal comma in French)."""
    if value is None:
        return "–"
    text = number(value, lang, 3)
    sep = "," if lang == "fr" else "."
    return (text.rstrip("0").rstrip(sep) or "0") if sep in text else text


def overridden_lines(a: Analysis, lang: str = "fr") -> list[str]:
    return [t("gap.overridden_line", lang, parameter=t(f"gap.parameter.{c.parameter}", lang),
              product=a.coefs.label(c.product, lang) if c.product != "*" else "",
              value=coefficient(c.value, lang), default=coefficient(c.default or 0, lang),
              scope=c.override or "", source=c.source)
            for c in a.coefs.overridden()]


def table(a: Analysis, lang: str = "fr") -> str:
    """The terminal table of `carto gap`."""
    foods = vocab.food_groups()
    head = [t(f"gap.cli.col.{c}", lang) for c in (
        "group", "demand_t", "land_needed_ha", "producers_t", "farmland_t", "coverage",
        "shortfall_t", "land_to_close_ha")]
    rows: list[list[str]] = []
    for r in a.gap.groups:
        label = foods[r.group].label(lang).split(" (")[0]
        rows.append([label, number(r.demand_t, lang, 1), number(r.land_needed_ha, lang, 1),
                     number(r.supply_producers_t, lang, 1), number(r.supply_farmland_t, lang, 1),
                     percent(r.coverage, lang), number(r.shortfall_t, lang, 1),
                     number(r.land_to_close_ha, lang, 1)])
    tot = a.gap.totals
    rows.append([t("gap.total", lang), number(tot.demand_t, lang, 1),
                 number(tot.land_needed_ha, lang, 1), number(tot.supply_producers_t, lang, 1), "",
                 percent(tot.coverage_capped, lang), number(tot.shortfall_t, lang, 1),
                 number(tot.land_to_close_ha, lang, 1)])
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows[:-1]]
    out += ["  ".join("-" * w for w in widths), line(rows[-1])]
    return "\n".join(out)


def report_text(a: Analysis, lang: str = "fr", with_sources: bool = False) -> str:
    """Everything `carto gap` prints."""
    per, g = a.perimeter, a.gap
    sc = g.scenario
    out = [t("gap.cli.title", lang, name=per.name),
           t("gap.cli.population", lang, population=number(per.population, lang),
             source=per.population_source or ""),
           t("gap.cli.scenario", lang, diet=t(f"gap.diet.{sc.diet}", lang),
             organic=percent(sc.organic_share, lang), relocalised=percent(sc.relocalised_share, lang),
             waste=percent(sc.waste_reduction, lang), radius=number(sc.radius_km, lang, 0)),
           "", table(a, lang), "",
           t("gap.cli.ratios", lang, farmland=number(g.totals.farmland_ha, lang, 1),
             gross=percent(g.totals.land_ratio_gross, lang),
             capped=percent(g.totals.land_ratio_capped, lang),
             vines=number(g.totals.vines_ha, lang, 1))
           if a.farmland.scope != "none" else t("gap.cli.no_farmland", lang),
           ""]
    out += [f"• {s}" for s in summary(a, lang)]
    over = overridden_lines(a, lang)
    out += ["", t("gap.overridden_title", lang) + " :", *[f"  - {o}" for o in over]] if over else \
        ["", t("gap.no_override", lang)]
    out += ["", t("gap.caveat_title", lang) + " : " + t("gap.caveat", lang)]
    if with_sources:
        out += ["", t("gap.sources_title", lang) + " :"]
        for c in a.coefs.used(sc.diet):
            flag = " [" + t("gap.overridden_flag", lang) + "]" if c.overridden else ""
            out.append(f"  {c.parameter:<22} {c.product:<18} {c.value:>10g}  [{c.mark}] "
                       f"{c.source} ({c.year or 's.d.'}){flag}")
    else:
        out += ["", t("gap.sources_title", lang) + " :"]
        out += [f"  - {line}" for line in source_digest(a, sc.diet, lang)]
        out += [t("gap.cli.sources_hint", lang)]
    return "\n".join(out)


def source_digest(a: Analysis, diet: str, lang: str = "fr") -> list[str]:
    """The short form of the sources every terminal output carries (`--sources` lists each
    coefficient): the publications cited with their years, then the placeholders [R]."""
    names = {"FAOSTAT": "FAOSTAT, bilans alimentaires (Food Balance Sheets), France",
             "PARCEL": "BASIC, PARCEL : note méthodologique et résultats nationaux (oct. 2019)",
             "Agreste": "Agreste (statistique agricole)", "UNPT": "UNPT / CNIPT"}
    years: dict[str, set[str]] = {k: set() for k in names}
    placeholders, overridden = [], []
    for c in a.coefs.used(diet):
        cited = sorted((c.source.find(k), k) for k in names if k in c.source)
        if cited and c.year:  # the publication named first is the one the value comes from
            years[cited[0][1]].update(y for y in c.year.split("-") if y)
        label = t(f"gap.parameter.{c.parameter.split(':')[0]}", lang)
        product = a.coefs.label(c.product, lang) if c.product != "*" else ""
        if c.mark == "R":
            placeholders.append(f"{label} {product}".strip())
        if c.overridden:
            overridden.append(f"{label} {product}".strip())
    lines = [f"{names[k]} ({'–'.join(sorted(v)[::max(1, len(v) - 1)]) if v else 's.d.'})"
             for k, v in years.items() if v]
    if placeholders:
        lines.append(t("gap.cli.placeholders", lang) + " : " + " ; ".join(placeholders))
    if overridden:
        lines.append(t("gap.overridden_title", lang) + " : " + " ; ".join(overridden))
    return lines


def summary_dict(a: Analysis, lang: str = "fr") -> dict[str, Any]:
    return {"summary": summary(a, lang)}
