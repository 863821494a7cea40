"""Bad input never gets a 500 and every refusal names its field (issue 10 §6): lone
surrogates in JSON, chunked bodies over the limit (against a real server: TestClient always
declares a length), conflicts naming what to change."""

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from api.problems import constraint_field, install
from carto.db import transaction
from carto.models import Territory
from carto.validation import unstorable
from tests.apiworld import World, feature


def _raw(body: object) -> bytes:
    """JSON with the escape "\\ud800" as a client would send it (json.dumps keeps escapes)."""
    return json.dumps(body).replace("SURROGATE", "\\ud800").encode()


def test_lone_surrogate_is_found_with_its_path() -> None:
    surrogate = "error.body.surrogate"
    assert unstorable({"a": [1, {"b": "ok\ud800"}]}) == ("a.1.b", surrogate)
    assert unstorable({"properties": {"name": "\udfff"}}) == ("properties.name", surrogate)
    assert unstorable({"a": "é ✓ 🍅"}) is None
    assert unstorable("\ud800") == ("body", surrogate)


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/resources", feature(name="SURROGATE"), "properties.name"),
    ("/api/links", {"source": "SURROGATE", "target": "x", "category": "aid_associations",
                    "level": 2}, "source"),
    ("/api/gap", {"type": "Feature", "properties": {"name": "x", "SURROGATE": 1},
                  "geometry": {"type": "Polygon", "coordinates": [[[3.7, 43.4], [3.8, 43.4],
                                                                   [3.8, 43.5], [3.7, 43.4]]]}},
     "properties.\\ud800"),
])
def test_a_lone_surrogate_anywhere_is_a_422_naming_it(client: TestClient, world: World,
                                                      path: str, body: object,
                                                      field: str) -> None:
    r = client.post(path, content=_raw(body), headers={
        "Content-Type": "application/json", **World.auth(world.editor)})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert r.headers["content-type"].startswith("application/problem+json")
    patch = client.patch("/api/resources/00000000-0000-0000-0000-000000000000",
                         content=_raw({"properties": {"description": ["SURROGATE"]}}),
                         headers={"Content-Type": "application/json", "If-Match": '"1"',
                                  **World.auth(world.editor)})
    assert patch.status_code == 422 and patch.json()["errors"][0]["field"] == \
        "properties.description.0"


def test_a_chunked_body_over_the_limit_is_a_413(live_server: str, world: World) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"type": "Feature", "properties": {"description": "'
        for _ in range(120):
            yield b"x" * 10_000
        yield b'"}}'

    r = httpx.post(f"{live_server}/api/resources", content=chunks(), headers={
        "Content-Type": "application/json", **World.auth(world.editor)}, timeout=30)
    assert r.status_code == 413, r.text
    assert r.json()["title"] == "Requête trop volumineuse"
    small = httpx.post(f"{live_server}/api/resources", content=iter([b"{", b"}"]), headers={
        "Content-Type": "application/json", **World.auth(world.editor)}, timeout=30)
    assert small.status_code == 422  # a chunked body under the limit reaches the handler


def test_conflicts_name_their_field(client: TestClient, world: World) -> None:
    admin = World.auth(world.admin)
    kind = client.post("/api/kinds", headers=admin, json={
        "code": "producer", "label_fr": "x", "label_en": "x", "color": "#000000",
        "icon": "leaf"})
    assert kind.status_code == 409 and kind.json()["errors"][0]["field"] == "code"
    editor = World.auth(world.editor)
    made = client.post("/api/resources", json=feature(name="Conflit (test)"), headers=editor)
    rid = made.json()["id"]
    restore = client.post(f"/api/resources/{rid}/restore", headers=editor)
    assert restore.status_code == 409 and restore.json()["errors"][0]["field"] == "deleted"
    again = client.post(f"/api/resources/{rid}/validate", headers=editor)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "moderation"
    client.delete(f"/api/resources/{rid}", headers=editor | {"If-Match": '"1"'})


def test_a_database_refusal_names_the_constraint_s_field(migrated: str,
                                                         demo_loaded: object) -> None:
    with pytest.raises(IntegrityError) as caught, transaction(migrated) as session:
        session.add(Territory(slug="frontignan", name="doublon", level="custom",
                              geom="SRID=4326;MULTIPOLYGON(((3 43,3.1 43,3.1 43.1,3 43)))"))
        session.flush()
    assert constraint_field(caught.value) == "slug"


@pytest.mark.parametrize(("lang", "titles", "detail"), [
    ("fr", ("Paramètre invalide", "Données invalides"), "une valeur est hors des limites acceptées"),
    ("en", ("Invalid parameter", "Invalid data"), "a value is out of the accepted bounds"),
])
def test_a_value_the_database_refuses_is_answered_in_the_reader_s_language(
        migrated: str, lang: str, titles: tuple[str, str], detail: str) -> None:
    """PostgreSQL's DataError (here a text cast to an integer) is a 400 on a GET, a 422 on a
    POST, its title and detail from the catalogue: once a literal French detail, and the
    title's catalogue key itself."""
    app = FastAPI()
    install(app)

    @app.api_route("/cast", methods=["GET", "POST"])
    def cast() -> None:
        with transaction(migrated) as session:
            session.execute(text("SELECT CAST(:v AS integer)"), {"v": "x"})

    with TestClient(app) as client:
        for method, status, title in (("GET", 400, titles[0]), ("POST", 422, titles[1])):
            r = client.request(method, "/cast", headers={"Accept-Language": lang})
            assert r.status_code == status
            assert r.json() | {"title": title, "detail": detail} == r.json()


@pytest.mark.parametrize("path, body, field", [
    # urlparse raises on an IPv6 host left open
    ("/api/resources", feature(website="http://["), "website"),
    # a list where a code is expected: unhashable, it crashed the `in` test
    ("/api/resources", feature(surfaces=[{"crop_group": ["cereals"], "hectares": 1}]),
     "surfaces"),
    # a FeatureCollection whose one feature is not an object
    ("/api/gap", {"type": "FeatureCollection", "features": [3]}, "geometry"),
])
def test_bodies_that_once_were_500s_are_422s_naming_the_field(
        client: TestClient, world: World, path: str, body: object, field: str) -> None:
    r = client.post(path, json=body, headers=World.auth(world.editor))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"].startswith(field), r.json()
