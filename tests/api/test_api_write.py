"""Writes through the API: roles, moderation, bad input, versions, history."""

import json
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.apiworld import MEZE, World, feature


def _create(client: TestClient, token: str, **kwargs: object) -> dict:
    response = client.post("/api/resources", json=feature(**kwargs), headers=World.auth(token))
    assert response.status_code == 201, response.text
    return response.json()


def _fields(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {e["field"] for e in response.json()["errors"]}


# --- who may write -----------------------------------------------------------------------

def test_writing_needs_a_valid_token(client: TestClient, world: World) -> None:
    assert client.post("/api/resources", json=feature()).status_code == 401
    bad = client.post("/api/resources", json=feature(), headers=World.auth("terreau_nope"))
    assert bad.status_code == 401 and "révoqué" in bad.json()["detail"]
    assert client.post("/api/resources", json=feature(),
                       headers={"Authorization": "Basic abc"}).status_code == 401


def test_contributions_enter_as_pending_and_editors_validate(client: TestClient,
                                                              world: World) -> None:
    created = _create(client, world.contributor, name="Proposition d'atelier")
    rid = created["id"]
    assert created["properties"]["moderation"] == "pending"
    # the author sees it, the public does not, anywhere
    assert client.get(f"/api/resources/{rid}", headers=World.auth(world.contributor)).status_code \
        == 200
    assert client.get(f"/api/resources/{rid}").status_code == 404
    listed = client.get("/api/resources", params={"territory": "api-a", "limit": 10000}).json()
    assert rid not in {f["id"] for f in listed["features"]}
    csv_text = client.get("/api/resources", params={"territory": "api-a", "format": "csv"}).text
    assert rid not in csv_text
    # the editor sees it in the moderation queue, the other territory's editor may not decide
    queue = client.get("/api/moderation", params={"territory": "api-a"},
                       headers=World.auth(world.editor)).json()
    assert rid in {r["id"] for r in queue["resources"]}
    assert client.get("/api/moderation", params={"territory": "api-a"},
                      headers=World.auth(world.contributor)).status_code == 403
    assert client.post(f"/api/resources/{rid}/validate",
                       headers=World.auth(world.other_editor)).status_code == 403
    assert client.post(f"/api/resources/{rid}/validate",
                       headers=World.auth(world.contributor)).status_code == 403
    validated = client.post(f"/api/resources/{rid}/validate", headers=World.auth(world.editor))
    assert validated.status_code == 200
    assert client.get(f"/api/resources/{rid}").status_code == 200


def test_rejection_needs_a_reason_and_hides_the_item(client: TestClient, world: World) -> None:
    rid = _create(client, world.contributor, name="Doublon")["id"]
    assert client.post(f"/api/resources/{rid}/reject", json={"reason": ""},
                       headers=World.auth(world.editor)).status_code == 422
    rejected = client.post(f"/api/resources/{rid}/reject", json={"reason": "doublon du jardin"},
                           headers=World.auth(world.editor))
    assert rejected.status_code == 200
    assert rejected.json()["properties"]["moderation_note"] == "doublon du jardin"
    assert client.get(f"/api/resources/{rid}").status_code == 404


def test_roles_and_territories_on_each_write(client: TestClient, world: World) -> None:
    # contributor outside its territory
    assert client.post("/api/resources", json=feature(territories_=["api-b"], point=MEZE),
                       headers=World.auth(world.contributor)).status_code == 403
    created = _create(client, world.editor, name="Local prêté")
    rid, etag = created["id"], '"1"'
    assert created["properties"]["moderation"] == "validated"
    patch = {"properties": {"description": "Cuisine équipée"}}
    for token, status in ((world.contributor, 403), (world.other_editor, 403)):
        r = client.patch(f"/api/resources/{rid}", json=patch,
                         headers=World.auth(token) | {"If-Match": etag})
        assert r.status_code == status
    assert client.patch(f"/api/resources/{rid}", json=patch,
                        headers={"If-Match": etag}).status_code == 401
    ok = client.patch(f"/api/resources/{rid}", json=patch,
                      headers=World.auth(world.editor) | {"If-Match": etag})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    for token, status in ((world.contributor, 403), (world.other_editor, 403)):
        assert client.delete(f"/api/resources/{rid}",
                             headers=World.auth(token) | {"If-Match": '"2"'}).status_code == status
    # the admin may act anywhere
    admin = client.patch(f"/api/resources/{rid}", json={"properties": {"phone": "04 67 00 00 00"}},
                         headers=World.auth(world.admin) | {"If-Match": '"2"'})
    assert admin.status_code == 200
    # tokens and kinds are the admin's
    assert client.post("/api/tokens", json={"role": "editor", "territory": "api-a"},
                       headers=World.auth(world.editor)).status_code == 403
    made = client.post("/api/tokens", json={"role": "contributor", "territory": "api-a"},
                       headers=World.auth(world.admin))
    assert made.status_code == 201 and made.json()["token"].startswith("terreau_")
    revoke = client.delete(f"/api/tokens/{made.json()['id']}", headers=World.auth(world.admin))
    assert revoke.status_code == 204
    assert client.post("/api/resources", json=feature(),
                       headers=World.auth(made.json()["token"])).status_code == 401
    kind = {"code": "food_truck", "label_fr": "Camion-cuisine", "label_en": "Food truck",
            "color": "#123456", "icon": "truck"}
    # every filter by kind reads the one cache of kinds (carto.vocab.resource_kinds):
    # warmed before the kind exists, it must still accept it afterwards
    by_kind = ["/api/resources?kind={k}", "/api/nearby?lat=43.45&lon=3.75&kind={k}",
               "/territories/frontignan/map/features.json?bbox=3.6,43.4,3.9,43.5&kinds={k}"]
    for url in by_kind:
        assert client.get(url.format(k="producer")).status_code == 200, url
        assert client.get(url.format(k="food_truck")).status_code == 400, url
    assert client.post("/api/kinds", json=kind, headers=World.auth(world.editor)).status_code \
        == 403
    assert client.post("/api/kinds", json=kind, headers=World.auth(world.admin)).status_code \
        == 201
    assert "food_truck" in {k["code"] for k in client.get("/api/kinds").json()}
    for url in by_kind:
        assert client.get(url.format(k="food_truck")).status_code == 200, url


# --- versions, history, restore --------------------------------------------------------------

def test_stale_versions_and_missing_if_match(client: TestClient, world: World) -> None:
    rid = _create(client, world.editor, name="Épicerie à vérifier")["id"]
    headers = World.auth(world.editor)
    assert client.patch(f"/api/resources/{rid}", json={"properties": {"description": "a"}},
                        headers=headers).status_code == 428
    first = client.patch(f"/api/resources/{rid}", json={"properties": {"description": "a"}},
                         headers=headers | {"If-Match": '"1"'})
    assert first.status_code == 200
    stale = client.patch(f"/api/resources/{rid}", json={"properties": {"description": "b"}},
                         headers=headers | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert client.get(f"/api/resources/{rid}").json()["properties"]["description"] == "a"
    assert client.delete(f"/api/resources/{rid}", headers=headers).status_code == 428
    assert client.delete(f"/api/resources/{rid}",
                         headers=headers | {"If-Match": '"1"'}).status_code == 412
    # only what the documented pattern allows is read as a version: no sign, no separator
    for unreadable in ('"-2"', "+2", "2_0", '"2', "*", 'W/ "2"'):
        wrong = client.delete(f"/api/resources/{rid}", headers=headers | {"If-Match": unreadable})
        assert wrong.status_code == 400, unreadable
        assert [e["field"] for e in wrong.json()["errors"]] == ["If-Match"]
    assert client.get(f"/api/resources/{rid}").status_code == 200


def test_history_and_restore_round_trip(client: TestClient, world: World) -> None:
    headers = World.auth(world.editor)
    rid = _create(client, world.editor, name="Jardin des Salins")["id"]
    client.patch(f"/api/resources/{rid}", json={"properties": {"name": "Jardin du Lido"}},
                 headers=headers | {"If-Match": '"1"'})
    assert client.delete(f"/api/resources/{rid}",
                         headers=headers | {"If-Match": '"2"'}).status_code == 204
    assert client.get(f"/api/resources/{rid}").status_code == 404
    restored = client.post(f"/api/resources/{rid}/restore", headers=headers)
    assert restored.status_code == 200
    assert restored.json()["properties"]["name"] == "Jardin du Lido"
    assert client.get(f"/api/resources/{rid}/history").status_code == 401
    log = client.get(f"/api/resources/{rid}/history", headers=headers).json()["entries"]
    assert [e["action"] for e in log] == ["create", "update", "delete", "restore"]
    assert log[1]["before"]["name"] == "Jardin des Salins"
    assert log[1]["after"]["name"] == "Jardin du Lido"
    assert log[1]["actor"].endswith("animatrice")


# --- links -----------------------------------------------------------------------------------

def test_links_roles_levels_and_errors(client: TestClient, world: World) -> None:
    headers = World.auth(world.editor)
    a = _create(client, world.editor, name="Restos du Cœur (test)", kind="food_aid")["id"]
    b = _create(client, world.editor, name="Maraîcher (test)", kind="producer")["id"]
    body = {"source": b, "target": a, "category": "producers_suppliers", "level": 2,
            "territory": "api-a", "description": "Don d'invendus", "directed": True}
    assert client.post("/api/links", json=body).status_code == 401
    pending = client.post("/api/links", json=body, headers=World.auth(world.contributor))
    assert pending.status_code == 201 and pending.json()["properties"]["moderation"] == "pending"
    public = client.get("/api/links", params={"territory": "api-a"}).json()
    assert pending.json()["id"] not in {f["id"] for f in public["features"]}
    # an editor's duplicate of the same pair and category is refused, naming the existing link
    dup = client.post("/api/links", json=body | {"source": a, "target": b}, headers=headers)
    assert dup.status_code == 409 and pending.json()["id"] in dup.json()["detail"]
    lid = pending.json()["id"]
    client.post(f"/api/links/{lid}/validate", headers=headers)
    line = client.get(f"/api/links/{lid}").json()
    assert line["geometry"]["type"] == "LineString"
    assert line["properties"]["source_name"] == "Maraîcher (test)"
    assert line["properties"]["target_kind"] == "food_aid"
    changed = client.patch(f"/api/links/{lid}", json={"level": 5, "level_note": "commandes"},
                           headers=headers | {"If-Match": line["properties"]["version"]
                                              and f'"{line["properties"]["version"]}"'})
    assert changed.status_code == 200, changed.text
    levels = client.get(f"/api/links/{lid}/levels").json()["levels"]
    assert [(x["level"], x["note"]) for x in levels][-1] == (5, "commandes")
    assert len(levels) == 2
    assert client.patch(f"/api/links/{lid}", json={"level": 1},
                        headers=World.auth(world.contributor) | {"If-Match": '"3"'}
                        ).status_code == 403
    # bad links, each naming its field
    for bad, field in ((body | {"target": b}, "target"),
                       (body | {"target": str(uuid.uuid4())}, "target"),
                       (body | {"category": "friendship"}, "category"),
                       (body | {"level": 7}, "level"),
                       (body | {"color": "red"}, "color")):
        response = client.post("/api/links", json=bad, headers=headers)
        assert response.status_code in (400, 422), (bad, response.text)
        assert field in _fields(response)
    # a link to a deleted resource
    c = _create(client, world.editor, name="Fermé (test)")["id"]
    client.delete(f"/api/resources/{c}", headers=headers | {"If-Match": '"1"'})
    gone = client.post("/api/links", json=body | {"target": c}, headers=headers)
    assert gone.status_code == 422 and "target" in _fields(gone)


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("mutate,field", [
    (lambda f: f["geometry"].update(coordinates=[3.7, 95]), "geometry.latitude"),
    (lambda f: f["geometry"].update(coordinates=[-200, 43]), "geometry.longitude"),
    (lambda f: f["geometry"].update(coordinates=[43.40, 3.69]), "geometry"),  # swapped: > 50 km
    (lambda f: f["geometry"].update(coordinates=[]), "geometry.coordinates"),
    (lambda f: f.update(geometry={"type": "LineString", "coordinates": [[3, 43], [4, 44]]}),
     "geometry.type"),
    (lambda f: f["properties"].update(name=""), "name"),
    (lambda f: f["properties"].update(name="x" * 201), "name"),
    (lambda f: f["properties"].update(kind="spaceship"), "kind"),
    (lambda f: f["properties"].update(products=["caviar"]), "products"),
    (lambda f: f["properties"].update(opening_hours="lundi matin"), "opening_hours"),
    (lambda f: f["properties"].update(email="pas@"), "email"),
    (lambda f: f["properties"].update(website="javascript:alert(1)"), "website"),
    (lambda f: f["properties"].update(favourite_colour="green"), "favourite_colour"),
    (lambda f: f["properties"].update(territories=["atlantis"]), "territories"),
    (lambda f: f["properties"].update(description="a\x00b"), "properties.description"),
])
def test_bad_resources_are_refused_naming_the_field(client: TestClient, world: World,
                                                     mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    body = feature()
    mutate(body)
    response = client.post("/api/resources", json=body, headers=World.auth(world.editor))
    assert response.status_code == 422, response.text
    assert field in _fields(response)


def test_nan_coordinates_are_refused(client: TestClient, world: World) -> None:
    raw = json.dumps(feature()).replace("3.6957", "NaN")
    response = client.post("/api/resources", content=raw,
                           headers=World.auth(world.editor) | {"content-type": "application/json"})
    assert response.status_code == 422
    assert any(f.startswith("geometry") for f in _fields(response))


def test_far_points_need_an_editor_to_force(client: TestClient, world: World) -> None:
    far = feature(point=(2.35, 48.85))  # Paris
    assert client.post("/api/resources", json=far,
                       headers=World.auth(world.editor)).status_code == 422
    far["properties"]["force"] = True
    assert client.post("/api/resources", json=far,
                       headers=World.auth(world.contributor)).status_code == 403
    assert client.post("/api/resources", json=far,
                       headers=World.auth(world.editor)).status_code == 201


def test_bodies_over_one_megabyte_get_413(client: TestClient, world: World) -> None:
    body = feature(description="x" * 1_100_000)
    response = client.post("/api/resources", json=body, headers=World.auth(world.editor))
    assert response.status_code == 413


def test_markup_is_stored_as_given(client: TestClient, world: World) -> None:
    name = "<img src=x onerror=alert(1)>"
    created = _create(client, world.editor, name=name, description="<script>alert(2)</script>")
    assert client.get(f"/api/resources/{created['id']}").json()["properties"]["name"] == name


def test_each_link_write_refuses_the_wrong_roles(client: TestClient, world: World) -> None:
    editor = World.auth(world.editor)
    a = _create(client, world.editor, name="Banque alimentaire (test)", kind="food_aid")["id"]
    b = _create(client, world.editor, name="Épicerie (test)", kind="social_grocery")["id"]
    lid = client.post("/api/links", headers=editor, json={
        "source": a, "target": b, "category": "aid_associations", "level": 3,
        "territory": "api-a"}).json()["id"]
    refusals = {None: 401, world.contributor: 403, world.other_editor: 403}
    for token, status in refusals.items():
        headers = (World.auth(token) if token else {}) | {"If-Match": '"1"'}
        assert client.patch(f"/api/links/{lid}", json={"level": 4},
                            headers=headers).status_code == status
        assert client.delete(f"/api/links/{lid}", headers=headers).status_code == status
    assert client.delete(f"/api/links/{lid}", headers=editor | {"If-Match": '"1"'}
                         ).status_code == 204
    assert client.get(f"/api/links/{lid}").status_code == 404
    for token, status in refusals.items():
        assert client.post(f"/api/links/{lid}/restore",
                           headers=World.auth(token) if token else {}).status_code == status
    assert client.post(f"/api/links/{lid}/restore", headers=editor).status_code == 200
    history = client.get(f"/api/links/{lid}/history", headers=editor).json()["entries"]
    assert [e["action"] for e in history] == ["create", "delete", "restore"]


def test_a_link_to_a_pending_resource_stays_hidden(client: TestClient, world: World) -> None:
    editor = World.auth(world.editor)
    public = _create(client, world.editor, name="Jardin public (test)")["id"]
    pending = _create(client, world.contributor, name="Jardin proposé (test)")["id"]
    lid = client.post("/api/links", headers=editor, json={
        "source": public, "target": pending, "category": "residents_volunteers", "level": 2,
        "territory": "api-a"}).json()["id"]
    assert client.get(f"/api/links/{lid}").status_code == 404
    listed = client.get("/api/links", params={"resource": public}).json()
    assert lid not in {f["id"] for f in listed["features"]}
    assert client.get(f"/api/links/{lid}", headers=editor).status_code == 200


def test_a_token_cannot_place_resources_in_another_territory(client: TestClient,
                                                            world: World) -> None:
    both = feature(territories_=["api-a", "api-b"])
    for token in (world.contributor, world.editor):
        assert client.post("/api/resources", json=both,
                           headers=World.auth(token)).status_code == 403
    assert client.post("/api/resources", json=both,
                       headers=World.auth(world.admin)).status_code == 201
    rid = _create(client, world.editor, name="Réseau de Sète")["id"]
    added = client.patch(f"/api/resources/{rid}",
                         json={"properties": {"territories": ["api-a", "api-b"]}},
                         headers=World.auth(world.editor) | {"If-Match": '"1"'})
    assert added.status_code == 403
    assert client.get(f"/api/resources/{rid}").json()["properties"]["territories"] == ["api-a"]
