"""A workshop in Chromium (issue 14): two participants join by code, each adds a resource and a
cooperation from the touch page, each sees the other's addition live marked "à valider", the
facilitator sees them on the projector and validates them on the moderation page, votes count
once per token, and a closed workshop's token is refused. (The offline part of the scenario,
cut network and replay, is the offline outbox's own browser test.)"""

import re
from typing import Any

import httpx
import psycopg
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.api.test_workshops import new_workshop
from tests.apiworld import World
from tests.browser import LOCALE, browser, screenshot

LIVE_MS = 15_000  # generous on a loaded machine: the stream itself polls every second


def _context(b: Browser, width: int = 1024, height: int = 768) -> BrowserContext:
    return b.new_context(viewport={"width": width, "height": height}, locale=LOCALE)


def _watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _join(b: Browser, base: str, code: str, pseudonym: str) -> tuple[Page, list[str]]:
    page = _context(b).new_page()
    errors = _watch(page)
    page.goto(f"{base}/join/{code}")
    page.get_by_label("Pseudonyme").fill(pseudonym)
    with page.expect_navigation():
        page.get_by_role("button", name="Rejoindre l'atelier").click()
    assert page.url == f"{base}/workshops/{code}"
    assert "terreau_" not in page.url
    expect(page.locator("#ws-live")).to_have_text(re.compile("en direct|actualisation"))
    return page, errors


def _add_resource(page: Page, name: str, dx: int) -> None:
    page.get_by_role("button", name="Ajouter une ressource").click()
    page.get_by_label("Nom").fill(name)
    page.get_by_label("Type de ressource").select_option("shared_garden")
    page.get_by_label("Une courte note").first.fill("vu en atelier")
    page.locator("#ws-map").scroll_into_view_if_needed()
    box = page.locator("#ws-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2)
    page.locator("#ws-resource-form").get_by_role("button", name="Envoyer").click()
    expect(page.locator("#ws-message")).to_contain_text("Enregistré")


def _add_link(page: Page, source: str, target: str, category: str, level: int) -> None:
    page.get_by_role("button", name="Déclarer une coopération").click()
    form = page.locator("#ws-link-form")
    form.get_by_label("Qui coopère").select_option(label=f"{source} (à valider)")
    form.get_by_label("avec qui").select_option(label=f"{target} (à valider)")
    form.get_by_label("Catégorie de coopération").select_option(category)
    form.locator(f"input[name=level][value='{level}']").check()
    form.get_by_role("button", name="Envoyer").click()
    expect(page.locator("#ws-message")).to_contain_text("Enregistré")


def _count(url: str, sql: str, *args: Any) -> int:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return int(conn.execute(sql, args).fetchone()[0])  # type: ignore[index]


def test_a_workshop_from_join_to_validation_and_votes(live_server: str, world: World,
                                                       migrated: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        workshop = new_workshop(http, world)
    code = workshop["code"]
    with browser() as b:
        lou, lou_errors = _join(b, live_server, code, "Lou")
        sam, sam_errors = _join(b, live_server, code, "Sam")
        _add_resource(lou, "Potager des Salins", -60)
        _add_resource(sam, "Épicerie du Quai", 60)
        # each sees the other's addition, marked as waiting, within five seconds
        for page, other in ((lou, "Épicerie du Quai"), (sam, "Potager des Salins")):
            item = page.locator("#ws-additions li:not(.link)", has_text=other)
            expect(item).to_contain_text("à valider", timeout=LIVE_MS)
        _add_link(lou, "Potager des Salins", "Épicerie du Quai", "producers_suppliers", 2)
        _add_link(sam, "Épicerie du Quai", "Potager des Salins", "aid_associations", 3)
        expect(lou.locator("#ws-additions li.link")).to_have_count(2, timeout=LIVE_MS)
        screenshot(lou, "workshop-participant-1024x768")

        # the facilitator, signed in by cookie: the projector shows the additions live
        facilitator = _context(b, 1440, 900)
        desk = facilitator.new_page()
        desk_errors = _watch(desk)
        desk.goto(f"{live_server}/sign-in?token={world.editor}")
        with desk.expect_navigation():
            desk.get_by_role("button", name="Se connecter").click()
        projector = facilitator.new_page()
        projector_errors = _watch(projector)
        projector.goto(f"{live_server}/workshops/{code}/project")
        expect(projector.locator("#ws-code")).to_have_text(code)
        expect(projector.locator("#ws-counters")).to_contain_text("2 ressources · 2 coopérations",
                                                                 timeout=LIVE_MS)
        expect(projector.locator(".leaflet-tooltip", has_text="Potager des Salins")).to_be_visible()
        assert projector.locator(".ws-qr img").evaluate("i => i.naturalWidth") > 0

        # moderation: pseudonyms shown; validate all four
        desk.goto(f"{live_server}/workshops/{code}/moderation")
        queue = desk.locator("#ws-queue li")
        expect(queue).to_have_count(4)
        expect(desk.locator("#ws-queue li[data-kind=resource]", has_text="Potager des Salins")
               ).to_contain_text("par Lou")
        screenshot(desk, "workshop-moderation-1440x900")
        for _ in range(4):
            with desk.expect_navigation():
                desk.locator("#ws-queue li").first.get_by_role("button", name="Valider").click()
        expect(desk.locator("#queue-empty")).to_be_visible()
        expect(lou.locator("#ws-additions li:not(.link)", has_text="Épicerie du Quai")).to_contain_text(
            "validé", timeout=LIVE_MS)

        # one vote per token: Lou changes her mind, Sam votes once
        desk.get_by_label("Nouvelle question").fill("Par quelle coopération commençons-nous ?")
        desk.locator("#ask-form input[name=picked]").nth(0).check()
        desk.locator("#ask-form input[name=picked]").nth(1).check()
        with desk.expect_navigation():
            desk.get_by_role("button", name="Ouvrir le vote").click()
        for page in (lou, sam):
            expect(page.locator("#ws-question .ws-option")).to_have_count(2, timeout=LIVE_MS)
        lou.locator("#ws-question .ws-option").nth(0).click()
        expect(lou.locator("#ws-question .ws-option.chosen")).to_have_count(1)
        lou.locator("#ws-question .ws-option").nth(1).click()
        expect(lou.locator("#ws-question .ws-option").nth(1)).to_have_class(re.compile("chosen"))
        sam.locator("#ws-question .ws-option").nth(1).click()
        expect(projector.locator("#ws-question .ws-bar-count")).to_have_text(["0", "2"],
                                                                             timeout=LIVE_MS)
        expect(projector.locator("#ws-question")).to_contain_text("2 votants")
        assert "Lou" not in projector.locator("#ws-question").inner_text()
        screenshot(projector, "workshop-projector-1440x900")

        # closing: the tokens stop writing, the pages say so
        with desk.expect_navigation():
            desk.get_by_role("button", name="Clore l'atelier").click()
        expect(sam.locator("#ws-state")).to_contain_text("Atelier clos", timeout=LIVE_MS)
        expect(sam.get_by_role("button", name="Ajouter une ressource")).to_be_disabled()
        refused = sam.evaluate(
            """() => TerreauWorkshop.send('/api/resources', {type: 'Feature',
                 geometry: {type: 'Point', coordinates: [3.6957, 43.4028]},
                 properties: {name: 'Après la clôture', kind: 'shared_garden',
                              territories: ['api-a']}}).then(r => r.json()
                 .then(b => [r.status, b.detail]))""")
        assert refused[0] == 403 and "clos" in refused[1]
        screenshot(sam, "workshop-closed-1024x768")
        for errors in (lou_errors, sam_errors, desk_errors, projector_errors):
            assert not [e for e in errors if "403" not in e], errors

    # each addition exactly once in the database and in the history
    wid = _count(migrated, "SELECT id FROM workshop WHERE code = %s", code)
    assert _count(migrated, "SELECT count(*) FROM resource WHERE workshop_id = %s AND "
                            "moderation = 'validated'", wid) == 2
    assert _count(migrated, "SELECT count(*) FROM link WHERE workshop_id = %s AND "
                            "moderation = 'validated'", wid) == 2
    assert _count(migrated, """SELECT count(*) FROM change_log c
                               WHERE c.action = 'create' AND c.entity_id IN (
                                 SELECT id FROM resource WHERE workshop_id = %s
                                 UNION ALL SELECT id FROM link WHERE workshop_id = %s)""",
                  wid, wid) == 4
    assert _count(migrated, """SELECT count(*) FROM workshop_vote v
                               JOIN workshop_question q ON q.id = v.question_id
                               WHERE q.workshop_id = %s""", wid) == 2
    # each placed where its participant touched the map
    assert _count(migrated, "SELECT count(DISTINCT ST_AsText(geom)) FROM resource "
                            "WHERE workshop_id = %s", wid) == 2
