"""The resource forms (issue 13) over HTTP, without JavaScript (a plain form post, as an old
tablet sends it), against the real server: adding by commune, errors next to their fields with
what was typed kept, a contributor's addition pending, a conflict that shows the other version
and re-applies yours, delete with a confirmation, restore, the history in words, and the
opening-hours check. The browser journeys are in tests/pages/test_resource_forms_browser.py."""

import re
import uuid

import httpx
import pytest

from carto import resources
from carto.db import transaction
from tests.sessions import csrf as _csrf
from tests.sessions import token as _token

XSS = "<img src=x onerror=alert(1)>"


class Web:
    """A browser without JavaScript: a cookie jar, forms posted from this origin."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, headers={"Accept": "text/html"})
        answer = self.http.post("/sign-in", data={"token": token, "next": "/"},
                                headers={"Origin": base})
        assert answer.status_code == 303

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict | list, csrf: str) -> httpx.Response:
        fields: dict[str, list[str]] = {"csrf": [csrf]}
        for key, value in (data.items() if isinstance(data, dict) else data):
            fields.setdefault(key, []).append(value)
        return self.http.post(path, data=fields, headers={"Origin": self.base})


@pytest.fixture(scope="module")
def made(added_resources: list[uuid.UUID]) -> list[uuid.UUID]:
    return added_resources


@pytest.fixture(scope="module")
def editor(live_server: str, migrated: str) -> Web:
    return Web(live_server, _token(migrated, "editor", "pezenas", "Animatrice Pézenas"))


def _id(answer: httpx.Response) -> uuid.UUID:
    assert answer.status_code == 303, answer.text[:2000]
    return uuid.UUID(answer.headers["location"].split("/resources/")[1].split("?")[0])


def _add(web: Web, made: list[uuid.UUID], **fields: str | list[str]) -> uuid.UUID:
    page = web.get("/territories/pezenas/resources/new")
    data: list[tuple[str, str]] = []
    for key, value in ({"name": "Épicerie du test", "kind": "social_grocery",
                        "commune": "pezenas"} | fields).items():
        data.extend((key, v) for v in (value if isinstance(value, list) else [value]))
    rid = _id(web.post("/territories/pezenas/resources/new", data, _csrf(page.text)))
    made.append(rid)
    return rid


def _picture(url: str, rid: uuid.UUID) -> dict:
    with transaction(url) as session:
        return resources.snapshot(resources.get(session, rid, include_deleted=True))


def test_an_editor_adds_a_resource_by_typing_a_commune(editor: Web, made: list[uuid.UUID],
                                                       migrated: str) -> None:
    page = editor.get("/territories/pezenas/resources/new")
    assert page.status_code == 200
    for words in ("Ajouter une ressource", ">Nom<", ">Type<", ">Commune<", "Enregistrer",
                  "Personne privée", "centre de sa commune"):
        assert words in page.text, words
    assert 'type="radio" name="kind" value="producer"' in page.text  # pictograms
    assert 'type="checkbox" name="products" value="vegetables"' in page.text  # chips
    rid = _add(editor, made, products=["vegetables", "fruits"], opening_hours="Mo-Fr 09:00-12:00",
               access_conditions=["unconditional"], phone="04 67 00 00 00")
    got = _picture(migrated, rid)
    assert got["commune"] == "34199" and got["location_precision"] == "commune"
    assert got["products"] == ["vegetables", "fruits"] and got["territories"] == ["pezenas"]
    assert got["moderation"] == "validated"  # an editor publishes
    record = editor.get(f"/resources/{rid}")
    assert "Épicerie du test" in record.text and 'id="edit-link"' in record.text


def test_a_point_tapped_on_the_map_is_exact_and_finds_its_commune(
        editor: Web, made: list[uuid.UUID], migrated: str) -> None:
    rid = _add(editor, made, commune="", lat="43,4592", lon="3.4231",
               location_precision="exact", kind="producer", out_vegetables="1 200,5",
               surf_vegetables="2", output_year="2025")
    got = _picture(migrated, rid)
    assert (got["lon"], got["lat"]) == pytest.approx((3.4231, 43.4592))
    assert got["location_precision"] == "exact" and got["commune"] == "34199"
    assert got["outputs"] == [{"food_group": "vegetables", "kg_per_year": 1200.5, "year": 2025,
                               "source": None}]
    assert got["surfaces"][0]["crop_group"] == "vegetables" and got["surfaces"][0]["hectares"] == 2
    form = editor.get(f"/resources/{rid}/edit").text  # numbers the French way, read back
    assert 'value="43,4592"' in form and 'value="3,4231"' in form
    assert 'value="1\u202f200,5"' in form and 'name="surf_vegetables" value="2"' in form
    english = editor.get(f"/resources/{rid}/edit?lang=en").text
    assert 'value="43.4592"' in english and 'value="1200.5"' in english


def test_errors_are_next_to_their_fields_and_what_was_typed_is_kept(editor: Web) -> None:
    page = editor.get("/territories/pezenas/resources/new")
    answer = editor.post("/territories/pezenas/resources/new",
                         {"name": "", "commune": "Pézenasse-les-Bains", "phone": "abc",
                          "opening_hours": "lundi matin", "description": XSS,
                          "out_vegetables": "beaucoup"}, _csrf(page.text))
    assert answer.status_code == 422
    text = answer.text
    for field in ("name", "kind", "commune", "phone", "opening_hours", "out_vegetables"):
        assert f'id="{field}-error"' in text, field
    assert "le nom est obligatoire" in text and "choisissez le type" in text
    assert 'value="Pézenasse-les-Bains"' in text and ">lundi matin<" not in text
    assert 'value="lundi matin"' in text and 'value="beaucoup"' in text
    assert XSS not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert 'aria-invalid="true"' in text and 'id="error-summary"' in text


def test_a_nul_in_a_form_field_is_an_error_next_to_it(editor: Web) -> None:
    """A form is not JSON (api.limits does not read it): the form's handler refuses a NUL
    (carto.validation.reject_unstorable), next to its field, and stores nothing."""
    page = editor.get("/territories/pezenas/resources/new")
    answer = editor.post("/territories/pezenas/resources/new",
                         {"name": "Épicerie nulle", "kind": "social_grocery",
                          "commune": "pezenas", "description": "a\x00b"}, _csrf(page.text))
    assert answer.status_code == 422, answer.text[:2000]
    assert 'id="description-error"' in answer.text and "caractère nul" in answer.text


def test_a_contributor_s_addition_waits_for_validation(live_server: str, migrated: str,
                                                       made: list[uuid.UUID]) -> None:
    web = Web(live_server, _token(migrated, "contributor", "pezenas", "Bénévole"))
    page = web.get("/territories/pezenas/resources/new")
    assert 'id="pending-notice"' in page.text
    rid = _add(web, made, name="Proposé par un bénévole")
    assert _picture(migrated, rid)["moderation"] == "pending"
    assert httpx.get(f"{live_server}/resources/{rid}",
                     headers={"Accept": "text/html"}).status_code == 404  # readers: not yet
    assert 'id="pending-badge"' in web.get(f"/resources/{rid}").text  # its author: pending
    assert web.get(f"/resources/{rid}/edit").status_code == 403  # editing is for editors


def test_the_forms_are_for_writers_of_the_territory(live_server: str, migrated: str) -> None:
    anonymous = httpx.get(f"{live_server}/territories/pezenas/resources/new",
                          headers={"Accept": "text/html"})
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/sign-in")
    english = httpx.get(f"{live_server}/territories/pezenas/resources/new?lang=en",
                        headers={"Accept": "text/html"})
    assert english.headers["location"] == \
        "/sign-in?next=%2Fterritories%2Fpezenas%2Fresources%2Fnew%3Flang%3Den&lang=en"
    other = Web(live_server, _token(migrated, "editor", "vauvert", "Ailleurs"))
    assert other.get("/territories/pezenas/resources/new").status_code == 403
    forged = other.http.post("/territories/vauvert/resources/new",
                             data={"name": "x", "kind": "market", "commune": "vauvert"},
                             headers={"Origin": "http://evil.example",
                                      "Sec-Fetch-Site": "cross-site"})
    assert forged.status_code == 403


def test_a_conflict_shows_the_other_version_and_re_applies_yours(
        editor: Web, made: list[uuid.UUID], live_server: str, migrated: str) -> None:
    rid = _add(editor, made, name="Marché du conflit", kind="market", phone="04 67 11 11 11")
    form = editor.get(f"/resources/{rid}/edit")
    assert form.status_code == 200 and 'name="version" value="1"' in form.text
    # someone else saves meanwhile, through the API
    token = _token(migrated, "editor", "pezenas", "Collègue")
    api = httpx.patch(f"{live_server}/api/resources/{rid}",
                      json={"type": "Feature", "properties": {"phone": "04 67 22 22 22",
                                                              "description": "Le jeudi"}},
                      headers={"Authorization": f"Bearer {token}", "If-Match": '"1"'})
    assert api.status_code == 200, api.text
    mine = {"name": "Marché du conflit (place)", "kind": "market", "commune": "Pézenas (34)",
            "at_commune": "1", "phone": "04 67 33 33 33", "version": "1"}
    answer = editor.post(f"/resources/{rid}/edit", mine, _csrf(form.text))
    assert answer.status_code == 409
    text = answer.text
    assert 'id="conflict"' in text and "Collègue" in text
    assert 'name="version" value="2"' in text  # the form now carries their version
    assert 'value="Marché du conflit (place)"' in text  # your change, kept
    assert ">Le jeudi<" in text  # theirs where you changed nothing
    assert re.search(r'data-group="phone">.*04 67 22 22 22.*04 67 33 33 33.*modifié des deux',
                     text, re.S)
    again = dict(mine, version="2", description="Le jeudi")
    assert editor.post(f"/resources/{rid}/edit", again, _csrf(form.text)).status_code == 303
    got = _picture(migrated, rid)
    assert got["name"] == "Marché du conflit (place)" and got["description"] == "Le jeudi"
    assert got["phone"] == "04 67 33 33 33" and got["version"] == 3


def test_delete_asks_first_then_restore_from_the_record_and_the_history_says_it(
        editor: Web, made: list[uuid.UUID], live_server: str, migrated: str) -> None:
    rid = _add(editor, made, name="Jardin à supprimer", kind="shared_garden")
    confirm = editor.get(f"/resources/{rid}/delete")
    assert confirm.status_code == 200 and "Supprimer" in confirm.text
    assert _picture(migrated, rid)["deleted"] is False  # asking deletes nothing
    gone = editor.post(f"/resources/{rid}/delete", {"version": "1"}, _csrf(confirm.text))
    assert gone.status_code == 303 and _picture(migrated, rid)["deleted"] is True
    assert httpx.get(f"{live_server}/resources/{rid}",
                     headers={"Accept": "text/html"}).status_code == 404
    record = editor.get(f"/resources/{rid}")
    assert record.status_code == 200 and 'id="deleted-banner"' in record.text
    assert "Restaurer" in record.text
    back = editor.post(f"/resources/{rid}/restore", {"version": "2"}, _csrf(record.text))
    assert back.status_code == 303 and _picture(migrated, rid)["deleted"] is False
    page = editor.get(f"/resources/{rid}/history")
    assert page.status_code == 200
    actions = re.findall(r'data-action="(\w+)"', page.text)
    assert actions == ["restore", "delete", "create"]
    assert "Animatrice Pézenas" in page.text and "Jardin partagé" in page.text
    assert httpx.get(f"{live_server}/resources/{rid}/history",
                     headers={"Accept": "text/html"}).status_code == 303  # sign in first


def test_the_history_says_before_and_after_in_words(editor: Web, made: list[uuid.UUID]) -> None:
    rid = _add(editor, made, name="Épicerie historique", products=["vegetables"])
    form = editor.get(f"/resources/{rid}/edit")
    answer = editor.post(f"/resources/{rid}/edit", [
        ("name", "Épicerie historique"), ("kind", "social_grocery"), ("commune", "Pézenas (34)"),
        ("at_commune", "1"), ("products", "vegetables"), ("products", "eggs"),
        ("is_private", "1"), ("version", "1")], _csrf(form.text))
    assert answer.status_code == 303
    page = editor.get(f"/resources/{rid}/history").text
    row = re.search(r'<li data-action="update">.*?</li>', page, re.S).group(0)  # type: ignore[union-attr]
    assert re.search(r'data-group="products">.*<td>Légumes</td><td>Légumes, Œufs</td>', row)
    assert re.search(r'data-group="is_private">.*<td>non</td><td>oui</td>', row)
    assert 'data-group="name"' not in row  # what did not change is not listed


def test_the_opening_hours_check_is_the_server_s_rule(live_server: str) -> None:
    ok = httpx.get(f"{live_server}/api/opening-hours/check", params={"value": "Mo-Fr 09:00-12:00"})
    assert ok.status_code == 200 and ok.json()["valid"] is True and ok.json()["message"]
    bad = httpx.get(f"{live_server}/api/opening-hours/check",
                    params={"value": "lundi matin", "lang": "en"})
    assert bad.json()["valid"] is False and "lundi matin" in bad.json()["message"]


def test_the_territory_page_offers_to_add_a_resource_to_its_writers(
        editor: Web, live_server: str) -> None:
    assert 'id="add-resource" href="/territories/pezenas/resources/new"' in \
        editor.get("/territories/pezenas").text
    assert 'id="add-resource"' not in editor.get("/territories/vauvert").text
    assert 'id="add-resource"' not in httpx.get(f"{live_server}/territories/pezenas",
                                                headers={"Accept": "text/html"}).text


def test_a_far_point_is_confirmed_by_an_editor(editor: Web, made: list[uuid.UUID],
                                               migrated: str) -> None:
    page = editor.get("/territories/pezenas/resources/new")
    far = {"name": "Loin d'ici", "kind": "market", "lat": "48.8566", "lon": "2.3522"}
    refused = editor.post("/territories/pezenas/resources/new", far, _csrf(page.text))
    assert refused.status_code == 422 and 'id="lon-error"' in refused.text
    assert 'name="force"' in refused.text  # an editor may confirm
    rid = _id(editor.post("/territories/pezenas/resources/new", far | {"force": "1"},
                          _csrf(page.text)))
    made.append(rid)
    assert _picture(migrated, rid)["lat"] == pytest.approx(48.8566)


def test_a_resource_deleted_meanwhile_keeps_what_was_typed(
        editor: Web, made: list[uuid.UUID], live_server: str, migrated: str) -> None:
    rid = _add(editor, made, name="Supprimé pendant la saisie", kind="market")
    form = editor.get(f"/resources/{rid}/edit")
    token = _token(migrated, "editor", "pezenas", "Collègue pressé")
    gone = httpx.delete(f"{live_server}/api/resources/{rid}",
                        headers={"Authorization": f"Bearer {token}", "If-Match": '"1"'})
    assert gone.status_code == 204
    answer = editor.post(f"/resources/{rid}/edit",
                         {"name": "Mon texte précieux", "kind": "market", "commune": "pezenas",
                          "version": "1"}, _csrf(form.text))
    assert answer.status_code == 409 and 'id="gone"' in answer.text
    assert 'value="Mon texte précieux"' in answer.text
