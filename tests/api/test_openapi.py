"""/openapi.json tells the truth about errors (issue 10 §6): problem+json with one schema, 400
for query parameters (never FastAPI's 422 HTTPValidationError), the write statuses, CSV bodies;
and real error answers match the documented Problem schema."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.openapi import PROBLEM_SCHEMA
from tests.apiworld import World


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    return client.get("/openapi.json").json()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items()
            for method, op in item.items() if isinstance(op, dict) and "responses" in op]


def test_every_error_response_is_a_problem(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    wrong = []
    for path, method, op in _operations(spec):
        if path.startswith("/ogc"):
            continue  # OGC API Features documents itself at /ogc/api
        codes = op["responses"]
        if "400" not in codes or "503" not in codes:
            wrong.append(f"{method} {path}: no 400/503")
        for code, response in codes.items():
            if code.startswith(("4", "5")):
                content = response.get("content", {})
                if "application/problem+json" not in content:
                    wrong.append(f"{method} {path} {code}: {sorted(content)}")
    assert wrong == []


def test_writes_document_their_statuses(spec: dict[str, Any]) -> None:
    patch = spec["paths"]["/api/resources/{resource_id}"]["patch"]["responses"]
    assert {"401", "403", "404", "409", "412", "413", "422", "428"} <= set(patch)
    # If-Match is a declared header, required where its absence is a 428, with the pattern
    # the parser uses (api.http.IF_MATCH_PATTERN)
    from api.http import IF_MATCH_PATTERN
    for method, path, required in [
            ("patch", "/api/resources/{resource_id}", True),
            ("delete", "/api/resources/{resource_id}", True),
            ("patch", "/api/links/{link_id}", True), ("delete", "/api/links/{link_id}", True),
            ("post", "/api/resources/{resource_id}/merge", True),
            ("post", "/api/resources/{resource_id}/restore", False),
            ("post", "/api/links/{link_id}/validate", False)]:
        op = spec["paths"][path][method]
        header = [p for p in op["parameters"] if p["name"] == "If-Match"]
        assert header and header[0]["in"] == "header", (method, path)
        assert header[0]["required"] is required, (method, path)
        assert header[0]["schema"]["pattern"] == IF_MATCH_PATTERN
        assert "412" in op["responses"], (method, path)
    nearby = spec["paths"]["/api/nearby"]["get"]["responses"]
    assert "429" in nearby and "422" not in nearby
    csv = spec["paths"]["/api/resources"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in csv


def _matches(body: Any, schema: dict[str, Any]) -> list[str]:
    """Enough of JSON Schema for the Problem document (no validator dependency)."""
    problems = [f"missing {k}" for k in schema["required"] if k not in body]
    kinds = {"string": str, "integer": int, "array": list, "object": dict}
    for key, rule in schema["properties"].items():
        if key in body and not isinstance(body[key], kinds[rule["type"]]):
            problems.append(f"{key} is not a {rule['type']}")
    for item in body.get("errors", []):
        problems += [f"errors item lacks {k}" for k in ("field", "message") if k not in item]
    return problems


def test_real_errors_match_the_documented_schema(client: TestClient, world: World) -> None:
    answers = [
        client.get("/api/resources", params={"bbox": "x"}),
        client.get("/api/resources", params={"territry": "frontignan"}),
        client.get("/api/resources/00000000-0000-0000-0000-000000000000"),
        client.post("/api/resources", json={}),
        client.post("/api/resources", json={"type": "Feature"}, headers=World.auth(world.editor)),
        client.patch("/api/resources/00000000-0000-0000-0000-000000000000", json={},
                     headers=World.auth(world.editor)),
        client.get("/api/nearby", params={"commune": "Saint-Brès"}),
        client.get("/nowhere"),
    ]
    for r in answers:
        assert r.status_code >= 400 and r.headers["content-type"].startswith(
            "application/problem+json"), (r.request.url, r.status_code)
        assert _matches(r.json(), PROBLEM_SCHEMA) == [], r.request.url


# ------------------------------------------------------------------ success responses

NO_BODY = {"204", "304"}


def test_every_success_documents_its_body_with_a_schema(spec: dict[str, Any]) -> None:
    """Each 2xx of each operation (a 204 aside) names its media types, each with a schema;
    api/responses.py lists no operation that does not exist."""
    from api.responses import SUCCESS

    missing, seen = [], set()
    for path, method, op in _operations(spec):
        seen.add((method, path))
        for code, response in op["responses"].items():
            if not code.startswith("2") or code in NO_BODY:
                continue
            content = response.get("content") or {}
            if not content or any("schema" not in body for body in content.values()):
                missing.append(f"{method.upper()} {path} {code}")
    assert missing == []
    assert sorted(set(SUCCESS) - seen) == []
    # bodies that are not JSON are named as what they are
    network = spec["paths"]["/api/territories/{slug}/network"]["get"]["responses"]["200"]
    assert set(network["content"]) == {"application/gexf+xml", "application/graphml+xml"}
    template = spec["paths"]["/api/imports/template"]["get"]["responses"]["200"]["content"]
    assert "application/json" not in template


def _samples(session: Any) -> dict[str, str]:
    from sqlalchemy import text

    rid = session.scalar(text("SELECT r.id FROM resource r JOIN resource_territory rt ON "
                              "rt.resource_id = r.id JOIN territory t ON t.id = rt.territory_id "
                              "WHERE t.slug = 'frontignan' AND r.deleted_at IS NULL LIMIT 1"))
    lid = session.scalar(text("SELECT l.id FROM link l JOIN territory t ON t.id = l.territory_id "
                              "WHERE t.slug = 'frontignan' AND l.deleted_at IS NULL LIMIT 1"))
    return {"slug": "frontignan", "resource_id": str(rid), "link_id": str(lid),
            "layer": "resources", "z": "0", "x": "0", "y": "0", "code": "producer"}


# what each read needs to answer 200 on the demo
QUERIES = {
    "/api/moderation": {"territory": "frontignan"},
    "/api/gap": {"communes": "34108"},
    "/api/gap/communes": {"territory": "frontignan"},
    "/api/nearby": {"commune": "34108"},
    "/api/nearby/suggest": {"q": "mont"},
    "/api/territories/{slug}/evolution": {"from": "2019-01-01"},
    "/api/territories/{slug}/export": {"format": "geojson"},
    "/territories/{slug}/map/features.json": {"bbox": "3.6,43.4,3.9,43.5"},
    "/territories/{slug}/map/search.json": {"q": "a"},
}


def test_real_successes_match_their_documented_schemas(client: TestClient, world: World,
                                                       session: Any,
                                                       spec: dict[str, Any]) -> None:
    """Every GET of the OpenAPI, with an admin's token on the demo: a 200 whose JSON body
    validates against the schema documented for its media type."""
    import jsonschema

    values = _samples(session)
    checked, wrong = 0, []
    for path, method, op in _operations(spec):
        if method != "get" or path.startswith(("/ogc", "/api/workshops/")):
            continue  # /ogc: its own document; workshops: none in the demo (test_workshops.py)
        url = path
        for name, value in values.items():
            url = url.replace("{" + name + "}", value)
        r = client.get(url, params=QUERIES.get(path, {}), headers=World.auth(world.admin))
        if r.status_code != 200:
            wrong.append(f"{path}: {r.status_code} {r.text[:200]}")
            continue
        media = r.headers["content-type"].split(";")[0]
        documented = op["responses"]["200"]["content"]
        if media not in documented:
            wrong.append(f"{path}: {media} not documented ({sorted(documented)})")
            continue
        if media.endswith("json"):
            schema = documented[media]["schema"]
            errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(
                r.json())]
            if errors:
                wrong.append(f"{path}: {errors[:3]}")
        checked += 1
    assert wrong == []
    assert checked >= 35


GAP_ANALYSES = [("get", "/api/territories/{slug}/gap"), ("get", "/api/gap"), ("post", "/api/gap")]


def test_the_gap_answer_is_described_once_with_its_unknowns_nullable(
        spec: dict[str, Any]) -> None:
    """One description (api.responses.GapOut) for every analysis, with what may be unknown
    nullable; the router keeps no second copy."""
    from pydantic import BaseModel

    import api.routers.gap as gap_router
    from api.responses import GAP

    for method, path in GAP_ANALYSES:
        ok = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == GAP, path
    assert {"perimeter", "scenario", "population", "groups", "totals", "known",
            "summary"} <= set(GAP["required"])
    group = GAP["properties"]["groups"]["items"]["properties"]
    for unknown in ("coverage", "shortfall_t", "land_to_close_ha", "farmland_ha"):
        assert {"type": "null"} in group[unknown]["anyOf"], unknown
    assert {"type": "null"} in GAP["properties"]["totals"]["properties"]["coverage_capped"][
        "anyOf"]
    assert "$ref" not in str(GAP)  # self-contained: it is read outside the document too
    copies = [name for name, value in vars(gap_router).items()
              if isinstance(value, type) and issubclass(value, BaseModel)
              and name.startswith("Gap")]
    assert copies == []


def test_choices_are_documented_as_the_values_the_parser_takes(spec: dict[str, Any],
                                                               client: TestClient) -> None:
    """A format is an enum in the OpenAPI, from the tuple `params.choice` checks against."""
    from api.routers import gap as gap_router
    from api.routers import indicators

    for path, allowed in [("/api/gap", gap_router.FORMATS),
                          ("/api/territories/{slug}/indicators", indicators.FORMATS),
                          ("/api/indicators/compare", indicators.FORMATS),
                          ("/api/territories/{slug}/network", indicators.GRAPH_FORMATS)]:
        fmt = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "format"]
        assert fmt[0]["schema"]["enum"] == list(allowed), path
    wrong = client.get("/api/territories/frontignan/gap", params={"format": "xml"})
    assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "format"


def test_scenario_parameters_carry_the_bounds_the_scenario_checks(
        spec: dict[str, Any], client: TestClient) -> None:
    from carto import gap
    from carto.config import gap_settings

    documented = {p["name"]: p["schema"] for p in
                  spec["paths"]["/api/territories/{slug}/gap"]["get"]["parameters"]}
    assert documented["diet"]["enum"] == list(gap.load_coefficients().diet_codes)
    assert documented["radius_km"]["maximum"] == gap_settings().max_radius_km
    for share in ("organic_share", "relocalised_share", "waste_reduction"):
        assert (documented[share]["minimum"], documented[share]["maximum"]) == (0, 1)
    # at the bounds: accepted; past them, or an empty diet: a 400 naming the parameter
    url = "/api/territories/frontignan/gap"
    edge = {"radius_km": gap_settings().max_radius_km, "organic_share": 1, "waste_reduction": 0}
    assert client.get(url, params=edge).status_code == 200
    for name, value in [("diet", ""), ("organic_share", "1.01"), ("radius_km", "-1")]:
        wrong = client.get(url, params={name: value})
        assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == name, name
