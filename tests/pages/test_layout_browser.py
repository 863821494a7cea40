"""No page scrolls sideways on a phone, a tablet or a desktop (issue 12, "Phone and tablet").

Every HTML page the app serves is found from its routes (a page added later is measured too, or
the test asks for a sample value of its path parameter), opened in Chromium at 390×844,
1024×768 and 1440×900, and must not be wider than the window:
`document.scrollingElement.scrollWidth <= innerWidth`. Wide tables scroll inside their own box
(`.table-scroll`), they do not widen the page."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from playwright.sync_api import Browser, Page

from carto import tokens
from carto.db import transaction
from tests.browser import browser, open_together, screenshot

SIZES = ((390, 844), (1024, 768), (1440, 900))
DEMO = ["frontignan", "vauvert", "pezenas", "montpellier-celleneuve", "montpellier-centre",
        "haut-allier", "marvejols"]
# Pages outside HTMLResponse routes: the OGC API answers HTML with f=html.
OGC_PAGES = ["/ogc?f=html", "/ogc/collections?f=html", "/ogc/collections/resources?f=html",
             "/ogc/collections/resources/items?f=html&limit=20",
             "/ogc/conformance?f=html"]


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:  # FastAPI's included router
            context = getattr(route, "include_context", None)
            yield from _routes(inner.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def _samples(url: str) -> dict[str, list[str]]:
    with transaction(url) as s:
        resource = str(s.execute(_sql("SELECT id FROM resource WHERE visibility = 'public' "
                                      "AND moderation = 'validated' ORDER BY name LIMIT 1"))
                       .scalar_one())
        link = str(s.execute(_sql("SELECT id FROM link ORDER BY id LIMIT 1")).scalar_one())
        code = s.execute(_sql("SELECT code FROM workshop ORDER BY id LIMIT 1")).scalar()
        if code is None:  # a workshop of issue 14, for /join/{code} and /workshops/{code}
            from datetime import UTC, datetime, timedelta

            from carto import permissions
            from carto.workshops import sessions

            code = sessions.create(s, {
                "territory": "frontignan", "title": "Atelier (mise en page)",
                "date": datetime.now(UTC).date().isoformat(),
                "ends_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
                permissions.system("test:layout")).code
    return {"slug": DEMO, "resource_id": [resource], "link_id": [link],
            "feature_id": [resource], "collection_id": ["resources"], "code": [code]}


def _sql(query: str) -> Any:
    from sqlalchemy import text

    return text(query)


def pages(url: str) -> list[str]:
    """Every GET page of the app (HTMLResponse routes), with sample path parameters."""
    from api.main import create_app

    samples = _samples(url)
    found: list[str] = []
    missing: list[str] = []
    for path, route in _routes(create_app().routes):
        if "GET" not in route.methods or route.response_class is not HTMLResponse:
            continue
        names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        choices: list[str] = [path]
        for name in names:
            if name not in samples:
                missing.append(f"{path}: no sample for {{{name}}}")
                choices = []
                break
            # every territory page (their tables differ), one territory for the others
            values = samples[name] if path == "/territories/{slug}" or name != "slug" \
                else samples[name][:1]
            choices = [c.replace("{" + name + "}", v) for c in choices for v in values]
        found += choices
    assert missing == [], "add a sample value to tests/pages/test_layout_browser.py:_samples"
    found += OGC_PAGES + ["/territories/nowhere", "/nearby?commune=34172&kind=food_aid",
                          "/territories/frontignan/map.html?lang=en"]
    return sorted(set(found))


def _too_wide(b: Browser, base: str, paths: list[str], cookie: str | None = None,
              shots: tuple[str, ...] = ()) -> list[str]:
    """Each path opened at the three sizes at once (`open_together`), one page per size."""
    wide = []
    pages: dict[tuple[int, int], Page] = {}
    for width, height in SIZES:
        context = b.new_context(viewport={"width": width, "height": height}, locale="fr-FR")
        if cookie:
            context.add_cookies([{"name": "terreau_session", "value": cookie, "url": base}])
        pages[(width, height)] = context.new_page()
    for path in paths:
        # Territory pages differ by their tables: every one on a phone, two elsewhere.
        here = [((width, height), page) for (width, height), page in pages.items()
                if not (width > 390 and path.startswith("/territories/") and path.count("/") == 2
                        and path.split("/")[2] not in ("frontignan", "montpellier-centre",
                                                       "nowhere"))]
        open_together([(page, base + path) for _, page in here])
        for (width, height), page in here:
            sizes = page.evaluate(
                "() => [document.scrollingElement.scrollWidth, window.innerWidth]")
            if sizes[0] > sizes[1]:
                culprits = page.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > innerWidth + 1
                            && !e.closest('.leaflet-container, .table-scroll'))
                    .slice(0, 3).map(e => e.tagName + '.' + e.className)""")
                wide.append(f"{path} at {width}×{height}: {sizes[0]} px wide {culprits}")
            name = path.strip("/").replace("/", "-").split("?")[0] or "home"
            if name in shots:
                screenshot(page, f"layout-{name}{'-signed-in' if cookie else ''}-{width}")
    for page in pages.values():
        page.context.close()
    return wide


@pytest.mark.browser
def test_no_page_scrolls_sideways_at_three_sizes(live_server: str, migrated: str) -> None:
    paths = pages(migrated)
    assert "/territories/marvejols" in paths and "/nearby" in paths and "/docs" in paths
    with transaction(migrated) as s:
        admin = tokens.create(s, "admin", None, "Mise en page (test)").token
    with browser() as b:
        wide = _too_wide(b, live_server, paths,
                         shots=("territories-montpellier-centre", "ogc-collections"))
        # Signed in, the header carries the reader's name and the admin pages open.
        wide += _too_wide(b, live_server, ["/", "/admin/tokens", "/territories/vauvert",
                                           "/territories/frontignan/import"], cookie=admin,
                          shots=("admin-tokens",))
    assert wide == [], "\n".join(wide)
