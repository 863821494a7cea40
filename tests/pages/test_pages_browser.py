"""The pages in a real headless Chromium: they load, show the data, fetch nothing outside."""

from urllib.parse import urlparse

from tests.browser import browser, open_page, screenshot


def _outside(requests: list[str], origin: str) -> list[str]:
    host = urlparse(origin).netloc
    return [u for u in requests if urlparse(u).scheme in ("http", "https")
            and urlparse(u).netloc != host]


def test_home_page_in_chromium(live_server: str) -> None:
    with browser() as b:
        visit = open_page(b, live_server + "/")
        cards = visit.page.locator("#territories .card")
        assert cards.count() >= 7
        assert visit.page.locator('.card[data-slug="montpellier-celleneuve"] h2').inner_text() \
            == "Montpellier – Celleneuve"
        assert visit.console_errors == []
        assert _outside(visit.requests, live_server) == []
        screenshot(visit.page, "home")


def test_territory_page_in_chromium(live_server: str) -> None:
    with browser() as b:
        visit = open_page(b, live_server + "/territories/montpellier-celleneuve")
        rows = visit.page.locator("#resources tbody tr").count()
        assert rows == int(visit.page.locator("#n-resources").inner_text()) > 0
        assert visit.page.locator("#links tbody tr").count() == int(
            visit.page.locator("#n-links").inner_text())
        assert visit.console_errors == [] and visit.dialogs == []
        assert _outside(visit.requests, live_server) == []
        screenshot(visit.page, "territory-celleneuve")


def test_api_docs_are_served_offline(live_server: str) -> None:
    with browser() as b:
        visit = open_page(b, live_server + "/docs")
        visit.page.wait_for_selector(".swagger-ui .title", timeout=15000)
        assert "Terreau" in visit.page.locator(".swagger-ui .title").inner_text()
        assert visit.page.locator(".opblock").count() > 10
        assert _outside(visit.requests, live_server) == []
        assert visit.console_errors == []
