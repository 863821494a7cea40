"""Workshops (issue 14) through the API: create, join by code, the token's scope, close and
expiry, one vote per token (replaced until the question closes), the tally, the live feed and
its stream, rate limits."""

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.ratelimit import RateLimiter
from carto.config import RateLimitSettings
from tests.apiworld import MEZE, SETE, World, feature

CODE = re.compile(r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$")


def later(hours: float = 3) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def new_workshop(client: TestClient | httpx.Client, world: World, **extra: Any) -> dict[str, Any]:
    body = {"territory": "api-a", "title": "Atelier du marché", "date": "2026-12-05",
            "place": "Salle des fêtes", "ends_at": later()} | extra
    response = client.post("/api/workshops", json=body, headers=World.auth(world.editor))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def join(client: TestClient | httpx.Client, code: str, pseudonym: str) -> dict[str, str]:
    response = client.post(f"/api/workshops/{code}/join", json={"pseudonym": pseudonym})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return World.auth(response.json()["token"])


def fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def test_an_editor_creates_a_workshop_with_a_code_easy_to_read_aloud(client: TestClient,
                                                                    world: World) -> None:
    created = new_workshop(client, world)
    assert CODE.match(created["code"]), created["code"]
    assert created["join_url"].endswith(f"/join/{created['code']}")
    assert created["state"] == "open" and created["participants"] == 0
    # typed in lower case, with a space: the same workshop
    spoken = created["code"][:3].lower() + " " + created["code"][3:].lower()
    read = client.get(f"/api/workshops/{spoken}")
    assert read.status_code == 200 and read.json()["title"] == "Atelier du marché"
    assert client.get("/api/workshops/ZZZZZZ").status_code == 404


@pytest.mark.parametrize("who, status", [(None, 401), ("contributor", 403),
                                         ("other_editor", 403)])
def test_only_an_editor_of_the_territory_facilitates(client: TestClient, world: World,
                                                     who: str | None, status: int) -> None:
    headers = World.auth(getattr(world, who)) if who else {}
    body = {"territory": "api-a", "title": "x", "date": "2026-12-05", "ends_at": later()}
    assert client.post("/api/workshops", json=body, headers=headers).status_code == status
    code = new_workshop(client, world)["code"]
    assert client.post(f"/api/workshops/{code}/close", headers=headers).status_code == status
    question = {"text": "Laquelle ?", "options": ["a", "b"]}
    assert client.post(f"/api/workshops/{code}/questions", json=question,
                       headers=headers).status_code == status


def test_bad_workshop_fields_are_named(client: TestClient, world: World) -> None:
    body = {"territory": "nowhere", "title": " ", "date": "05/12/2026",
            "ends_at": "2026-12-05T18:00"}
    response = client.post("/api/workshops", json=body, headers=World.auth(world.editor))
    assert response.status_code == 422
    assert set(fields(response)) == {"territory", "title", "date", "ends_at"}
    past = client.post("/api/workshops", headers=World.auth(world.editor), json=body | {
        "territory": "api-a", "title": "x", "date": "2026-12-05",
        "ends_at": "2020-01-01T10:00:00+01:00"})
    assert past.status_code == 422 and fields(past) == ["ends_at"]


def test_a_participant_joins_with_a_pseudonym_and_writes_pending_in_its_territory_only(
        client: TestClient, world: World) -> None:
    code = new_workshop(client, world)["code"]
    lou = join(client, code, "Lou")
    taken = client.post(f"/api/workshops/{code}/join", json={"pseudonym": " lou "})
    assert taken.status_code == 409 and fields(taken) == ["pseudonym"]
    assert client.post(f"/api/workshops/{code}/join", json={}).status_code == 422
    created = client.post("/api/resources", json=feature(name="Potager de Lou"), headers=lou)
    assert created.status_code == 201, created.text
    assert created.json()["properties"]["moderation"] == "pending"
    other = client.post("/api/resources", json=feature(name="Ailleurs", territories_=["api-b"],
                                                       point=MEZE), headers=lou)
    assert other.status_code == 403
    assert client.get(f"/api/workshops/{code}").json()["participants"] == 1


def test_participants_see_each_others_additions_waiting_and_readers_do_not(
        client: TestClient, world: World) -> None:
    code = new_workshop(client, world)["code"]
    lou, sam = join(client, code, "Lou"), join(client, code, "Sam")
    a = client.post("/api/resources", json=feature(name="Épicerie de Lou"), headers=lou).json()
    b = client.post("/api/resources", json=feature(name="Jardin de Sam", point=(3.70, 43.40)),
                    headers=sam).json()
    link = client.post("/api/links", headers=sam, json={
        "source": a["id"], "target": b["id"], "category": "aid_associations", "level": 2})
    assert link.status_code == 201, link.text
    seen = client.get(f"/api/workshops/{code}/feed", headers=sam).json()
    assert {r["name"] for r in seen["resources"]} == {"Épicerie de Lou", "Jardin de Sam"}
    assert {r["moderation"] for r in seen["resources"]} == {"pending"}
    assert [x["id"] for x in seen["links"]] == [link.json()["id"]]
    assert seen["counters"]["resources"] == 2 and seen["counters"]["links"] == 1
    anonymous = client.get(f"/api/workshops/{code}/feed").json()
    assert anonymous["resources"] == [] and anonymous["links"] == []
    assert anonymous["counters"]["resources"] == 2  # counts only: the projector's
    # another workshop's participant does not see them
    stranger = join(client, new_workshop(client, world)["code"], "Lou")
    assert client.get(f"/api/workshops/{code}/feed", headers=stranger).json()["resources"] == []
    # the facilitator's queue names the authors
    queue = client.get(f"/api/workshops/{code}/moderation", headers=World.auth(world.editor))
    assert {(r["name"], r["pseudonym"]) for r in queue.json()["resources"]} == {
        ("Épicerie de Lou", "Lou"), ("Jardin de Sam", "Sam")}
    assert queue.json()["links"][0]["pseudonym"] == "Sam"
    assert client.get(f"/api/workshops/{code}/moderation", headers=lou).status_code == 403


def test_a_replay_by_a_participant_creates_one_row_carrying_the_workshop(
        client: TestClient, world: World, migrated: str) -> None:
    workshop = new_workshop(client, world)
    lou = join(client, workshop["code"], "Lou")
    body = feature(name="Distribution du jeudi") | {"id": str(uuid.uuid4())}
    first = client.post("/api/resources", json=body, headers=lou)
    again = client.post("/api/resources", json=body, headers=lou)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    with psycopg.connect(migrated.replace("+psycopg", "")) as conn:
        rows = conn.execute(
            """SELECT w.code, w.held_on, (SELECT count(*) FROM change_log c
                                          WHERE c.entity_id = r.id)
               FROM resource r JOIN workshop w ON w.id = r.workshop_id
               WHERE r.id = %s""", (body["id"],)).fetchall()
    assert rows == [(workshop["code"], datetime(2026, 12, 5).date(), 1)]


def test_a_closed_workshop_s_token_is_refused_with_a_clear_message(client: TestClient,
                                                                    world: World) -> None:
    code = new_workshop(client, world)["code"]
    lou = join(client, code, "Lou")
    assert client.post("/api/resources", json=feature(name="Avant"), headers=lou).status_code \
        == 201
    closed = client.post(f"/api/workshops/{code}/close", headers=World.auth(world.editor))
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    refused = client.post("/api/resources", json=feature(name="Après"), headers=lou)
    assert refused.status_code == 403
    assert "clos" in refused.json()["detail"]
    english = client.post("/api/resources", json=feature(name="After"),
                          headers=lou | {"Accept-Language": "en"})
    assert "closed" in english.json()["detail"]
    late = client.post(f"/api/workshops/{code}/join", json={"pseudonym": "Tard"})
    assert late.status_code == 409


def test_a_workshop_past_its_end_time_refuses_its_tokens(client: TestClient, world: World,
                                                          migrated: str) -> None:
    code = new_workshop(client, world)["code"]
    lou = join(client, code, "Lou")
    with psycopg.connect(migrated.replace("+psycopg", "")) as conn:
        conn.execute("UPDATE workshop SET ends_at = now() - interval '1 minute' WHERE code = %s",
                     (code,))
    refused = client.post("/api/resources", json=feature(name="Trop tard"), headers=lou)
    assert refused.status_code == 403 and "terminé" in refused.json()["detail"]
    assert client.get(f"/api/workshops/{code}").json()["state"] == "ended"


def test_one_vote_per_token_replaced_until_the_question_closes(client: TestClient,
                                                               world: World) -> None:
    code = new_workshop(client, world)["code"]
    editor = World.auth(world.editor)
    lou, sam = join(client, code, "Lou"), join(client, code, "Sam")
    asked = client.post(f"/api/workshops/{code}/questions", headers=editor, json={
        "text": "Par quelle coopération commençons-nous ?",
        "options": ["Dons d'invendus", "Jardin partagé", "Épicerie mobile"]})
    assert asked.status_code == 201, asked.text
    qid = asked.json()["id"]
    url = f"/api/workshops/{code}/questions/{qid}"
    for _ in range(3):
        assert client.post(f"{url}/vote", json={"option": 0}, headers=lou).status_code == 200
    assert client.post(f"{url}/vote", json={"option": 2}, headers=sam).status_code == 200
    changed = client.post(f"{url}/vote", json={"option": 1}, headers=lou).json()
    assert [o["votes"] for o in changed["options"]] == [0, 1, 1]
    assert changed["voters"] == 2
    tally = client.get(url).json()
    assert tally == changed and "Lou" not in json.dumps(tally)
    assert client.get(f"/api/workshops/{code}").json()["question"]["id"] == qid
    # the facilitator has no vote; a wrong option is named
    assert client.post(f"{url}/vote", json={"option": 0}, headers=editor).status_code == 403
    wrong = client.post(f"{url}/vote", json={"option": 7}, headers=sam)
    assert wrong.status_code == 422 and fields(wrong) == ["option"]
    # closed: the votes stay, no new one
    assert client.post(f"{url}/close", headers=editor).json()["open"] is False
    assert client.post(f"{url}/vote", json={"option": 0}, headers=sam).status_code == 409
    assert [o["votes"] for o in client.get(url).json()["options"]] == [0, 1, 1]
    # a new question closes the open one; the old one's id is not another workshop's
    assert client.get(f"/api/workshops/{new_workshop(client, world)['code']}/questions/{qid}"
                      ).status_code == 404


def test_joins_and_votes_are_rate_limited(migrated: str, world: World) -> None:
    settings = RateLimitSettings(workshop_join="3/minute", workshop_vote="2/minute")
    app = create_app(migrated)
    with TestClient(app) as client:
        app.state.rate_limiter = RateLimiter(settings)
        code = new_workshop(client, world)["code"]
        answers = [client.post(f"/api/workshops/{code}/join", json={"pseudonym": f"P{i}"})
                   for i in range(4)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        assert int(answers[-1].headers["retry-after"]) > 0
        token = World.auth(answers[0].json()["token"])
        qid = client.post(f"/api/workshops/{code}/questions", headers=World.auth(world.editor),
                          json={"text": "?", "options": ["a", "b"]}).json()["id"]
        votes = [client.post(f"/api/workshops/{code}/questions/{qid}/vote", json={"option": 0},
                             headers=token).status_code for _ in range(3)]
        assert votes == [200, 200, 429]


def test_the_stream_sends_the_others_additions_as_they_come(live_server: str,
                                                            world: World) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        code = new_workshop(http, world)["code"]
        lou, sam = join(http, code, "Lou"), join(http, code, "Sam")
        with http.stream("GET", f"/api/workshops/{code}/events", headers=sam) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream.iter_lines())
            first = next(events)
            assert first["resources"] == []
            made = http.post("/api/resources", json=feature(name="Ajout en direct", point=SETE),
                             headers=lou)
            assert made.status_code == 201
            second = next(events)
            assert [r["name"] for r in second["resources"]] == ["Ajout en direct"]
            assert second["resources"][0]["moderation"] == "pending"


def _events(lines: Any) -> Any:
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line.strip() and data:
            yield json.loads("\n".join(data))
            data = []


def test_idle_streams_hold_no_pooled_connection(live_server: str, world: World) -> None:
    """More open streams than the async pool has connections (ASYNC_POOL_SIZE, 8): the
    event-loop reads (/api/nearby) still answer at once, not after the pool's timeout."""
    from contextlib import ExitStack

    with httpx.Client(base_url=live_server, timeout=30) as http, ExitStack() as streams:
        code = new_workshop(http, world)["code"]
        auth = join(http, code, "Lou")
        for _ in range(12):
            stream = streams.enter_context(http.stream("GET", f"/api/workshops/{code}/events",
                                                       headers=auth))
            assert next(_events(stream.iter_lines()))["resources"] == []
        with httpx.Client(base_url=live_server, timeout=30) as other:
            nearby = other.get("/api/nearby", params={"commune": "34301", "kind": "food_aid"})
            assert nearby.status_code == 200, nearby.text


def test_a_facilitators_own_additions_carry_the_workshop(client: TestClient, world: World,
                                                         migrated: str) -> None:
    """An editor adding in the context of an open workshop of its territory (`workshop`: the
    join code) tags the addition: the summary, the feed and the output count it."""
    code = new_workshop(client, world)["code"]
    editor = World.auth(world.editor)
    tag = uuid.uuid4().hex[:6]
    made = client.post("/api/resources", headers=editor, json=feature(
        name=f"Ajout de l'animatrice {tag}", workshop=code.lower()))
    assert made.status_code == 201, made.text
    plain = client.post("/api/resources", headers=editor,
                        json=feature(name=f"Hors atelier {tag}"))
    link = client.post("/api/links", headers=editor, json={
        "source": made.json()["id"], "target": plain.json()["id"], "workshop": code,
        "category": "aid_associations", "level": 3})
    assert link.status_code == 201, link.text
    summary = client.get(f"/api/workshops/{code}/summary").json()
    assert (summary["added"], summary["validated"]) == (2, 2), summary
    assert summary["resources_by_kind"] == [{"kind": "shared_garden", "added": 1,
                                             "validated": 1}]
    assert summary["links_by_category_and_level"] == [
        {"category": "aid_associations", "level": 3, "added": 1, "validated": 1}]
    feed_ids = {f["id"] for f in client.get(f"/api/workshops/{code}/feed",
                                            headers=editor).json()["resources"]}
    assert feed_ids == {made.json()["id"]}
    with psycopg.connect(migrated.replace("+psycopg", "")) as conn:
        rows = conn.execute("SELECT name, workshop_id IS NOT NULL FROM resource "
                            "WHERE name LIKE %s ORDER BY name", (f"% {tag}",)).fetchall()
    assert rows == [(f"Ajout de l'animatrice {tag}", True), (f"Hors atelier {tag}", False)]


def test_who_may_add_in_a_workshop_and_where(client: TestClient, world: World) -> None:
    code = new_workshop(client, world)["code"]
    other = new_workshop(client, world)["code"]
    participant = join(client, code, "Lou")

    def add(headers: dict[str, str], workshop: str, **extra: Any) -> Any:
        return client.post("/api/resources", headers=headers,
                           json=feature(name="Essai", workshop=workshop, **extra))

    unknown = add(World.auth(world.editor), "ZZZZZZ")
    assert unknown.status_code == 422 and fields(unknown) == ["workshop"]
    assert add(World.auth(world.contributor), code).status_code == 403  # not its facilitator
    assert add(World.auth(world.other_editor), code, territories_=["api-b"],
               point=MEZE).status_code == 403  # another territory's editor
    outside = add(World.auth(world.admin), code, territories_=["api-b"], point=MEZE)
    assert outside.status_code == 422 and fields(outside) == ["workshop"]
    elsewhere = add(participant, other)
    assert elsewhere.status_code == 422 and fields(elsewhere) == ["workshop"]
    assert add(participant, code).status_code == 201  # its own: as without the code
    client.post(f"/api/workshops/{code}/close", headers=World.auth(world.editor))
    closed = add(World.auth(world.editor), code)
    assert closed.status_code == 409 and fields(closed) == ["workshop"]


def test_every_workshop_answer_matches_the_members_its_schema_documents(
        client: TestClient, world: World) -> None:
    """The OpenAPI gives each workshop answer its members (never a bare "object"), and real
    answers, with a resource, a link, a question and a vote in them, validate against them."""
    import jsonschema

    spec = client.get("/openapi.json").json()
    created = new_workshop(client, world)
    code, editor = created["code"], World.auth(world.editor)
    joined = client.post(f"/api/workshops/{code}/join", json={"pseudonym": "Noé"})
    lou = World.auth(joined.json()["token"])
    a = client.post("/api/resources", json=feature(name="Verger de Noé"), headers=lou).json()
    b = client.post("/api/resources", json=feature(name="Four de Noé", point=(3.70, 43.40)),
                    headers=lou).json()
    assert client.post("/api/links", headers=lou, json={
        "source": a["id"], "target": b["id"], "category": "aid_associations",
        "level": 2}).status_code == 201
    asked = client.post(f"/api/workshops/{code}/questions", headers=editor,
                        json={"text": "Laquelle ?", "options": ["Verger", "Four"]})
    qid = asked.json()["id"]
    answers = {
        ("post", "/api/workshops"): (201, created),
        ("post", "/api/workshops/{code}/join"): (201, joined.json()),
        ("post", "/api/workshops/{code}/questions"): (201, asked.json()),
        ("get", "/api/workshops/{code}"): (200, client.get(f"/api/workshops/{code}").json()),
        ("post", "/api/workshops/{code}/questions/{question_id}/vote"): (200, client.post(
            f"/api/workshops/{code}/questions/{qid}/vote", json={"option": 1},
            headers=lou).json()),
        ("get", "/api/workshops/{code}/questions/{question_id}"): (200, client.get(
            f"/api/workshops/{code}/questions/{qid}").json()),
        ("get", "/api/workshops/{code}/feed"): (200, client.get(
            f"/api/workshops/{code}/feed", headers=lou).json()),
        ("get", "/api/workshops/{code}/moderation"): (200, client.get(
            f"/api/workshops/{code}/moderation", headers=editor).json()),
        ("post", "/api/workshops/{code}/questions/{question_id}/close"): (200, client.post(
            f"/api/workshops/{code}/questions/{qid}/close", headers=editor).json()),
        ("post", "/api/workshops/{code}/close"): (200, client.post(
            f"/api/workshops/{code}/close", headers=editor).json()),
        ("get", "/api/workshops/{code}/summary"): (200, client.get(
            f"/api/workshops/{code}/summary").json()),
    }
    documented = {(m, p) for p, item in spec["paths"].items() if p.startswith("/api/workshops")
                  for m in item}
    assert documented == set(answers)
    for (method, path), (status, body) in answers.items():
        schema = spec["paths"][path][method]["responses"][str(status)]["content"][
            "application/json"]["schema"]
        assert schema.get("required") and schema.get("properties"), (method, path)
        errors = [e.message for e in jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.FormatChecker()).iter_errors(body)]
        assert errors == [], (method, path, errors)
    # the members a client relies on are documented, down to the items of the lists
    feed = spec["paths"]["/api/workshops/{code}/feed"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert {"name", "kind", "moderation", "lon", "lat"} <= set(
        feed["properties"]["resources"]["items"]["required"])
