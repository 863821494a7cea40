"""What awaits validation is marked on a workshop's map as on the territory map (Terreau.pending,
static/css/terreau-marks.css), never with dashes: on the maps dashes mean "approximate
position" and nothing else (docs/conventions.md). A dot carries the amber clock badge, a line
an amber casing; their accessible names say « en attente de validation »; the legend says
both. At 390, 1024 and 1440 px, on the participants' page; the projector's legend too."""

import uuid

import httpx
from playwright.sync_api import Page, expect

from tests.api.test_workshops import join
from tests.apiworld import SETE, World, feature
from tests.browser import browser, dashed_strokes, screenshot
from tests.pages.test_workshop_outbox_browser import SIZES, _context, _join, _workshop
from tests.pages.test_workshops_browser import LIVE_MS
from tests.sessions import signed_in

AMBER = "rgb(255, 179, 0)"


def _additions(base: str, code: str, tag: str) -> tuple[list[str], str, str]:
    """Two resources and a cooperation between them, added by a participant (all « à
    valider »): their names and the link's id."""
    headers = {}
    with httpx.Client(base_url=base, timeout=30) as http:
        headers = join(http, code, f"Ines {tag}")
        names, ids = [], []
        for i, dx in enumerate((-0.02, 0.006)):
            name = f"Jardin {i} {tag}"
            made = http.post("/api/resources", headers=headers, json=feature(
                name=name, point=(SETE[0] + dx, SETE[1])))
            assert made.status_code == 201, made.text
            names.append(name)
            ids.append(made.json()["id"])
        link = http.post("/api/links", headers=headers, json={
            "source": ids[0], "target": ids[1], "category": "producers_suppliers", "level": 3,
            "territory": "api-a"})
        assert link.status_code == 201, link.text
    return names, ids[0], link.json()["id"]


def _badge(page: Page, selector: str) -> str:
    return str(page.locator(selector).first.evaluate(
        "n => getComputedStyle(n, '::after').backgroundColor"))


def test_a_workshop_map_marks_what_awaits_validation_with_the_shared_badge_not_dashes(
        live_server: str, world: World) -> None:
    tag = uuid.uuid4().hex[:6]
    code = _workshop(live_server, world, f"Atelier des marques {tag}")
    names, first_id, _ = _additions(live_server, code, tag)
    with browser() as b:
        for width, height in SIZES:
            context = _context(b, (width, height))
            page = _join(context, live_server, code, f"Yann {width}")
            expect(page.locator("#ws-additions li")).to_have_count(3, timeout=LIVE_MS)
            assert dashed_strokes(page, "#ws-map") == [], "a dashed mark on the workshop map"
            dots = page.locator("#ws-map .ws-dot.is-pending")
            expect(dots).to_have_count(2)
            assert _badge(page, "#ws-map .ws-dot.is-pending") == AMBER
            for name in names:
                expect(page.locator(f"#ws-map .ws-dot[aria-label='{name} "
                                    "(en attente de validation)']")).to_have_count(1)
            casing = page.locator("#ws-map path.tm-link-casing.is-pending")
            expect(casing).to_have_count(1)
            assert casing.get_attribute("stroke") == "#ffb300"
            line = page.locator("#ws-map path.ws-link.is-pending")
            assert line.get_attribute("aria-label") == \
                f"{names[0]} ↔ {names[1]} (en attente de validation)"
            legend = page.locator("#ws-legend")
            expect(legend).to_contain_text("en attente de validation")
            assert "tirets" not in (legend.text_content() or "")
            assert _badge(page, "#ws-legend .tm-sample-pending") == AMBER
            assert page.locator("#ws-legend .tm-sample-pending-line").evaluate(
                "n => getComputedStyle(n).boxShadow").startswith(AMBER)
            page.locator("#ws-map").scroll_into_view_if_needed()
            screenshot(page, f"workshop-pending-marks-{width}x{height}")
            page.evaluate("() => document.getElementById('ws-legend')"
                          ".scrollIntoView({block: 'end'})")
            screenshot(page, f"workshop-pending-legend-{width}x{height}")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width
            context.close()

        # validated: that dot loses the badge, the other keeps it (the feed is live)
        with httpx.Client(base_url=live_server, timeout=30) as http:
            done = http.post(f"/api/resources/{first_id}/validate",
                             headers=World.auth(world.editor))
            assert done.status_code == 200, done.text
        visit = signed_in(b, live_server, world.editor, 1440, 900)
        visit.page.goto(f"{live_server}/workshops/{code}/project")
        expect(visit.page.locator("#ws-map .ws-dot.is-pending")).to_have_count(
            1, timeout=LIVE_MS)
        expect(visit.page.locator("#ws-map .ws-dot:not(.is-pending)")).to_have_count(1)
        expect(visit.page.locator(f"#ws-map .ws-dot[aria-label='{names[0]}']")).to_have_count(1)
        expect(visit.page.locator("#ws-legend")).to_contain_text("en attente de validation")
        assert dashed_strokes(visit.page, "#ws-map") == []
        screenshot(visit.page, "workshop-pending-projector-1440x900")
        assert not visit.console_errors
