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
