"""GET parameters documented exactly (issue 10 §6): what /openapi.json says of a code list, a
day or INSEE codes is what carto.params parses, and each refusal the schema now states is a
400 naming the parameter (an unknown territory named in a query: a 404 naming it)."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carto import params, vocab

FEATURES = "/territories/frontignan/map/features.json"
BOX = "3.6,43.3,3.9,43.5"


def _fields(response: Any) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return [e["field"] for e in response.json()["errors"]]


def _schema(spec: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    [found] = [p["schema"] for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name]
    return dict(found)


@pytest.mark.parametrize("path, query, field", [
    ("/api/gap", {"communes": "abc"}, "communes"),
    ("/api/gap", {"communes": "34108,"}, "communes"),
    ("/api/gap", {"communes": "34108, 34301"}, "communes"),
    ("/api/gap", {"communes": "99999"}, "communes"),  # the shape of a code, but unknown
    ("/api/gap/communes", {"departments": "3 4"}, "departments"),
    ("/api/gap/communes", {"departments": ""}, "departments"),
    ("/api/gap/communes", {"departments": "99"}, "departments"),  # no commune known there
    ("/api/gap/communes", {}, "departments"),  # neither
    ("/api/gap/communes", {"departments": "48", "territory": "frontignan"}, "departments"),
    (FEATURES, {"bbox": ""}, "bbox"),
    (FEATURES, {"bbox": BOX, "kinds": ","}, "kinds"),
    (FEATURES, {"bbox": BOX, "kinds": " producer"}, "kinds"),
    (FEATURES, {"bbox": BOX, "kinds": "unicorn"}, "kinds"),
    (FEATURES, {"bbox": BOX, "categories": "producers_suppliers,"}, "categories"),
    *((path, {name: value}, name) for path, name, value in (  # one parameter, named
        ("/api/resources", "bbox", ""), ("/api/resources", "kind", "producer, market"),
        ("/api/resources", "kind", ""), ("/api/resources", "product", "caviar"),
        ("/api/resources", "status", "ended"), ("/api/resources", "limit", "0"),
        ("/api/links", "category", "friends"), ("/api/links", "status", "draft"),
        ("/api/links", "cursor", "abc"))),
    ("/api/territories/frontignan/evolution", {"from": "2026-13-01"}, "from"),
    ("/api/territories/frontignan/evolution", {"from": "20260101"}, "from"),
    ("/api/territories/frontignan/evolution", {"from": ""}, "from"),
    ("/api/territories/frontignan/evolution", {"from": "2025-01-01", "to": "2025-02-30"}, "to"),
    ("/api/territories/frontignan/evolution", {"from": "2025-02-01", "to": "2025-01-01"}, "from"),
    ("/api/territories/frontignan/indicators", {"at": ""}, "at"),
    ("/api/territories/frontignan/indicators", {"at": "2026-W01-1"}, "at"),
])
def test_a_documented_refusal_is_a_400_naming_the_parameter(
        client: TestClient, path: str, query: dict[str, str], field: str) -> None:
    response = client.get(path, params=query)
    assert response.status_code == 400, (path, query, response.text)
    assert field in _fields(response), (path, query)
    assert response.json()["errors"][0]["message"]
    english = client.get(path, params=query | {"lang": "en"})
    assert english.json()["errors"][0]["message"] != response.json()["errors"][0]["message"]


def test_what_the_schemas_allow_is_accepted(client: TestClient) -> None:
    """The valid side of the same rules: comma-separated and repeated codes, an empty layer
    list (every layer off), days, commune and department codes."""
    ok = [
        ("/api/gap", {"communes": "34108,34301"}),
        ("/api/gap/communes", {"departments": "48"}),
        (FEATURES, {"bbox": BOX, "kinds": ""}),
        (FEATURES, {"bbox": BOX, "kinds": "producer,market", "categories": ""}),
        ("/api/resources", {"kind": "producer,market", "status": "active,closed"}),
        ("/api/links", {"status": "active,ended", "category": "producers_suppliers"}),
        ("/api/territories/frontignan/evolution", {"from": "2024-01-01", "to": "2025-01-01"}),
        ("/api/territories/frontignan/indicators", {"at": "2025-06-30"}),
    ]
    for path, query in ok:
        assert client.get(path, params=query).status_code == 200, (path, query)
    none = client.get(FEATURES, params={"bbox": "-180,-90,180,90", "kinds": ""}).json()
    assert none == {"mode": "points", "resources": [], "count": 0, "links": [],
                    "links_truncated": False}


@pytest.mark.parametrize("path", ["/api/resources", "/api/links"])
def test_an_unknown_territory_in_a_query_is_a_404_naming_it(client: TestClient,
                                                           path: str) -> None:
    """As the moderation queue's (territories.filter_id): it names something that is not there,
    which no schema can know; a 400 would say the request was malformed."""
    response = client.get(path, params={"territory": "atlantis"})
    assert response.status_code == 404 and _fields(response) == ["territory"]


def test_the_schemas_come_from_what_parses_them(client: TestClient) -> None:
    """One definition each (docs/conventions.md, "Request parameters"): the code pattern that
    POST /api/kinds takes, the statuses' tuples, the INSEE patterns, `format: date`."""
    spec = client.get("/openapi.json").json()
    kind = _schema(spec, "/api/resources", "kind")["items"]
    assert kind["pattern"] == params.codes_pattern() and kind["format"] == "kind-codes"
    assert spec["components"]["schemas"]["KindIn"]["properties"]["code"]["pattern"] == \
        f"^{params.CODE_PATTERN}$"
    layers = _schema(spec, "/territories/{slug}/map/features.json", "kinds")
    assert layers["pattern"] == params.codes_pattern(empty=True)
    status = _schema(spec, "/api/links", "status")["items"]["pattern"]
    assert status == params.fixed_codes_schema(vocab.LINK_STATUSES)["items"]["pattern"]
    assert re.fullmatch(status, "active,ended") and not re.fullmatch(status, "draft")
    assert _schema(spec, "/api/gap", "communes")["pattern"] == \
        params.COMMUNE_CODES_SCHEMA["pattern"]
    assert _schema(spec, "/api/gap/communes", "departments")["pattern"] == \
        params.DEPARTMENT_CODES_SCHEMA["pattern"]
    evolution = "/api/territories/{slug}/evolution"
    assert _schema(spec, evolution, "from")["format"] == "date"
    assert _schema(spec, evolution, "to")["format"] == "date"
    assert _schema(spec, "/api/resources", "limit")["minimum"] == 1
    assert "Exactly one of `departments` and `territory`" in \
        spec["paths"]["/api/gap/communes"]["get"]["description"]


def test_every_vocabulary_code_has_the_documented_shape() -> None:
    """A code list's pattern (carto.params.CODE_PATTERN) must hold every code a vocabulary has,
    else the OpenAPI would refuse a valid one."""
    code = re.compile(f"^{params.CODE_PATTERN}$")
    for terms in (vocab.seed_kinds(), vocab.food_groups(), vocab.categories(),
                  vocab.access_conditions(), vocab.RESOURCE_STATUSES, vocab.LINK_STATUSES):
        assert [c for c in terms if not code.fullmatch(c)] == []
    assert vocab.KIND_EXAMPLE in vocab.seed_kinds()  # the example every database has
