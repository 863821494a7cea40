"""The « À proximité » page in headless Chromium: a first-time user types « Celleneuve », picks
the suggestion and finds the demo producers; nothing is fetched outside the app; names are
text, never markup. The basemap is switched off (its tiles are the one thing a page may fetch
elsewhere), which is also the "no tiles" case the page must survive."""

import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import text

from carto.db import transaction
from tests.browser import browser, dashed_strokes, open_page, screenshot

DEMO_PRODUCERS = (
    "Boulangère (réseau de vente de pain bio)",
    "Cinq producteurs des achats groupés (non nommés)",
)


def _outside(requests: list[str], origin: str) -> list[str]:
    host = urlparse(origin).netloc
    return [u for u in requests if urlparse(u).scheme in ("http", "https") and urlparse(u).netloc != host]



@pytest.fixture
def hostile_name(migrated: str, live_server: str) -> Iterator[str]:
    """A committed resource whose name is markup, near Celleneuve; removed afterwards."""
    rid = uuid.uuid4()
    name = '<img src=x onerror="alert(1)">Ferme <b>test</b>'
    with transaction(migrated) as s:
        s.execute(
            text("""
            INSERT INTO resource (id, name, kind, geom, location_precision, products,
                                  phone, website, created_by, updated_by)
            VALUES (:id, :name, 'producer', ST_SetSRID(ST_MakePoint(3.8262, 43.6141), 4326),
                    'exact', '{eggs}', '04 67 00 00 00', 'javascript:alert(2)', 'test', 'test')"""),
            {"id": rid, "name": name},
        )
    try:
        yield name
    finally:
        with transaction(migrated) as s:
            s.execute(text("DELETE FROM resource WHERE id = :id"), {"id": rid})


def test_nearby_page_finds_demo_producers_near_celleneuve(
    live_server: str, no_tiles: None, hostile_name: str
) -> None:
    with browser() as b:
        visit = open_page(b, live_server + "/nearby", width=390, height=844)
        page = visit.page
        assert page.locator("#nb-status").inner_text().startswith("Tapez une commune")
        screenshot(page, "nearby-phone-start")
        page.locator("#nb-q").press_sequentially("Celleneuve", delay=30)
        option = page.locator("#nb-suggest [role=option]", has_text="Montpellier – Celleneuve")
        option.wait_for()
        screenshot(page, "nearby-phone-suggestions")
        option.click()
        page.locator("#nb-list .nb-card").first.wait_for()
        names = page.locator("#nb-list .nb-name").all_inner_texts()
        for producer in DEMO_PRODUCERS:
            assert producer in names
        assert page.locator("#nb-status").inner_text().startswith(f"{len(names)} résultats")
        # the markup in a name is shown as text, and a javascript: website is no link
        assert hostile_name in names
        assert page.locator("#nb-list img").count() == 0
        assert page.locator("#nb-list a[href^='javascript']").count() == 0
        assert page.locator("#nb-list a[href^='tel:']").count() >= 1
        # the map shows the origin, the radius circle and one pin per place
        assert page.locator("#nb-map .nb-pin").count() >= 1
        assert page.locator("#nb-map path.leaflet-interactive").count() >= 1
        # the radius is a solid outline with a faint fill: dashes are the approximate position's
        assert page.locator("#nb-map path.nb-radius-area").count() == 1
        assert dashed_strokes(page, "#nb-map") == []
        # the state is in the URL: reloading it gives the same list
        state = parse_qs(urlparse(page.url).query)
        assert state["kind"] == ["producer"] and state["from"] == ["place"]
        page.wait_for_timeout(800)  # the list is scrolled into view, smoothly
        screenshot(page, "nearby-phone-results")
        page.screenshot(
            path=str(screenshot(page, "nearby-phone-results").with_name("nearby-phone-results-full.png")),
            full_page=True,
        )
        again = open_page(b, page.url, width=1440, height=900)
        again.page.locator("#nb-list .nb-card").first.wait_for()
        assert dashed_strokes(again.page, "#nb-map") == []
        assert again.page.locator("#nb-list .nb-name").all_inner_texts() == names
        screenshot(again.page, "nearby-desktop-results")
        assert visit.console_errors == [] and again.console_errors == []
        assert visit.dialogs == [] and again.dialogs == []
        assert _outside(visit.requests + again.requests, live_server) == []


def test_nearby_page_filters_and_errors(live_server: str, no_tiles: None) -> None:
    with browser() as b:
        visit = open_page(b, live_server + "/nearby?commune=34172&kind=food_aid", width=390, height=844)
        page = visit.page
        page.locator("#nb-list .nb-card").first.wait_for()
        kinds = set(page.locator("#nb-list .nb-kind-label").all_inner_texts())
        assert {k.strip() for k in kinds} == {"Aide alimentaire"}
        # tapping a pictogram adds a kind and reruns the search
        page.locator(".nb-kind[data-kind=producer]").click()
        page.wait_for_function("() => document.querySelector('#nb-status').className.includes('ok')")
        page.wait_for_function("() => location.search.includes('producer')")
        assert "food_aid" in page.url
        # an ambiguous commune offers the candidates instead of failing
        page.goto(live_server + "/nearby?commune=Saint-Br%C3%A8s")
        page.locator("#nb-suggest [role=option]").first.wait_for()
        options = page.locator("#nb-suggest [role=option]").all_inner_texts()
        assert any("(30)" in o for o in options) and any("(34)" in o for o in options)
        assert "Plusieurs communes" in page.locator("#nb-status").inner_text()
        page.locator("#nb-suggest [role=option]", has_text="(34)").click()
        page.wait_for_function("() => location.search.includes('commune=34244')")
        # a click on the map searches around that point
        page.goto(live_server + "/nearby")
        page.locator("#nb-map").click(position={"x": 150, "y": 120})
        page.wait_for_function("() => location.search.includes('from=map')")
        # the only console line is Chromium logging the ambiguous answer's 400
        assert [e for e in visit.console_errors if "status of 400" not in e] == []
        assert len(visit.console_errors) == 1 and visit.dialogs == []
        assert _outside(visit.requests, live_server) == []
