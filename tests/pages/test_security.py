"""Defence in depth (issue 10 §8): security headers on pages and the API, a
Content-Security-Policy that every page works with in Chromium (no violation reported), CORS
off unless configured."""

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from api.security import content_security_policy, tile_source, with_nonce
from carto.config import security_settings
from tests.apiworld import World
from tests.browser import browser, open_page, open_together
from tests.formpages import XSS, FormWorld
from tests.sessions import sign_in

PAGES = ["/", "/territories/frontignan", "/territories/frontignan/map.html",
         "/territories/frontignan/gap", "/nearby?commune=34172&kind=food_aid", "/docs",
         "/territories/frontignan/cooperation", "/compare", "/territories/frontignan/import",
         "/ogc", "/territories/nowhere", "/workshops/new",
         "/territories/montpellier-centre/population"]
# every page at a tablet's size; the phone and the wide screen where the layout differs
VISITS = [(path, 1024, 768) for path in PAGES] + [
    (path, width, height) for width, height in ((390, 844), (1440, 900))
    for path in ("/territories/frontignan", "/nearby?commune=34172&kind=food_aid",
                 "/territories/frontignan/gap", "/docs")]


def _directives(policy: str) -> dict[str, str]:
    return {d.split()[0]: d.partition(" ")[2] for d in policy.split("; ")}


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_the_security_headers(client: TestClient, path: str) -> None:
    _assert_secure(client, path)


@contextmanager
def _signed_in(base: str, token: str) -> Iterator[httpx.Client]:
    """A browser-like client holding a session (the cookie of /sign-in)."""
    with httpx.Client(base_url=base, timeout=30, headers={"Origin": base}) as web:
        assert web.post("/sign-in", data={"token": token, "next": "/"}).status_code == 303
        yield web


def _form_pages(form_world: FormWorld) -> list[str]:
    code = form_world.workshop
    return ["/sign-in", "/admin/tokens", *form_world.signed_in_pages(), f"/join/{code}",
            f"/workshops/{code}"]


def test_form_pages_send_the_security_headers(live_server: str, world: World,
                                              form_world: FormWorld) -> None:
    """The pages with forms need a session: an admin's, which opens every one of them. The
    names shown there carry markup, which comes back escaped."""
    with _signed_in(live_server, world.admin) as web:
        for path in _form_pages(form_world):
            assert web.get(path).status_code == 200, path  # signed in, each page opens
            text = _assert_secure(web, path)
            assert XSS not in text, path
        record = web.get(f"/resources/{form_world.resource}").text
        assert "&lt;img src=x onerror=alert(1)&gt;" in record


def _assert_secure(client: TestClient | httpx.Client, path: str) -> str:
    """The page's security headers and its inline scripts' nonce; its text."""
    r = client.get(path, headers={"Accept": "text/html"})
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["x-content-type-options"] == "nosniff"
    # the pages that may carry a token in their address give no referrer to other sites
    private = path.startswith(("/sign-in", "/admin/tokens"))
    assert r.headers["referrer-policy"] == \
        ("same-origin" if private else "strict-origin-when-cross-origin"), path
    csp = _directives(r.headers["content-security-policy"])
    nonce = csp["script-src"].split("'nonce-")[1].rstrip("'")
    assert csp["default-src"] == "'self'" and csp["object-src"] == "'none'"
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ("*" if path.endswith("map.html") else "'self'")
    # every inline script the page has carries this response's nonce
    inline = [tag for tag in re.findall(r"<(?:script|style)\b[^>]*>", r.text)
              if "src=" not in tag and "application/json" not in tag]
    assert all(f'nonce="{nonce}"' in tag for tag in inline), inline
    again = client.get(path, headers={"Accept": "text/html"})
    assert nonce not in again.headers["content-security-policy"]  # one nonce per response
    return r.text


def test_api_answers_nosniff_without_cors_by_default(client: TestClient) -> None:
    r = client.get("/api/territories", headers={"Origin": "https://elsewhere.example"})
    assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in r.headers
    assert "content-security-policy" not in r.headers  # JSON runs nothing
    problem = client.get("/api/resources", params={"bbox": "x"})
    assert problem.headers["x-content-type-options"] == "nosniff"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    security_settings.cache_clear()


def test_cors_for_get_when_configured(settings: pytest.MonkeyPatch, migrated: str,
                                      demo_loaded: object) -> None:
    from api.main import create_app

    settings.setenv("TERREAU_CORS_ORIGINS", "https://observatoire.example")
    security_settings.cache_clear()
    with TestClient(create_app(migrated)) as c:
        ok = c.get("/api/territories", headers={"Origin": "https://observatoire.example"})
        assert ok.headers["access-control-allow-origin"] == "https://observatoire.example"
        other = c.get("/api/territories", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = c.options("/api/resources", headers={
            "Origin": "https://observatoire.example", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 400  # writes are not offered to other origins
        get_preflight = c.options("/api/resources", headers={
            "Origin": "https://observatoire.example", "Access-Control-Request-Method": "GET"})
        assert get_preflight.status_code == 200


def test_embedding_ancestors_are_a_setting(settings: pytest.MonkeyPatch,
                                           client: TestClient) -> None:
    settings.setenv("TERREAU_EMBED_ANCESTORS", "'self' https://mairie.example")
    security_settings.cache_clear()
    embed = client.get("/territories/frontignan/map.html")
    page = client.get("/territories/frontignan")
    assert _directives(embed.headers["content-security-policy"])["frame-ancestors"] == \
        "'self' https://mairie.example"
    assert _directives(page.headers["content-security-policy"])["frame-ancestors"] == "'self'"


def test_tile_hosts_and_nonces() -> None:
    assert tile_source("https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png") == \
        "https://*.tile.openstreetmap.org"
    assert tile_source("http://127.0.0.1:8123/t/{z}/{x}/{y}.png") == "http://127.0.0.1:8123"
    assert tile_source("") is None and tile_source("javascript:alert(1)") is None
    assert "img-src 'self' data: blob:" in content_security_policy("n", "/")
    assert with_nonce('<script>a</script><style>b</style><script nonce="x">c</script>'
                      '<script src="/static/a.js"></script>', "N") == (
        '<script nonce="N">a</script><style nonce="N">b</style><script nonce="x">c</script>'
        '<script src="/static/a.js"></script>')


WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.effectiveDirective + ' ' + e.blockedURI));"""

WORKS = {  # what shows that the page's scripts ran
    "/territories/frontignan": ".leaflet-marker-icon, .leaflet-interactive",
    "/territories/frontignan/map.html": ".leaflet-marker-icon, .leaflet-interactive",
    "/nearby?commune=34172&kind=food_aid": "#nb-list .nb-card",
    "/docs": ".swagger-ui .opblock",
    "/territories/frontignan/gap": "svg",
    "/territories/frontignan/cooperation": "#coop-map .leaflet-interactive",
}


@pytest.mark.browser
@pytest.mark.slow
def test_no_page_reports_a_csp_violation_in_chromium(live_server: str) -> None:
    with browser() as b:
        for start in range(0, len(VISITS), 4):  # four pages at a time (open_together)
            batch = VISITS[start:start + 4]
            visits = [open_page(b, "about:blank", width, height) for _, width, height in batch]
            for visit in visits:
                visit.page.add_init_script(WATCH)
            open_together([(v.page, live_server + path)
                           for v, (path, _, _) in zip(visits, batch, strict=True)])
            for visit, (path, width, _) in zip(visits, batch, strict=True):
                if path in WORKS:
                    visit.page.locator(WORKS[path]).first.wait_for(state="attached")
                assert visit.page.evaluate("window.__csp") == [], (path, width)
                errors = [e for e in visit.console_errors if "404" not in e]
                assert errors == [], (path, errors)
                visit.page.close()


@pytest.mark.browser
@pytest.mark.slow
def test_no_form_page_reports_a_csp_violation_in_chromium(live_server: str, world: World,
                                                          form_world: FormWorld) -> None:
    """Signed in as an admin, on a tablet and a phone: no violation, no console error, and the
    names with markup stay text (no dialog opens, no broken image is requested)."""
    with browser() as b:
        visits = {width: open_page(b, "about:blank", width, height)
                  for width, height in ((1024, 768), (390, 844))}
        for visit in visits.values():
            visit.page.add_init_script(WATCH)
            sign_in(visit.page, live_server, world.admin)
        for path in _form_pages(form_world):  # at both sizes at once (open_together)
            if path == "/sign-in":
                continue  # signed in, it is seen below through sign-in?token=
            # the participant's page holds its live stream open: never network-idle
            open_together([(visit.page, live_server + path) for visit in visits.values()],
                          idle=path != f"/workshops/{form_world.workshop}")
            for width, visit in visits.items():
                assert visit.page.evaluate("window.__csp") == [], (path, width)
        for visit in visits.values():
            visit.page.goto(f"{live_server}/resources/{form_world.resource}")
            assert XSS in visit.page.locator("h1").inner_text()
            visit.page.goto(f"{live_server}/sign-in?token={world.editor}")
            assert visit.page.evaluate("window.__csp") == []
            errors = [e for e in visit.console_errors if "404" not in e]
            assert errors == [] and visit.dialogs == [], (errors, visit.dialogs)
            assert [u for u in visit.requests if u.split("?")[0].endswith("/x")] == []
            visit.page.close()


@pytest.mark.browser
def test_an_injected_script_is_blocked(live_server: str) -> None:
    """The policy is enforced, and the watch above would see a violation."""
    with browser() as b:
        visit = open_page(b, "about:blank")
        visit.page.add_init_script(WATCH)
        visit.page.goto(live_server + "/", wait_until="networkidle")
        visit.page.evaluate("""() => { const s = document.createElement('script');
            s.textContent = 'window.__ran = 1'; document.body.append(s); }""")
        visit.page.wait_for_function("() => window.__csp.length > 0")
        assert visit.page.evaluate("window.__ran") is None
        assert visit.page.evaluate("window.__csp")[0].startswith("script-src")
