"""The indicator endpoints on the demo: JSON and CSV of every table, the evolution since the
programme's document, the network for Gephi, the comparison, and clear 400s naming the field."""

import csv
import io
from datetime import date

import networkx as nx
from fastapi.testclient import TestClient

from carto.indicators.tables import PROGRAMME


def _csv(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def test_indicators_json(client: TestClient) -> None:
    r = client.get("/api/territories/vauvert/indicators")
    assert r.status_code == 200
    body = r.json()
    terr = client.get("/api/territories/vauvert").json()["properties"]
    assert body["links"]["total"] == terr["links"]  # today: every public link of the demo
    assert sum(body["links"]["by_level"].values()) == terr["links"]
    assert body["links"]["by_level"] == {k: terr["links_by_level"].get(k, 0)
                                         for k in body["links"]["by_level"]}
    matrix = body["links"]["matrix"]
    assert set(matrix) == {"aid_associations", "territorial_structures", "public_associations",
                           "residents_volunteers", "producers_suppliers",
                           "social_workers_volunteers"}
    strong = sum(n for lv, n in body["links"]["by_level"].items() if int(lv) >= 3)
    assert body["links"]["strong_share"] == strong / terr["links"]
    assert body["labels"]["levels"]["3"] == "Mutualisation de moyens"
    assert body["network"]["most_connected"]
    en = client.get("/api/territories/vauvert/indicators?lang=en").json()
    assert en["labels"]["levels"]["3"] == "Pooling of means"


def test_before_the_document_there_was_no_link(client: TestClient) -> None:
    body = client.get("/api/territories/vauvert/indicators?at=2019-11-17").json()
    assert body["links"]["total"] == 0 and body["at"] == "2019-11-17"
    assert client.get("/api/territories/vauvert/indicators?at=2019-11-18"
                      ).json()["links"]["total"] > 0


def test_every_table_as_csv(client: TestClient) -> None:
    total = client.get("/api/territories/pezenas/indicators").json()["links"]["total"]
    for table in ("summary", "matrix", "resources", "kind_pairs", "actors"):
        r = client.get(f"/api/territories/pezenas/indicators?format=csv&table={table}")
        assert r.status_code == 200, (table, r.text)
        assert r.headers["content-type"].startswith("text/csv")
        assert f"-{table}.csv" in r.headers["content-disposition"]
        assert _csv(r.text), table
    matrix = _csv(client.get("/api/territories/pezenas/indicators?format=csv").text)
    assert sum(int(row["total"]) for row in matrix) == total
    assert matrix[0]["category_label"] == "Entre associations d'aide alimentaire"
    for table in ("changes", "indicators"):
        r = client.get(f"/api/territories/pezenas/evolution?from=2019-11-17&format=csv"
                       f"&table={table}")
        assert r.status_code == 200 and _csv(r.text)
    r = client.get("/api/territories/pezenas/opportunities?format=csv")
    assert r.status_code == 200 and r.text.startswith("rule,rule_label")
    r = client.get("/api/indicators/compare?format=csv")
    assert [row["territory"] for row in _csv(r.text)] == list(PROGRAMME)


def test_evolution_since_the_document(client: TestClient) -> None:
    total = client.get("/api/territories/frontignan/indicators").json()["links"]["total"]
    body = client.get("/api/territories/frontignan/evolution?from=2019-11-17").json()
    assert body["to"] == date.today().isoformat()
    assert len(body["created"]) == total and not body["ended"] and not body["moved_up"]
    assert body["sentence"].startswith(f"depuis le 17 novembre 2019 : {total} coopérations "
                                       "nouvelles")
    assert body["indicators"]["links"] == {"from": 0, "to": total, "change": total}


def test_network_for_gephi(client: TestClient) -> None:
    total = client.get("/api/territories/montpellier-celleneuve/indicators").json()
    for fmt, reader in (("gexf", nx.read_gexf), ("graphml", nx.read_graphml)):
        r = client.get(f"/api/territories/montpellier-celleneuve/network?format={fmt}")
        assert r.status_code == 200 and "xml" in r.headers["content-type"]
        g = reader(io.BytesIO(r.content))
        assert g.number_of_nodes() == total["network"]["actors"]
        assert g.number_of_edges() == total["network"]["pairs"]


def test_compare_the_six(client: TestClient) -> None:
    body = client.get("/api/indicators/compare").json()
    assert [c["territory"]["slug"] for c in body["territories"]] == list(PROGRAMME)
    two = client.get("/api/indicators/compare?territories=vauvert,pezenas").json()
    assert [c["territory"]["slug"] for c in two["territories"]] == ["vauvert", "pezenas"]
    vauvert = two["territories"][0]
    assert vauvert["indicators"]["links"] == sum(vauvert["links_by_level"].values())


def test_opportunities_api(client: TestClient) -> None:
    body = client.get("/api/territories/vauvert/opportunities?limit=3").json()
    assert body["limit_per_rule"] == 3
    per_rule: dict[str, int] = {}
    for o in body["opportunities"]:
        per_rule[o["rule"]] = per_rule.get(o["rule"], 0) + 1
        assert o["why"] and o["a"]["id"] != o["b"]["id"]
    assert all(n <= 3 for n in per_rule.values())


def test_bad_parameters_are_400_naming_the_field(client: TestClient) -> None:
    for url, field in (
        ("/api/territories/vauvert/indicators?at=hier", "at"),
        ("/api/territories/vauvert/indicators?format=xlsx", "format"),
        ("/api/territories/vauvert/indicators?format=csv&table=nope", "table"),
        ("/api/territories/vauvert/evolution?from=2024-05-01&to=2024-01-01", "from"),
        ("/api/territories/vauvert/evolution?from=x", "from"),
        ("/api/territories/vauvert/opportunities?limit=0", "limit"),
        ("/api/territories/vauvert/opportunities?limit=1000", "limit"),
        ("/api/territories/vauvert/network?format=csv", "format"),
        ("/api/indicators/compare?at=hier", "at"),
        ("/api/territories/vauvert/indicators?date=2024-01-01", "date"),  # unknown parameter
    ):
        r = client.get(url)
        assert r.status_code == 400, (url, r.status_code, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (url, r.json())
    assert client.get("/api/territories/atlantide/indicators").status_code == 404
    unknown = client.get("/api/indicators/compare?territories=vauvert,atlantide")
    assert unknown.status_code == 404, unknown.text  # an unknown slug, as everywhere
    assert [e["field"] for e in unknown.json()["errors"]] == ["territories"]
    assert client.get("/api/territories/vauvert/evolution").status_code == 400
