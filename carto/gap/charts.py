"""Inline SVG drawn on the server for the gap page: no script, no CDN, prints as it shows.

- `tonnage_chart`: per food group, the demand and each supply source (mapped producers, the
  farmland's potential), on the group's own scale (labels carry the tonnes);
- `land_chart`: the hectares to add per food group, on one common scale;
- `catchment_map`: the perimeter, the catchment ring, the producers counted, and for a
  multi-commune territory a choropleth of each commune's coverage. Lon/lat are projected
  equirectangularly around the middle latitude: exact enough for a few tens of kilometres.
"""

import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from carto.gap.method import Gap
from carto.i18n import t
from carto.numbers import number, percent
from carto.vocab import food_groups

DEMAND, PRODUCERS, FARMLAND, SHORT = "#8d8a7a", "#2e7d32", "#a0642c", "#c0392b"
COVERAGE_CLASSES: tuple[tuple[float, str], ...] = (
    (0.0, "#f3f1e7"), (0.05, "#d9ead3"), (0.25, "#a8d08d"), (0.5, "#6aa84f"), (1.0, "#38761d"),
    (math.inf, "#1e4d10"))


def _text(x: float, y: float, content: str, anchor: str = "start", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{c}>{escape(content)}</text>')


def _bar(x: float, y: float, w: float, h: float, color: str, title: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" '
            f'fill="{color}"><title>{escape(title)}</title></rect>')


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> str:
    parts, cx = [], x
    for color, label in items:
        parts.append(f'<rect x="{cx:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{color}"/>')
        parts.append(_text(cx + 17, y, label))
        cx += 24 + 7.2 * len(label)
    return "".join(parts)


def _unknown(x: float, y: float, lang: str) -> str:
    """Where a bar would say 0 for want of data: the word, in the muted style, no bar."""
    return _text(x, y, t("gap.chart.unknown", lang), cls="value muted unknown")


def tonnage_chart(gap: Gap, lang: str = "fr", producers_known: bool = True,
                  farmland_known: bool = True) -> str:
    """`producers_known` / `farmland_known` False: that source has no data at all, so its bar
    is not drawn (an empty bar would read as a measured zero) and « inconnu » stands instead."""
    foods = food_groups()
    label_w, bar_w, value_w, row_h, bar_h = 190, 400, 170, 50, 12
    width = label_w + bar_w + value_w
    top = 34
    height = top + row_h * len(gap.groups) + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-tonnage" '
           f'viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(t("gap.chart.tonnage", lang))}">',
           _legend([(DEMAND, t("gap.legend.demand", lang)),
                    (PRODUCERS, t("gap.legend.producers", lang)),
                    (FARMLAND, t("gap.legend.farmland", lang))], 4, 16)]
    for i, r in enumerate(gap.groups):
        y = top + i * row_h
        known = (True, producers_known and r.coverage is not None, farmland_known)
        scale = max(r.demand_t, r.supply_producers_t if known[1] else 0.0,
                    r.supply_farmland_t if known[2] else 0.0) or 1.0
        label = foods[r.group].label(lang).split(" (")[0]
        out.append(f'<g class="row" data-group="{r.group}">')
        out.append(_text(label_w - 10, y + 2 * bar_h, label, "end", "label"))
        for j, (value, color, key) in enumerate((
                (r.demand_t, DEMAND, "gap.legend.demand"),
                (r.supply_producers_t, PRODUCERS, "gap.legend.producers"),
                (r.supply_farmland_t, FARMLAND, "gap.legend.farmland"))):
            by = y + j * (bar_h + 2)
            if not known[j]:
                out.append(_unknown(label_w + 4, by + bar_h - 2, lang))
                continue
            w = bar_w * value / scale
            tip = f"{t(key, lang)} : {number(value, lang, 1)} t"
            out.append(_bar(label_w, by, w, bar_h, color, tip))
            if j == 0:
                out.append(_text(label_w + bar_w + 8, by + bar_h - 2,
                                 f"{number(value, lang)} t", cls="value"))
            elif j == 1:
                out.append(_text(label_w + bar_w + 8, by + bar_h - 2,
                                 f"{number(value, lang)} t · {percent(r.coverage, lang)}",
                                 cls="value"))
            else:
                out.append(_text(label_w + bar_w + 8, by + bar_h - 2,
                                 f"{number(value, lang)} t", cls="value muted"))
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def land_chart(gap: Gap, lang: str = "fr", producers_known: bool = True) -> str:
    """Without any producer's data the land missing is unknown: only the land needed is drawn,
    and the value says the rest is unknown."""
    foods = food_groups()
    label_w, bar_w, value_w, row_h, bar_h = 190, 400, 170, 24, 14
    width = label_w + bar_w + value_w
    top = 30
    height = top + row_h * len(gap.groups) + 6
    scale = max((r.land_needed_ha for r in gap.groups), default=0.0) or 1.0
    legend = [(DEMAND, t("gap.legend.land_needed", lang))]
    if producers_known:
        legend.append((SHORT, t("gap.legend.land_to_close", lang)))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-land" '
           f'viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(t("gap.chart.land", lang))}">', _legend(legend, 4, 16)]
    for i, r in enumerate(gap.groups):
        y = top + i * row_h
        label = foods[r.group].label(lang).split(" (")[0]
        out.append(f'<g class="row" data-group="{r.group}">')
        out.append(_text(label_w - 10, y + bar_h - 2, label, "end", "label"))
        out.append(_bar(label_w, y, bar_w * r.land_needed_ha / scale, bar_h, DEMAND,
                        f"{t('gap.legend.land_needed', lang)} : {number(r.land_needed_ha, lang)} ha"))
        if producers_known and r.coverage is not None:
            out.append(_bar(label_w, y + 3, bar_w * r.land_to_close_ha / scale, bar_h - 6, SHORT,
                            f"{t('gap.legend.land_to_close', lang)} : "
                            f"{number(r.land_to_close_ha, lang)} ha"))
            value = t("gap.chart.land_value", lang, missing=number(r.land_to_close_ha, lang),
                      needed=number(r.land_needed_ha, lang))
        else:
            value = t("gap.chart.land_value_unknown", lang,
                      needed=number(r.land_needed_ha, lang))
        out.append(_text(label_w + bar_w + 8, y + bar_h - 2, value, cls="value"))
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _rings(geometry: dict[str, Any]) -> Iterable[list[list[float]]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    for polygon in polygons:
        yield from polygon


def coverage_color(value: float | None) -> str:
    if value is None:
        return "#ffffff"
    if value <= 0:
        return COVERAGE_CLASSES[0][1]
    for bound, color in COVERAGE_CLASSES[1:]:
        if value <= bound:
            return color
    return COVERAGE_CLASSES[-1][1]


def catchment_map(layers: dict[str, Any], coverage: dict[str, float | None] | None,
                  radius_km: float, lang: str = "fr", width: int = 640) -> str:
    rings = list(_rings(layers["catchment"])) or list(_rings(layers["area"]))
    xs = [p[0] for ring in rings for p in ring]
    ys = [p[1] for ring in rings for p in ring]
    if not xs:
        return ""
    lat0 = (min(ys) + max(ys)) / 2
    k = math.cos(math.radians(lat0))
    x0, x1 = min(xs) * k, max(xs) * k
    y0, y1 = min(ys), max(ys)
    span = max(x1 - x0, y1 - y0) or 1e-6
    pad = span * 0.04
    scale = (width - 20) / (max(x1 - x0, 1e-9) + 2 * pad)
    height = int((y1 - y0 + 2 * pad) * scale) + 60

    def px(lon: float, lat: float) -> tuple[float, float]:
        return ((lon * k - x0 + pad) * scale + 10, (y1 - lat + pad) * scale + 10)

    def path(geometry: dict[str, Any]) -> str:
        parts = []
        for ring in _rings(geometry):
            pts = [px(x, y) for x, y in ring]
            parts.append("M" + "L".join(f"{a:.1f},{b:.1f}" for a, b in pts) + "Z")
        return "".join(parts)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="map" id="gap-map" '
           f'viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(t("gap.map.label", lang))}">',
           f'<rect width="{width}" height="{height}" fill="#fbfaf5"/>']
    if radius_km > 0:
        # a pale band with a thin solid line: dashes are the approximate position's alone
        out.append(f'<path class="catchment" d="{path(layers["catchment"])}" fill="#eef3e6" '
                   f'stroke="#7fa35a" stroke-width="1" fill-rule="evenodd">'
                   f'<title>{escape(t("gap.map.catchment", lang, km=number(radius_km, lang)))}'
                   f'</title></path>')
    communes = layers.get("communes") or []
    if coverage is not None and len(communes) > 1:
        for c in communes:
            value = coverage.get(c["code"])
            out.append(f'<path class="commune" data-code="{c["code"]}" d="{path(c["geometry"])}" '
                       f'fill="{coverage_color(value)}" stroke="#777" stroke-width="0.6" '
                       f'fill-rule="evenodd"><title>{escape(c["name"])} : '
                       f'{escape(percent(value, lang))}</title></path>')
        out.append(f'<path d="{path(layers["area"])}" fill="none" stroke="#2e5d34" '
                   f'stroke-width="2" fill-rule="evenodd"/>')
        if len(communes) <= 40:
            for c in communes:
                if c.get("label"):
                    x, y = px(*c["label"])
                    out.append(_text(x, y, c["name"], "middle", "place"))
    else:
        out.append(f'<path d="{path(layers["area"])}" fill="#dfe9d2" stroke="#2e5d34" '
                   f'stroke-width="2" fill-rule="evenodd"/>')
    for p in reversed(layers.get("producers") or []):
        x, y = px(p["lon"], p["lat"])
        if p["counted"]:
            out.append(f'<circle class="producer counted" cx="{x:.1f}" cy="{y:.1f}" r="4.5" '
                       f'fill="{PRODUCERS}" stroke="#fff" stroke-width="1">'
                       f'<title>{escape(p["name"])}</title></circle>')
        else:
            out.append(f'<circle class="producer" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#fff" '
                       f'stroke="#555" stroke-width="1.5"><title>{escape(p["name"])} '
                       f'({escape(t("gap.map.no_output", lang))})</title></circle>')
    # scale bar: a round number of km about a quarter of the width
    km_per_px = 111.32 / scale
    target = km_per_px * width / 4
    nice = 10 ** math.floor(math.log10(target))
    for m in (5, 2, 1):
        if m * nice <= target:
            nice *= m
            break
    bar = nice / km_per_px
    yb = height - 24
    out.append(f'<path d="M14,{yb} h{bar:.1f}" stroke="#333" stroke-width="3"/>')
    out.append(_text(14, yb - 6, f"{number(nice, lang)} km", cls="muted"))
    legend = [(PRODUCERS, t("gap.map.counted", lang)), ("#ffffff", t("gap.map.no_output", lang))]
    lx = 14 + bar + 30
    for color, label in legend:
        stroke = "#555" if color == "#ffffff" else "#fff"
        out.append(f'<circle cx="{lx:.1f}" cy="{yb - 4}" r="5" fill="{color}" stroke="{stroke}" '
                   f'stroke-width="1.5"/>')
        out.append(_text(lx + 9, yb, label, cls="muted"))
        lx += 30 + 6.6 * len(label)
    out.append("</svg>")
    return "".join(out)


def coverage_legend(lang: str = "fr") -> list[tuple[str, str]]:
    """(colour, label) pairs for the choropleth's legend."""
    out = [(COVERAGE_CLASSES[0][1], "0 %")]
    low = 0.0
    for bound, color in COVERAGE_CLASSES[1:]:
        if math.isinf(bound):
            out.append((color, t("gap.map.over", lang, pct=percent(low, lang))))
        else:
            out.append((color, f"{percent(low, lang) if low else '> 0 %'} – {percent(bound, lang)}"))
        low = bound
    return out


def unknown_legend(lang: str = "fr") -> list[tuple[str, str]]:
    """The choropleth's legend when no producer declares anything: one class, unknown."""
    return [(coverage_color(None), t("gap.unknown_coverage", lang))]
