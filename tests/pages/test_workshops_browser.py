"""A workshop in Chromium on a weak network (issue 14), on the real /workshops/{code} page.

Two participants join by code, on a phone and a tablet, and each adds a resource and a
cooperation. Lou's first answer is lost after the server committed (a proxy between Chromium
and uvicorn forwards her POST and cuts the connection before the answer): the outbox keeps the
addition and "Envoyer maintenant" sends it again under the same id. Sam's network is cut while
he adds: the counter says what waits, the page reloaded offline comes from the service worker,
and when the network returns the outbox sends both. Each sees the other's additions live
marked "à valider"; the facilitator sees them on the projector and validates them; each is in
the database exactly once with one "create" history row; votes count once per token; a closed
workshop's token is refused."""

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.api.test_workshops import join, new_workshop
from tests.apiworld import World, feature
from tests.browser import LOCALE, browser, local_only, screenshot
from tests.pages.test_maps_browser import ready, shown
from tests.servers import lossy_proxy
from tests.sessions import csrf

LIVE_MS = 15_000  # generous on a loaded machine: the stream itself polls every second
PHONE, TABLET, DESKTOP = (390, 844), (820, 1180), (1440, 900)
# what a cut network or a lost answer writes in the console, and the closed workshop's 403
EXPECTED = ("ERR_INTERNET_DISCONNECTED", "ERR_EMPTY_RESPONSE", "ERR_CONNECTION",
            "Failed to fetch", "ERR_FAILED", "403")


def _context(b: Browser, size: tuple[int, int]) -> BrowserContext:
    return b.new_context(viewport={"width": size[0], "height": size[1]}, locale=LOCALE,
                         has_touch=size != DESKTOP)


def _watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _join(b: Browser, base: str, code: str, pseudonym: str,
          size: tuple[int, int]) -> tuple[Page, list[str]]:
    page = _context(b, size).new_page()
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
    expect(page.locator("#ws-resource-form")).to_be_hidden()


def _add_link(page: Page, source: str, target: str, category: str, level: int) -> None:
    page.get_by_role("button", name="Déclarer une coopération").click()
    form = page.locator("#ws-link-form")
    form.get_by_label("Qui coopère").select_option(label=source)
    form.get_by_label("avec qui").select_option(label=target)
    form.get_by_label("Catégorie de coopération").select_option(category)
    form.locator(f"input[name=level][value='{level}']").check()
    form.get_by_role("button", name="Envoyer").click()
    expect(form).to_be_hidden()


def _counter(page: Page) -> Any:
    return page.locator("[data-outbox-count]")


def _until(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not: {what}")
        time.sleep(0.2)


def _one(url: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute(sql, args).fetchone()
        return None if row is None else row[0]


def _count(url: str, sql: str, *args: Any) -> int:
    return int(_one(url, sql, *args))


def _rows(url: str, name: str) -> tuple[int, int]:
    """(resources named so, their "create" change-log rows)."""
    return (_count(url, "SELECT count(*) FROM resource WHERE name = %s", name),
            _count(url, "SELECT count(*) FROM change_log l JOIN resource r ON r.id = l.entity_id "
                        "WHERE r.name = %s AND l.action = 'create'", name))


def _tries(page: Page) -> int:
    """How many times the outbox has tried its oldest waiting item."""
    return int(page.evaluate("() => TerreauOutbox.items().then(i => i.length ? i[0].tries : -1)"))


def _kept(page: Page, path: str) -> bool:
    """Whether the service worker keeps an answer for this path."""
    return bool(page.evaluate("p => caches.open('terreau-v1').then(c => c.match(p))"
                              ".then(r => !!r)", path))


def test_a_workshop_on_a_weak_network_from_join_to_validation_and_votes(
        live_server: str, world: World, migrated: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        workshop = new_workshop(http, world)
    code = workshop["code"]
    with lossy_proxy(live_server) as proxy, browser() as b:
        base = proxy.url
        lou, lou_errors = _join(b, base, code, "Lou", PHONE)

        # Lou's answer is lost after the server committed: the addition stays in the outbox
        proxy.cut(b"POST /api/resources ")
        _add_resource(lou, "Potager des Salins", -60)
        _until(lambda: _rows(migrated, "Potager des Salins") == (1, 1), "the row is committed")
        _until(lambda: proxy.lost >= 1 and _tries(lou) >= 1, "the answer is lost")
        expect(_counter(lou)).to_have_text("1 en attente d'envoi")
        screenshot(lou, "workshop-answer-lost-390x844")
        proxy.cut(None)
        lou.get_by_role("button", name="Envoyer maintenant").click()
        expect(_counter(lou)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
        expect(lou.locator("#ws-message")).to_contain_text("Enregistré")
        potager = _one(migrated, "SELECT id::text FROM resource WHERE name = %s",
                       "Potager des Salins")
        assert proxy.count(f'"id":"{potager}"'.encode()) >= 2  # sent again, same id
        assert _rows(migrated, "Potager des Salins") == (1, 1)

        # Sam, on a tablet: the first visit keeps the page, its files and its data
        sam, sam_errors = _join(b, base, code, "Sam", TABLET)
        assert sam.evaluate("() => TerreauOutbox.kept()") >= 3
        expect(sam.locator("#ws-additions li:not(.link)", has_text="Potager des Salins")
               ).to_contain_text("à valider", timeout=LIVE_MS)
        _until(lambda: _kept(sam, f"/workshops/{code}") and _kept(sam, f"/api/workshops/{code}/feed"),
               "the page and its feed are kept")

        # his network is cut while he adds: what waits is counted, and survives a reload
        sam.context.set_offline(True)
        _add_resource(sam, "Épicerie du Quai", 60)
        expect(_counter(sam)).to_have_text("1 en attente d'envoi")
        unsent = sam.locator("#ws-additions li.unsent")
        expect(unsent).to_have_text(["Épicerie du Quaien attente d'envoi"])
        sam.reload(wait_until="load")  # offline: the service worker serves the page
        assert sam.evaluate("() => !!navigator.serviceWorker.controller")
        expect(_counter(sam)).to_have_text("1 en attente d'envoi")
        expect(unsent).to_have_count(1)
        expect(sam.locator("#ws-additions li:not(.link)", has_text="Potager des Salins")
               ).to_be_visible(timeout=LIVE_MS)  # the kept feed
        # a cooperation with what he has not sent yet: it goes after it
        _add_link(sam, "Épicerie du Quai (à valider)", "Potager des Salins (à valider)",
                  "aid_associations", 3)
        expect(_counter(sam)).to_have_text("2 en attente d'envoi")
        expect(unsent).to_have_count(2)
        screenshot(sam, "workshop-offline-820x1180")
        assert _rows(migrated, "Épicerie du Quai") == (0, 0)

        # the network is back: the outbox sends both, once
        sam.context.set_offline(False)
        expect(_counter(sam)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
        expect(unsent).to_have_count(0, timeout=LIVE_MS)
        expect(sam.locator("#ws-additions li.link")).to_have_count(1, timeout=LIVE_MS)
        assert _rows(migrated, "Épicerie du Quai") == (1, 1)

        # each sees the other's additions live, marked as waiting
        item = lou.locator("#ws-additions li:not(.link)", has_text="Épicerie du Quai")
        expect(item).to_contain_text("à valider", timeout=LIVE_MS)
        _add_link(lou, "Potager des Salins (à valider)", "Épicerie du Quai (à valider)",
                  "producers_suppliers", 2)
        expect(lou.locator("#ws-message")).to_contain_text("Enregistré")
        for page in (lou, sam):
            expect(page.locator("#ws-additions li.link")).to_have_count(2, timeout=LIVE_MS)
        screenshot(lou, "workshop-participant-390x844")
        screenshot(sam, "workshop-participant-820x1180")

        # the facilitator, signed in by cookie: the projector shows the additions live
        facilitator = _context(b, DESKTOP)
        desk = facilitator.new_page()
        desk_errors = _watch(desk)
        desk.goto(f"{base}/sign-in?token={world.editor}")
        with desk.expect_navigation():
            desk.get_by_role("button", name="Se connecter").click()
        projector = facilitator.new_page()
        projector_errors = _watch(projector)
        projector.goto(f"{base}/workshops/{code}/project")
        expect(projector.locator("#ws-code")).to_have_text(code)
        expect(projector.locator("#ws-counters")).to_contain_text("2 ressources · 2 coopérations",
                                                                 timeout=LIVE_MS)
        expect(projector.locator(".leaflet-tooltip", has_text="Potager des Salins")).to_be_visible()
        assert projector.locator(".ws-qr img").evaluate("i => i.naturalWidth") > 0

        # moderation: pseudonyms shown; validate all four
        desk.goto(f"{base}/workshops/{code}/moderation")
        queue = desk.locator("#ws-queue li")
        expect(queue).to_have_count(4)
        expect(desk.locator("#ws-queue li[data-kind=resource]", has_text="Potager des Salins")
               ).to_contain_text("par Lou")
        expect(desk.locator("#ws-queue li[data-kind=resource]", has_text="Épicerie du Quai")
               ).to_contain_text("par Sam")
        screenshot(desk, "workshop-moderation-1440x900")
        for _ in range(4):
            with desk.expect_navigation():
                desk.locator("#ws-queue li").first.get_by_role("button", name="Valider").click()
        expect(desk.locator("#queue-empty")).to_be_visible()
        expect(lou.locator("#ws-additions li:not(.link)", has_text="Épicerie du Quai")
               ).to_contain_text("validé", timeout=LIVE_MS)

        # one vote per token: Lou changes her mind, Sam votes once
        desk.get_by_label("Nouvelle question").fill("Par quelle coopération commençons-nous ?")
        desk.locator("#ask-form input[name=picked]").nth(0).check()
        desk.locator("#ask-form input[name=picked]").nth(1).check()
        with desk.expect_navigation():
            desk.get_by_role("button", name="Ouvrir le vote").click()
        for page in (lou, sam):
            expect(page.locator("#ws-question .ws-option")).to_have_count(2, timeout=LIVE_MS)
        lou.locator("#ws-question .ws-option").nth(0).click()
        expect(lou.locator("#ws-question .ws-option.chosen")).to_have_count(1, timeout=LIVE_MS)
        lou.locator("#ws-question .ws-option").nth(1).click()
        expect(lou.locator("#ws-question .ws-option").nth(1)).to_have_class(re.compile("chosen"),
                                                                            timeout=LIVE_MS)
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
        screenshot(sam, "workshop-closed-820x1180")
        for errors in (lou_errors, sam_errors, desk_errors, projector_errors):
            assert not [e for e in errors if not any(x in e for x in EXPECTED)], errors

    # each addition exactly once in the database and in the history
    wid = _count(migrated, "SELECT id FROM workshop WHERE code = %s", code)
    assert _count(migrated, "SELECT count(*) FROM resource WHERE workshop_id = %s AND "
                            "moderation = 'validated'", wid) == 2
    assert _count(migrated, "SELECT count(*) FROM resource WHERE workshop_id = %s", wid) == 2
    assert _count(migrated, "SELECT count(*) FROM link WHERE workshop_id = %s AND "
                            "moderation = 'validated'", wid) == 2
    assert _count(migrated, "SELECT count(*) FROM link WHERE workshop_id = %s", wid) == 2
    for table in ("resource", "link"):
        assert _count(migrated, f"""SELECT count(*) FROM change_log c JOIN {table} x
                                    ON x.id = c.entity_id
                                    WHERE c.action = 'create' AND x.workshop_id = %s""",
                      wid) == 2
        assert _count(migrated, f"""SELECT max(n) FROM (SELECT count(*) AS n FROM change_log c
                                    JOIN {table} x ON x.id = c.entity_id
                                    WHERE c.action = 'create' AND x.workshop_id = %s
                                    GROUP BY x.id) per_row""", wid) == 1
    assert _count(migrated, """SELECT count(*) FROM workshop_vote v
                               JOIN workshop_question q ON q.id = v.question_id
                               WHERE q.workshop_id = %s""", wid) == 2
    # each placed where its participant touched the map
    assert _count(migrated, "SELECT count(DISTINCT ST_AsText(geom)) FROM resource "
                            "WHERE workshop_id = %s", wid) == 2


def test_the_workshops_own_offline_map_opens_without_a_network(
        live_server: str, world: World, tmp_path: Path) -> None:
    """The summary's "carte hors ligne" is the workshop's output as one file: what it added,
    with its status (pending marked), nothing else of the territory, and no request out."""
    with httpx.Client(base_url=live_server, timeout=30, headers={"Origin": live_server}) as web:
        assert web.post("/sign-in", data={"token": world.editor}).status_code == 303
        code = new_workshop(web, world, title="Atelier du verger")["code"]
        lou = join(web, code, "Lou")
        ids = [web.post("/api/resources", json=feature(name=name), headers=lou).json()["id"]
               for name in ("Verger partagé", "Cantine du verger")]
        linked = web.post("/api/links", json={"source": ids[0], "target": ids[1],
                                               "territory": "api-a",
                                               "category": "producers_suppliers", "level": 2},
                          headers=lou)
        assert linked.status_code == 201, linked.text
        assert web.post("/api/resources", json=feature(name="Hors atelier"),
                        headers=World.auth(world.editor)).status_code == 201
        page = web.get(f"/workshops/{code}/moderation").text
        validated = web.post(f"/workshops/{code}/moderation/resource/{ids[0]}/validate",
                             data={"csrf": csrf(page)})
        assert validated.status_code == 303
        summary = web.get(f"/workshops/{code}/summary").text
        assert f'href="/workshops/{code}/map.html"' in summary
        download = web.get(f"/workshops/{code}/map.html")
        public = httpx.get(f"{live_server}/workshops/{code}/map.html")
    assert download.status_code == 200
    assert f'filename="atelier-{code}-' in download.headers["content-disposition"]
    assert "Hors atelier" not in download.text
    # an anonymous reader's copy: what is validated only
    assert "Verger partagé" in public.text and "Cantine du verger" not in public.text

    file = tmp_path / "atelier.html"
    file.write_text(download.text, encoding="utf-8")
    with browser() as b:
        page = b.new_page(viewport={"width": PHONE[0], "height": PHONE[1]}, locale=LOCALE)
        requested = local_only(page)
        page.context.set_offline(True)
        errors = _watch(page)
        page.goto(file.as_uri(), wait_until="load")
        ready(page)
        assert shown(page) == {"markers": 2, "inBubbles": 0, "links": 1}
        expect(page.locator(".tm-embed-title")).to_contain_text("Atelier du verger")
        statuses = page.evaluate("""async () => {
            const out = {};
            for (const m of document.querySelectorAll('.tm-marker:not(.is-outside)')) {
                m.click();
                await new Promise(r => setTimeout(r, 300));
                const box = document.querySelector('.leaflet-popup-content');
                out[box.querySelector('h3').textContent] = !!box.querySelector('.tm-pending');
            }
            return out;
        }""")
        assert statuses == {"Verger partagé": False, "Cantine du verger": True}
        screenshot(page, "workshop-offline-map-390x844")
        assert [u for u in requested if not u.startswith(("file:", "data:"))] == []
        assert errors == []
