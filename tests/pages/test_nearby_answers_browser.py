"""Nearby answers people can act on (issue 12), in Chromium: "Ouvert maintenant" says what was
left out and why, positions at a centre show an approximate distance and say which results
share it, a first tap on a kind chooses it, and without tiles the map shows the communes."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser import Visit, browser, open_page, screenshot


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as b:
        yield b


def _results(b: Browser, base: str, query: str, width: int, height: int) -> Visit:
    """/nearby?query opened, its first answer shown (the list, or the status of none)."""
    visit = open_page(b, f"{base}/nearby?{query}", width=width, height=height)
    visit.page.wait_for_function("""() => /\\b(ok|empty)\\b/.test(
        document.querySelector('#nb-status').className)""")
    return visit


@pytest.mark.browser
def test_open_now_says_how_many_matched_and_were_left_out(chromium: Browser, live_server: str,
                                                          no_tiles: None) -> None:
    visit = _results(chromium, live_server, "commune=34172&kind=food_aid&open=1", 390, 844)
    status = visit.page.locator("#nb-status").inner_text()
    assert status.startswith("Aucun lieu ouvert maintenant à moins de 30 km de Montpellier")
    assert "Laissés de côté :" in status and "sans horaires connus" in status
    assert "décochez « Ouvert maintenant »" in status and "Élargissez" not in status
    screenshot(visit.page, "nearby-open-now-phone")
    assert visit.console_errors == []


@pytest.mark.browser
def test_positions_at_a_centre_show_approximate_distances(chromium: Browser, live_server: str,
                                                          no_tiles: None) -> None:
    visit = _results(chromium, live_server, "commune=34172&kind=food_aid,social_grocery",
                     1024, 768)
    page = visit.page
    cards = page.locator("#nb-list .nb-card").all_inner_texts()
    approx = [c for c in cards if "position approximative : centre d" in c]
    assert approx and all("≈" in c for c in approx), cards
    # several results at one centre: each card says which others share it, as does the pin
    assert any("même point que" in c for c in approx)
    assert page.locator("#nb-map .nb-pin").count() < len(cards)
    screenshot(page, "nearby-approximate-tablet")
    assert visit.console_errors == []


@pytest.mark.browser
def test_a_first_tap_on_a_kind_chooses_it_further_taps_add(chromium: Browser, live_server: str,
                                                          no_tiles: None) -> None:
    visit = _results(chromium, live_server, "commune=34172", 390, 844)
    page = visit.page
    pressed = "() => [...document.querySelectorAll('.nb-kind[aria-pressed=true]')]" \
              ".map(b => b.dataset.kind).join(',')"
    assert page.evaluate(pressed) == "producer"
    page.locator(".nb-kind[data-kind=food_aid]").click()
    assert page.evaluate(pressed) == "food_aid"  # chosen, not added to producer
    page.wait_for_function("() => /kind=food_aid(&|$)/.test(location.search)")
    page.locator(".nb-kind[data-kind=social_grocery]").click()
    assert set(page.evaluate(pressed).split(",")) == {"food_aid", "social_grocery"}
    assert visit.console_errors == []


@pytest.mark.browser
def test_without_tiles_the_nearby_map_shows_the_communes(chromium: Browser, live_server: str,
                                                         no_tiles: None) -> None:
    visit = _results(chromium, live_server, "commune=34172&kind=food_aid", 1024, 768)
    page = visit.page
    page.wait_for_function(
        "() => Number(document.querySelector('#nb-map').dataset.communes || 0) > 10")
    assert page.locator("#nb-map .leaflet-nb-communes-pane path").count() > 10
    screenshot(page, "nearby-no-tiles-communes-tablet")
    assert visit.console_errors == []
