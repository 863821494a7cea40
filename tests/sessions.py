"""Signing in from the tests of the pages with forms: a token made in the database, the page's
anti-CSRF value, and a sign-in in Chromium (the one button of /sign-in?token=)."""

import re

from playwright.sync_api import Browser, Page

from carto import tokens
from carto.db import transaction
from tests.browser import Visit, open_page


def token(url: str, role: str, territory: str | None, name: str) -> str:
    with transaction(url) as session:
        return tokens.create(session, role, territory, name).token


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no anti-CSRF field in the page"
    return found.group(1)


def sign_in(page: Page, base: str, value: str) -> None:
    """In Chromium: the sign-in link's page, then its button."""
    page.goto(f"{base}/sign-in?token={value}")
    with page.expect_navigation():
        page.locator("#sign-in-form button[type=submit]").click()


def signed_in(b: Browser, base: str, value: str, width: int, height: int) -> Visit:
    """A page of its own at this size, signed in with the token `value` (`sign_in`)."""
    visit = open_page(b, f"{base}/sign-in", width, height)
    sign_in(visit.page, base, value)
    visit.page.wait_for_load_state("networkidle")
    return visit
