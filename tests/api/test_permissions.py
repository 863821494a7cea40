"""Writers stay in their territory (carto.permissions), through the API: links between the
resources of another territory, re-pointing, the territory a link takes when none is given,
editor-only fields and histories."""

from typing import Any

from fastapi.testclient import TestClient

from tests.apiworld import MEZE, World, feature

LINK = {"category": "aid_associations", "level": 2}


def _resource(client: TestClient, token: str, name: str, territories: list[str],
              point: tuple[float, float] | None = None) -> str:
    body = feature(name=name, territories_=territories, **({"point": point} if point else {}))
    created = client.post("/api/resources", json=body, headers=World.auth(token))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _fields(response: Any) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


def test_an_editor_cannot_link_another_territorys_resources(client: TestClient,
                                                             world: World) -> None:
    """The reproduced attack: an editor of A declares, in A, a link between two resources of
    B; with it refused, it cannot be re-pointed there either, and B keeps control."""
    b1 = _resource(client, world.other_editor, "Épicerie de Mèze", ["api-b"], MEZE)
    b2 = _resource(client, world.other_editor, "Jardin de Mèze", ["api-b"], MEZE)
    for token in (world.editor, world.contributor):
        attack = client.post("/api/links", headers=World.auth(token),
                             json=LINK | {"source": b1, "target": b2, "territory": "api-a"})
        assert attack.status_code == 422, attack.text
        assert _fields(attack) == {"source", "target"}
        # nor in B, where the token is not valid
        assert client.post("/api/links", headers=World.auth(token),
                           json=LINK | {"source": b1, "target": b2, "territory": "api-b"}
                           ).status_code == 403
        # nor without a territory: the ends share none where the token may write
        omitted = client.post("/api/links", headers=World.auth(token),
                              json=LINK | {"source": b1, "target": b2})
        assert omitted.status_code == 422 and _fields(omitted) == {"territory"}
    # B's own editor may, and its territory is found when omitted
    made = client.post("/api/links", headers=World.auth(world.other_editor),
                       json=LINK | {"source": b1, "target": b2})
    assert made.status_code == 201, made.text
    assert made.json()["properties"]["territory"] == "api-b"


def test_re_pointing_a_link_obeys_the_same_rule(client: TestClient, world: World) -> None:
    editor = World.auth(world.editor)
    a1 = _resource(client, world.editor, "Restos (Sète)", ["api-a"])
    a2 = _resource(client, world.editor, "Maraîcher (Sète)", ["api-a"])
    b1 = _resource(client, world.other_editor, "Banque alimentaire (Mèze)", ["api-b"], MEZE)
    made = client.post("/api/links", headers=editor, json=LINK | {"source": a1, "target": a2})
    assert made.status_code == 201 and made.json()["properties"]["territory"] == "api-a"
    lid = made.json()["id"]
    moved = client.patch(f"/api/links/{lid}", json={"target": b1},
                         headers=editor | {"If-Match": '"1"'})
    assert moved.status_code == 422 and _fields(moved) == {"target"}
    to_b = client.patch(f"/api/links/{lid}", json={"territory": "api-b"},
                        headers=editor | {"If-Match": '"1"'})
    assert to_b.status_code == 403
    # B's editor neither edits nor removes A's link; A's editor still can
    for call in (lambda h: client.patch(f"/api/links/{lid}", json={"level": 4}, headers=h),
                 lambda h: client.delete(f"/api/links/{lid}", headers=h)):
        assert call(World.auth(world.other_editor) | {"If-Match": '"1"'}).status_code == 403
    line = client.get(f"/api/links/{lid}").json()
    assert (line["properties"]["target_id"], line["properties"]["version"]) == (a2, 1)
    a3 = _resource(client, world.editor, "Épicerie (Sète)", ["api-a"])
    ok = client.patch(f"/api/links/{lid}", json={"target": a3},
                      headers=editor | {"If-Match": '"1"'})
    assert ok.status_code == 200 and ok.json()["properties"]["target_id"] == a3


def test_the_territory_of_a_link_when_omitted(client: TestClient, world: World) -> None:
    both1 = _resource(client, world.admin, "Réseau (Sète et Mèze) 1", ["api-a", "api-b"])
    both2 = _resource(client, world.admin, "Réseau (Sète et Mèze) 2", ["api-a", "api-b"])
    a1 = _resource(client, world.editor, "Cantine (Sète)", ["api-a"])
    # two shared territories, one where the editor writes: that one
    for token, slug in ((world.editor, "api-a"), (world.other_editor, "api-b")):
        made = client.post("/api/links", headers=World.auth(token),
                           json=LINK | {"source": both1, "target": both2,
                                        "category": "territorial_structures"})
        assert made.status_code == 201, made.text
        assert made.json()["properties"]["territory"] == slug
        client.delete(f"/api/links/{made.json()['id']}",
                      headers=World.auth(token) | {"If-Match": '"1"'})
    # the admin writes in both: it must say which
    ambiguous = client.post("/api/links", headers=World.auth(world.admin),
                            json=LINK | {"source": both1, "target": both2})
    assert ambiguous.status_code == 422 and _fields(ambiguous) == {"territory"}
    # one shared territory
    made = client.post("/api/links", headers=World.auth(world.admin),
                       json=LINK | {"source": both1, "target": a1})
    assert made.status_code == 201 and made.json()["properties"]["territory"] == "api-a"
    # an end in the link's territory but the other not
    outside = client.post("/api/links", headers=World.auth(world.other_editor),
                          json=LINK | {"source": both1, "target": a1, "territory": "api-b"})
    assert outside.status_code == 422 and _fields(outside) == {"target"}


def test_ends_the_writer_cannot_see_do_not_exist(client: TestClient, world: World) -> None:
    hidden = _resource(client, world.contributor, "Proposition cachée (Sète)", ["api-a"])
    mine = _resource(client, world.contributor, "Ma proposition (Sète)", ["api-a"])
    a1 = _resource(client, world.editor, "Local (Sète)", ["api-a"])
    other = World.auth(world.admin)  # a second contributor of A, who sees neither proposal
    second = client.post("/api/tokens", headers=other,
                         json={"role": "contributor", "territory": "api-a"}).json()["token"]
    refused = client.post("/api/links", headers=World.auth(second),
                          json=LINK | {"source": hidden, "target": a1})
    assert refused.status_code == 422 and _fields(refused) == {"source"}
    assert "inconnue" in refused.json()["detail"]
    # its author sees it and may propose the link (pending)
    own = client.post("/api/links", headers=World.auth(world.contributor),
                      json=LINK | {"source": mine, "target": a1})
    assert own.status_code == 201 and own.json()["properties"]["moderation"] == "pending"


def test_editor_only_fields_go_to_the_editors_of_that_territory(client: TestClient,
                                                                world: World) -> None:
    rid = _resource(client, world.editor, "Épicerie (champs)", ["api-a"])
    a1 = _resource(client, world.editor, "Maraîcher (champs)", ["api-a"])
    lid = client.post("/api/links", headers=World.auth(world.editor),
                      json=LINK | {"source": rid, "target": a1}).json()["id"]
    for token, shown in ((world.editor, True), (world.admin, True),
                         (world.other_editor, False), (world.contributor, False)):
        headers = World.auth(token)
        one = client.get(f"/api/resources/{rid}", headers=headers).json()["properties"]
        listed = client.get("/api/resources", headers=headers,
                            params={"territory": "api-a", "limit": 10000}).json()
        row = next(f for f in listed["features"] if f["id"] == rid)["properties"]
        link = client.get(f"/api/links/{lid}", headers=headers).json()["properties"]
        links = client.get("/api/links", headers=headers, params={"territory": "api-a"}).json()
        link_row = next(f for f in links["features"] if f["id"] == lid)["properties"]
        for props in (one, row, link, link_row):
            assert ("created_by" in props) is shown, (token, props)
            assert ("updated_by" in props) is shown
    # histories: the editors of that territory only
    for kind, item in (("resources", rid), ("links", lid)):
        assert client.get(f"/api/{kind}/{item}/history",
                          headers=World.auth(world.other_editor)).status_code == 403
        assert client.get(f"/api/{kind}/{item}/history",
                          headers=World.auth(world.editor)).status_code == 200


def test_the_moderation_queue_is_the_territorys_editors(client: TestClient, world: World) -> None:
    pending = _resource(client, world.contributor, "À valider (file)", ["api-a"])

    def queue(token: str, **params: str) -> Any:
        return client.get("/api/moderation", params=params, headers=World.auth(token))

    assert pending in {r["id"] for r in queue(world.editor).json()["resources"]}  # its own
    assert queue(world.other_editor, territory="api-a").status_code == 403
    assert pending not in {r["id"] for r in queue(world.other_editor).json()["resources"]}
    assert queue(world.contributor).status_code == 403
    assert pending in {r["id"] for r in queue(world.admin).json()["resources"]}  # everywhere
    # a territory that does not exist is not there: 404 naming the parameter, empty or not
    for slug in ("atlantis", ""):
        unknown = queue(world.admin, territory=slug)
        assert unknown.status_code == 404, slug
        assert [e["field"] for e in unknown.json()["errors"]] == ["territory"]


def test_a_territory_s_coefficient_overrides_are_its_editors_and_global_ones_the_admins(
        client: TestClient, world: World) -> None:
    """One rule (carto.permissions.edit_override) for adding and removing an override."""
    payload = {"territory": "api-a", "parameter": "yield_t_ha", "product": "vegetables",
               "value": 21.5, "source": "Relevé de l'atelier"}
    other, editor = World.auth(world.other_editor), World.auth(world.editor)
    assert client.post("/api/gap/overrides", json=payload, headers=other).status_code == 403
    assert client.post("/api/gap/overrides", json=payload | {"territory": None},
                       headers=editor).status_code == 403  # for every territory: admins only
    created = client.post("/api/gap/overrides", json=payload, headers=editor)
    assert created.status_code == 201, created.text
    url = f"/api/gap/overrides/{created.json()['id']}"
    assert client.delete(url, headers=other).status_code == 403
    assert client.delete(url, headers=editor).status_code == 204
