"""Accessibility of the pages with forms (issue 13: "every control has a visible label;
keyboard usable; contrast at WCAG AA"), measured by axe-core in Chromium on a phone (390×844)
and a tablet (1024×768): no violation of impact serious or critical (colour contrast, labels,
names of buttons and links, ARIA, focusable scrolled regions) on sign-in, the admin's tokens,
a resource's new / edit / delete / history / record pages, a refused form with its errors, a
link's new / edit / record pages, moderation, and a workshop's new / join / participant /
moderation pages. A keyboard's focus is visible on every control of the forms."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.apiworld import World
from tests.browser import axe_violations, browser, open_page, open_together, screenshot
from tests.formpages import FormWorld
from tests.sessions import sign_in

SIZES = ((390, 844), (1024, 768))


def _name(path: str) -> str:
    """A screenshot's name: the path's words (ids, codes and the query left out)."""
    bare = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|/[A-Z0-9]{6}(?=/|$)|\?.*", "", path)
    return re.sub(r"[^a-z]+", "-", bare).strip("-")


def _check(page: Page, url: str, name: str, width: int, found: dict[str, list[str]]) -> None:
    if url:
        page.goto(url, wait_until="networkidle")
    screenshot(page, f"a11y-{name}-{width}")
    violations = axe_violations(page)
    if violations:
        found[f"{name} at {width}px ({page.url})"] = violations


@pytest.mark.browser
@pytest.mark.slow
def test_form_pages_have_no_serious_accessibility_violation(
        live_server: str, world: World, form_world: FormWorld) -> None:
    found: dict[str, list[str]] = {}
    base = live_server
    with browser() as b:
        visits = {width: open_page(b, f"{base}/sign-in", width, height) for width, height in SIZES}
        for width, visit in visits.items():
            page = visit.page
            _check(page, "", "sign-in", width, found)
            _check(page, f"{base}/sign-in?token={world.admin}", "sign-in-link", width, found)
            with page.expect_navigation():
                page.locator("#sign-in-form button[type=submit]").click()
            _check(page, f"{base}/admin/tokens", "admin-tokens", width, found)
            page.get_by_label("Libellé").fill(f"Bénévole {width}")
            with page.expect_navigation():
                page.locator("#token-form button[type=submit]").click()
            _check(page, "", "admin-token-created", width, found)
            sign_in(page, base, world.editor)
        for path in form_world.signed_in_pages():  # at both sizes at once (open_together)
            open_together([(visit.page, base + path) for visit in visits.values()])
            for width, visit in visits.items():
                _check(visit.page, "", _name(path), width, found)
        for width, visit in visits.items():
            page = visit.page
            # refused forms: the errors next to their fields, and their summary
            page.goto(f"{base}/territories/api-a/resources/new", wait_until="networkidle")
            with page.expect_navigation():
                page.get_by_role("button", name="Enregistrer").click()
            assert page.locator(".error").count() > 0
            _check(page, "", "resource-new-refused", width, found)
            page.goto(f"{base}/territories/api-a/links/new", wait_until="networkidle")
            with page.expect_navigation():
                page.get_by_role("button", name="Déclarer une coopération").click()
            assert page.locator(".error").count() > 0
            _check(page, "", "link-new-refused", width, found)
            # a participant: the join page, then the workshop's touch page
            _check(page, f"{base}/join/{form_world.workshop}", "workshop-join", width, found)
            page.get_by_label("Pseudonyme").fill(f"Sam{width}")
            with page.expect_navigation():
                page.get_by_role("button", name="Rejoindre l'atelier").click()
            expect(page.locator("#ws-live")).to_have_text(re.compile("en direct|actualisation"))
            _check(page, "", "workshop-page", width, found)
            page.close()
            # the refused forms answer 422, which Chromium logs; nothing else
            assert [e for e in visit.console_errors if "422" not in e] == [], visit.console_errors
    assert found == {}, "\n".join(f"{where}:\n  " + "\n  ".join(v) for where, v in found.items())


def _unseen_focus(page: Page, at_least: int = 3) -> list[str]:
    """The controls whose keyboard focus draws nothing: no outline, no box shadow, and no
    outline on the element a hidden input (a chip, a pictogram) shows instead. Tabs through
    the page until the focus comes back to a control already seen."""
    tab = 0
    missing: list[str] = []
    page.locator("body").focus()
    seen: set[str] = set()
    while tab < 200:
        tab += 1
        page.keyboard.press("Tab")
        info = page.evaluate("""(n) => {
            const a = document.activeElement;
            if (!a || a === document.body) return null;
            const again = a.hasAttribute('data-tab-seen');
            a.setAttribute('data-tab-seen', String(n));
            const ring = e => { const s = getComputedStyle(e);
                return s.outlineStyle === 'auto' || s.boxShadow !== 'none'
                    || (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2); };
            const shown = a.nextElementSibling;
            const name = a.id || a.getAttribute('name') || a.textContent.trim().slice(0, 30);
            return { key: a.tagName + '#' + name + '#' + n, again: again,
                     seen: ring(a) || (!!shown && ring(shown))
                           || (!!a.parentElement && ring(a.parentElement)) };
        }""", tab)
        if info is None or info["again"]:
            break
        seen.add(info["key"])
        if not info["seen"]:
            missing.append(info["key"])
    assert len(seen) >= at_least, seen
    return missing


@pytest.mark.browser
def test_the_keyboard_focus_is_visible_on_the_forms(live_server: str, world: World,
                                                    form_world: FormWorld) -> None:
    with browser() as b:
        visit = open_page(b, f"{live_server}/sign-in", 1024, 768)
        page = visit.page
        assert _unseen_focus(page) == []
        sign_in(page, live_server, world.editor)
        for path in ("/territories/api-a/resources/new", "/territories/api-a/links/new",
                     f"/links/{form_world.link}", "/moderation?territory=api-a", "/workshops/new"):
            page.goto(live_server + path, wait_until="networkidle")
            assert _unseen_focus(page, at_least=8) == [], path
        assert re.search(r"/workshops/new$", page.url)
