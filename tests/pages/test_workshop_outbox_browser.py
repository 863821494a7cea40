"""What waits in the outbox, on the real workshop page in Chromium (issue 14).

- An addition made offline is drawn on the participant's own map at once, marked "en attente
  d'envoi" (a white dot, not the dashed "à valider"; the legend under the map says both),
  still there after a reload made offline, and replaced by the real one (à valider) once the
  network returns and it is sent. At 390, 1024 and 1440 px."""

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.api.test_workshops import new_workshop
from tests.apiworld import World
from tests.browser import LOCALE, browser, screenshot
from tests.pages.test_workshops_browser import LIVE_MS, _add_resource, _counter, _rows

SIZES = ((390, 844), (1024, 768), (1440, 900))
UNSENT = "#ws-map path.ws-unsent"


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with browser() as b:
        yield b


def _context(b: Browser, size: tuple[int, int]) -> BrowserContext:
    return b.new_context(viewport={"width": size[0], "height": size[1]}, locale=LOCALE,
                         has_touch=size[0] < 1000)


def _workshop(base: str, world: World, title: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as http:
        return str(new_workshop(http, world, title=title)["code"])


def _join(context: BrowserContext, base: str, code: str, pseudonym: str) -> Page:
    """A participant's page, once the service worker controls it and keeps it (so that it
    reopens offline)."""
    page = context.new_page()
    page.goto(f"{base}/join/{code}")
    page.get_by_label("Pseudonyme").fill(pseudonym)
    with page.expect_navigation():
        page.get_by_role("button", name="Rejoindre l'atelier").click()
    assert page.url == f"{base}/workshops/{code}"
    assert page.evaluate("() => TerreauOutbox.kept()") >= 3
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    return page


def test_an_unsent_addition_is_drawn_on_the_map_as_waiting_until_sent(
        chromium: Browser, live_server: str, world: World, migrated: str) -> None:
    code = _workshop(live_server, world, "Atelier des ruchers")
    for width, height in SIZES:
        name = f"Rucher {width} {uuid.uuid4().hex[:6]}"
        context = _context(chromium, (width, height))
        page = _join(context, live_server, code, f"Lina {width}")
        context.set_offline(True)
        _add_resource(page, name, 40)
        expect(_counter(page)).to_have_text("1 en attente d'envoi")
        expect(page.locator(UNSENT)).to_have_count(1)
        legend = page.locator("#ws-legend")
        expect(legend).to_contain_text("en attente d'envoi")
        expect(legend).to_contain_text("à valider")
        page.reload(wait_until="load")  # offline: the worker's page, the outbox's item
        expect(page.locator(UNSENT)).to_have_count(1)
        page.locator(UNSENT).hover()
        expect(page.locator(".leaflet-tooltip")).to_contain_text(f"{name} — en attente d'envoi")
        page.evaluate("() => document.getElementById('ws-legend')"
                      ".scrollIntoView({block: 'end'})")
        screenshot(page, f"workshop-unsent-map-{width}x{height}")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= width
        assert _rows(migrated, name) == (0, 0)

        context.set_offline(False)  # sent: the waiting dot gives way to the real addition
        expect(_counter(page)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
        expect(page.locator(UNSENT)).to_have_count(0, timeout=LIVE_MS)
        expect(page.locator("#ws-additions li:not(.unsent)", has_text=name)
               ).to_contain_text("à valider", timeout=LIVE_MS)
        page.evaluate("() => document.getElementById('ws-legend')"
                      ".scrollIntoView({block: 'end'})")
        screenshot(page, f"workshop-unsent-sent-{width}x{height}")
        assert _rows(migrated, name) == (1, 1)
        context.close()
