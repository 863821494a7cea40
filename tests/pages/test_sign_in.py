"""Browser sessions (issue 13, sign in): the cookie, its end when the token is revoked, the
anti-CSRF rules against a forged cross-site form, /admin/tokens and `carto token create --link`.
Against the real server (httpx) and in Chromium."""

import re
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner

from carto import tokens
from carto.cli import app
from carto.db import transaction
from tests.browser import browser, open_page, screenshot


def _token(url: str, role: str, territory: str | None, name: str) -> tuple[int, str]:
    with transaction(url) as session:
        new = tokens.create(session, role, territory, name)
    return new.id, new.token


def _revoke(url: str, token_id: int) -> None:
    with transaction(url) as session:
        tokens.revoke(session, token_id)


@pytest.fixture
def web(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, headers={"Accept": "text/html"}) as c:
        yield c


def _sign_in(web: httpx.Client, base: str, token: str) -> httpx.Response:
    return web.post("/sign-in", data={"token": token, "next": "/"}, headers={"Origin": base})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no anti-CSRF field in the page"
    return found.group(1)


def test_a_session_cookie_refers_to_the_token_and_ends_with_it(web: httpx.Client,
                                                                live_server: str,
                                                                migrated: str) -> None:
    token_id, token = _token(migrated, "editor", "pezenas", "Animatrice Pézenas")
    answer = _sign_in(web, live_server, token)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "terreau_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = web.get("/")
    assert "Animatrice Pézenas" in page.text and "éditeur·rice" in page.text
    assert "Se déconnecter" in page.text
    _revoke(migrated, token_id)
    page = web.get("/")
    assert "Animatrice Pézenas" not in page.text and "Se connecter" in page.text


def test_a_wrong_token_is_said_next_to_the_field_and_kept(web: httpx.Client,
                                                          live_server: str) -> None:
    answer = _sign_in(web, live_server, "terreau_not-a-token")
    assert answer.status_code == 422
    assert "n’est pas reconnu" in answer.text and 'value="terreau_not-a-token"' in answer.text
    assert "terreau_session" not in answer.headers.get("set-cookie", "")


def test_a_sign_in_link_asks_for_one_press_and_no_cookie_comes_with_the_get(
        web: httpx.Client, live_server: str, migrated: str) -> None:
    _, token = _token(migrated, "contributor", "pezenas", "Lien")
    page = web.get(f"/sign-in?token={token}")
    assert page.status_code == 200 and "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "same-origin"
    assert f'name="token" value="{token}"' in page.text


def test_a_forged_cross_site_form_post_is_refused(web: httpx.Client, live_server: str,
                                                  migrated: str) -> None:
    """An admin signed in; a page elsewhere posts a token-creation form at the app: the
    browser sends the cookie (SameSite=Lax lets top-level posts go only from the same site,
    older browsers send it anyway) but neither the origin nor the anti-CSRF value match."""
    _, token = _token(migrated, "admin", None, "Admin CSRF")
    assert _sign_in(web, live_server, token).status_code == 303
    csrf = _csrf(web.get("/admin/tokens").text)
    form = {"role": "admin", "territory": "", "label": "forged"}
    evil = web.post("/admin/tokens", data={**form, "csrf": csrf},
                    headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert evil.status_code == 403 and "ne vient pas de ce site" in evil.text
    no_csrf = web.post("/admin/tokens", data=form, headers={"Origin": live_server})
    assert no_csrf.status_code == 403 and "anti-falsification" in no_csrf.text
    wrong = web.post("/admin/tokens", data={**form, "csrf": "0" * 64},
                     headers={"Origin": live_server})
    assert wrong.status_code == 403
    listing = web.get("/admin/tokens").text
    assert "forged" not in listing
    ok = web.post("/admin/tokens", data={**form, "label": "legit", "csrf": csrf},
                  headers={"Origin": live_server})
    assert ok.status_code == 200 and "legit" in ok.text
    # signing out is a form post too
    out = web.post("/sign-out", data={}, headers={"Origin": live_server})
    assert out.status_code == 403


def test_admin_creates_lists_and_revokes_tokens_and_sees_the_link_and_qr_once(
        web: httpx.Client, live_server: str, migrated: str) -> None:
    _, token = _token(migrated, "admin", None, "Admin tokens")
    _sign_in(web, live_server, token)
    page = web.get("/admin/tokens")
    csrf = _csrf(page.text)
    missing = web.post("/admin/tokens", headers={"Origin": live_server},
                       data={"csrf": csrf, "role": "editor", "territory": "", "label": "x"})
    assert missing.status_code == 422 and 'id="territory-error"' in missing.text
    made = web.post("/admin/tokens", headers={"Origin": live_server},
                    data={"csrf": csrf, "role": "editor", "territory": "vauvert",
                          "label": "Animateur <b>Vauvert</b>"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    link = re.search(r'id="sign-in-link" href="([^"]+)"', made.text).group(1)  # type: ignore[union-attr]
    assert link.startswith(f"{live_server}/sign-in?token=terreau_")
    assert "<svg" in made.text and "QR code" in made.text
    assert "Animateur &lt;b&gt;Vauvert&lt;/b&gt;" in made.text
    new_token = link.split("token=")[1]
    listing = web.get("/admin/tokens").text
    assert new_token not in listing  # shown once
    new_id = re.search(r'id="created-token">\s*<h2>Jeton (\d+)', made.text).group(1)  # type: ignore[union-attr]
    gone = web.post(f"/admin/tokens/{new_id}/revoke", headers={"Origin": live_server},
                    data={"csrf": csrf})
    assert gone.status_code == 303
    with transaction(migrated) as session:
        assert tokens.lookup(session, new_token) is None


def test_admin_tokens_is_for_admins(web: httpx.Client, live_server: str, migrated: str) -> None:
    assert web.get("/admin/tokens").status_code == 401
    _, token = _token(migrated, "editor", "pezenas", "Pas admin")
    _sign_in(web, live_server, token)
    assert web.get("/admin/tokens").status_code == 403


def test_the_api_keeps_bearer_tokens_and_ignores_the_cookie(web: httpx.Client, live_server: str,
                                                             migrated: str) -> None:
    _, token = _token(migrated, "admin", None, "Admin API")
    _sign_in(web, live_server, token)
    assert web.get("/api/tokens", headers={"Accept": "application/json"}).status_code == 401
    assert web.get("/api/tokens", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_token_create_link_prints_a_sign_in_link(migrated: str, demo_loaded: object,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from carto.config import app_settings
    monkeypatch.setenv("TERREAU_PUBLIC_URL", "https://terreau.example/")
    app_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["token", "create", "--role", "editor", "--territory",
                                          "pezenas", "--link"])
    finally:
        monkeypatch.delenv("TERREAU_PUBLIC_URL")
        app_settings.cache_clear()
    assert result.exit_code == 0, result.output
    link = result.output.strip().splitlines()[-1]
    assert link.startswith("https://terreau.example/sign-in?token=terreau_")
    with transaction(migrated) as session:
        assert tokens.lookup(session, link.split("token=")[1]) is not None


@pytest.mark.browser
def test_an_editor_signs_in_with_a_link_in_chromium(live_server: str, migrated: str) -> None:
    _, token = _token(migrated, "editor", "pezenas", "Élodie <img src=x onerror=alert(1)>")
    with browser() as b:
        for width, height in ((1024, 768), (390, 844)):
            visit = open_page(b, f"{live_server}/sign-in?token={token}", width, height)
            page = visit.page
            with page.expect_navigation():
                page.get_by_role("button", name="Se connecter").click()
            assert page.url == f"{live_server}/", page.content()[:3000]
            who = page.locator("#who")
            assert "Élodie <img src=x onerror=alert(1)>" in who.inner_text()
            assert "éditeur·rice" in who.inner_text()
            screenshot(page, f"sign-in-header-{width}x{height}")
            with page.expect_navigation():
                page.get_by_role("button", name="Se déconnecter").click()
            assert page.url == f"{live_server}/"
            assert page.get_by_role("link", name="Se connecter").is_visible()
            assert not visit.console_errors and not visit.dialogs
            assert all(u.startswith(live_server) for u in visit.requests)
            page.close()
