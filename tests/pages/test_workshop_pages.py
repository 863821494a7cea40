"""The workshop pages without a browser (issue 14): creating one from the form (session cookie
and anti-CSRF value), the join page, the QR codes, moderation by form (reject with a reason,
edit then validate), the summary and the workshop's output as GeoJSON and XLSX."""

import io
import json
import re
from collections.abc import Iterator

import httpx
import openpyxl
import pytest

from tests.api.test_workshops import fields, join, new_workshop
from tests.apiworld import World, feature


@pytest.fixture
def web(live_server: str, world: World) -> Iterator[httpx.Client]:
    """A browser-like client signed in as the api-a editor (the facilitator)."""
    with httpx.Client(base_url=live_server, timeout=30, headers={"Origin": live_server}) as c:
        signed = c.post("/sign-in", data={"token": world.editor, "next": "/"})
        assert signed.status_code == 303
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def test_an_editor_creates_a_workshop_from_the_form(web: httpx.Client) -> None:
    form = web.get("/workshops/new")
    assert form.status_code == 200 and 'id="workshop-new"' in form.text
    body = {"csrf": _csrf(form.text), "territory": "api-a", "title": "Atelier du port",
            "date": "2030-06-01", "place": "Halle", "ends": "18:30"}
    made = web.post("/workshops/new", data=body)
    assert made.status_code == 303
    code = made.headers["location"].split("/")[2]
    read = web.get(f"/api/workshops/{code}").json()
    assert read["title"] == "Atelier du port" and read["ends_at"].startswith("2030-06-01T16:30")
    # no anti-CSRF value: refused; a past end: said beside the field
    assert web.post("/workshops/new", data=body | {"csrf": ""}).status_code == 403
    late = web.post("/workshops/new", data=body | {"date": "2020-01-01"})
    assert late.status_code == 422 and "w-ends-error" in late.text


def test_anonymous_visitors_are_asked_to_sign_in(live_server: str) -> None:
    page = httpx.get(f"{live_server}/workshops/new")
    assert page.status_code == 200 and 'id="need-editor"' in page.text


def test_the_join_page_and_the_qr_codes(live_server: str, world: World) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        code = new_workshop(http, world)["code"]
        page = http.get(f"/join/{code}")
        assert page.status_code == 200 and 'id="join-form"' in page.text
        assert "e-mail" not in page.text.lower() or "ni adresse" in page.text
        svg = http.get(f"/workshops/{code}/qr.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text.lstrip().startswith("<svg")
        png = http.get(f"/workshops/{code}/qr.png")
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
        assert http.get("/join/ZZZZZZ").status_code == 404


def test_moderation_by_form_reject_with_reason_and_edit_then_validate(
        web: httpx.Client, world: World) -> None:
    code = new_workshop(web, world)["code"]
    lou = join(web, code, "Lou")
    first = web.post("/api/resources", json=feature(name="Jardn des Salins"), headers=lou).json()
    second = web.post("/api/resources", json=feature(name="Doublon"), headers=lou).json()
    page = web.get(f"/workshops/{code}/moderation")
    assert "par Lou" in page.text and "Jardn des Salins" in page.text
    csrf = _csrf(page.text)
    base = f"/workshops/{code}/moderation/resource"
    empty = web.post(f"{base}/{second['id']}/reject", data={"csrf": csrf, "reason": " "})
    assert empty.status_code == 422 and 'id="ws-error"' in empty.text
    assert web.post(f"{base}/{second['id']}/reject",
                    data={"csrf": csrf, "reason": "en double"}).status_code == 303
    assert web.post(f"{base}/{first['id']}/validate", data={
        "csrf": csrf, "name": "Jardin des Salins", "description": "vu en atelier"}
        ).status_code == 303
    fixed = web.get(f"/api/resources/{first['id']}").json()["properties"]
    assert (fixed["name"], fixed["moderation"]) == ("Jardin des Salins", "validated")
    rejected = web.get(f"/api/resources/{second['id']}",
                       headers=World.auth(world.editor)).json()["properties"]
    assert rejected["moderation"] == "rejected"
    summary = web.get(f"/api/workshops/{code}/summary").json()
    assert (summary["added"], summary["validated"], summary["rejected"]) == (2, 1, 1)
    assert "1 validés" in web.get(f"/workshops/{code}/summary").text


def test_the_output_holds_only_what_the_workshop_added(web: httpx.Client, world: World) -> None:
    code = new_workshop(web, world)["code"]
    lou = join(web, code, "Lou")
    web.post("/api/resources", json=feature(name="Ajout d'atelier"), headers=lou)
    web.post("/api/resources", json=feature(name="Hors atelier"),
             headers=World.auth(world.editor))
    geojson = web.get(f"/workshops/{code}/output.geojson")
    assert geojson.status_code == 200
    names = [f["properties"].get("nom") or f["properties"].get("name")
             for f in json.loads(geojson.content)["features"]
             if f.get("geometry", {}) and f["geometry"]["type"] == "Point"]
    assert names == ["Ajout d'atelier"]
    xlsx = web.get(f"/workshops/{code}/output.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    cells = [c for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row]
    assert "Ajout d'atelier" in cells and "Hors atelier" not in cells
    # an anonymous reader gets what is public only: nothing validated yet
    anonymous = httpx.get(f"{str(web.base_url).rstrip('/')}/workshops/{code}/output.geojson")
    assert "Ajout d'atelier" not in anonymous.text


def test_the_facilitators_own_additions_from_the_workshop_page_count_in_it(
        web: httpx.Client, world: World) -> None:
    """From the workshop's moderation page the facilitator opens the resource and the link
    forms of the workshop's territory; what they add there is the workshop's: in its summary
    and its output."""
    code = new_workshop(web, world)["code"]
    page = web.get(f"/workshops/{code}/moderation")
    found = re.search(r'href="(/territories/api-a/resources/new\?workshop=[A-Z0-9]+)"',
                      page.text)
    assert found, page.text[:3000]
    form = web.get(found.group(1))
    assert form.status_code == 200 and f'name="workshop" value="{code}"' in form.text
    assert re.search(rf'id="in-workshop">Cet ajout sera compté dans l(&#39;|\')atelier {code}\.',
                     form.text)
    added = web.post("/territories/api-a/resources/new", data={
        "csrf": _csrf(form.text), "workshop": code, "name": f"Halle {code}",
        "kind": "shared_garden", "commune": "Sète"})
    assert added.status_code == 303, added.text[:2000]
    rid = added.headers["location"].split("/")[2].split("?")[0]
    other = web.post("/api/resources", json=feature(name=f"Voisin {code}"),
                     headers=World.auth(world.editor)).json()["id"]
    link_page = re.search(r'href="(/territories/api-a/links/new\?workshop=[A-Z0-9]+)"',
                          page.text)
    assert link_page
    form = web.get(link_page.group(1))
    assert f'name="workshop" value="{code}"' in form.text
    linked = web.post("/territories/api-a/links/new", data={
        "csrf": _csrf(form.text), "workshop": code, "source": rid, "target": other,
        "category": "aid_associations", "level": "2"})
    assert linked.status_code == 303, linked.text[:2000]
    summary = web.get(f"/api/workshops/{code}/summary").json()
    assert (summary["added"], summary["validated"]) == (2, 2), summary
    assert "2 validés" in web.get(f"/workshops/{code}/summary").text
    output = json.loads(web.get(f"/workshops/{code}/output.geojson").content)
    names = {f["properties"].get("nom") or f["properties"].get("name")
             for f in output["features"]}
    assert f"Halle {code}" in names and f"Voisin {code}" not in names
    xlsx = web.get(f"/workshops/{code}/output.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content), read_only=True)
    cells = [c for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row]
    assert f"Halle {code}" in cells and f"Voisin {code}" in cells  # the link's other end


def test_a_nul_in_a_workshop_form_is_refused_naming_its_field(web: httpx.Client,
                                                               world: World) -> None:
    """A NUL reached PostgreSQL, whose refusal named no field: the form is refused before its
    handler (api.forms.STORABLE), a 422 naming the field (or a field's name), and a rejection
    whose reason holds one is not made."""
    form = web.get("/workshops/new")
    body = {"csrf": _csrf(form.text), "territory": "api-a", "title": "Atelier nul",
            "date": "2030-06-01", "place": "Halle\x00", "ends": "18:30"}
    for sent, field in ((body, "place"), (body | {"place": "Halle", "n\x00ote": "x"},
                                          "n\\u0000ote")):
        refused = web.post("/workshops/new", data=sent)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert fields(refused) == [field]
        assert refused.json()["errors"][0]["message"] == "caractère nul (\\0) interdit"
    code = new_workshop(web, world)["code"]
    lou = join(web, code, "Lou")
    added = web.post("/api/resources", json=feature(name="Cabane nulle"), headers=lou).json()
    csrf = _csrf(web.get(f"/workshops/{code}/moderation").text)
    reject = web.post(f"/workshops/{code}/moderation/resource/{added['id']}/reject",
                      data={"csrf": csrf, "reason": "en\x00double"})
    assert reject.status_code == 422 and fields(reject) == ["reason"]
    still = web.get(f"/api/resources/{added['id']}", headers=World.auth(world.editor))
    assert still.json()["properties"]["moderation"] == "pending"
