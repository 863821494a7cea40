"""POST /api/imports, the template, and the import page (upload → dry-run table → confirm)."""

import io
import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from carto.db import transaction
from tests.apiworld import World

CSV = """nom;type;latitude;longitude;commune
Épicerie importée (api);Épicerie solidaire;43,4028;3,6957;
Jardin importé (api);shared_garden;;;Sète
Inconnu (api);spaceport;;;Sète
=HYPERLINK("http://evil.example");food_aid;;;Sète
"""


def _post(client: TestClient, token: str | None, dry_run: bool = True, territory: str = "api-a",
          report: str | None = None, content: str = CSV) -> object:
    params = {"territory": territory, "dry_run": str(dry_run).lower()}
    if report:
        params["report"] = report
    return client.post("/api/imports", params=params,
                       files={"file": ("liste.csv", content.encode("utf-8"), "text/csv")},
                       headers=World.auth(token) if token else {})


def _count(url: str) -> int:
    with transaction(url) as s:
        return int(s.scalar(text("SELECT count(*) FROM resource WHERE source_name = 'liste.csv' "
                                 "AND name LIKE '%(api)'")) or 0)


def test_only_the_territory_s_editors_may_import(client: TestClient, world: World) -> None:
    assert _post(client, None).status_code == 401  # type: ignore[attr-defined]
    assert _post(client, world.contributor).status_code == 403  # type: ignore[attr-defined]
    assert _post(client, world.other_editor).status_code == 403  # type: ignore[attr-defined]
    missing = client.post("/api/imports", params={"territory": "api-a"},
                          headers=World.auth(world.editor))
    assert missing.status_code == 422 and "file" in missing.text


def test_dry_run_then_import_then_nothing_changes(client: TestClient, world: World,
                                                  migrated: str) -> None:
    dry = _post(client, world.editor)
    assert dry.status_code == 200, dry.text  # type: ignore[attr-defined]
    body = dry.json()  # type: ignore[attr-defined]
    assert body["resources"]["counts"] == {"created": 3, "updated": 0, "unchanged": 0,
                                           "rejected": 1}
    rejected = [x for x in body["resources"]["lines"] if x["status"] == "rejected"]
    assert rejected == [{"line": 4, "status": "rejected", "label": "Inconnu (api)",
                         "field": "kind", "sheet": None,
                         "reason": "type inconnu : 'spaceport' (voir la feuille « Types » du "
                                   "modèle)"}]
    assert _count(migrated) == 0
    english = client.post("/api/imports?territory=api-a&lang=en",
                          files={"file": ("liste.csv", CSV.encode(), "text/csv")},
                          headers=World.auth(world.editor)).json()
    assert any("unknown kind" in (x["reason"] or "") for x in english["resources"]["lines"])
    try:
        real = _post(client, world.editor, dry_run=False)
        assert real.status_code == 201  # type: ignore[attr-defined]
        assert _count(migrated) == 2
        again = _post(client, world.editor, dry_run=False).json()  # type: ignore[attr-defined]
        assert again["resources"]["counts"]["unchanged"] == 3 and _count(migrated) == 2
    finally:
        with transaction(migrated) as s:
            s.execute(text("DELETE FROM change_log WHERE entity_id IN (SELECT id FROM resource "
                           "WHERE source_name = 'liste.csv')"))
            s.execute(text("DELETE FROM resource WHERE source_name = 'liste.csv'"))


def test_the_report_downloads_as_csv_and_xlsx_with_cells_neutralised(
        client: TestClient, world: World) -> None:
    from openpyxl import load_workbook

    csv_report = _post(client, world.editor, report="csv")
    assert csv_report.status_code == 200  # type: ignore[attr-defined]
    lines = csv_report.content.decode("utf-8-sig").splitlines()  # type: ignore[attr-defined]
    assert lines[0] == "ligne,statut,ressource,colonne,raison,feuille"
    import csv

    assert ["5", "créée", "'=HYPERLINK(\"http://evil.example\")", "", "", ""] in list(
        csv.reader(lines))
    xlsx = _post(client, world.editor, report="xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active  # type: ignore[attr-defined]
    assert sheet is not None and sheet["C5"].value.startswith("'=")


def test_a_large_upload_is_accepted_past_the_1_mb_body_limit(client: TestClient,
                                                           world: World) -> None:
    big = "nom;type;commune\n" + "".join(f"R{i} (api);food_aid;Sète\n" for i in range(80_000))
    assert len(big) > 1_000_000
    resp = _post(client, world.editor, content=big)
    assert resp.status_code == 200, resp.text  # type: ignore[attr-defined]
    assert resp.json()["resources"]["truncated"] is True  # type: ignore[attr-defined]


def test_the_template_explains_every_column_and_reimports(client: TestClient, world: World
                                                         ) -> None:
    from openpyxl import load_workbook

    xlsx = client.get("/api/imports/template?format=xlsx")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[:4] == ["Ressources", "Liens", "Colonnes", "Types"]
    explained = {row[1] for row in book["Colonnes"].iter_rows(values_only=True)}
    assert {"Nom", "Type", "Code INSEE", "Latitude", "Horaires"} <= explained
    assert ("social_grocery", "Épicerie solidaire") in set(
        book["Types"].iter_rows(values_only=True))
    # the template's example rows are themselves a valid import (the example point is placed)
    resp = client.post("/api/imports?territory=frontignan",
                       files={"file": ("modele.xlsx", xlsx.content)},
                       headers=World.auth(_admin(world)))
    assert resp.status_code == 200
    assert resp.json()["resources"]["counts"]["created"] == 1, resp.text
    # its example link names the example resource (found) and a second one it does not hold
    assert [(x["status"], x["field"]) for x in resp.json()["links"]["lines"]] == [
        ("rejected", "target")]
    csv_template = client.get("/api/imports/template?format=csv&lang=en")
    assert csv_template.text.lstrip("\ufeff").startswith("Name;Kind;Identifier")


def _admin(world: World) -> str:
    return world.admin


@pytest.mark.browser
def test_the_import_page_checks_then_confirms(live_server: str, world: World, migrated: str,
                                              tmp_path: Path) -> None:
    from tests.browser import browser, open_page, screenshot

    path = tmp_path / "liste.csv"
    path.write_text(CSV, encoding="utf-8")
    try:
        with browser() as b:
            for width, height in ((390, 844), (1024, 768), (1440, 900)):
                visit = open_page(b, f"{live_server}/sign-in?token={world.editor}", width, height)
                page = visit.page
                with page.expect_navigation():  # the cookie session: no token in the page
                    page.get_by_role("button", name="Se connecter").click()
                page.goto(live_server + "/territories/api-a/import", wait_until="networkidle")
                assert page.locator("#imp-sign-in").count() == 0
                page.set_input_files("#imp-file", str(path))
                page.click("#imp-check")
                page.wait_for_selector("#imp-table tbody tr")
                assert page.locator("#imp-table tbody tr").count() == 4
                assert page.locator("#imp-table tr.rejected").count() == 1
                assert "Essai terminé" in page.locator("#imp-status").inner_text()
                screenshot(page, f"import-dry-run-{width}")
                assert visit.console_errors == []
            assert _count(migrated) == 0
            page.click("#imp-confirm")
            page.wait_for_function(
                "() => document.getElementById('imp-status').textContent.includes('Import terminé')")
            assert _count(migrated) == 2
            screenshot(page, "import-done")
    finally:
        with transaction(migrated) as s:
            s.execute(text("DELETE FROM change_log WHERE entity_id IN (SELECT id FROM resource "
                           "WHERE source_name = 'liste.csv')"))
            s.execute(text("DELETE FROM resource WHERE source_name = 'liste.csv'"))


def test_the_import_page_posts_with_the_session_without_a_script(live_server: str, world: World,
                                                                 migrated: str) -> None:
    """No script: the form posts the file with the session cookie and its anti-CSRF value; the
    report comes back as the page. A forged cross-site post and a post without the value are
    refused; the page's post is the API's import (an anonymous one is a 401)."""
    with httpx.Client(base_url=live_server, headers={"Accept": "text/html"}) as web:
        anonymous = web.post("/territories/api-a/import", files={"file": ("liste.csv", CSV)},
                             data={"dry_run": "1"}, headers={"Origin": live_server})
        assert anonymous.status_code == 401
        assert web.post("/sign-in", data={"token": world.editor, "next": "/"},
                        headers={"Origin": live_server}).status_code == 303
        page = web.get("/territories/api-a/import")
        assert 'id="imp-token"' not in page.text and 'id="imp-sign-in"' not in page.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
        files = {"file": ("liste.csv", CSV), "links": ("", b"")}
        evil = web.post("/territories/api-a/import", files=files,
                        data={"csrf": csrf, "dry_run": "0"},
                        headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
        assert evil.status_code == 403
        no_csrf = web.post("/territories/api-a/import", files=files, data={"dry_run": "0"},
                           headers={"Origin": live_server})
        assert no_csrf.status_code == 403
        assert _count(migrated) == 0
        trial = web.post("/territories/api-a/import", files=files,
                         data={"csrf": csrf, "dry_run": "1"}, headers={"Origin": live_server})
        assert trial.status_code == 200 and 'id="imp-table"' in trial.text
        assert trial.text.count('<tr class="rejected">') == 1 and "Essai terminé" in trial.text
        assert _count(migrated) == 0
        try:
            done = web.post("/territories/api-a/import", files=files,
                            data={"csrf": csrf, "dry_run": "0"}, headers={"Origin": live_server})
            assert done.status_code == 201 and "Import terminé" in done.text
            assert _count(migrated) == 2
        finally:
            with transaction(migrated) as s:
                s.execute(text("DELETE FROM change_log WHERE entity_id IN (SELECT id FROM "
                               "resource WHERE source_name = 'liste.csv')"))
                s.execute(text("DELETE FROM resource WHERE source_name = 'liste.csv'"))
