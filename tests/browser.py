"""Playwright driving Debian's Chromium (no browser download), recording every request."""

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, sync_playwright

# The people Terreau serves read French; pages follow Accept-Language, so the browser says so.
LOCALE = "fr-FR"
CHROMIUM = os.environ.get("TERREAU_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def require_chromium() -> None:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium")


@dataclass
class Visit:
    page: Page
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def open_page(b: Browser, url: str, width: int = 1280, height: int = 900) -> Visit:
    return watch(b.new_page(viewport={"width": width, "height": height}, locale=LOCALE), url)


def watch(page: Page, url: str) -> Visit:
    """Record a page's requests, console errors and dialogs, then open `url` (a page of a
    context of one's own: tabs sharing a session, JavaScript off)."""
    visit = Visit(page)
    page.on("request", lambda req: visit.requests.append(req.url))
    page.on("console", lambda msg: msg.type == "error" and visit.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: visit.console_errors.append(str(exc)))

    def _dialog(dialog: object) -> None:
        visit.dialogs.append(getattr(dialog, "message", ""))
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", _dialog)
    page.goto(url, wait_until="networkidle")
    return visit


def open_together(visits: list[tuple[Page, str]], idle: bool = True) -> None:
    """Open each page's url, all at once, and return when every one is network-idle (loaded,
    then Playwright's 500 ms without a request), as `page.goto(url, wait_until="networkidle")`
    would one by one: the quiet half-seconds overlap instead of adding up. The tests that open
    every page at three sizes spent most of their time in them (the layout test: 90 s).
    `idle=False`: loaded only (a page holding a stream open is never network-idle)."""
    for page, url in visits:
        page.goto(url, wait_until="commit")
    for page, _ in visits:
        page.wait_for_load_state("load")
        if idle:
            page.wait_for_load_state("networkidle")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def settled(locator: Locator, quiet_s: float = 0.25, timeout_s: float = 10.0) -> Locator:
    """`locator` once it has stopped moving for `quiet_s`: Leaflet pans an opened popup into
    view in an animation, and Playwright's own check of stability (two animation frames) can
    pass in the middle of it on a loaded machine, so a click meant for a link in the popup
    landed on the popup itself, 100 px away (the record page's test, one run in six)."""
    box, since = None, time.monotonic()
    deadline = since + timeout_s
    while time.monotonic() < deadline:
        now_box = locator.bounding_box()
        if now_box != box:
            box, since = now_box, time.monotonic()
        elif box is not None and time.monotonic() - since >= quiet_s:
            return locator
        time.sleep(0.05)
    raise AssertionError(f"{locator} kept moving for {timeout_s} s")


def dashed_strokes(page: Page, within: str) -> list[str]:
    """The classes of the SVG shapes under `within` that are drawn dashed (an attribute or the
    computed style): on the maps dashes mean "approximate position" and nothing else
    (docs/conventions.md), and no map draws that as an SVG stroke."""
    return list(page.evaluate(
        """within => [...document.querySelectorAll(within + ' path, ' + within + ' line, '
                                               + within + ' circle')]
            .filter(p => (p.getAttribute('stroke-dasharray') || 'none') !== 'none'
                         || getComputedStyle(p).strokeDasharray !== 'none')
            .map(p => p.getAttribute('class') || p.tagName)""", within))


def local_only(page: Page) -> list[str]:
    """Let the page load file: and data: URLs only, aborting anything else (a downloaded map
    must need no network); returns the list of every URL it asked for, filled as it goes."""
    requested: list[str] = []

    def guard(route: Route) -> None:
        requested.append(route.request.url)
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", guard)
    return requested


# axe-core 4.14.1 from its npm package (MPL-2.0, licence beside it): read from the disk and
# evaluated in the page by the test itself, never served by the app.
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def axe_violations(page: Page, impacts: tuple[str, ...] = SERIOUS) -> list[str]:
    """axe-core's violations of `impacts` on the page as it is now (every rule axe runs by
    default: WCAG 2.x A and AA, colour contrast, labels, names, focus), one line per element."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("""async (impacts) => {
        const result = await window.axe.run(document, { resultTypes: ['violations'] });
        return result.violations.filter(v => impacts.includes(v.impact)).flatMap(v =>
            v.nodes.map(n => `${v.id} (${v.impact}) ${n.target.join(' ')}: ${n.failureSummary}`));
    }""", list(impacts))
    return list(found)
