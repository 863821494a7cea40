"""On the maps dashes mean "approximate position" and nothing else (docs/conventions.md): the
search radius, an opportunity's focus line and the gap page's catchment each lost theirs. A
dash is allowed only at the places named here, so a new one for something else fails until it
is given its own encoding (or, if it draws an approximate position, named below).

Every way this project draws a dash is looked for: Leaflet's `dashArray` and SVG's
`stroke-dasharray` in our scripts, in the Python that writes SVG and in the templates; a canvas
`setLineDash`; a CSS `dashed` border or a `stroke-dasharray` in our stylesheets."""

import re
from pathlib import Path

from carto import ROOT

CODE_DASH = re.compile(r"dashArray|dash_array|stroke-dasharray|strokeDasharray|setLineDash", re.I)
CSS_DASH = re.compile(r"\bdashed\b|stroke-dasharray", re.I)

# (file, selector) of the CSS rules that draw an approximate position, and why
APPROXIMATE_CSS = {
    ("static/css/terreau-map.css", ".tm-marker.is-approx .tm-pin"):
        "a resource at its commune's or neighbourhood's centre: its pin's dashed ring",
    ("static/css/terreau-map.css", ".tm-sample-approx"): "the same ring in the map's legend",
}
# (file, selector) of dashed boxes that are no map at all (a form's helper, an editor's panel)
NOT_A_MAP_CSS = {
    ("static/css/cooperation.css", ".coop-editor"): "the facilitator's declaration panel",
    ("static/css/forms.css", ".hours-helper"): "the opening hours helper of a form",
}
# (file, text on the line) of code that draws an approximate position with a dash: none today,
# the approximate position is drawn by the CSS above (a divIcon's ring)
APPROXIMATE_CODE: dict[tuple[str, str], str] = {}


def _ours(pattern: str) -> list[Path]:
    """Our own files, not the vendored libraries (Leaflet's own CSS has its dashed boxes)."""
    return sorted(p for p in ROOT.glob(pattern) if "vendor" not in p.relative_to(ROOT).parts)


def _code_dashes() -> list[tuple[str, str]]:
    found = []
    for path in (_ours("static/js/**/*.js") + _ours("static/*.js") + _ours("carto/**/*.py")
                 + _ours("api/**/*.py") + _ours("templates/**/*.html")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if CODE_DASH.search(line):
                found.append((str(path.relative_to(ROOT)), line.strip()))
    return found


def _css_dashes() -> list[tuple[str, str]]:
    """(file, selector) of each CSS rule with a dash (comments left out)."""
    found = []
    for path in _ours("static/css/**/*.css"):
        css = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8"), flags=re.S)
        for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
            if CSS_DASH.search(body):
                found.append((str(path.relative_to(ROOT)), " ".join(selector.split())))
    return found


def test_code_draws_no_dash_but_for_an_approximate_position() -> None:
    unknown = [(f, line) for f, line in _code_dashes()
               if not any(f == af and text in line for af, text in APPROXIMATE_CODE)]
    assert unknown == [], ("a dash on a map that is no approximate position (docs/conventions.md): "
                           f"give it its own encoding, {unknown}")


def test_stylesheets_dash_only_an_approximate_position_or_no_map() -> None:
    allowed = APPROXIMATE_CSS.keys() | NOT_A_MAP_CSS.keys()
    unknown = [rule for rule in _css_dashes() if rule not in allowed]
    assert unknown == [], ("a dashed rule that is no approximate position nor outside a map "
                           f"(docs/conventions.md): {unknown}")


def test_the_named_places_still_exist() -> None:
    """A place named here that no longer dashes is taken off, so the lists stay the truth."""
    rules = set(_css_dashes())
    assert [k for k in APPROXIMATE_CSS.keys() | NOT_A_MAP_CSS.keys() if k not in rules] == []
    code = _code_dashes()
    assert [k for k in APPROXIMATE_CODE if not any(f == k[0] and k[1] in line for f, line in code)] == []
