"""One rule for query strings (issue 10 §6): an unknown parameter is a 400 naming it, on every
operation of the API; no GET parameter answers 422; pages keep what their scripts send."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.apiworld import World, feature


def _operations(client: TestClient, method: str) -> list[tuple[str, list[str]]]:
    spec = client.get("/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        if method in ops:
            names = [p["name"] for p in ops[method].get("parameters", []) if p["in"] == "query"]
            out.append((path, names))
    return out


def _concrete(path: str) -> str:
    return (path.replace("{slug}", "frontignan").replace("{code}", "producer")
            .replace("{resource_id}", str(uuid.uuid4())).replace("{link_id}", str(uuid.uuid4())))


def _field(response: Any) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return [e["field"] for e in response.json()["errors"]]


def test_a_misspelt_filter_is_refused_not_ignored(client: TestClient) -> None:
    """The issue's case: `territry` used to return every territory."""
    response = client.get("/api/resources", params={"territry": "frontignan"})
    assert response.status_code == 400
    assert _field(response) == ["territry"]
    assert "territory" in response.json()["errors"][0]["message"]  # what was expected


def test_every_get_operation_refuses_an_unknown_parameter(client: TestClient) -> None:
    operations = _operations(client, "get")
    assert len(operations) > 20
    for path, _ in operations:
        response = client.get(_concrete(path), params={"zzz_unknown": "1"})
        assert response.status_code == 400, (path, response.status_code, response.text)
        assert "zzz_unknown" in _field(response), path


def test_no_get_parameter_answers_422(client: TestClient) -> None:
    """A NUL character (PostgreSQL refuses it in text) or an absurd value in any declared
    parameter is a 400 naming a parameter, never a 422 or a 500."""
    for path, names in _operations(client, "get"):
        for name in names:
            for value in ("\x00", "x\x00y", "99999999999999999999", "nan", ""):
                response = client.get(_concrete(path), params={name: value})
                assert response.status_code not in (422, 500), (path, name, value, response.text)
                if response.status_code == 400:
                    assert _field(response), (path, name, value)
            nul = client.get(_concrete(path), params={name: "a\x00"})
            assert nul.status_code == 400 and name in _field(nul), (path, name)


def test_lang_is_accepted_everywhere(client: TestClient) -> None:
    """The language of messages (api.problems) is a parameter of every operation."""
    for path, _ in _operations(client, "get"):
        response = client.get(_concrete(path), params={"lang": "en", "zzz_unknown": "1"})
        assert _field(response) == ["zzz_unknown"], path
        assert "unknown parameter" in response.json()["errors"][0]["message"], path


def test_an_unknown_parameter_on_a_write_is_a_400_too(client: TestClient, world: World) -> None:
    response = client.post("/api/resources", params={"dry_run": "1"},
                           headers=World.auth(world.editor), json=feature(name="Jamais créé"))
    assert response.status_code == 400
    assert _field(response) == ["dry_run"]


@pytest.mark.parametrize("url", [
    "/?lang=en",
    "/territories/frontignan?lang=en",
    "/territories/frontignan/map.html?lang=en",
    "/nearby?lang=en&commune=34108&label=Frontignan&kind=producer,market&radius_km=10&open=1",
    "/nearby?lat=43.44&lon=3.75&from=map&access=unconditional",
    "/nearby?utm_source=newsletter",  # a shared link gains parameters of its own
    "/docs",
    "/territories/frontignan/gap?lang=en",
])
def test_pages_keep_what_they_are_sent(client: TestClient, url: str) -> None:
    assert client.get(url).status_code == 200, url


def test_what_the_page_scripts_send_is_accepted(client: TestClient) -> None:
    """The parameters static/js/nearby.js and terreau-map.js put in their requests."""
    assert client.get("/api/nearby", params=[
        ("commune", "34108"), ("kind", "producer"), ("kind", "market"), ("product", "vegetables"),
        ("radius_km", "30"), ("limit", "50"), ("open_at", "now"), ("access", "unconditional"),
        ("lang", "en")]).status_code == 200
    assert client.get("/api/nearby/suggest", params={"q": "front", "lang": "en"}).status_code == 200
    assert client.get("/territories/frontignan/map/features.json", params={
        "bbox": "3.6,43.3,3.9,43.5", "zoom": "12", "kinds": "producer", "min_level": "2",
        "categories": "producers_suppliers"}).status_code == 200
    assert client.get("/territories/frontignan/map/search.json",
                      params={"q": "jardin"}).status_code == 200


def test_the_rule_runs_before_dependencies_and_leaves_a_405_alone(client: TestClient) -> None:
    """api.query.install checks the query string once routing has chosen the operation, not as
    an app-wide dependency (FastAPI's solving of one cost /api/nearby more than the check): a
    method the route does not serve is still its 405, a write without a token its 401 only once
    the query string is right."""
    assert not client.app.router.dependencies  # type: ignore[attr-defined]
    assert client.delete("/api/nearby", params={"zzz_unknown": "1"}).status_code == 405
    refused = client.post("/api/resources", params={"zzz_unknown": "1"}, json={})
    assert refused.status_code == 400 and _field(refused) == ["zzz_unknown"]
    assert client.post("/api/resources", json={}).status_code == 401
