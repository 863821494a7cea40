"""Maps that explain themselves (issue 12), in Chromium: one visual encoding per meaning, all in
the legend; two links between the same pair drawn apart; the ring of resources sharing a point
kept inside the territory where it fits; the basemap notice clear of the search box and of the
popups on a tablet."""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.browser import LOCALE, browser, screenshot


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as b:
        yield b


def _open(b: Browser, url: str, width: int = 1024, height: int = 768) -> Page:
    page = b.new_page(viewport={"width": width, "height": height}, locale=LOCALE)
    page.goto(url, wait_until="networkidle")
    page.wait_for_selector('.folium-map[data-ready="true"]', state="attached", timeout=15_000)
    return page


@pytest.mark.browser
def test_one_encoding_per_meaning_all_in_the_legend(chromium: Browser, live_server: str) -> None:
    page = _open(chromium, f"{live_server}/territories/pezenas", 1440, 900)
    # Dashes mean "approximate position" only: no link is dashed, on the map or in the legend.
    assert page.locator("path.tm-link[stroke-dasharray]").count() == 0
    assert page.locator(".tm-ramp line[stroke-dasharray]").count() == 0
    assert page.locator(".tm-marker.is-approx").count() > 0
    legend = page.locator(".tm-legend").inner_text()
    # the leader lines to a shared point are in the legend, and one wording for "approximate"
    assert page.locator(".tm-legend .tm-sample-leg").count() == 1
    assert "Trait fin : relie chaque ressource du cercle à ce point" in legend
    assert "Position approximative : centre de la commune ou du quartier" in legend
    assert "Placée au centre" not in legend
    page.locator(".tm-marker.is-approx").first.click()
    popup = page.locator(".leaflet-popup-content").inner_text()
    assert "Position approximative" in popup and "Placé au centre" not in popup
    screenshot(page, "map-legend-pezenas")
    page.close()


@pytest.mark.browser
def test_two_links_between_the_same_pair_are_drawn_apart(chromium: Browser,
                                                        live_server: str) -> None:
    page = _open(chromium, f"{live_server}/territories/marvejols")
    middles = page.evaluate("""() => [...document.querySelectorAll('path.tm-link')].map(p => {
        const m = p.getPointAtLength(p.getTotalLength() / 2); return [m.x, m.y]; })""")
    assert len(middles) == 2
    (x1, y1), (x2, y2) = middles
    apart = ((x1 - x2) ** 2 + (y1 - y2) ** 2) ** 0.5
    widths = page.evaluate("""() => [...document.querySelectorAll('path.tm-link')]
        .map(p => Number(p.getAttribute('stroke-width')))""")
    assert apart > sum(widths), (apart, widths)  # each line clear of the other
    screenshot(page, "map-marvejols-two-links")
    page.close()


@pytest.mark.browser
def test_the_ring_stays_inside_the_territory_where_it_fits(chromium: Browser,
                                                          live_server: str) -> None:
    """Langogne's eleven resources sit near Haut-Allier's eastern edge: their ring moves (and
    tightens) inside. On a small screen it fits only once zoomed in (one step at 1024 px, two
    on a phone); before, it spilled over the boundary even at 1440 px."""
    for width, height, zoom_in in ((1440, 900, 0), (1024, 768, 1), (390, 844, 2)):
        page = _open(chromium, f"{live_server}/territories/haut-allier", width, height)
        if zoom_in:
            page.evaluate("""(dz) => { const m = window.terreauMap;
                m.map.setView([44.722, 3.830], m.map.getZoom() + dz, {animate: false}); }""",
                          zoom_in)
        outside = page.evaluate("""() => {
            const m = window.terreauMap, z = m.map.getZoom();
            // resources whose true point is inside the boundary are drawn inside it
            const inside = ll => m._inside(m.map.project(ll, z), z);
            return Object.values(m.resources).filter(r => !r.outside && r.shownAt &&
                inside(r.latlng) && !inside(r.shownAt)).map(r => r.name);
        }""")
        assert outside == [], (width, outside)
        screenshot(page, f"map-haut-allier-ring-{width}")
        page.close()



def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


@pytest.mark.browser
def test_the_basemap_notice_covers_neither_search_nor_popups(chromium: Browser, live_server: str,
                                                            unreachable_tiles: None) -> None:
    page = chromium.new_page(viewport={"width": 1024, "height": 768}, locale=LOCALE)
    page.route(re.compile(r"^http://127\.0\.0\.1:9/.*"), lambda route: route.abort())
    page.goto(f"{live_server}/territories/marvejols", wait_until="networkidle")
    page.wait_for_selector(".tm-notice")
    notice = page.locator(".tm-notice").bounding_box()
    search = page.locator(".tm-search").bounding_box()
    assert notice and search and not _overlap(notice, search)
    page.locator(".tm-marker").first.click()
    page.locator(".leaflet-popup-content h3").wait_for()
    assert not page.locator(".tm-notice").is_visible()  # away while a popup is open
    screenshot(page, "map-notice-tablet-popup")
    page.locator(".leaflet-popup-close-button").click()
    assert page.locator(".tm-notice").is_visible()
    page.close()
