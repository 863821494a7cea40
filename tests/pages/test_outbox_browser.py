"""The outbox and the service worker in Chromium (issue 14): an addition made offline waits in
IndexedDB, survives a reload made offline (the page comes from the service worker), and is sent
when the network comes back, exactly once in the database and in the history; a request whose
answer was lost (it reached the server) is sent again without a second row; a 422 is shown and
kept for editing, not retried.

The page is a small one of this test's own (the outbox's partial, terreau-outbox.js and a
few lines that post a resource with a contributor token), served under /workshops/ by the
app itself, so the service worker's scope and caching rules are the real ones."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse
from playwright.sync_api import Page
from sqlalchemy import create_engine, text

from api.main import create_app
from api.templating import templates
from carto import demo
from tests.apiworld import World
from tests.browser import browser, open_page, screenshot
from tests.servers import serve

HERE = Path(__file__).resolve().parent
PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Outbox</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/terreau.css"></head>
<body><main>{widget}
<form id="add"><label for="name">Nom</label> <input id="name" name="name">
<button type="submit">Ajouter une ressource</button></form>
<ul id="sent"></ul></main>
<script src="/static/js/terreau-outbox.js"></script>
<script src="/workshops/_outbox-test.js"></script>
</body></html>"""


def _page(request: Request) -> HTMLResponse:
    widget = templates.get_template("_outbox.html").render(lang="fr")
    return HTMLResponse(PAGE.format(widget=widget))


def _script() -> FileResponse:
    return FileResponse(HERE / "outbox_page.js", media_type="text/javascript")


@pytest.fixture(scope="module")
def outbox_server(demo_loaded: demo.LoadReport, migrated: str) -> Iterator[str]:
    app = create_app(migrated)
    app.add_api_route("/workshops/_outbox-test", _page, include_in_schema=False)
    app.add_api_route("/workshops/_outbox-test.js", _script, include_in_schema=False)
    # before /workshops/{code}, which would take these paths for a workshop's code
    app.router.routes[:0] = [app.router.routes.pop(), app.router.routes.pop()]
    with serve(app) as url:
        yield url


def _rows(url: str, name: str) -> tuple[int, int]:
    """(resources named so, their "create" change-log rows)."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            found = c.execute(text("SELECT count(*) FROM resource WHERE name = :n"),
                              {"n": name}).scalar_one()
            logged = c.execute(text(
                "SELECT count(*) FROM change_log l JOIN resource r ON r.id = l.entity_id "
                "WHERE r.name = :n AND l.action = 'create'"), {"n": name}).scalar_one()
        return found, logged
    finally:
        engine.dispose()


def _waiting(page: Page, n: int) -> None:
    page.wait_for_function(
        "n => document.querySelector('[data-outbox]').getAttribute('data-outbox-waiting')"
        " === String(n)", arg=n, timeout=20_000)


def _add(page: Page, name: str) -> None:
    page.fill("#name", name)
    page.click("#add button[type=submit]")


def test_an_addition_made_offline_is_sent_once_when_the_network_returns(
        outbox_server: str, migrated: str, world: World) -> None:
    tag = uuid.uuid4().hex[:8]
    offline_name, lost_name = f"Jardin hors ligne {tag}", f"Jardin sans réponse {tag}"
    with browser() as b:
        visit = open_page(b, outbox_server + "/workshops/_outbox-test", 1024, 768)
        page = visit.page
        page.evaluate("t => localStorage.setItem('terreau-test-token', t)", world.contributor)
        # one visit: the worker keeps the page and its files (asked by the outbox)
        assert page.evaluate("() => TerreauOutbox.kept()") >= 3
        assert page.text_content("[data-outbox-count]") == "Tout est envoyé"

        # offline: the addition waits, and stays through a reload made offline
        page.context.set_offline(True)
        _add(page, offline_name)
        _waiting(page, 1)
        assert page.text_content("[data-outbox-count]") == "1 en attente d'envoi"
        page.reload(wait_until="load")
        _waiting(page, 1)
        screenshot(page, "outbox-offline")
        assert _rows(migrated, offline_name) == (0, 0)

        # the network is back: the online event sends it, once
        page.context.set_offline(False)
        _waiting(page, 0)
        page.wait_for_function("n => document.getElementById('sent').textContent.includes(n)",
                               arg=offline_name)
        assert _rows(migrated, offline_name) == (1, 1)

        # a request that reached the server but whose answer was lost (sent here directly,
        # as the page would have), then sent again by the outbox: no second row
        body = {"type": "Feature", "id": str(uuid.uuid4()),
                "geometry": {"type": "Point", "coordinates": [3.6957, 43.4028]},
                "properties": {"name": lost_name, "kind": "shared_garden",
                               "territories": ["api-a"], "location_precision": "exact"}}
        first = httpx.post(outbox_server + "/api/resources", json=body,
                           headers=World.auth(world.contributor))
        assert first.status_code == 201 and _rows(migrated, lost_name) == (1, 1)
        page.evaluate("b => TerreauOutbox.submit('/api/resources', b, b.properties.name)", body)
        page.click("[data-outbox-send]")  # "Envoyer maintenant"
        _waiting(page, 0)
        page.wait_for_function("n => document.getElementById('sent').textContent.includes(n)",
                               arg=lost_name)
        assert _rows(migrated, lost_name) == (1, 1)

        # refused (422): shown with the server's words, kept for editing, not retried
        _add(page, "x" * 300)
        page.wait_for_selector("[data-outbox-refused] li")
        refused = page.text_content("[data-outbox-refused] li") or ""
        assert "refusé par le serveur" in refused and "name" not in refused.split(":")[0]
        _waiting(page, 0)
        screenshot(page, "outbox-refused")
        page.click("[data-outbox-refused] li button:text('Modifier')")
        page.wait_for_function("() => document.getElementById('name').value.length === 300")
        assert page.query_selector("[data-outbox-refused] li") is None
        assert not [e for e in visit.console_errors if "ERR_INTERNET_DISCONNECTED" not in e
                    and "Failed to fetch" not in e and "ERR_FAILED" not in e
                    and "status of 422" not in e]  # the refusal asked for above
