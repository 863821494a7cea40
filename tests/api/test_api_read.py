"""Reads through the API: filters, search, paging, formats, visibility."""

import csv
import io
import json

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.apiworld import SETE, World, feature


def _ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def test_filters_by_territory_kind_and_product(client: TestClient) -> None:
    body = client.get("/api/resources", params={"territory": "vauvert"}).json()
    assert body["type"] == "FeatureCollection" and body["features"]
    assert all("vauvert" in f["properties"]["territories"] for f in body["features"])
    producers = client.get("/api/resources", params={"territory": "vauvert",
                                                     "kind": "producer"}).json()
    assert producers["features"] and all(f["properties"]["kind"] == "producer"
                                         for f in producers["features"])
    two = client.get("/api/resources", params=[("territory", "vauvert"), ("kind", "producer"),
                                               ("kind", "food_aid")]).json()
    assert {f["properties"]["kind"] for f in two["features"]} == {"producer", "food_aid"}
    fruit = client.get("/api/resources", params={"product": "fruits"}).json()
    assert fruit["features"] and all("fruits" in f["properties"]["products"]
                                     for f in fruit["features"])


def test_unknown_filter_values_are_errors_not_empty_answers(client: TestClient) -> None:
    for params, field in (({"kind": "ufo"}, "kind"),
                          ({"product": "caviar"}, "product"), ({"bbox": "1,2,3"}, "bbox"),
                          ({"bbox": "4,44,3,43"}, "bbox"), ({"cursor": "%%%"}, "cursor"),
                          ({"status": "sleeping"}, "status")):
        response = client.get("/api/resources", params=params)
        assert response.status_code == 400, params  # parameters: 400; bodies: 422
        assert field in {e["field"] for e in response.json()["errors"]}
    # a territory that is not there: a 404 naming it (territories.filter_id)
    response = client.get("/api/resources", params={"territory": "atlantis"})
    assert response.status_code == 404 and response.json()["errors"][0]["field"] == "territory"
    assert client.get("/api/links", params={"category": "friendship"}).status_code == 400
    assert client.get("/api/links", params={"min_level": 9}).status_code == 400


def test_text_search_ignores_accents_and_case(client: TestClient) -> None:
    accented = client.get("/api/resources", params={"q": "Épicerie"}).json()
    plain = client.get("/api/resources", params={"q": "epicerie"}).json()
    assert accented["features"] and _ids(accented) == _ids(plain)
    assert any("Épicerie" in f["properties"]["name"] or "épicerie" in f["properties"]["name"]
               for f in plain["features"])
    coeur = client.get("/api/resources", params={"q": "COEUR"}).json()
    assert any("Cœur" in f["properties"]["name"] for f in coeur["features"])
    assert client.get("/api/resources", params={"q": "100%_"}).json()["features"] == []


def test_bbox_and_limit(client: TestClient) -> None:
    box = "3.70,43.40,3.80,43.50"  # around Frontignan
    body = client.get("/api/resources", params={"bbox": box}).json()
    assert body["features"]
    for f in body["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 3.70 <= lon <= 3.80 and 43.40 <= lat <= 43.50
    clamped = client.get("/api/resources", params={"limit": 50000})
    assert clamped.status_code == 200  # clamped to 10,000, not refused


def test_keyset_paging_returns_every_row_once_while_rows_are_inserted(
        client: TestClient, world: World) -> None:
    everything = set(_ids(client.get("/api/resources", params={"limit": 10000}).json()))
    seen: list[str] = []
    url = "/api/resources?limit=7"
    inserted = 0
    while url:
        page = client.get(url).json()
        seen.extend(_ids(page))
        if inserted < 5:  # somebody adds resources while we page
            client.post("/api/resources", json=feature(name=f"Ajout {inserted}"),
                        headers=World.auth(world.editor))
            inserted += 1
        url = page.get("next")
    assert len(seen) == len(set(seen)), "a row came twice"
    assert everything <= set(seen), "a row was skipped"


def test_csv_has_the_same_rows_with_lon_lat(client: TestClient) -> None:
    geo = client.get("/api/resources", params={"territory": "pezenas"}).json()
    response = client.get("/api/resources", params={"territory": "pezenas", "format": "csv"})
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert [r["id"] for r in rows] == _ids(geo)
    first = geo["features"][0]
    assert float(rows[0]["lon"]) == first["geometry"]["coordinates"][0]
    assert rows[0]["name"] == first["properties"]["name"]
    links_csv = client.get("/api/links", params={"territory": "pezenas", "format": "csv"})
    assert links_csv.status_code == 200 and "level_label" in links_csv.text.splitlines()[0]


def test_members_only_and_private_persons(client: TestClient, world: World) -> None:
    editor = World.auth(world.editor)
    members = client.post("/api/resources", headers=editor, json=feature(
        name="Cuisine du centre social", visibility="members")).json()["id"]
    person = client.post("/api/resources", headers=editor, json=feature(
        name="Jardin de Mme R.", is_private=True, commune="34301",
        address="12 rue des Mouettes, Sète", phone="06 12 34 56 78",
        email="mme.r@example.org", point=(SETE[0] + 0.01, SETE[1] + 0.005))).json()["id"]
    public_ids = _ids(client.get("/api/resources", params={"territory": "api-a",
                                                           "limit": 10000}).json())
    assert members not in public_ids
    assert client.get(f"/api/resources/{members}").status_code == 404
    assert client.get(f"/api/resources/{members}",
                      headers=World.auth(world.contributor)).status_code == 200
    shown = client.get(f"/api/resources/{person}").json()
    exact = client.get(f"/api/resources/{person}", headers=editor).json()
    assert shown["properties"]["location_precision"] == "commune"
    assert shown["geometry"]["coordinates"] != exact["geometry"]["coordinates"]
    assert exact["geometry"]["coordinates"] == [SETE[0] + 0.01, SETE[1] + 0.005]
    for key in ("address", "phone", "email"):
        assert shown["properties"][key] is None and exact["properties"][key]
    in_csv = client.get("/api/resources", params={"territory": "api-a", "format": "csv"}).text
    assert str(SETE[0] + 0.01) not in in_csv
    assert "Mouettes" not in in_csv and "06 12" not in in_csv
    listed = client.get("/api/resources", params={"q": "Mme R"}).json()["features"]
    assert listed and listed[0]["properties"]["address"] is None
    assert "created_by" not in shown["properties"]


def test_links_of_a_territory_join_visible_ends(client: TestClient) -> None:
    body = client.get("/api/links", params={"territory": "frontignan"}).json()
    assert body["features"]
    props = body["features"][0]["properties"]
    assert {"source_id", "source_name", "source_kind", "target_id", "target_name",
            "target_kind", "category", "level", "level_label"} <= set(props)
    strong = client.get("/api/links", params={"territory": "frontignan", "min_level": 4}).json()
    assert all(f["properties"]["level"] >= 4 for f in strong["features"])
    resource = props["source_id"]
    touching = client.get("/api/links", params={"resource": resource}).json()
    assert all(resource in (f["properties"]["source_id"], f["properties"]["target_id"])
               for f in touching["features"])


def test_territory_detail_counts(client: TestClient) -> None:
    body = client.get("/api/territories/vauvert").json()
    props = body["properties"]
    listed = client.get("/api/resources", params={"territory": "vauvert", "limit": 10000}).json()
    assert props["resources"] == len(listed["features"]) == sum(
        props["resources_by_kind"].values())
    assert props["links"] == sum(props["links_by_level"].values()) == sum(
        props["links_by_category"].values())
    assert client.get("/api/territories/atlantis").status_code == 404


def test_vocabularies_have_both_languages(client: TestClient) -> None:
    kinds = client.get("/api/kinds").json()
    assert {"producer", "food_aid", "social_grocery"} <= {k["code"] for k in kinds}
    assert all(k["label_fr"] and k["label_en"] for k in kinds)
    assert len(client.get("/api/categories").json()) == 6
    levels = client.get("/api/levels").json()
    assert [lv["level"] for lv in levels] == [1, 2, 3, 4, 5]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12),
                                                                      children, max_size=5),
    max_leaves=20,
)
property_names = st.sampled_from(["name", "kind", "territories", "products", "opening_hours",
                                  "email", "website", "outputs", "surfaces", "commune",
                                  "visibility", "is_private", "access_conditions", "force",
                                  "location_precision", "phone", "status", "extra"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    json_values,
    st.fixed_dictionaries({
        "type": st.sampled_from(["Feature", "feature", 3]),
        "geometry": st.one_of(json_values, st.fixed_dictionaries({
            "type": st.just("Point"),
            "coordinates": st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3),
        })),
        "properties": st.dictionaries(property_names, json_values, max_size=8),
    }),
))
def test_random_json_never_gets_a_500(client: TestClient, world: World, body: object) -> None:
    raw = json.dumps(body)  # NaN and Infinity included, as a careless client would send them
    response = client.post("/api/resources", content=raw, headers=World.auth(world.editor)
                           | {"content-type": "application/json"})
    assert response.status_code < 500, response.text


link_keys = st.sampled_from(["source", "target", "category", "level", "stakes", "description",
                             "started_on", "status", "directed", "territory", "level_note",
                             "extra"])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(json_values, st.dictionaries(link_keys, json_values, max_size=8)))
def test_random_json_never_gets_a_500_on_links(client: TestClient, world: World,
                                               body: object) -> None:
    raw = json.dumps(body)
    response = client.post("/api/links", content=raw, headers=World.auth(world.admin)
                           | {"content-type": "application/json"})
    assert response.status_code < 500, response.text
