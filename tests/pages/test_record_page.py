"""Record pages /resources/{id} (issue 13): public-safe through the same reads as the API (a
private person shown at their commune, never their contacts; a pending resource absent for
readers), user text escaped, and the map popup's "Voir la fiche" link leads there."""

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from carto import resources
from carto.db import transaction
from tests.browser import browser, open_page, screenshot, settled

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def made(live_server: str, migrated: str) -> Iterator[dict[str, uuid.UUID]]:
    base = {"territories": ["pezenas"], "commune": "34199", "lon": 3.4231, "lat": 43.4592,
            "location_precision": "exact"}
    with transaction(migrated) as session:
        ids = {
            "xss": resources.create(session, {**base, "name": XSS, "kind": "food_aid",
                                              "description": XSS, "opening_hours": "Mo-Fr 09:00-12:00",
                                              "website": "https://example.org/"},
                                    "test").id,
            "private": resources.create(session, {**base, "name": "Famille Martin",
                                                  "kind": "producer", "is_private": True,
                                                  "phone": "06 11 22 33 44",
                                                  "address": "3 rue des Lilas"}, "test").id,
            "pending": resources.create(session, {**base, "name": "En attente", "kind": "food_aid"},
                                        "test", moderation="pending").id,
        }
    yield ids
    with transaction(migrated) as session:
        for rid in ids.values():
            resources.delete(session, rid, "test", None)


def _page(base: str, rid: uuid.UUID) -> httpx.Response:
    return httpx.get(f"{base}/resources/{rid}", headers={"Accept": "text/html"})


def test_the_record_shows_the_resource_with_its_text_escaped(live_server: str,
                                                             made: dict[str, uuid.UUID]) -> None:
    page = _page(live_server, made["xss"])
    assert page.status_code == 200
    assert XSS not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "Aide alimentaire" in page.text
    assert 'id="record-hours"' in page.text and "Mo-Fr 09:00-12:00" in page.text
    assert "Pézenas" in page.text


def test_a_private_person_is_shown_at_the_commune_without_contacts(
        live_server: str, made: dict[str, uuid.UUID]) -> None:
    page = _page(live_server, made["private"])
    assert page.status_code == 200
    assert "06 11 22 33 44" not in page.text and "rue des Lilas" not in page.text
    lon = float(re.search(r'data-lon="([-0-9.]+)"', page.text).group(1))  # type: ignore[union-attr]
    api = httpx.get(f"{live_server}/api/resources/{made['private']}").json()
    assert lon == pytest.approx(api["geometry"]["coordinates"][0])  # the API's shown position
    assert lon != pytest.approx(3.4231)  # not the home


def test_a_pending_resource_is_not_found_by_readers(live_server: str,
                                                    made: dict[str, uuid.UUID]) -> None:
    assert _page(live_server, made["pending"]).status_code == 404
    assert _page(live_server, uuid.uuid4()).status_code == 404
    assert httpx.get(f"{live_server}/resources/not-an-id",
                     headers={"Accept": "text/html"}).status_code in (400, 404, 422)


@pytest.mark.browser
def test_voir_la_fiche_opens_the_record_page_in_chromium(live_server: str,
                                                         made: dict[str, uuid.UUID]) -> None:
    with browser() as b:
        visit = open_page(b, f"{live_server}/territories/montpellier-centre", 1024, 768)
        page = visit.page
        page.locator(".tm-search input").fill("epicerie")
        page.wait_for_selector(".tm-result")
        page.locator(".tm-search input").press("Enter")
        page.wait_for_selector(".leaflet-popup-content h3")
        name = page.locator(".leaflet-popup-content h3").last.inner_text()
        settled(page.locator(".leaflet-popup-content").last.get_by_role("link", name="Voir la fiche")).click()
        page.wait_for_selector("#record-name")
        assert re.search(r"/resources/[0-9a-f-]{36}$", page.url)
        assert page.locator("#record-name").inner_text() == name
        page.wait_for_selector("#record-map .leaflet-interactive")
        screenshot(page, "record-1024x768")
        assert not visit.console_errors and not visit.dialogs
        assert all(u.startswith(live_server) for u in visit.requests)
        for width, height in ((390, 844),):
            other = open_page(b, f"{live_server}/resources/{made['xss']}", width, height)
            assert other.page.locator("#record-name").inner_text() == XSS
            screenshot(other.page, f"record-{width}x{height}")
            assert not other.console_errors and not other.dialogs
