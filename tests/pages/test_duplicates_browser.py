"""Duplicates in Chromium (issue 14): an editor signed in opens the moderation page, sees a
contributor's addition flagged beside the record it repeats, and merges it there; the page says
what moved, the pair is gone, the merged record points to the kept one and its link moved."""

import math
import uuid

import httpx
from playwright.sync_api import Locator
from sqlalchemy import create_engine, text

from tests.apiworld import SETE, World, feature
from tests.browser import browser, screenshot
from tests.sessions import signed_in


def _shift(point: tuple[float, float], east_m: float) -> tuple[float, float]:
    return (point[0] + east_m / (111_320 * math.cos(math.radians(point[1]))), point[1])


def _post(base: str, token: str, path: str, body: dict) -> str:
    answer = httpx.post(base + path, json=body, headers=World.auth(token))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _press(button: Locator, shot: str) -> str:
    """Press a pair's form button (seen first, in a screenshot): the notice of the page that
    follows."""
    button.scroll_into_view_if_needed()
    screenshot(button.page, shot)
    button.click()
    button.page.wait_for_load_state("networkidle")
    return button.page.text_content("#duplicates .notice") or ""


def test_an_editor_merges_a_duplicate_from_the_moderation_page(live_server: str, migrated: str,
                                                               world: World) -> None:
    tag = uuid.uuid4().hex[:6]
    point = _shift(SETE, 1500 + int(tag, 16) % 1500)
    kept = _post(live_server, world.editor, "/api/resources",
                 feature(name=f"Épicerie {tag} du Môle", point=point))
    twin = _post(live_server, world.contributor, "/api/resources",
                 feature(name=f"mole du EPICERIE {tag}", point=_shift(point, 60)))
    other = _post(live_server, world.editor, "/api/resources",
                  feature(name=f"Banque {tag}", point=_shift(point, 500)))
    link = _post(live_server, world.editor, "/api/links", {
        "source": twin, "target": other, "category": "aid_associations", "level": 2})
    with browser() as b:
        visit = signed_in(b, live_server, world.editor, 1024, 768)
        page = visit.page
        page.goto(f"{live_server}/moderation?territory=api-a", wait_until="networkidle")
        pair = page.locator(f"li.duplicate-pair[data-merge='{twin}']")
        assert "même nom" in (pair.text_content() or "")
        assert "à valider" in (pair.text_content() or "")
        pair.scroll_into_view_if_needed()
        screenshot(page, "duplicates-1024x768")
        page.set_viewport_size({"width": 390, "height": 844})
        pair.scroll_into_view_if_needed()
        screenshot(page, "duplicates-390x844")
        page.set_viewport_size({"width": 1024, "height": 768})
        pair.get_by_role("button", name=f"Fusionner « mole du EPICERIE {tag} »").click()
        page.wait_for_load_state("networkidle")
        notice = page.text_content("#duplicates .notice") or ""
        assert f"« mole du EPICERIE {tag} » est fusionnée dans « Épicerie {tag} du Môle »" \
            in notice and "Coopérations déplacées : 1." in notice
        assert page.locator(f"li.duplicate-pair[data-merge='{twin}']").count() == 0
        assert page.url.startswith(f"{live_server}/moderation?territory=api-a")
        screenshot(page, "duplicates-merged-1024x768")
        # the same section on a page of its own
        page.goto(f"{live_server}/moderation/duplicates?territory=api-a",
                  wait_until="networkidle")
        assert page.locator("#duplicates h2").count() == 1
        assert page.locator(f"li.duplicate-pair[data-merge='{twin}']").count() == 0
        assert not visit.console_errors
        assert all(u.startswith(live_server) for u in visit.requests), visit.requests
    engine = create_engine(migrated)
    try:
        with engine.connect() as c:
            merged_into, deleted = c.execute(text(
                "SELECT merged_into, deleted_at IS NOT NULL FROM resource WHERE id = :i"),
                {"i": twin}).one()
            source = c.execute(text("SELECT source_id FROM link WHERE id = :i"),
                               {"i": link}).scalar_one()
    finally:
        engine.dispose()
    assert str(merged_into) == kept and deleted and str(source) == kept


def test_not_a_duplicate_from_both_moderation_pages(live_server: str, migrated: str,
                                                    world: World) -> None:
    """« Pas un doublon » on /moderation (on a phone) and on a workshop's moderation page (on
    a tablet): the page says it, the pair is no longer flagged on either page."""
    tag = uuid.uuid4().hex[:6]
    point = _shift(SETE, 4000 + int(tag, 16) % 1500)
    pairs = []
    for n, name in enumerate((f"Jardin {tag} des Cigales", f"Cantine {tag} du Lido")):
        here = _shift(point, 600 * n)
        one = _post(live_server, world.editor, "/api/resources", feature(name=name, point=here))
        two = _post(live_server, world.contributor, "/api/resources",
                    feature(name=name.upper(), point=_shift(here, 30)))
        pairs.append((one, two, name))
    made = httpx.post(f"{live_server}/api/workshops", headers=World.auth(world.editor), json={
        "territory": "api-a", "title": f"Atelier {tag}", "date": "2030-06-01",
        "ends_at": "2030-06-01T18:00:00+02:00"})
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    with browser() as b:
        visit = signed_in(b, live_server, world.editor, 390, 844)
        page = visit.page
        for (_one, two, name), url, size in (
                (pairs[0], "/moderation?territory=api-a", (390, 844)),
                (pairs[1], f"/workshops/{code}/moderation", (768, 1024))):
            page.set_viewport_size({"width": size[0], "height": size[1]})
            page.goto(live_server + url, wait_until="networkidle")
            pair = page.locator(f"li.duplicate-pair[data-merge='{two}']")
            notice = _press(pair.get_by_role("button", name="Pas un doublon"),
                            f"duplicates-dismiss-{size[0]}x{size[1]}")
            assert f"« {name} » et « {name.upper()} » ne seront plus signalées comme doublon." \
                in notice, notice
            assert page.url.startswith(live_server + url.split("?")[0])
            assert page.locator(f"li.duplicate-pair[data-merge='{two}']").count() == 0
            screenshot(page, f"duplicates-dismissed-{size[0]}x{size[1]}")
        page.set_viewport_size({"width": 1440, "height": 900})
        for url in ("/moderation?territory=api-a", f"/workshops/{code}/moderation"):
            page.goto(live_server + url, wait_until="networkidle")
            for _one, two, _ in pairs:
                assert page.locator(f"li.duplicate-pair[data-merge='{two}']").count() == 0
        assert not visit.console_errors
        assert all(u.startswith(live_server) for u in visit.requests), visit.requests
    engine = create_engine(migrated)
    try:
        with engine.connect() as c:
            stored = c.execute(text("SELECT count(*) FROM duplicate_dismissal "
                                    "WHERE a_id = ANY(:ids) OR b_id = ANY(:ids)"),
                               {"ids": [uuid.UUID(p[0]) for p in pairs]}).scalar_one()
    finally:
        engine.dispose()
    assert stored == 2


def test_not_a_duplicate_taken_back_from_the_page(live_server: str, migrated: str,
                                                  world: World) -> None:
    """« Annuler » on the list of pairs said not to be duplicates (phone, tablet, desktop): the
    page says the pair will be flagged again, and it is; the dismissal row is gone."""
    tag = uuid.uuid4().hex[:6]
    point = _shift(SETE, 6000 + int(tag, 16) % 1500)
    names = {}
    for n, size in enumerate(((390, 844), (1024, 768), (1440, 900))):
        here = _shift(point, 500 * n)
        name = f"Marché {tag} n°{n} des Quais"
        one = _post(live_server, world.editor, "/api/resources", feature(name=name, point=here))
        two = _post(live_server, world.contributor, "/api/resources",
                    feature(name=name.upper(), point=_shift(here, 25)))
        said = httpx.post(f"{live_server}/api/moderation/duplicates/dismissals",
                          json={"resources": [one, two]}, headers=World.auth(world.editor))
        assert said.status_code == 201, said.text
        names[size] = (one, two, name)
    with browser() as b:
        visit = signed_in(b, live_server, world.editor, 390, 844)
        page = visit.page
        for size, (one, two, name) in names.items():
            page.set_viewport_size({"width": size[0], "height": size[1]})
            page.goto(f"{live_server}/moderation/duplicates?territory=api-a",
                      wait_until="networkidle")
            assert page.locator(f"li.duplicate-pair[data-merge='{two}']").count() == 0
            page.locator("#dismissals summary").click()
            row = page.locator(f"li.dismissed-pair[data-a='{min(one, two)}']")
            assert name in (row.text_content() or "") and "par animatrice" in (
                row.text_content() or "").lower(), row.text_content()
            notice = _press(row.get_by_role("button", name="Annuler « pas un doublon » pour"),
                            f"duplicates-undismiss-{size[0]}x{size[1]}")
            assert "seront de nouveau signalées si elles se ressemblent" in notice, notice
            assert page.locator(f"li.duplicate-pair[data-merge='{two}']").count() == 1
            assert page.locator(f"li.dismissed-pair[data-a='{min(one, two)}']").count() == 0
            page.locator(f"li.duplicate-pair[data-merge='{two}']").scroll_into_view_if_needed()
            screenshot(page, f"duplicates-undismissed-{size[0]}x{size[1]}")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= size[0]
        assert not visit.console_errors
    engine = create_engine(migrated)
    try:
        with engine.connect() as c:
            left = c.execute(text("SELECT count(*) FROM duplicate_dismissal "
                                  "WHERE a_id = ANY(:ids) OR b_id = ANY(:ids)"),
                             {"ids": [uuid.UUID(p[0]) for p in names.values()]}).scalar_one()
    finally:
        engine.dispose()
    assert left == 0
