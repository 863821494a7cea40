"""What waits in the outbox, on the real workshop page in Chromium (issue 14).

- An addition made offline is drawn on the participant's own map at once, marked "en attente
  d'envoi" (a white dot, apart from « à valider »'s amber clock badge; the legend under the
  map says both), still there after a reload made offline, and replaced by the real one (à
  valider) once the network returns and it is sent. At 390, 1024 and 1440 px.
- The outbox is per workshop: in one browser, workshop A's unsent additions are neither shown
  nor sent by workshop B's page (nor with B's token), and leaving A drops A's items only.
- An item saved before the outbox was per workshop (no scope) is adopted and sent once by the
  page of the workshop whose territory it names and during whose opening it was made."""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.api.test_workshops import new_workshop
from tests.apiworld import World
from tests.browser import LOCALE, browser, screenshot
from tests.pages.test_workshops_browser import LIVE_MS, _add_resource, _counter, _one, _rows, _until

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


def _stored(page: Page) -> list[dict[str, Any]]:
    """Every item of the browser's outbox (all workshops), read without the outbox's script."""
    return list(page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('terreau-outbox', 1);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const all = open.result.transaction('items').objectStore('items').getAll();
            all.onsuccess = () => { open.result.close();
                resolve(all.result.map(i => ({scope: i.scope || null, label: i.label}))); };
        };
    })"""))


def _workshop_of(url: str, name: str) -> str | None:
    """The code of the workshop a resource was added in (None: not in the database)."""
    return _one(url, "SELECT w.code FROM resource r JOIN workshop w ON w.id = r.workshop_id "
                     "WHERE r.name = %s", name)


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


def test_the_outbox_of_one_workshop_is_not_sent_shown_or_emptied_by_another(
        chromium: Browser, live_server: str, world: World, migrated: str) -> None:
    tag = uuid.uuid4().hex[:6]
    first = _workshop(live_server, world, f"Atelier A {tag}")
    second = _workshop(live_server, world, f"Atelier B {tag}")
    context = _context(chromium, (1024, 768))
    page_a = _join(context, live_server, first, "Ana")
    page_b = _join(context, live_server, second, "Ana")  # the same browser, the same outbox

    # offline, one addition in each: each page counts, lists and draws its own only
    context.set_offline(True)
    names = {first: f"Verger A {tag}", second: f"Verger B {tag}"}
    _add_resource(page_a, names[first], -40)
    _add_resource(page_b, names[second], 40)
    for page, mine, theirs in ((page_a, first, second), (page_b, second, first)):
        page.bring_to_front()
        expect(_counter(page)).to_have_text("1 en attente d'envoi")
        expect(page.locator("#ws-additions li.unsent")).to_have_count(1)
        expect(page.locator("#ws-additions li.unsent")).to_contain_text(names[mine])
        expect(page.locator(UNSENT)).to_have_count(1)
        assert names[theirs] not in (page.text_content("#ws-additions") or "")
    screenshot(page_b, "workshop-outbox-per-workshop-1024x768")
    assert sorted((i["scope"], i["label"]) for i in _stored(page_b)) == sorted(names.items())

    # A's page closed, the network back: B's page sends B's addition only, in B
    page_a.close()
    context.set_offline(False)
    expect(_counter(page_b)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
    assert _workshop_of(migrated, names[second]) == second
    assert _workshop_of(migrated, names[first]) is None
    assert [(i["scope"], i["label"]) for i in _stored(page_b)] == [(first, names[first])]
    page_a = context.new_page()  # A again: its page sends its own, with its own token
    page_a.goto(f"{live_server}/workshops/{first}")
    _until(lambda: _workshop_of(migrated, names[first]) == first, "A's addition sent, in A")
    expect(_counter(page_a)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
    assert _stored(page_a) == []

    # leaving A (confirmed, with one of A's and one of B's waiting) drops A's only
    context.set_offline(True)
    later = {first: f"Haie A {tag}", second: f"Haie B {tag}"}
    _add_resource(page_a, later[first], -40)
    _add_resource(page_b, later[second], 40)
    expect(_counter(page_a)).to_have_text("1 en attente d'envoi")
    asked: list[str] = []
    page_a.on("dialog", lambda d: (asked.append(d.message), d.accept()))
    page_a.get_by_role("button", name="Quitter l'atelier").click()  # (offline: no join page)
    _until(lambda: [(i["scope"], i["label"]) for i in _stored(page_b)]
           == [(second, later[second])], "A's item dropped, B's kept")
    assert asked and asked[0].startswith("1 ajout(s)"), asked  # A's one, not two
    _until(lambda: not page_b.evaluate("c => localStorage.getItem('terreau.workshop.' + c)",
                                       first), "A's token forgotten")
    assert page_b.evaluate("c => !!localStorage.getItem('terreau.workshop.' + c)", second)
    page_b.bring_to_front()
    expect(_counter(page_b)).to_have_text("1 en attente d'envoi")
    context.set_offline(False)
    expect(_counter(page_b)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
    assert _workshop_of(migrated, later[second]) == second
    assert _workshop_of(migrated, later[first]) is None
    context.close()


def _seed_old(page: Page, items: list[dict[str, Any]]) -> None:
    """Items as the outbox saved them before it was per workshop: no scope."""
    page.evaluate("""items => new Promise((resolve, reject) => {
        const open = indexedDB.open('terreau-outbox', 1);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const t = open.result.transaction('items', 'readwrite');
            items.forEach(i => t.objectStore('items').put(i));
            t.oncomplete = () => { open.result.close(); resolve(null); };
            t.onerror = () => reject(t.error);
        };
    })""", items)


def _old_item(name: str, territory: str, created_ms: float) -> dict[str, Any]:
    cid = str(uuid.uuid4())
    return {"id": cid, "url": "/api/resources", "label": name, "created": created_ms,
            "state": "waiting", "tries": 1, "body": {
                "type": "Feature", "id": cid,
                "geometry": {"type": "Point", "coordinates": [3.6957, 43.4028]},
                "properties": {"name": name, "kind": "shared_garden", "territories": [territory],
                               "location_precision": "approximate"}}}


def test_an_item_saved_before_the_outbox_was_per_workshop_is_sent_once_by_its_workshop(
        chromium: Browser, live_server: str, world: World, migrated: str) -> None:
    """Adopted by the page of the workshop whose territory it names and during whose opening
    it was made; one made elsewhere or before stays untouched (and unsent)."""
    tag = uuid.uuid4().hex[:6]
    code = _workshop(live_server, world, f"Atelier d'avant {tag}")
    context = _context(chromium, (1024, 768))
    page = _join(context, live_server, code, "Odile")
    now = page.evaluate("() => Date.now()")
    ours = _old_item(f"Grainothèque d'avant {tag}", "api-a", now)
    elsewhere = _old_item(f"Verger d'ailleurs {tag}", "api-b", now)
    before = _old_item(f"Jardin d'avant l'atelier {tag}", "api-a", now - 7 * 86_400_000)
    _seed_old(page, [ours, elsewhere, before])
    page.reload(wait_until="load")
    _until(lambda: _workshop_of(migrated, ours["label"]) == code,
           "the old item sent, in its workshop")
    expect(_counter(page)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
    expect(page.locator("#ws-additions li:not(.unsent)", has_text=ours["label"])
           ).to_contain_text("à valider", timeout=LIVE_MS)
    page.reload(wait_until="load")  # again: nothing more is sent
    expect(_counter(page)).to_have_text("Tout est envoyé", timeout=LIVE_MS)
    assert _rows(migrated, ours["label"]) == (1, 1)
    assert _rows(migrated, elsewhere["label"]) == (0, 0)
    assert _rows(migrated, before["label"]) == (0, 0)
    assert sorted((i["scope"], i["label"]) for i in _stored(page)) == \
        sorted([(None, elsewhere["label"]), (None, before["label"])])
    context.close()
