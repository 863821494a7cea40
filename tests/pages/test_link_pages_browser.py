"""Cooperation links and moderation in Chromium (issue 13), on a tablet (1024×768) and a phone
(390×844): an editor signed in with a link declares a cooperation between a new resource
(chosen by its name's suggestions, accents ignored) and a demo actor (tapped on the map
picker), changes its level with a note and sees the timeline; a contributor's resource stays
pending and invisible to readers until the editor validates it on /moderation. A name
`<img src=x onerror=alert(1)>` stays text; no console error (CSP included), no dialog, no
request outside the app."""

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page
from sqlalchemy import text

from carto import links, resources, tokens
from carto.db import transaction
from tests.browser import browser, open_page, screenshot
from tests.sessions import signed_in

XSS = "<img src=x onerror=alert(1)>"
SIZES = ((1024, 768), (390, 844))
LOGGED_422 = ("Failed to load resource: the server responded with a status of 422 "
              "(Unprocessable Entity)")


@pytest.fixture(scope="module")
def orchard(live_server: str, migrated: str) -> Iterator[uuid.UUID]:
    with transaction(migrated) as session:
        rid = resources.create(session, {
            "territories": ["pezenas"], "commune": "34199", "lon": 3.4001, "lat": 43.4720,
            "location_precision": "exact", "kind": "producer",
            "name": f"Verger Élise {XSS}"}, "test").id
    yield rid
    with transaction(migrated) as session:
        for link_id in session.execute(text(
                "SELECT id FROM link WHERE (source_id = :r OR target_id = :r) "
                "AND deleted_at IS NULL"), {"r": rid}).scalars().all():
            links.delete(session, link_id, "test", None)
        resources.delete(session, rid, "test", None)


def _tap_a_demo_actor(page: Page, avoid: str) -> str:
    """Tap a dot of the map picker whose tooltip is not `avoid`; the name it says."""
    dots = page.locator("#link-picker path.leaflet-interactive")
    for i in range(dots.count()):
        dots.nth(i).hover()
        name = page.locator(".leaflet-tooltip").last.inner_text()
        if avoid not in name:
            dots.nth(i).click()
            return name
    raise AssertionError("no other dot on the picker")


@pytest.mark.browser
def test_an_editor_declares_a_cooperation_and_changes_its_level(
        live_server: str, migrated: str, orchard: uuid.UUID) -> None:
    with transaction(migrated) as session:
        token = tokens.create(session, "editor", "pezenas", "Animatrice").token
    with browser() as b:
        for width, height in SIZES:
            visit = signed_in(b, live_server, token, width, height)
            page = visit.page
            page.goto(f"{live_server}/territories/pezenas/links/new", wait_until="networkidle")
            assert page.locator("#link-picker").is_visible()
            source = page.get_by_label("Première structure")
            source.click()
            source.press_sequentially("verger elise")  # accents ignored
            option = page.locator("#source-suggestions li[role=option]").first
            option.wait_for()
            assert "Verger Élise <img" in option.inner_text()
            source.press("ArrowDown")
            source.press("Enter")
            assert page.locator("#source").input_value() == str(orchard)
            page.get_by_label("Seconde structure").focus()
            partner = _tap_a_demo_actor(page, "Verger")
            assert page.locator("#target").input_value() != ""
            assert page.get_by_label("Seconde structure").input_value() == partner
            page.locator("#link-picker").scroll_into_view_if_needed()
            screenshot(page, f"link-new-ends-{width}x{height}")
            category = page.get_by_role("group", name="Catégorie")
            category.get_by_label("Avec les producteurs et fournisseurs").check()
            page.get_by_label("approvisionnement local de qualité").check()
            page.get_by_role("group", name="Niveau").get_by_label("Échanges de services").check()
            page.get_by_label("Description").fill(f"Fruits pour l'épicerie {XSS}")
            screenshot(page, f"link-new-{width}x{height}")
            with page.expect_navigation():
                page.get_by_role("button", name="Déclarer une coopération").click()
            assert "/links/" in page.url, page.content()[:2000]
            assert page.locator("#timeline li").count() == 1

            level = page.get_by_role("group", name="Niveau")
            level.get_by_label("Mutualisation de moyens").check()
            with page.expect_navigation():
                page.get_by_role("button", name="Enregistrer").click()
            assert page.locator("#level_note-error").is_visible()  # a note is asked for
            assert visit.console_errors == [LOGGED_422]  # Chromium logs the 422 page
            visit.console_errors.clear()
            page.get_by_role("group", name="Niveau").get_by_label("Mutualisation de moyens").check()
            page.get_by_label("Pourquoi ce changement").fill("Ils partagent la chambre froide")
            with page.expect_navigation():
                page.get_by_role("button", name="Enregistrer").click()
            steps = page.locator("#timeline li")
            assert steps.count() == 2
            assert "Ils partagent la chambre froide" in steps.nth(1).inner_text()
            assert "en progrès" in steps.nth(1).inner_text()
            assert XSS in page.locator("#link-title").inner_text()
            page.locator("#road").scroll_into_view_if_needed()
            screenshot(page, f"link-road-{width}x{height}")
            assert not visit.console_errors, visit.console_errors
            assert not visit.dialogs
            assert all(u.startswith(live_server) for u in visit.requests), \
                [u for u in visit.requests if not u.startswith(live_server)]
            # delete, so that the second size declares it again
            page.locator("summary", has_text="Supprimer").click()
            with page.expect_navigation():
                page.locator("#delete-form").get_by_role("button", name="Supprimer").click()
            assert page.locator("#deleted-notice").is_visible()
            page.close()


@pytest.mark.browser
def test_a_contributor_s_resource_waits_until_the_editor_validates_it(
        live_server: str, migrated: str) -> None:
    with transaction(migrated) as session:
        contributor = tokens.create(session, "contributor", "pezenas", "Bénévole").token
        editor = tokens.create(session, "editor", "pezenas", "Éditrice").token
    name = f"Épicerie du quai {XSS}"
    made = httpx.post(f"{live_server}/api/resources", headers={
        "Authorization": f"Bearer {contributor}"}, json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [3.415, 43.461]},
        "properties": {"name": name, "kind": "social_grocery", "territories": ["pezenas"],
                       "location_precision": "exact"}})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    try:
        assert httpx.get(f"{live_server}/resources/{rid}").status_code == 404
        with browser() as b:
            visit = signed_in(b, live_server, contributor, 1024, 768)
            page = visit.page
            page.goto(f"{live_server}/resources/{rid}")
            assert page.locator("#pending-badge").inner_text() == "en attente de validation"
            page.close()

            for width, height in SIZES:
                visit = signed_in(b, live_server, editor, width, height)
                page = visit.page
                page.goto(f"{live_server}/moderation?territory=pezenas",
                          wait_until="networkidle")
                item = page.locator(f"#item-{rid}")
                assert name in item.inner_text() and "Bénévole" in item.inner_text()
                screenshot(page, f"moderation-{width}x{height}")
                if width == 390:
                    with page.expect_navigation():
                        item.get_by_role("button", name="Valider").click()
                    assert page.locator("#done").is_visible()
                    assert page.locator(f"#item-{rid}").count() == 0
                else:  # refusing without a reason is said next to the field
                    with page.expect_navigation():
                        item.get_by_role("button", name="Refuser").click()
                    assert page.locator(f"#reason-error-{rid}").is_visible()
                    assert visit.console_errors == [LOGGED_422]
                    visit.console_errors.clear()
                assert not visit.console_errors and not visit.dialogs
                assert all(u.startswith(live_server) for u in visit.requests)
                page.close()
        assert httpx.get(f"{live_server}/resources/{rid}").status_code == 200
    finally:
        with transaction(migrated) as session:
            resources.delete(session, uuid.UUID(rid), "test", None)


@pytest.mark.browser
def test_the_map_popup_marks_a_pending_link_for_its_author(live_server: str, migrated: str,
                                                          orchard: uuid.UUID) -> None:
    with transaction(migrated) as session:
        contributor = tokens.create(session, "contributor", "pezenas", "Bénévole carte").token
        partner = session.execute(text(
            "SELECT id FROM resource WHERE name = 'Ren''art'")).scalar_one()
        link = links.create(session, {"source": str(orchard), "target": str(partner),
                                      "category": "territorial_structures", "level": 1},
                            tokens.principal(tokens.lookup(session, contributor)))
        link_id = str(link.id)
    with browser() as b:
        visit = signed_in(b, live_server, contributor, 1024, 768)
        page = visit.page
        page.goto(f"{live_server}/territories/pezenas", wait_until="networkidle")
        page.wait_for_function("() => !!window.terreauMap")
        page.evaluate(f"window.terreauMap.openLink({link_id!r})")
        popup = page.locator(f".tm-popup-link[data-id='{link_id}']")
        popup.wait_for()
        assert "en attente de validation" in popup.inner_text()
        assert popup.get_by_role("link", name="Voir la coopération").get_attribute("href") \
            == f"/links/{link_id}"
        screenshot(page, "map-pending-link-1024x768")
        assert not visit.console_errors and not visit.dialogs
        assert all(u.startswith(live_server) for u in visit.requests)


@pytest.mark.browser
def test_the_territory_map_marks_a_contributor_s_pending_dots(live_server: str,
                                                             migrated: str) -> None:
    """Its author sees the dot marked (a badge, said in its name too) and its cooperation over
    an amber casing, and the legend says what both mean; a reader sees neither the dot nor the
    legend's line."""
    with transaction(migrated) as session:
        contributor = tokens.create(session, "contributor", "pezenas", "Bénévole points").token
    made = httpx.post(f"{live_server}/api/resources", headers={
        "Authorization": f"Bearer {contributor}"}, json={
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [3.4231, 43.4588]},
        "properties": {"name": f"Frigo solidaire {XSS}", "kind": "social_grocery",
                       "territories": ["pezenas"], "location_precision": "exact"}})
    assert made.status_code == 201, made.text
    rid = made.json()["id"]
    near = httpx.get(f"{live_server}/api/resources", params={
        "territory": "pezenas", "bbox": "3.40,43.44,3.45,43.48", "limit": 1}).json()["features"]
    link = httpx.post(f"{live_server}/api/links", headers={
        "Authorization": f"Bearer {contributor}"}, json={
        "source": rid, "target": near[0]["id"], "category": "producers_suppliers", "level": 2,
        "territory": "pezenas"})
    assert link.status_code == 201, link.text
    try:
        with browser() as b:
            for width, height in SIZES:
                visit = signed_in(b, live_server, contributor, width, height)
                page = visit.page
                page.goto(f"{live_server}/territories/pezenas", wait_until="networkidle")
                page.wait_for_function("() => !!window.terreauMap")
                page.evaluate(f"window.terreauMap.openResource({rid!r})")
                dot = page.locator(f".tm-marker[data-id='{rid}']")
                dot.wait_for()
                assert "is-pending" in (dot.get_attribute("class") or "")
                assert dot.get_attribute("aria-label") == \
                    f"Frigo solidaire {XSS} (en attente de validation)"
                badge = dot.evaluate("n => getComputedStyle(n, '::after').backgroundColor")
                assert badge == "rgb(255, 179, 0)", badge
                others = page.locator(".tm-marker.is-exact:not(.is-pending), "
                                      ".tm-marker.is-approx:not(.is-pending)")
                assert others.count() > 0  # the validated ones are not marked
                assert page.locator(".tm-legend-pending").evaluate("n => n.hidden") is False
                # its cooperation: over the amber casing every map gives what awaits
                # validation, never dashed (dashes: the approximate position's)
                casing = page.locator("path.tm-link-casing.is-pending")
                casing.wait_for(state="attached")
                assert casing.count() == 1 and casing.get_attribute("stroke") == "#ffb300"
                assert page.locator("path.tm-link[stroke-dasharray]").count() == 0
                screenshot(page, f"map-pending-dot-{width}x{height}")
                page.evaluate("() => { document.querySelector('.tm-legend details').open = true; }")
                page.locator(".tm-legend-pending").scroll_into_view_if_needed()
                assert page.locator(".tm-legend-pending").is_visible()
                assert page.locator(".tm-legend-pending .tm-sample-pending-line").evaluate(
                    "n => getComputedStyle(n).boxShadow").startswith("rgb(255, 179, 0)")
                screenshot(page, f"map-pending-legend-{width}x{height}")
                assert not visit.console_errors and not visit.dialogs
                page.close()
            visit = open_page(b, f"{live_server}/territories/pezenas", 1024, 768)
            visit.page.wait_for_function("() => !!window.terreauMap")
            assert visit.page.locator(f".tm-marker[data-id='{rid}'], .is-pending").count() == 0
            assert visit.page.locator(".tm-legend-pending").evaluate("n => n.hidden") is True
    finally:
        with transaction(migrated) as session:
            links.delete(session, uuid.UUID(link.json()["id"]), "test", None)
            resources.delete(session, uuid.UUID(rid), "test", None)
