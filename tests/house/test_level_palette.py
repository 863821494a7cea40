"""The five cooperation levels stay apart for everyone (issue 12, "Maps that explain
themselves"): consecutive levels' colours (data/vocab/levels.csv) differ by a CIEDE2000 ΔE of at
least MIN_DELTA_E for normal vision and simulated protanopia, deuteranopia and tritanopia
(Machado, Oliveira & Fernandes 2009, severity 1, on linear sRGB). The palette is magma sampled at
0.9, 0.7, 0.5, 0.3, 0.1 (light = intention, dark = collective organisation); the previous
orange-red ramp had levels 2 and 3 at ΔE 7.1 for deuteranopes."""

import math
import re
from pathlib import Path

from carto import vocab

MIN_DELTA_E = 12.0
MACHADO = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}
Lab = tuple[float, float, float]


def _linear(colour: str) -> list[float]:
    channels = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    return [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]


def simulate(colour: str, deficiency: str | None) -> list[float]:
    rgb = _linear(colour)
    if deficiency is None:
        return rgb
    return [min(1.0, max(0.0, sum(m * c for m, c in zip(row, rgb, strict=True))))
            for row in MACHADO[deficiency]]


def lab(rgb: list[float]) -> Lab:
    r, g, b = rgb
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def delta_e_2000(one: Lab, two: Lab) -> float:
    (l1, a1, b1), (l2, a2, b2) = one, two
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p, h2p = math.degrees(math.atan2(b1, a1p)) % 360, math.degrees(math.atan2(b2, a2p)) % 360
    dh = 0.0 if c1p * c2p == 0 else h2p - h1p
    dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + (360 if h1p + h2p < 360 else -360)) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
         + 0.32 * math.cos(math.radians(3 * h_bar + 6)) - 0.20 * math.cos(math.radians(4 * h_bar - 63)))
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar ** 7 / (cp_bar ** 7 + 25 ** 7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2
                     + r_t * (d_c / s_c) * (d_h / s_h))


def test_the_formula_matches_published_pairs() -> None:
    # Sharma, Wu & Dalal (2005), test data pairs 1 and 17
    assert round(delta_e_2000((50, 2.6772, -79.7751), (50, 0, -82.7485)), 4) == 2.0425
    assert round(delta_e_2000((50, 2.5, 0), (73, 25, -18)), 4) == 27.1492


def test_consecutive_levels_differ_for_every_vision() -> None:
    colours = [term.extra["color"] for _, term in sorted(vocab.levels().items())]
    assert len(colours) == 5
    found = {}
    for deficiency in (None, *MACHADO):
        labs = [lab(simulate(c, deficiency)) for c in colours]
        found[deficiency or "normal"] = [round(delta_e_2000(labs[i], labs[i + 1]), 1)
                                         for i in range(4)]
    assert all(d >= MIN_DELTA_E for values in found.values() for d in values), found
    # light to dark: the strength of the cooperation reads as darkness too (no hue needed)
    lightness = [lab(simulate(c, None))[0] for c in colours]
    assert lightness == sorted(lightness, reverse=True)


def test_the_links_swatch_shows_the_palette() -> None:
    from carto import ROOT

    css = ROOT.joinpath("static/css/terreau-map.css").read_text()
    colours = [term.extra["color"] for _, term in sorted(vocab.levels().items())]
    assert f"linear-gradient(90deg, {', '.join(colours)})" in css


def _relative_luminance(colour: str) -> float:
    r, g, b = _linear(colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, two: str) -> float:
    light, dark = sorted((_relative_luminance(one), _relative_luminance(two)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_level_numbers_are_readable_on_their_colour() -> None:
    """The pages print each level's number on its colour (`.level-dot`, white text unless
    static/css/terreau.css gives the level dark text): WCAG AA for normal text, 4.5:1."""
    css = (Path(__file__).resolve().parents[2] / "static" / "css" / "terreau.css").read_text()
    rule = re.search(r"((?:\.level-dot\[data-level=\"\d\"\],?\s*)+)\{\s*color:\s*(#[0-9a-f]{6})",
                     css)
    assert rule, "the dark-text rule of .level-dot is gone"
    dark_levels = {int(n) for n in re.findall(r"data-level=\"(\d)\"", rule.group(1))}
    levels = vocab.levels()
    assert dark_levels <= set(levels)
    for level, term in levels.items():
        text = rule.group(2) if int(level) in dark_levels else "#ffffff"
        ratio = contrast(term.extra["color"], text)
        assert ratio >= 4.5, (level, term.extra["color"], text, round(ratio, 2))
