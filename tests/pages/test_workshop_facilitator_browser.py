"""The facilitator adds in the workshop (issue 14), in Chromium on a tablet: from the
workshop's moderation page, « Ajouter une ressource » opens the territory's form saying the
addition counts in the workshop; what is saved there is in the workshop's summary."""

import uuid

import httpx

from tests.apiworld import World
from tests.browser import browser, screenshot
from tests.sessions import signed_in


def test_the_facilitator_adds_a_resource_that_counts_in_the_workshop(
        live_server: str, world: World, no_tiles: None) -> None:
    made = httpx.post(f"{live_server}/api/workshops", headers=World.auth(world.editor), json={
        "territory": "api-a", "title": "Atelier de la halle", "date": "2030-06-01",
        "ends_at": "2030-06-01T18:00:00+02:00"})
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    name = f"Grainothèque {uuid.uuid4().hex[:6]}"
    with browser() as b:
        visit = signed_in(b, live_server, world.editor, 768, 1024)
        page = visit.page
        page.goto(f"{live_server}/workshops/{code}/moderation", wait_until="networkidle")
        adds = page.locator("#ws-facilitator-adds")
        assert adds.is_visible()
        screenshot(page, "workshop-facilitator-adds-768x1024")
        page.click("#ws-add-resource")
        page.wait_for_load_state("networkidle")
        assert f"Cet ajout sera compté dans l'atelier {code}." in \
            (page.text_content("#in-workshop") or "")
        page.fill("#name", name)
        page.locator("input[name=kind][value=shared_garden]").check(force=True)
        page.fill("#commune", "Sète")
        screenshot(page, "workshop-facilitator-form-768x1024")
        page.click("#save")
        page.wait_for_load_state("networkidle")
        assert "/resources/" in page.url, page.url
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{live_server}/workshops/{code}/summary", wait_until="networkidle")
        screenshot(page, "workshop-facilitator-summary-390x844")
        assert "1 ajouts : 1 validés" in (page.text_content("main") or "")
        assert not visit.console_errors, visit.console_errors
        assert all(u.startswith(live_server) for u in visit.requests), visit.requests
    summary = httpx.get(f"{live_server}/api/workshops/{code}/summary").json()
    assert (summary["added"], summary["validated"]) == (1, 1), summary
