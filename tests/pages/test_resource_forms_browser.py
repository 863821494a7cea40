"""The resource forms in Chromium against the real server (issue 13): an editor signs in with a
link, adds a resource by tapping the map (commune suggestions and the opening-hours helper on
the way), edits it while a second tab saves a change and resolves the conflict, deletes and
restores it; its name `<img src=x onerror=alert(1)>` stays text on every page; no console
error, no request outside the app. Without JavaScript the same form creates a resource."""

import re
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from carto import resources, tokens
from carto.db import transaction
from tests.browser import LOCALE, Visit, browser, screenshot, watch

XSS = "<img src=x onerror=alert(1)>"
RECORD = re.compile(r"/resources/[0-9a-f-]{36}$")  # a record page (not .../resources/new)
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def made(added_resources: list[uuid.UUID]) -> list[uuid.UUID]:
    return added_resources


def _signed_in(chromium: Browser, base: str, migrated: str, width: int, height: int,
               javascript: bool = True) -> tuple[BrowserContext, Visit]:
    with transaction(migrated) as session:
        token = tokens.create(session, "editor", "pezenas", "Animatrice navigateur").token
    context = chromium.new_context(viewport={"width": width, "height": height}, locale=LOCALE,
                                   java_script_enabled=javascript)
    visit = watch(context.new_page(), f"{base}/sign-in?token={token}")  # the sign-in link
    visit.page.get_by_role("button", name="Se connecter").click()
    visit.page.wait_for_url(f"{base}/")
    return context, visit


# A form shown again with its conflict (409) answers with that status, which Chromium logs;
# nothing else may reach the console.
RE_SHOWN = "the server responded with a status of 409"


def _clean(visit: Visit, base: str) -> None:
    assert visit.dialogs == [], visit.dialogs  # the name never ran as HTML
    errors = [e for e in visit.console_errors if RE_SHOWN not in e]
    assert errors == [], errors
    outside = [u for u in visit.requests if not u.startswith(base) and not u.startswith("data:")]
    assert outside == []


def _record_id(url: str) -> uuid.UUID:
    return uuid.UUID(url.split("/resources/")[1].split("?")[0].split("/")[0])


def test_an_editor_adds_edits_through_a_conflict_deletes_and_restores(
        chromium: Browser, live_server: str, migrated: str, made: list[uuid.UUID]) -> None:
    context, visit = _signed_in(chromium, live_server, migrated, 1024, 768)
    page = visit.page
    page.goto(f"{live_server}/territories/pezenas", wait_until="networkidle")
    page.get_by_role("link", name="Ajouter une ressource").click()
    page.wait_for_url("**/resources/new")
    page.get_by_label("Nom", exact=True).fill(XSS)
    page.get_by_role("group", name="Type").get_by_text("Épicerie solidaire").click()
    page.get_by_role("group", name="Produits").get_by_text("Légumes", exact=True).click()
    # a commune from the suggestions (accents ignored), then a tap on the map: exact
    page.get_by_label("Commune", exact=True).fill("pezen")
    option = page.get_by_role("option", name="Pézenas (34)")
    option.click()
    assert page.get_by_label("Placer au centre de la commune").is_checked()
    page.locator("#picker").click()  # a tap in the middle of the territory
    expect(page.locator("#lat")).not_to_have_value("")
    assert not page.get_by_label("Placer au centre de la commune").is_checked()
    # the day-and-time helper writes the OSM syntax; the server's check says it reads
    helper = page.locator("#hours-helper")
    for day in ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi"):
        helper.get_by_text(day, exact=True).click()
    page.get_by_role("button", name="Ajouter ces horaires").click()
    expect(page.locator("#opening_hours")).to_have_value("Mo-Fr 09:00-12:00")
    expect(page.locator("#hours-check.ok")).not_to_be_empty()
    page.locator("#opening_hours").fill("lundi matin")
    expect(page.locator("#hours-check.bad")).to_contain_text("lundi matin")
    page.locator("#opening_hours").fill("Mo-Fr 09:00-12:00")
    expect(page.locator("#hours-check.ok")).not_to_be_empty()
    page.get_by_label("Nom", exact=True).focus()
    screenshot(page, "resource-form-tablet")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(RECORD)
    rid = _record_id(page.url)
    made.append(rid)
    expect(page.locator("#record-name")).to_have_text(XSS)
    with transaction(migrated) as session:
        got = resources.snapshot(resources.get(session, rid))
    assert got["location_precision"] == "exact" and got["commune"] == "34199"
    assert got["opening_hours"] == "Mo-Fr 09:00-12:00" and got["products"] == ["vegetables"]

    # editing in this tab while a second tab saves a change
    page.get_by_role("link", name="Modifier").click()
    page.wait_for_url("**/edit")
    other = watch(context.new_page(), f"{live_server}/resources/{rid}/edit")
    other.page.get_by_label("Téléphone").fill("04 67 98 76 54")
    other.page.get_by_role("button", name="Enregistrer").click()
    other.page.wait_for_url(f"**/resources/{rid}")
    page.get_by_label("Adresse").fill("Place du marché")
    page.get_by_role("button", name="Enregistrer").click()
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("04 67 98 76 54")
    expect(page.get_by_label("Adresse")).to_have_value("Place du marché")  # nothing lost
    expect(page.get_by_label("Téléphone")).to_have_value("04 67 98 76 54")  # theirs kept
    screenshot(page, "resource-conflict-tablet")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(f"**/resources/{rid}")
    expect(page.locator("#record")).to_contain_text("Place du marché")
    expect(page.locator("#record")).to_contain_text("04 67 98 76 54")

    # delete (a confirmation first), then restore from the record page
    page.get_by_role("link", name="Supprimer").click()
    page.wait_for_url("**/delete")
    page.get_by_role("button", name="Supprimer").click()
    page.wait_for_url(f"**/resources/{rid}")
    expect(page.locator("#deleted-banner")).to_be_visible()
    page.get_by_role("button", name="Restaurer").click()
    page.wait_for_url(f"**/resources/{rid}")
    expect(page.locator("#deleted-banner")).to_have_count(0)

    # the name stays text everywhere it is shown
    for path in (f"/resources/{rid}/history", f"/resources/{rid}/edit",
                 f"/resources/{rid}/delete", "/territories/pezenas",
                 "/territories/pezenas/map.html"):
        page.goto(f"{live_server}{path}", wait_until="networkidle")
    page.goto(f"{live_server}/resources/{rid}/history", wait_until="networkidle")
    expect(page.locator("#history li")).to_have_count(5)  # create, 2 updates, delete, restore
    screenshot(page, "resource-history-tablet")
    _clean(visit, live_server)
    _clean(other, live_server)
    context.close()


def test_the_form_at_phone_size(chromium: Browser, live_server: str, migrated: str) -> None:
    context, visit = _signed_in(chromium, live_server, migrated, 390, 844)
    visit.page.goto(f"{live_server}/territories/pezenas/resources/new", wait_until="networkidle")
    width = visit.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    screenshot(visit.page, "resource-form-phone")
    _clean(visit, live_server)
    context.close()


def test_without_javascript_the_form_creates_a_resource(
        chromium: Browser, live_server: str, migrated: str, made: list[uuid.UUID]) -> None:
    context, visit = _signed_in(chromium, live_server, migrated, 1024, 768, javascript=False)
    page = visit.page
    page.goto(f"{live_server}/territories/pezenas/resources/new")
    assert page.locator("#picker").is_hidden()  # the map needs the script; the commune does not
    page.get_by_label("Nom", exact=True).fill("Jardin sans script")
    page.get_by_role("group", name="Type").get_by_text("Jardin partagé").click()
    page.get_by_label("Commune", exact=True).fill("Pézenas")
    page.get_by_label("Horaires (syntaxe OpenStreetMap)").fill("Sa 09:00-12:00")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url(RECORD)
    rid = _record_id(page.url)
    made.append(rid)
    expect(page.locator("#record-name")).to_have_text("Jardin sans script")
    with transaction(migrated) as session:
        got = resources.snapshot(resources.get(session, rid))
    assert got["location_precision"] == "commune" and got["kind"] == "shared_garden"
    context.close()


def test_the_form_is_usable_with_the_keyboard(chromium: Browser, live_server: str,
                                              migrated: str, made: list[uuid.UUID]) -> None:
    """No mouse: the kind with the arrow keys, a commune from the suggestions with ↓ and
    Entrée, the map placed with Entrée, the form sent with Entrée on « Enregistrer »."""
    context, visit = _signed_in(chromium, live_server, migrated, 1024, 768)
    page = visit.page
    page.goto(f"{live_server}/territories/pezenas/resources/new", wait_until="networkidle")
    page.get_by_label("Nom", exact=True).focus()
    page.keyboard.type("Marché au clavier")
    page.keyboard.press("Tab")  # into the kinds: the first pictogram
    page.keyboard.press("ArrowRight")  # the second one, chosen
    assert page.locator("input[name=kind]:checked").get_attribute("value") == "shared_garden"
    page.get_by_label("Commune", exact=True).focus()
    page.keyboard.type("pezen")
    expect(page.get_by_role("option", name="Pézenas (34)")).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Commune", exact=True)).to_have_value("Pézenas (34)")
    page.locator("#picker").focus()
    page.keyboard.press("Enter")  # placed at the map's centre
    expect(page.locator("#picker-status")).not_to_be_empty()
    page.get_by_role("button", name="Enregistrer").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(RECORD)
    made.append(_record_id(page.url))
    expect(page.locator("#record-name")).to_have_text("Marché au clavier")
    _clean(visit, live_server)
    context.close()
