"""Request bodies are refused exactly as /openapi.json documents them (issue 10 §6): each
refusal below is a 4xx naming its member, the same that the body's schema states, so that
schemathesis's positive-data check holds on POST /api/tokens, /api/workshops, /api/gap and
/api/gap/overrides (tests/api/test_schemathesis.py)."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carto.validation import unstorable
from tests.apiworld import World, feature

SQUARE = {"type": "Polygon", "coordinates": [[[3.7, 43.4], [3.8, 43.4], [3.8, 43.5],
                                              [3.7, 43.5], [3.7, 43.4]]]}


def _fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


def test_a_nul_in_a_key_or_a_value_is_found_with_its_path() -> None:
    assert unstorable({"a": [1, {"b": "x\x00"}]}) == ("a.1.b", "error.validation.nul")
    assert unstorable({"properties": {"na\x00me": 1}}) == ("properties.na\\u0000me",
                                                         "error.validation.nul")
    assert unstorable({"é\ud800": 1}) == ("é\\ud800", "error.body.surrogate")
    assert unstorable({"a": "é ✓"}) is None


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/api/workshops", {"territory": "api-a", "title": "x\x00", "date": "2026-12-05",
                        "ends_at": "2099-01-01T10:00:00+01:00"}, "title"),
    ("/api/tokens", {"role": "editor", "territory": "api-a", "name": "\x00"}, "name"),
    ("/api/gap", {"type": "Feature", "geometry": SQUARE, "properties": {"x\x00": 1}},
     "properties.x\\u0000"),
])
def test_a_nul_in_any_json_body_is_a_422_naming_it(client: TestClient, world: World, path: str,
                                                   body: dict[str, Any], field: str) -> None:
    r = client.post(path, json=body, headers=World.auth(world.admin))
    assert r.status_code == 422 and _fields(r) == [field], r.text
    patch = client.patch("/api/resources/00000000-0000-0000-0000-000000000000",
                         json={"properties": {"na\x00me": "x"}},
                         headers={"If-Match": '"1"', **World.auth(world.editor)})
    assert patch.status_code == 422 and _fields(patch) == ["properties.na\\u0000me"]


@pytest.mark.parametrize("content_type", [None, "application/json", "application/geo+json"])
def test_a_nul_is_refused_before_the_handler_whatever_json_it_is_sent_as(
        client: TestClient, world: World, content_type: str | None) -> None:
    """No handler checks its JSON body's strings: api.limits does, for every body FastAPI reads
    as JSON (no Content-Type at all included), on resources, links and their moderation."""
    headers = {**World.auth(world.editor), **({"Content-Type": content_type}
                                              if content_type else {})}
    bodies = [("/api/resources", {"type": "Feature", "properties": {"name": "a\x00"}},
               "properties.name"),
              ("/api/links", {"source": "x\x00"}, "source"),
              ("/api/resources/00000000-0000-0000-0000-000000000000/reject",
               {"reason": "\x00"}, "reason")]
    for path, body, field in bodies:
        r = client.post(path, content=json.dumps(body), headers=headers)
        assert r.status_code == 422 and _fields(r) == [field], (path, r.text)


def test_the_openapi_says_a_body_string_or_key_holds_no_nul(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    workshop = spec["components"]["schemas"]["WorkshopIn"]["properties"]
    assert workshop["place"]["anyOf"][0]["pattern"] == r"^[^\x00]*$"
    gap_body = spec["paths"]["/api/gap"]["post"]["requestBody"]["content"]["application/json"]
    assert gap_body["schema"]["oneOf"][2]["propertyNames"] == {"pattern": r"^[^\x00]*$"}


@pytest.mark.parametrize(("body", "field"), [
    ({"ends_at": "2099-01-01 10:00:00+01:00"}, "ends_at"),  # a space is not RFC 3339
    ({"ends_at": "2099-01-01T10:00+01:00"}, "ends_at"),  # nor a time without seconds
    ({"ends_at": "2099-01-01T10:00:00"}, "ends_at"),  # nor one without its offset
    ({"date": "20991205"}, "date"),  # YYYY-MM-DD only, as carto.params.day
    ({"date": "2099-W01-1"}, "date"),
    ({"title": "   "}, "title"),
])
def test_a_workshop_takes_rfc_3339_moments_and_days(client: TestClient, world: World,
                                                    body: dict[str, Any], field: str) -> None:
    base = {"territory": "api-a", "title": "Atelier", "date": "2099-12-05",
            "ends_at": "2099-12-05T18:00:00+01:00"}
    r = client.post("/api/workshops", json=base | body, headers=World.auth(world.editor))
    assert r.status_code == 422 and _fields(r) == [field], r.text
    ok = client.post("/api/workshops", json=base | {"ends_at": "2099-12-05t17:00:00.5z"},
                     headers=World.auth(world.editor))
    assert ok.status_code == 201, ok.text


def test_a_token_names_its_unknown_territory(client: TestClient, world: World) -> None:
    r = client.post("/api/tokens", json={"role": "admin", "territory": "atlantis"},
                    headers=World.auth(world.admin))
    assert r.status_code == 404 and _fields(r) == ["territory"], r.text
    schema = client.get("/openapi.json").json()["components"]["schemas"]["TokenIn"]
    assert schema["properties"]["role"]["enum"] == ["contributor", "editor", "admin"]


@pytest.mark.parametrize(("change", "field"), [
    ({"value": True}, "value"),  # a boolean is not a number
    ({"value": "21.5"}, "value"),  # nor is a text
    ({"year": 2023.5}, "year"),
    ({"year": False}, "year"),
    ({"department": "zz"}, "department"),  # the documented pattern
])
def test_an_override_takes_numbers_only(client: TestClient, world: World,
                                        change: dict[str, Any], field: str) -> None:
    body = {"parameter": "yield_t_ha", "product": "vegetables", "value": 21.5,
            "source": "Chambre", "territory": "api-a"} | change
    r = client.post("/api/gap/overrides", json=body, headers=World.auth(world.admin))
    assert r.status_code == 422 and field in _fields(r), r.text


@pytest.mark.parametrize(("properties", "field"), [
    ({"population": "1200", "population_source": "INSEE"}, "population"),
    ({"population": True, "population_source": "INSEE"}, "population"),
    ({"population": 10**400, "population_source": "INSEE"}, "population"),
    ({"population": 1200, "population_source": 5}, "population_source"),
    ({"name": ["a"]}, "name"),
])
def test_a_perimeter_takes_its_properties_as_documented(client: TestClient, world: World,
                                                        properties: dict[str, Any],
                                                        field: str) -> None:
    r = client.post("/api/gap", json={"type": "Feature", "geometry": SQUARE,
                                      "properties": properties})
    assert r.status_code == 422 and _fields(r) == [field], r.text


def _two_resources(client: TestClient, world: World) -> tuple[str, str]:
    headers = World.auth(world.editor)
    ids = [client.post("/api/resources", json=feature(name=f"Bout {i}"), headers=headers)
           .json()["id"] for i in (1, 2)]
    return ids[0], ids[1]


@pytest.mark.parametrize(("change", "field"), [
    ({"started_on": "20260101"}, "started_on"),  # YYYY-MM-DD only, as carto.params.day
    ({"stakes": False}, "stakes"),  # an array or null, not any falsy value
    ({"level": 2.5}, "level"),
    ({"colour": "red"}, "colour"),
])
def test_a_link_takes_its_members_as_documented(client: TestClient, world: World,
                                                change: dict[str, Any], field: str) -> None:
    a, b = _two_resources(client, world)
    body = {"source": a, "target": b, "category": "aid_associations", "level": 2} | change
    r = client.post("/api/links", json=body, headers=World.auth(world.editor))
    assert r.status_code == 422 and field in _fields(r), r.text


def test_a_wrong_body_is_a_422_whatever_the_version(client: TestClient, world: World) -> None:
    """The body is checked before the version: a body its schema refuses is never a 412."""
    headers = World.auth(world.editor)
    a, b = _two_resources(client, world)
    link = client.post("/api/links", json={"source": a, "target": b, "level": 2,
                                           "category": "aid_associations"}, headers=headers)
    stale = {"If-Match": '"99"', **headers}
    r = client.patch(f"/api/links/{link.json()['id']}", json={"started_on": "2026-13-01"},
                     headers=stale)
    assert r.status_code == 422 and _fields(r) == ["started_on"], r.text
    r = client.patch(f"/api/resources/{a}", json={"properties": {"kind": 5}}, headers=stale)
    assert r.status_code == 422 and _fields(r) == ["kind"], r.text
    assert client.patch(f"/api/links/{link.json()['id']}", json={"level": 3},
                        headers=stale).status_code == 412  # a right body: then the version


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda f: f["geometry"].update(coordinates=[3.69, 43.40, False]), "geometry.coordinates.2"),
    (lambda f: f["geometry"].update(coordinates=[True, 43.40]), "geometry.coordinates.0"),
    (lambda f: f["geometry"].update(coordinates=["3.69", 43.40]), "geometry.coordinates.0"),
    (lambda f: f["properties"].update(force="yes"), "force"),
    (lambda f: f["properties"].update(commune="34301", commune_code="34301"), "commune"),
    (lambda f: f["properties"].update(is_private=None), "is_private"),
])
def test_a_resource_takes_its_members_as_documented(client: TestClient, world: World,
                                                    mutate: Any, field: str) -> None:
    body = feature()
    mutate(body)
    r = client.post("/api/resources", json=body, headers=World.auth(world.editor))
    assert r.status_code == 422 and field in _fields(r), r.text


def test_a_resource_position_may_be_integers_and_texts_may_be_cleared(client: TestClient,
                                                                      world: World) -> None:
    body = feature(point=(4, 43), force=True, email="", website="", phone="", opening_hours="")
    r = client.post("/api/resources", json=body, headers=World.auth(world.editor))
    assert r.status_code == 201, r.text
    assert r.json()["geometry"]["coordinates"] == [4.0, 43.0]


def test_resource_properties_have_one_schema(client: TestClient) -> None:
    """The OpenAPI's properties are carto.resources.properties_schema, for POST and PATCH."""
    from carto import resources

    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    created = schemas["ResourceFeatureIn"]["properties"]["properties"]
    assert set(created["properties"]) == set(resources.properties_schema()["properties"])
    assert created["required"] == ["name", "kind", "territories"]
    patched = schemas["ResourcePatchIn"]["properties"]["properties"]
    assert "required" not in patched and "workshop" not in patched["properties"]


def test_an_import_names_the_part_or_parameter_at_fault(client: TestClient, world: World) -> None:
    headers = World.auth(world.editor)
    good = ("ressources.csv", b"nom,type\nJardin,shared_garden\n", "text/csv")
    unknown = client.post("/api/imports", params={"territory": "atlantis"},
                          files={"file": good}, headers=headers)
    assert unknown.status_code == 404 and _fields(unknown) == ["territory"], unknown.text
    links = client.post("/api/imports", params={"territory": "api-a"}, headers=headers,
                        files={"file": good, "links": ("liens.xlsx", b"not a workbook",
                                                       "application/octet-stream")})
    assert links.status_code == 422 and _fields(links) == ["links"], links.text
    fmt = client.post("/api/imports", params={"territory": "api-a", "format": "pdf"},
                      files={"file": good}, headers=headers)
    assert fmt.status_code == 400 and _fields(fmt) == ["format"], fmt.text
    spec = client.get("/openapi.json").json()
    part = spec["components"]["schemas"]["Body_post_import_api_imports_post"]["properties"]
    assert part["links"] == {"type": "string", "contentMediaType": "application/octet-stream",
                             "title": "Links", "description": "links, in another file"}


def test_no_documented_body_pattern_lets_a_nul_through(client: TestClient) -> None:
    """api.limits refuses a NUL in any body string: a pattern that matched one would promise
    what the API refuses (schemathesis would send it as valid)."""
    import re

    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str) and re.search(pattern, "Ab1 \x00 .fr"):
                found.append(pattern)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    spec = client.get("/openapi.json").json()
    walk(spec["components"]["schemas"])
    walk([op.get("requestBody") for item in spec["paths"].values() for op in item.values()
          if isinstance(op, dict)])
    assert found == []
