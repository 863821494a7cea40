"""The gap page's charts (issue 12): a source with no data at all draws no bar (an empty bar
reads as a measured zero) and says « inconnu » instead. Pure functions, no database."""

from carto import gap
from carto.gap import charts

COEFS = gap.load_coefficients()


def _bars(svg: str) -> int:
    return svg.count("<rect") - svg.count('width="12" height="12"')  # legend swatches apart


def test_unknown_sources_draw_no_bar_and_say_so() -> None:
    result = gap.compute(24_000, COEFS, gap.scenario())  # nothing declared, no farmland
    groups = len(result.groups)
    unknown = charts.tonnage_chart(result, "fr", producers_known=False, farmland_known=False)
    assert _bars(unknown) == groups  # the needs only
    assert unknown.count("inconnu (aucune donnée)") == 2 * groups
    known = charts.tonnage_chart(result, "fr")
    assert _bars(known) == 3 * groups and "inconnu" not in known
    land = charts.land_chart(result, "fr", producers_known=False)
    assert _bars(land) == groups and "manque inconnu" in land
    assert "Surface manquante" not in land  # nor in its legend
    assert _bars(charts.land_chart(result, "fr")) == 2 * groups
