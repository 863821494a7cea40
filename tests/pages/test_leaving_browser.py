"""Leaving leaves nothing behind (issue 14), in Chromium: signing out, or leaving a workshop,
drops the pages and answers the service worker kept for that person, so that an offline
reload of a signed-in page is not served from the cache afterwards; the files under /static
stay. Additions still in the outbox are never lost silently: the person is warned first and
may stay; confirmed, the outbox goes with the rest."""

from typing import Any

import httpx
from playwright.sync_api import BrowserContext, Dialog, Page, expect

from tests.api.test_workshops import new_workshop
from tests.apiworld import World
from tests.browser import LOCALE, browser, screenshot
from tests.sessions import sign_in

TABLET = {"width": 820, "height": 1180}


def _kept(page: Page) -> list[str]:
    """The paths the service worker keeps."""
    urls: list[str] = page.evaluate(
        "() => caches.open('terreau-v1').then(c => c.keys()).then(k => k.map(r => r.url))")
    return [u.split("/", 3)[3] for u in urls]


def _outbox(page: Page) -> int:
    """Items in the outbox's IndexedDB, read without the outbox's script."""
    return int(page.evaluate("""() => new Promise((resolve, reject) => {
        const open = indexedDB.open('terreau-outbox', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('items', {keyPath: 'id'})
            .createIndex('created', 'created');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
            const count = open.result.transaction('items').objectStore('items').count();
            count.onsuccess = () => { open.result.close(); resolve(count.result); };
        };
    })"""))


def _join(context: BrowserContext, base: str, code: str, pseudonym: str) -> Page:
    page = context.new_page()
    page.goto(f"{base}/join/{code}")
    page.get_by_label("Pseudonyme").fill(pseudonym)
    with page.expect_navigation():
        page.get_by_role("button", name="Rejoindre l'atelier").click()
    assert page.evaluate("() => TerreauOutbox.kept()") >= 3
    page.wait_for_function("() => !!navigator.serviceWorker.controller")
    return page


def _add_offline(page: Page, name: str) -> None:
    page.context.set_offline(True)
    page.get_by_role("button", name="Ajouter une ressource").click()
    page.get_by_label("Nom").fill(name)
    page.locator("#ws-resource-form").get_by_role("button", name="Envoyer").click()
    expect(page.locator("[data-outbox-count]")).to_have_text("1 en attente d'envoi")


def _offline_opens(page: Page, url: str) -> bool:
    """Whether `url` opens with the network cut (from the worker's cache, then)."""
    page.context.set_offline(True)
    try:
        response = page.goto(url)
        return response is not None and response.ok
    except Exception:  # net::ERR_FAILED: the worker has nothing kept for it
        return False
    finally:
        page.context.set_offline(False)


class Dialogs:
    """What the page asked (confirm), answered `answer` ("dismiss": stay, "accept": go)."""

    def __init__(self, page: Page, answer: str) -> None:
        self.said: list[str] = []
        self.answer = answer
        page.on("dialog", self._handle)

    def _handle(self, dialog: Dialog) -> None:
        self.said.append(dialog.message)
        getattr(dialog, self.answer)()


def _workshop(live_server: str, world: World) -> Any:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        return new_workshop(http, world)["code"]


def test_signing_out_forgets_the_kept_pages_after_a_warning_about_unsent_additions(
        live_server: str, world: World) -> None:
    code = _workshop(live_server, world)
    with browser() as b:
        context = b.new_context(viewport=TABLET, locale=LOCALE)
        desk = context.new_page()
        sign_in(desk, live_server, world.editor)
        page = _join(context, live_server, code, "Anne")  # the facilitator's tablet
        moderation = f"{live_server}/workshops/{code}/moderation"
        desk.goto(moderation)  # a signed-in page, through the worker: kept
        assert f"workshops/{code}/moderation" in _kept(page)
        assert _offline_opens(desk, moderation)  # what a stranger would see after sign-out
        desk.close()

        # offline, an addition waits: signing out asks first; staying keeps everything
        _add_offline(page, "Jardin pas encore envoyé")
        dialogs = Dialogs(page, "dismiss")
        page.get_by_role("button", name="Se déconnecter").click()
        page.wait_for_timeout(500)
        assert dialogs.said and "1 ajout(s) pas encore envoyé(s)" in dialogs.said[0]
        assert "Se déconnecter quand même ?" in dialogs.said[0]
        assert page.url == f"{live_server}/workshops/{code}"
        assert _outbox(page) == 1
        assert any(c["name"] for c in context.cookies())
        screenshot(page, "sign-out-warning-820x1180")

        # back online it is sent; a refused one is still unsent: confirmed, it goes
        page.context.set_offline(False)
        expect(page.locator("[data-outbox-count]")).to_have_text("Tout est envoyé",
                                                                 timeout=20_000)
        page.evaluate("""() => TerreauOutbox.submit('/api/resources', {type: 'Feature',
            geometry: {type: 'Point', coordinates: [3.6957, 43.4028]},
            properties: {name: 'x'.repeat(300), kind: 'shared_garden', territories: ['api-a']}},
            'trop long')""")
        page.wait_for_selector("[data-outbox-refused] li")
        dialogs.answer = "accept"
        with page.expect_navigation(url=f"{live_server}/"):
            page.get_by_role("button", name="Se déconnecter").click()
        expect(page.get_by_role("link", name="Se connecter")).to_be_visible()
        assert len(dialogs.said) == 2 and _outbox(page) == 0
        assert all(path.startswith("static/") for path in _kept(page)), _kept(page)
        assert not _offline_opens(page, moderation)


def test_leaving_a_workshop_forgets_its_token_and_pages_after_a_warning(
        live_server: str, world: World) -> None:
    code = _workshop(live_server, world)
    with browser() as b:
        context = b.new_context(viewport=TABLET, locale=LOCALE)
        page = _join(context, live_server, code, "Noé")
        page.wait_for_function(
            "c => caches.open('terreau-v1').then(k => k.match('/api/workshops/' + c + '/feed'))"
            ".then(r => !!r)", arg=code)
        _add_offline(page, "Verger pas encore envoyé")
        dialogs = Dialogs(page, "dismiss")
        page.get_by_role("button", name="Quitter l'atelier").click()
        page.wait_for_timeout(500)
        assert dialogs.said and "en quittant l'atelier maintenant" in dialogs.said[0]
        assert page.url == f"{live_server}/workshops/{code}"
        assert page.evaluate("c => !!localStorage.getItem('terreau.workshop.' + c)", code)

        page.context.set_offline(False)
        expect(page.locator("[data-outbox-count]")).to_have_text("Tout est envoyé",
                                                                 timeout=20_000)
        with page.expect_navigation(url=f"{live_server}/join/{code}"):
            page.get_by_role("button", name="Quitter l'atelier").click()
        assert len(dialogs.said) == 1  # nothing waited: no question
        assert not page.evaluate("c => localStorage.getItem('terreau.workshop.' + c)", code)
        kept = _kept(page)
        assert not [p for p in kept if p.startswith("api/") or p.startswith("workshops/")], kept
        assert not _offline_opens(page, f"{live_server}/workshops/{code}")
