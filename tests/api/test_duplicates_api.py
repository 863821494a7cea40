"""Duplicates through the API (issue 14): the flagged pairs for the editors, the merge with
If-Match (carto.duplicates; the domain: tests/domain/test_duplicates.py)."""

import math
import uuid

from fastapi.testclient import TestClient

from tests.apiworld import SETE, World, feature


def _shift(point: tuple[float, float], east_m: float) -> tuple[float, float]:
    return (point[0] + east_m / (111_320 * math.cos(math.radians(point[1]))), point[1])


def _create(client: TestClient, token: str, name: str, point: tuple[float, float]) -> str:
    answer = client.post("/api/resources", json=feature(name=name, point=point),
                         headers=World.auth(token))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_the_api_lists_pairs_and_merges(client: TestClient, world: World) -> None:
    tag = uuid.uuid4().hex[:8]
    point = _shift(SETE, 300 + int(tag, 16) % 1000)  # away from the other tests' rows
    kept = _create(client, world.editor, f"Ressourcerie {tag} du quai", point)
    twin = _create(client, world.contributor, f"quai du RESSOURCERIE {tag}", _shift(point, 40))
    editor = World.auth(world.editor)
    listed = client.get("/api/moderation/duplicates?territory=api-a", headers=editor)
    assert listed.status_code == 200, listed.text
    [pair] = [p for p in listed.json()["pairs"] if p["keep"]["id"] == kept]
    assert pair["merge"]["id"] == twin and pair["merge"]["moderation"] == "pending"
    assert pair["merge"]["created_by"].endswith(":participant") and pair["reasons"] == ["same_name"]
    assert client.get("/api/moderation/duplicates?territory=api-a",
                      headers=World.auth(world.contributor)).status_code == 403
    assert client.get("/api/moderation/duplicates?territory=nowhere",
                      headers=editor).status_code == 400
    url = f"/api/resources/{twin}/merge"
    assert client.post(url, json={"into": kept}, headers=editor).status_code == 428
    assert client.post(url, json={"into": kept},
                       headers={**editor, "If-Match": '"7"'}).status_code == 412
    assert client.post(url, json={"into": "nope"},
                       headers={**editor, "If-Match": '"1"'}).status_code == 422
    assert client.post(url, json={"into": kept}, headers={
        **World.auth(world.other_editor), "If-Match": '"1"'}).status_code in (403, 404)
    done = client.post(url, json={"into": kept}, headers={**editor, "If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert done.json() == {"merged": twin, "into": kept, "links": {
        "repointed": [], "removed_self_links": [], "removed_duplicates": []}}
    assert client.get(f"/api/resources/{twin}", headers=editor).status_code == 404
    actions = [e["action"] for e in client.get(f"/api/resources/{twin}/history",
                                               headers=editor).json()["entries"]]
    assert actions == ["create", "merge"]
    again = client.post(url, json={"into": kept}, headers={**editor, "If-Match": '"2"'})
    assert again.status_code == 404

