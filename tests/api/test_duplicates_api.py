"""Duplicates through the API (issue 14): the flagged pairs for the editors, the merge with
If-Match (carto.duplicates; the domain: tests/domain/test_duplicates.py)."""

import math
import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.apiworld import SETE, World, feature


def _shift(point: tuple[float, float], east_m: float) -> tuple[float, float]:
    return (point[0] + east_m / (111_320 * math.cos(math.radians(point[1]))), point[1])


def _create(client: TestClient, token: str, name: str, point: tuple[float, float]) -> str:
    answer = client.post("/api/resources", json=feature(name=name, point=point),
                         headers=World.auth(token))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _twins(client: TestClient, world: World, east_m: int, first: str,
           second: str) -> tuple[str, str, Callable[[], bool]]:
    """Two records of one place ({} in the names: a tag of this run), an editor's and a
    contributor's, about `east_m` metres east of Sète; and whether the pair is flagged."""
    tag = uuid.uuid4().hex[:8]
    point = _shift(SETE, east_m + int(tag, 16) % 1000)
    one = _create(client, world.editor, first.format(tag), point)
    two = _create(client, world.contributor, second.format(tag), _shift(point, 25))

    def flagged() -> bool:
        pairs = client.get("/api/moderation/duplicates?territory=api-a",
                           headers=World.auth(world.editor))
        return any({p["keep"]["id"], p["merge"]["id"]} == {one, two}
                   for p in pairs.json()["pairs"])

    return one, two, flagged


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
    unknown = client.get("/api/moderation/duplicates?territory=nowhere", headers=editor)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["field"] == "territory"
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
    gone = client.get(f"/api/resources/{twin}", headers=editor)
    assert gone.status_code == 410 and gone.json()["merged_into"] == kept, gone.text
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert gone.headers["link"] == f'</api/resources/{kept}>; rel="canonical"'
    actions = [e["action"] for e in client.get(f"/api/resources/{twin}/history",
                                               headers=editor).json()["entries"]]
    assert actions == ["create", "merge"]
    again = client.post(url, json={"into": kept}, headers={**editor, "If-Match": '"2"'})
    assert again.status_code == 409 and again.json()["merged_into"] == kept, again.text
    assert [e["field"] for e in again.json()["errors"]] == ["resource"]
    back = client.post(f"/api/resources/{kept}/merge", json={"into": twin},
                       headers={**editor, "If-Match": '"1"'})
    assert back.status_code == 409 and [e["field"] for e in back.json()["errors"]] == ["into"]


def test_a_merged_resource_names_the_kept_one_to_whoever_sees_it(client: TestClient,
                                                                  world: World) -> None:
    """410 with `merged_into` (followed through a merge of a merge) for a reader who sees the
    kept resource; 404 for one who does not (a pending kept one, for the public); the record
    page redirects to the kept one's page."""
    tag = uuid.uuid4().hex[:8]
    point = _shift(SETE, 1500 + int(tag, 16) % 1000)
    editor = World.auth(world.editor)
    first, second, last = (_create(client, world.editor, f"Halle {tag} {n}", _shift(point, d))
                           for n, d in (("un", 0), ("deux", 20), ("trois", 40)))
    for merged, into in ((first, second), (second, last)):
        done = client.post(f"/api/resources/{merged}/merge", json={"into": into},
                           headers={**editor, "If-Match": '"1"'})
        assert done.status_code == 200, done.text
    public = client.get(f"/api/resources/{first}")
    assert public.status_code == 410 and public.json()["merged_into"] == last, public.text
    assert public.headers["link"] == f'</api/resources/{last}>; rel="canonical"'
    page = client.get(f"/resources/{first}?lang=en", follow_redirects=False)
    assert page.status_code == 307 and page.headers["location"] == f"/resources/{last}?lang=en"
    assert client.get(f"/resources/{first}").status_code == 200  # followed: the kept one's page
    pending = _create(client, world.contributor, f"Cantine {tag}", _shift(point, 80))
    twin = _create(client, world.editor, f"Cantine bis {tag}", _shift(point, 90))
    done = client.post(f"/api/resources/{twin}/merge", json={"into": pending},
                       headers={**editor, "If-Match": '"1"'})
    assert done.status_code == 200, done.text
    assert client.get(f"/api/resources/{twin}").status_code == 404  # the public: no pointer
    assert client.get(f"/api/resources/{twin}", headers=editor).status_code == 410
    assert client.get(f"/resources/{twin}").status_code == 404



def test_not_a_duplicate_is_said_once_by_an_editor_and_the_pair_is_not_flagged_again(
        client: TestClient, world: World) -> None:
    one, two, flagged = _twins(client, world, 2800, "Atelier {} vélo", "vélo atelier {}")
    editor = World.auth(world.editor)
    assert flagged()
    url = "/api/moderation/duplicates/dismissals"

    def pair(*ids: str) -> dict[str, list[str]]:
        return {"resources": list(ids)}

    assert client.post(url, json=pair(one, two)).status_code == 401
    assert client.post(url, json=pair(one, two),
                       headers=World.auth(world.contributor)).status_code == 403
    assert client.post(url, json=pair(one, two),
                       headers=World.auth(world.other_editor)).status_code in (403, 404)
    for wrong in (pair(one, one), pair(one, "nope"), pair(one), pair(one, two, one)):
        refused = client.post(url, json=wrong, headers=editor)
        assert refused.status_code == 422, (wrong, refused.text)
        assert refused.json()["errors"][0]["field"].startswith("resources"), refused.text
    assert client.post(url, json=pair(one, str(uuid.uuid4())),
                       headers=editor).status_code == 404
    said = client.post(url, json=pair(two, one), headers=editor)
    assert said.status_code == 201, said.text
    assert {said.json()["a"], said.json()["b"]} == {one, two}
    assert said.json()["dismissed_by"].endswith(":animatrice")
    again = client.post(url, json=pair(one, two), headers=editor)
    assert again.status_code == 200 and again.json()["dismissed_at"] == said.json()["dismissed_at"]
    assert not flagged()


def test_not_a_duplicate_is_taken_back_by_an_editor_and_the_pair_is_flagged_again(
        client: TestClient, world: World) -> None:
    """DELETE /api/moderation/duplicates/dismissals/{first}/{second}: 204, then 404 (nothing
    left to take back); the same editors as for saying it; a wrong id is a 400 naming it."""
    one, two, flagged = _twins(client, world, 3900, "Friperie {} des Halles",
                               "halles des FRIPERIE {}")
    editor = World.auth(world.editor)
    said = client.post("/api/moderation/duplicates/dismissals",
                       json={"resources": [one, two]}, headers=editor)
    assert said.status_code == 201 and not flagged()
    url = f"/api/moderation/duplicates/dismissals/{two}/{one}"  # either order
    assert client.delete(url).status_code == 401
    assert client.delete(url, headers=World.auth(world.contributor)).status_code == 403
    assert client.delete(url, headers=World.auth(world.other_editor)).status_code in (403, 404)
    wrong = client.delete(f"/api/moderation/duplicates/dismissals/{one}/nope", headers=editor)
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "second_id", \
        wrong.text
    same = client.delete(f"/api/moderation/duplicates/dismissals/{one}/{one}", headers=editor)
    assert same.status_code == 404, same.text  # a resource is never dismissed with itself
    undone = client.delete(url, headers=editor)
    assert undone.status_code == 204 and undone.content == b""
    assert flagged()
    again = client.delete(url, headers=editor)
    assert again.status_code == 404 and again.headers["content-type"].startswith(
        "application/problem+json"), again.text
    operation = client.get("/openapi.json").json()["paths"][
        "/api/moderation/duplicates/dismissals/{first_id}/{second_id}"]["delete"]
    assert {"204", "400", "401", "403", "404"} <= set(operation["responses"]), operation
