"""The territory maps in a real headless Chromium: what people see and click.

Every request is recorded; nothing may leave the app's origin (tiles are switched off by
conftest, served from the app's origin, or made unreachable, test by test)."""

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from carto.config import map_settings
from carto.db import transaction
from carto.maps import data as mapdata
from tests.browser import LOCALE, SCREENSHOTS, Visit, browser, local_only, open_page, screenshot
from tests.mapfixtures import LINK_DESCRIPTION, XSS_DESCRIPTION, XSS_NAME, XssTerritory, xss_territory

__all__ = ["xss_territory"]  # the fixture, imported for pytest

DEMO = ["frontignan", "vauvert", "pezenas", "montpellier-celleneuve", "montpellier-centre",
        "haut-allier", "marvejols"]
# A 1×1 transparent PNG, the "tile" the app's origin serves in the tile test.
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
                       "60e6kgAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as b:
        yield b


@pytest.fixture
def tiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Lets a test set TERREAU_MAP_TILE_URL; settings are read again afterwards."""
    yield monkeypatch
    monkeypatch.delenv("TERREAU_MAP_TILE_URL", raising=False)
    monkeypatch.delenv("TERREAU_MAP_EMBED_LIMIT", raising=False)
    map_settings.cache_clear()


def _set(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    map_settings.cache_clear()


def outside(requests: list[str], origin: str) -> list[str]:
    host = urlparse(origin).netloc
    return [u for u in requests if urlparse(u).scheme not in ("data", "blob", "about")
            and urlparse(u).netloc != host]


def counts(url: str, slug: str) -> tuple[int, int]:
    with transaction(url) as session:
        summary = mapdata.territory_summary(session, slug)
        return summary["resources"], summary["links"]


def ready(page: Page) -> None:
    page.wait_for_selector('.folium-map[data-ready="true"]', state="attached", timeout=15_000)


def shown(page: Page) -> dict[str, int]:
    """What the page displays, read from the DOM: territory markers (ring or not), resources
    counted inside bubbles, link lines."""
    return page.evaluate("""() => ({
        markers: document.querySelectorAll('.tm-marker:not(.is-outside)').length,
        inBubbles: [...document.querySelectorAll('.tm-bubble')]
            .reduce((n, b) => n + Number(b.getAttribute('data-count') || 0), 0),
        links: document.querySelectorAll('path.tm-link').length,
    })""")


def visit_map(b: Browser, url: str) -> Visit:
    visit = open_page(b, url)
    ready(visit.page)
    return visit


@pytest.mark.parametrize("slug", DEMO)
def test_demo_territory_map_shows_every_public_resource_and_link(
        chromium: Browser, live_server: str, migrated: str, slug: str) -> None:
    visit = visit_map(chromium, f"{live_server}/territories/{slug}")
    n_resources, n_links = counts(migrated, slug)
    seen = shown(visit.page)
    assert seen["markers"] + seen["inBubbles"] == n_resources > 0
    assert seen["links"] == n_links
    assert visit.page.inner_text("#n-resources") == str(n_resources)
    status = visit.page.locator(".tm-legend .tm-status").first
    assert status.get_attribute("data-resources") == str(n_resources)
    assert visit.console_errors == [] and visit.dialogs == []
    assert outside(visit.requests, live_server) == []
    assert visit.page.locator(".leaflet-control-layers-overlays input").count() >= 2
    screenshot(visit.page, f"map-{slug}")


def test_toggling_a_kind_hides_its_markers(chromium: Browser, live_server: str) -> None:
    visit = visit_map(chromium, f"{live_server}/territories/vauvert")
    page = visit.page
    before = page.locator(".tm-marker.k-social_service").count()
    assert before > 1
    total = shown(page)["markers"]
    box = page.locator(".leaflet-control-layers-overlays label",
                       has_text="Service social").locator("input")
    box.uncheck()
    assert page.locator(".tm-marker.k-social_service").count() == 0
    assert shown(page)["markers"] == total - before
    box.check()
    assert page.locator(".tm-marker.k-social_service").count() == before
    links = page.locator(".leaflet-control-layers-overlays label",
                         has_text="Liens de coopération").locator("input")
    links.uncheck()
    assert page.locator("path.tm-link").count() == 0
    assert visit.console_errors == []


def test_minimum_level_and_category_filters_hide_links(chromium: Browser, live_server: str,
                                                       migrated: str) -> None:
    with transaction(migrated) as session:
        tid = mapdata.territory_id(session, "vauvert")
        links = mapdata.territory_links(session, tid)
    visit = visit_map(chromium, f"{live_server}/territories/vauvert")
    page = visit.page
    assert page.locator("path.tm-link").count() == len(links)
    page.select_option("select[name=min_level]", "3")
    strong = [lk for lk in links if lk["level"] >= 3]
    assert 0 < len(strong) < len(links)
    assert page.locator("path.tm-link").count() == len(strong)
    assert page.locator("path.tm-link.tm-level-1, path.tm-link.tm-level-2").count() == 0
    page.select_option("select[name=min_level]", "1")
    category = links[0]["category"]
    page.locator(f"input[name=category][value={category}]").uncheck()
    assert page.locator("path.tm-link").count() == len(
        [lk for lk in links if lk["category"] != category])
    assert visit.console_errors == []


def test_hostile_text_shows_as_text_and_runs_nothing(chromium: Browser, live_server: str,
                                                     xss_territory: XssTerritory) -> None:
    visit = visit_map(chromium, f"{live_server}/territories/{xss_territory.slug}")
    page = visit.page
    assert shown(page)["markers"] == 3  # pending and members-only never shown
    page.locator(f'.tm-marker [data-id="{xss_territory.xss_id}"], '
                 f'.tm-marker[data-id="{xss_territory.xss_id}"]').first.click()
    popup = page.locator(".leaflet-popup-content .tm-popup-resource")
    assert popup.locator("h3").inner_text() == XSS_NAME
    assert "<script>" in popup.inner_text() and XSS_DESCRIPTION.split("<")[0] in popup.inner_text()
    page.evaluate(f"window.terreauMap.openLink({xss_territory.link_id!r})")
    link_popup = page.locator(".leaflet-popup-content .tm-popup-link")
    assert LINK_DESCRIPTION in link_popup.inner_text()
    assert "<img src=y onerror=alert(2)>" in link_popup.inner_text()
    search = page.locator(".tm-search input")
    search.fill("<img")
    page.wait_for_selector(".tm-result")
    assert page.locator(".tm-result .tm-result-name").first.inner_text() == XSS_NAME
    assert page.locator(f"#resources tr#r-{xss_territory.xss_id} td").first.inner_text() \
        .startswith(XSS_NAME)
    page.wait_for_timeout(300)
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"], img[src=\"y\"]').length") == 0
    assert page.evaluate("document.querySelectorAll('b').length") == 0  # "Voisin <b>gras</b>"
    assert visit.dialogs == [] and visit.console_errors == []


def test_search_opens_the_resource(chromium: Browser, live_server: str) -> None:
    visit = visit_map(chromium, f"{live_server}/territories/montpellier-centre")
    page = visit.page
    page.locator(".tm-search input").fill("epicerie")
    page.wait_for_selector(".tm-result")
    first = page.locator(".tm-result .tm-result-name").first.inner_text()
    assert "picerie" in first.lower()
    page.locator(".tm-search input").press("Enter")
    page.wait_for_selector(".leaflet-popup-content h3")
    assert page.locator(".leaflet-popup-content h3").last.inner_text() == first
    assert "Voir la fiche" in page.locator(".leaflet-popup-content").last.inner_text()
    assert visit.console_errors == []


def test_tiles_from_the_app_origin(chromium: Browser, live_server: str,
                                   tiles: pytest.MonkeyPatch) -> None:
    _set(tiles, "TERREAU_MAP_TILE_URL", f"{live_server}/test-tiles/{{z}}/{{x}}/{{y}}.png")
    page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale=LOCALE)
    served: list[str] = []

    def tile(route: Route) -> None:
        served.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=PNG)

    page.route(re.compile(r".*/test-tiles/.*"), tile)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server}/territories/frontignan", wait_until="networkidle")
    ready(page)
    assert served and errors == []
    assert "contributeurs OpenStreetMap" in page.inner_text(".leaflet-control-attribution")
    assert page.locator(".tm-notice").count() == 0
    page.close()


def test_unreachable_tiles_leave_a_working_map(chromium: Browser, live_server: str, migrated: str,
                                               tiles: pytest.MonkeyPatch) -> None:
    _set(tiles, "TERREAU_MAP_TILE_URL", "http://127.0.0.1:9/{z}/{x}/{y}.png")
    page = chromium.new_page(viewport={"width": 1280, "height": 900}, locale=LOCALE)
    page.route(re.compile(r"^http://127\.0\.0\.1:9/.*"), lambda route: route.abort())
    page_errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and console.append(m.text))
    page.goto(f"{live_server}/territories/haut-allier", wait_until="networkidle")
    ready(page)
    page.wait_for_selector(".tm-notice")
    n_resources, n_links = counts(migrated, "haut-allier")
    seen = shown(page)
    assert seen["markers"] + seen["inBubbles"] == n_resources and seen["links"] == n_links
    assert page.locator(".folium-map.tm-no-basemap").count() == 1
    assert page.locator(".tm-commune-label").count() > 0  # the communes name the places
    assert page_errors == []
    assert all("Failed to load resource" in m for m in console)
    screenshot(page, "map-haut-allier-no-tiles")
    page.close()


def test_standalone_file_opens_offline(chromium: Browser, live_server: str, migrated: str,
                                       tmp_path: Path) -> None:
    response = httpx.get(f"{live_server}/territories/montpellier-celleneuve/map.html?download=1")
    assert response.status_code == 200
    file = tmp_path / "celleneuve.html"
    file.write_text(response.text, encoding="utf-8")
    page = chromium.new_page(viewport={"width": 1100, "height": 800}, locale=LOCALE)
    requested = local_only(page)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(file.as_uri(), wait_until="load")
    ready(page)
    n_resources, n_links = counts(migrated, "montpellier-celleneuve")
    seen = shown(page)
    assert seen["markers"] + seen["inBubbles"] == n_resources and seen["links"] == n_links
    assert [u for u in requested if not u.startswith(("file:", "data:"))] == []
    assert errors == []
    # Fonts came inline: the pictograms render with Font Awesome, not a fallback font.
    assert page.evaluate("document.fonts.check('900 14px \"Font Awesome 6 Free\"')")
    page.locator(".tm-marker").first.click()
    assert page.locator(".leaflet-popup-content h3").count() == 1
    # No TERREAU_PUBLIC_URL: no "Voir la fiche" pointing at the server that wrote the file.
    assert page.locator(".leaflet-popup-content .tm-record").count() == 0
    page.close()


def test_large_territory_loads_by_viewport(chromium: Browser, live_server: str, migrated: str,
                                           tiles: pytest.MonkeyPatch) -> None:
    _set(tiles, "TERREAU_MAP_EMBED_LIMIT", "5")
    visit = visit_map(chromium, f"{live_server}/territories/frontignan")
    page = visit.page
    page.wait_for_selector(".tm-bubble")
    n_resources, n_links = counts(migrated, "frontignan")
    assert page.locator(".folium-map").get_attribute("data-mode") == "viewport"
    assert shown(page)["inBubbles"] == n_resources
    # the outlines, left out of the page, come by their own request once the bubbles are drawn
    page.wait_for_selector('.folium-map[data-ready="true"]', state="attached")
    assert any("/territories/frontignan/map/communes.json" in r for r in visit.requests)
    assert page.locator(".tm-commune-label").count() > 0
    page.locator(".tm-bubble").first.click()  # all at the commune's centre: straight to street zoom
    page.wait_for_function("() => document.querySelectorAll('.tm-marker').length > 0")
    page.wait_for_function("() => !document.querySelector('.folium-map[data-loading]')")
    seen = shown(page)
    assert seen["markers"] == n_resources and seen["links"] == n_links
    page.locator(".tm-marker").first.click()
    page.wait_for_selector(".leaflet-popup-content .tm-links")
    assert visit.console_errors == [] and outside(visit.requests, live_server) == []


@pytest.mark.parametrize("width, height", [(390, 844), (1024, 768), (1440, 900)])
def test_a_large_territory_draws_its_first_view_from_the_page(
        chromium: Browser, live_server: str, migrated: str, tiles: pytest.MonkeyPatch,
        width: int, height: int) -> None:
    """The page carries the first view's bubbles: drawn without a features.json request, then
    the boundary, the legend and the communes; the next view is asked for as before."""
    _set(tiles, "TERREAU_MAP_EMBED_LIMIT", "5")
    visit = open_page(chromium, f"{live_server}/territories/frontignan", width, height)
    page = visit.page
    page.wait_for_selector(".tm-bubble")
    assert not any("/map/features.json" in r for r in visit.requests)
    ready(page)
    n_resources, _ = counts(migrated, "frontignan")
    box = page.locator(".folium-map")
    assert box.get_attribute("data-first-view") == "page"
    assert shown(page)["inBubbles"] == n_resources
    assert box.get_attribute("data-shown-resources") == str(n_resources)
    assert page.locator(".tm-status").first.text_content()
    assert page.locator("path.leaflet-interactive, .tm-mask").count() > 0  # boundary, mask
    assert not any("/map/features.json" in r for r in visit.requests)
    screenshot(page, f"map-first-view-{width}")
    page.locator(".tm-bubble").first.click()
    page.wait_for_function("() => document.querySelectorAll('.tm-marker').length > 0")
    assert any("/map/features.json" in r for r in visit.requests)
    assert visit.console_errors == [] and outside(visit.requests, live_server) == []


def test_bubbles_answer_the_pointer_and_the_keyboard(
        chromium: Browser, live_server: str, tiles: pytest.MonkeyPatch) -> None:
    """The counted bubbles, one layer for all of them (static/js/terreau-bubbles.js): a hover or
    a focus says what is inside, a drag that starts and ends on a bubble pans the map without
    opening it, Enter opens it (zooms in), and the map's own click never sees the bubble's."""
    _set(tiles, "TERREAU_MAP_EMBED_LIMIT", "5")
    visit = open_page(chromium, f"{live_server}/territories/frontignan", 1024, 768)
    page = visit.page
    ready(page)
    bubble = page.locator(".tm-bubble").first
    count = bubble.get_attribute("data-count") or ""
    assert count and bubble.get_attribute("role") == "button"
    assert bubble.get_attribute("tabindex") == "0"
    assert count in (bubble.get_attribute("aria-label") or "")
    counting = ("() => { window.__mapClicks = 0; "
                "terreauMap.map.on('click', () => { window.__mapClicks += 1; }); }")
    page.evaluate(counting)

    bubble.hover()
    tip = page.locator(".leaflet-tooltip.tm-tooltip")
    tip.wait_for()
    assert count in tip.inner_text()
    page.mouse.move(5, 5)
    tip.wait_for(state="detached")

    view = "() => [terreauMap.map.getZoom(), terreauMap.map.getCenter().lng]"
    zoom, lng = page.evaluate(view)
    box = bubble.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 90, y + 20, steps=10)  # the bubble follows the map: still under the pointer
    page.mouse.up()
    after_zoom, after_lng = page.evaluate(view)
    assert after_zoom == zoom and after_lng != lng  # panned, not opened

    bubble.focus()
    tip.wait_for()
    assert count in tip.inner_text()
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => terreauMap.map.getZoom() > {zoom}")
    page.wait_for_function("() => document.querySelectorAll('.tm-marker').length > 0")

    clicked = open_page(chromium, f"{live_server}/territories/frontignan", 1024, 768)
    ready(clicked.page)
    clicked.page.evaluate(counting)
    clicked.page.locator(".tm-bubble").first.click()
    clicked.page.wait_for_function(f"() => terreauMap.map.getZoom() > {zoom}")
    assert page.evaluate("() => window.__mapClicks") == 0
    assert clicked.page.evaluate("() => window.__mapClicks") == 0
    assert visit.console_errors == [] and clicked.console_errors == []

def test_map_alone_for_an_iframe_in_english(chromium: Browser, live_server: str) -> None:
    visit = visit_map(chromium, f"{live_server}/territories/pezenas/map.html?lang=en")
    page = visit.page
    assert page.locator(".tm-legend.leaflet-control").count() == 1  # legend on the map
    assert "Legend and filters" in page.inner_text(".tm-legend summary")
    assert page.locator(".tm-search input").get_attribute("placeholder") == "Search a resource…"
    assert visit.console_errors == [] and outside(visit.requests, live_server) == []


def test_print_layout_has_title_date_legend_attribution_scale(chromium: Browser,
                                                              live_server: str) -> None:
    visit = visit_map(chromium, f"{live_server}/territories/montpellier-celleneuve")
    page = visit.page
    page.evaluate("document.body.classList.add('tm-print-a4')")
    page.emulate_media(media="print")
    for selector in (".tm-print-head h1", ".tm-print-date", ".tm-panel .tm-legend",
                     ".leaflet-control-attribution", ".leaflet-control-scale",
                     ".tm-print-sources"):
        assert page.locator(selector).first.is_visible(), selector
    for hidden in (".tm-actions", ".tm-search", ".leaflet-control-zoom", "header.top"):
        assert not page.locator(hidden).first.is_visible(), hidden
    SCREENSHOTS.mkdir(exist_ok=True)
    page.pdf(path=str(SCREENSHOTS / "map-celleneuve-a4.pdf"), format="A4", landscape=True,
             print_background=True)
    assert visit.console_errors == []
