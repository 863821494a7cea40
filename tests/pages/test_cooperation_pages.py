"""The cooperation and comparison pages: what they show (server-rendered), and in a real
headless Chromium at phone, tablet and desktop sizes: no horizontal scroll, no console error,
nothing fetched outside the app, the network on the map and as a graph, an opportunity shown on
the map, and an editor declaring it in one step."""

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from carto import tokens
from carto.db import transaction
from tests.browser import browser, dashed_strokes, open_page, screenshot

VIEWPORTS = [(390, 844), (1024, 768), (1440, 900)]


def _outside(requests: list[str], origin: str) -> list[str]:
    host = urlparse(origin).netloc
    return [u for u in requests if urlparse(u).scheme in ("http", "https")
            and urlparse(u).netloc != host]


def test_cooperation_page_content(client: TestClient) -> None:
    body = client.get("/api/territories/vauvert/indicators").json()
    r = client.get("/territories/vauvert/cooperation")
    assert r.status_code == 200
    html = r.text
    assert "Coopérations — Vauvert" in html
    assert f'<dd id="f-links">{body["links"]["total"]}</dd>' in html
    assert "Mutualisation de moyens" in html and 'id="matrix"' in html
    assert html.count('class="coop-bar"') == 5
    assert 'id="coop-graph"' in html and html.count('class="coop-node"') == \
        body["network"]["connected"]
    # the evolution since the programme's document (the day before its links are dated)
    assert "depuis le 17 novembre 2019 :" in html
    assert 'id="opportunity-list"' in html
    density = f'{body["network"]["density"]:.3f}'
    assert f'<dd id="f-density">{density.replace(".", ",")}</dd>' in html  # decimal comma
    en = client.get("/territories/vauvert/cooperation?lang=en").text
    assert f'<dd id="f-density">{density}</dd>' in en
    assert "Cooperation — Vauvert" in en and "Pooling of means" in en and "since 17 November" in en


def test_cooperation_page_on_a_past_day(client: TestClient) -> None:
    html = client.get("/territories/frontignan/cooperation?at=2019-11-17"
                      "&from=2019-11-01&to=2019-11-17").text
    assert '<dd id="f-links">0</dd>' in html
    assert "depuis le 1er novembre 2019 : aucun changement" in html
    r = client.get("/territories/frontignan/cooperation?at=demain")
    assert r.status_code == 400


def test_territory_page_links_the_cooperation_page(client: TestClient) -> None:
    html = client.get("/territories/pezenas").text
    assert 'id="coop-link" href="/territories/pezenas/cooperation"' in html


def test_compare_page(client: TestClient) -> None:
    html = client.get("/compare").text
    table = html[html.index('id="compare"'):]
    for slug in ("frontignan", "vauvert", "pezenas", "montpellier-celleneuve", "haut-allier",
                 "montpellier-centre"):
        assert f'href="/territories/{slug}/cooperation"' in table
    assert "Entre associations d&#39;aide alimentaire" in table
    assert "Compare territories" in client.get("/compare?lang=en").text


def _no_horizontal_scroll(page: object) -> bool:
    return bool(page.evaluate(  # type: ignore[attr-defined]
        "document.documentElement.scrollWidth <= window.innerWidth"))


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_cooperation_page_in_chromium(live_server: str, width: int, height: int) -> None:
    with browser() as b:
        visit = open_page(b, live_server + "/territories/vauvert/cooperation", width, height)
        page = visit.page
        assert visit.console_errors == []
        assert page.locator("#coop-map .leaflet-pane").count() > 0
        assert page.locator("#coop-map path.leaflet-interactive").count() > 0
        assert page.locator("#coop-graph circle").count() > 0
        assert _no_horizontal_scroll(page)
        screenshot(page, f"cooperation-vauvert-{width}x{height}")
        page.locator(".coop-show").first.click()
        page.wait_for_selector("#coop-map path.coop-focus-line", state="attached")
        assert page.locator(".coop-opp.coop-focus").count() == 1
        # the opportunity is a solid line on a white casing, never dashed (dashes: the
        # approximate position's), in the blue of its card's outline
        assert page.locator("#coop-map path.coop-focus-casing").count() == 1
        assert dashed_strokes(page, "#coop-map") == []
        line = page.locator("#coop-map path.coop-focus-line").get_attribute("stroke")
        outline = page.locator(".coop-opp.coop-focus").evaluate("e => getComputedStyle(e).outlineColor")
        assert line == "#0277bd" and outline == "rgb(2, 119, 189)"
        assert page.locator(".coop-declare").count() == 0  # not signed in: no declare button
        assert page.locator("#coop-sign-in").is_visible()
        page.wait_for_timeout(1200)  # the smooth scroll to the map
        screenshot(page, f"cooperation-vauvert-opportunity-{width}x{height}")
        assert visit.console_errors == [] and visit.dialogs == []
        assert _outside(visit.requests, live_server) == []


@pytest.mark.browser
@pytest.mark.parametrize(("width", "height"), VIEWPORTS)
def test_compare_page_in_chromium(live_server: str, width: int, height: int) -> None:
    with browser() as b:
        visit = open_page(b, live_server + "/compare", width, height)
        assert visit.page.locator("#compare tbody tr").count() > 10
        assert _no_horizontal_scroll(visit.page)
        screenshot(visit.page, f"compare-{width}x{height}")
        assert visit.console_errors == [] and _outside(visit.requests, live_server) == []


@pytest.fixture
def editor_token(migrated: str, live_server: str) -> Iterator[str]:
    """An editor of Vauvert; the links it declares are removed afterwards (demo counts)."""
    with transaction(migrated) as session:
        created = tokens.create(session, "editor", "vauvert", "animation coopération (test)")
    yield created.token
    with transaction(migrated) as session:
        ids = list(session.scalars(text(
            "SELECT id FROM link WHERE created_by LIKE '%animation coopération (test)'")))
        session.execute(text("DELETE FROM change_log WHERE entity_id = ANY(:ids)"), {"ids": ids})
        session.execute(text("DELETE FROM link WHERE id = ANY(:ids)"), {"ids": ids})
        session.execute(text("DELETE FROM api_token WHERE name = 'animation coopération (test)'"))


@pytest.mark.browser
def test_editor_declares_an_opportunity_in_one_step(live_server: str, editor_token: str,
                                                    migrated: str) -> None:
    with browser() as b:
        # signed in with the cookie session (no token pasted into the page)
        visit = open_page(b, f"{live_server}/sign-in?token={editor_token}", 1024, 768)
        page = visit.page
        with page.expect_navigation():
            page.get_by_role("button", name="Se connecter").click()
        page.goto(live_server + "/territories/vauvert/cooperation", wait_until="networkidle")
        assert page.locator("#coop-sign-in").count() == 0
        first = page.locator(".coop-opp").first
        a_name, b_name = first.locator("strong").all_inner_texts()
        declare = first.get_by_role("button", name="Déclarer une coopération")
        assert declare.is_visible()
        declare.click()
        page.wait_for_function(
            "() => document.querySelector('.coop-opp .coop-declared').textContent.includes('déclaré')")
        assert declare.is_hidden()
        assert first.get_by_role("link", name="Voir la coopération").is_visible()
        screenshot(page, "cooperation-declared")
        assert visit.console_errors == []
        assert _outside(visit.requests, live_server) == []
    with transaction(migrated) as session:
        row = session.execute(text("""
            SELECT s.name, t.name, l.level, l.moderation, tr.slug FROM link l
            JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
            JOIN territory tr ON tr.id = l.territory_id
            WHERE l.created_by LIKE '%animation coopération (test)'""")).one()
    assert (row[0], row[1]) == (a_name, b_name)
    assert row[2:] == (1, "validated", "vauvert")


XSS = '<img src=x onerror="alert(1)">'


@pytest.fixture
def hostile(migrated: str, live_server: str) -> Iterator[str]:
    """A territory whose actors are named like HTML (committed for the server, then removed)."""
    from tests.indicators_world import actor, link, territory

    slug = "coop-xss"
    with transaction(migrated) as session:
        tid = territory(session, slug)
        a = actor(session, tid, XSS, "food_aid")
        b = actor(session, tid, "</script><script>alert(2)</script>", "social_grocery")
        actor(session, tid, XSS + " isolé", "producer")
        link(session, slug, a, b, 3)
    yield slug
    with transaction(migrated) as session:
        ids = list(session.scalars(text("""SELECT l.id FROM link l JOIN territory t
                                           ON t.id = l.territory_id WHERE t.slug = :s"""),
                                   {"s": slug}))
        session.execute(text("DELETE FROM change_log WHERE entity_id = ANY(:ids)"), {"ids": ids})
        session.execute(text("DELETE FROM link WHERE id = ANY(:ids)"), {"ids": ids})
        session.execute(text("DELETE FROM resource WHERE source_name = 'indicator tests'"))
        session.execute(text("DELETE FROM territory WHERE slug = :s"), {"s": slug})


@pytest.mark.browser
def test_names_are_text_on_the_page(client: TestClient, live_server: str, hostile: str) -> None:
    html = client.get(f"/territories/{hostile}/cooperation").text
    assert XSS not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x" in html
    with browser() as b:
        visit = open_page(b, f"{live_server}/territories/{hostile}/cooperation", 1024, 768)
        page = visit.page
        page.locator(".coop-show").first.click()
        page.hover("#coop-graph circle")
        assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
        assert visit.dialogs == [] and visit.console_errors == []
