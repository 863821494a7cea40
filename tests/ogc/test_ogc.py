"""OGC API – Features at /ogc: what the standard and QGIS's provider ask for, and only what
readers may see, at the position readers are shown."""

import json
import re
import uuid
from datetime import UTC
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from sqlalchemy import text

from carto.db import transaction
from carto.ogc import CONFORMANCE, MAX_LIMIT, query
from tests.ogcworld import GARDEN, HOME, SLUG, OgcWorld, public_count

GEOJSON = "application/geo+json"


def _all(client: TestClient, url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every feature behind `url`, following `next` links; and every page read."""
    features: list[dict[str, Any]] = []
    pages = []
    next_url: str | None = url
    while next_url:
        r = client.get(next_url)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith(GEOJSON)
        page = r.json()
        pages.append(page)
        assert page["numberReturned"] == len(page["features"])
        features += page["features"]
        next_url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    return features, pages


def test_landing_page_links_what_qgis_and_gdal_look_for(client: TestClient) -> None:
    r = client.get("/ogc")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    links = {link["rel"]: link for link in r.json()["links"]}
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert links["service-desc"]["href"].endswith("/ogc/api")
    assert links["data"]["href"].endswith("/ogc/collections")
    assert links["conformance"]["href"].endswith("/ogc/conformance")
    assert all(link.get("type") for link in r.json()["links"])


def test_conformance_declares_core_geojson_html_oas30(client: TestClient) -> None:
    body = client.get("/ogc/conformance").json()
    assert body["conformsTo"] == CONFORMANCE
    assert {c.rsplit("/", 1)[1] for c in body["conformsTo"]} == {"core", "geojson", "html",
                                                                 "oas30"}


def test_api_is_a_valid_openapi_30_document_with_the_limit_qgis_reads(client: TestClient) -> None:
    r = client.get("/ogc/api")
    assert r.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = r.json()
    assert doc["openapi"] == "3.0.3"
    validate(doc)  # raises on an invalid OpenAPI 3.0 document
    limit = doc["components"]["parameters"]["limit"]["schema"]
    assert (limit["maximum"], limit["default"]) == (MAX_LIMIT, 10)
    items = doc["paths"]["/collections/resources/items"]["get"]["parameters"]
    assert {"$ref": "#/components/parameters/limit"} in items
    assert any(p.get("name") == "kind" for p in items)


def test_collections_list_every_kind_with_extent_crs_and_items_link(
        client: TestClient, ogc_world: OgcWorld) -> None:
    body = client.get("/ogc/collections").json()
    ids = [c["id"] for c in body["collections"]]
    with transaction(str(client.app.state.database_url)) as session:  # type: ignore[attr-defined]
        kinds = list(session.scalars(text("SELECT code FROM resource_kind")))
    assert {"territories", "resources", "links", "communes"} <= set(ids)
    assert {f"resources-{k}" for k in kinds} <= set(ids)
    for c in body["collections"]:
        assert c["itemType"] == "feature"
        assert c["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
        items = [link for link in c["links"] if link["rel"] == "items"]
        assert any(link["type"] == GEOJSON for link in items)
    resources = client.get("/ogc/collections/resources").json()
    minx, miny, maxx, maxy = resources["extent"]["spatial"]["bbox"][0]
    assert minx <= GARDEN[0] <= maxx and miny < 43.5 and GARDEN[1] <= maxy  # the demo, Mende
    assert resources["extent"]["temporal"]["interval"][0][0].startswith("2020-05-01")


def test_items_default_limit_is_10_and_larger_limits_are_clamped(client: TestClient) -> None:
    assert client.get("/ogc/collections/resources/items").json()["numberReturned"] == 10
    assert client.get("/ogc/collections/resources/items?limit=50000").status_code == 200
    assert query.parse_limit("50000") == MAX_LIMIT
    assert query.parse_limit(None) == 10


def test_the_first_ten_features_carry_every_column_nulls_included(client: TestClient,
                                                                  ogc_world: OgcWorld) -> None:
    """QGIS makes a layer's columns from the features of `items?limit=10` (its OAPIF provider;
    a schema only with OGC API Features Part 5): a property left out where it is null would be
    a column missing in QGIS whenever those ten features have none of it."""
    columns = set(client.get("/api/resources?limit=1").json()["features"][0]["properties"])
    first = client.get("/ogc/collections/resources/items?limit=10").json()["features"]
    assert len(first) == 10
    for feature in first:
        assert set(feature["properties"]) == columns
    assert any(v is None for f in first for v in f["properties"].values())


STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def test_timestamps_are_rfc3339_utc_seconds_the_same_on_every_path(client: TestClient,
                                                                    ogc_world: OgcWorld) -> None:
    """20 characters GDAL parses three times per feature, where PostgreSQL's JSON wrote 32;
    a page (SQL) and one feature (Python) write them alike, for resources and links."""
    rid = ogc_world.public_id
    url = str(client.app.state.database_url)  # type: ignore[attr-defined]
    with transaction(url) as session:
        created, updated = session.execute(text(
            "SELECT created_at, updated_at FROM resource WHERE id = :id"), {"id": rid}).one()
    expected = {"created_at": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "updated_at": "2020-05-01T00:00:00Z"}
    shown = [client.get(f"/ogc/collections/resources/items/{rid}").json()["properties"],
             client.get(f"/api/resources/{rid}").json()["properties"]]
    for page in ("/ogc/collections/resources/items?limit=10000",
                 f"/api/resources?territory={SLUG}&limit=10000"):
        shown += [f["properties"] for f in client.get(page).json()["features"] if f["id"] == rid]
    assert len(shown) == 4
    for props in shown:
        assert {k: props[k] for k in expected} == expected
    links = client.get("/ogc/collections/links/items?limit=5").json()["features"]
    assert links and all(STAMP.fullmatch(f["properties"]["created_at"]) for f in links)
    one = client.get(f"/ogc/collections/links/items/{links[0]['id']}").json()["properties"]
    assert one["created_at"] == links[0]["properties"]["created_at"]


def test_every_public_resource_once_across_keyset_pages(client: TestClient,
                                                        ogc_world: OgcWorld) -> None:
    features, pages = _all(client, "/ogc/collections/resources/items?limit=7")
    expected = public_count(str(client.app.state.database_url))  # type: ignore[attr-defined]
    ids = [f["id"] for f in features]
    assert len(ids) == len(set(ids)) == expected
    assert ids == sorted(ids)  # keyset on the id: stable order, no OFFSET drift
    assert pages[0]["numberMatched"] == expected
    assert all("cursor=" in link["href"] for p in pages[1:] for link in p["links"]
               if link["rel"] == "self")
    assert ogc_world.public_id in ids and ogc_world.private_id in ids
    for hidden in (ogc_world.members_id, ogc_world.pending_id, ogc_world.deleted_id):
        assert hidden not in ids


def test_private_person_only_at_the_commune_centre_everywhere(client: TestClient,
                                                              ogc_world: OgcWorld) -> None:
    texts = []
    for url in ("/ogc/collections/resources/items?limit=10000",
                "/ogc/collections/resources-shared_garden/items?limit=10000",
                f"/ogc/collections/resources/items/{ogc_world.private_id}",
                f"/ogc/collections/links/items?territory={SLUG}",
                "/ogc/collections/resources/items?bbox=3.53,44.533,3.534,44.536",
                "/ogc/collections/resources?f=json",
                "/ogc/collections"):
        r = client.get(url)
        assert r.status_code == 200, r.text
        texts.append(r.text)
    for body in texts:
        assert f"{HOME[0]}" not in body and "rue secrète" not in body and "0600000000" not in body
    one = client.get(f"/ogc/collections/resources/items/{ogc_world.private_id}").json()
    assert one["id"] == ogc_world.private_id
    assert one["geometry"]["coordinates"] == pytest.approx(list(ogc_world.centre), abs=1e-6)
    assert one["properties"]["location_precision"] == "commune"


def test_bbox_selects_by_shown_position(client: TestClient, ogc_world: OgcWorld) -> None:
    cx, cy = ogc_world.centre
    near_home = f"{HOME[0] - 0.001},{HOME[1] - 0.001},{HOME[0] + 0.001},{HOME[1] + 0.001}"
    ids = [f["id"] for f in client.get(
        f"/ogc/collections/resources/items?bbox={near_home}").json()["features"]]
    assert ogc_world.private_id not in ids  # the home is not where readers see them
    at_centre = f"{cx - 0.001},{cy - 0.001},{cx + 0.001},{cy + 0.001}"
    ids = [f["id"] for f in client.get(
        f"/ogc/collections/resources/items?bbox={at_centre}").json()["features"]]
    assert ogc_world.private_id in ids
    box = f"{GARDEN[0] - 0.01},{GARDEN[1] - 0.01},{GARDEN[0] + 0.01},{GARDEN[1] + 0.01}"
    features, _ = _all(client, f"/ogc/collections/resources/items?bbox={box}&limit=2")
    assert [f["id"] for f in features] == [ogc_world.public_id]
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    r = client.get(f"/ogc/collections/resources/items?bbox={box}&bbox-crs={crs84}")
    assert [f["id"] for f in r.json()["features"]] == [ogc_world.public_id]
    assert client.get(f"/ogc/collections/resources/items?bbox={box}&bbox-crs=EPSG:3857"
                      ).status_code == 400


def test_datetime_filters_on_last_update(client: TestClient, ogc_world: OgcWorld) -> None:
    base = f"/ogc/collections/resources/items?territory={SLUG}&datetime="
    before = [f["id"] for f in client.get(base + "../2021-01-01T00:00:00Z").json()["features"]]
    assert before == [ogc_world.public_id]
    day = [f["id"] for f in client.get(base + "2020-05-01").json()["features"]]
    assert day == [ogc_world.public_id]
    after = [f["id"] for f in client.get(base + "2021-01-01T00:00:00Z/..").json()["features"]]
    assert ogc_world.public_id not in after and ogc_world.private_id in after
    assert client.get(base + "2030-01-01/2020-01-01").status_code == 400
    assert client.get(base + "yesterday").status_code == 400
    assert client.get("/ogc/collections/communes/items?datetime=2020-01-01").status_code == 400


def test_property_filters(client: TestClient, ogc_world: OgcWorld) -> None:
    producers, _ = _all(client, "/ogc/collections/resources/items?kind=producer,shop&limit=100")
    assert producers and {f["properties"]["kind"] for f in producers} <= {"producer", "shop"}
    same, _ = _all(client, "/ogc/collections/resources-producer/items?limit=100")
    assert {f["id"] for f in same} == {f["id"] for f in producers
                                       if f["properties"]["kind"] == "producer"}
    mine = client.get(f"/ogc/collections/resources/items?territory={SLUG}").json()
    assert all(SLUG in f["properties"]["territories"] for f in mine["features"])
    assert mine["numberMatched"] == 2
    links = client.get(f"/ogc/collections/links/items?territory={SLUG}&level=3").json()
    assert [f["properties"]["level"] for f in links["features"]] == [3]  # the members' is hidden
    assert client.get(f"/ogc/collections/links/items?territory={SLUG}&level=4"
                      ).json()["features"] == []
    communes = client.get("/ogc/collections/communes/items?department=48&limit=5").json()
    assert all(f["properties"]["department"] == "48" for f in communes["features"])
    levels = client.get("/ogc/collections/territories/items?level=custom&limit=100").json()
    assert SLUG in [f["id"] for f in levels["features"]]


@pytest.mark.parametrize("url, field", [
    ("/ogc/collections/resources/items?colour=red", "colour"),
    ("/ogc/collections/resources/items?limit=abc", "limit"),
    ("/ogc/collections/resources/items?limit=0", "limit"),
    ("/ogc/collections/resources/items?bbox=1,2,3", "bbox"),
    ("/ogc/collections/resources/items?kind=unicorn", "kind"),
    ("/ogc/collections/resources/items?territory=nowhere", "territory"),
    ("/ogc/collections/resources/items?territory=a,b", "territory"),
    ("/ogc/collections/resources-producer/items?kind=shop", "kind"),
    ("/ogc/collections/links/items?level=9", "level"),
    ("/ogc/collections/links/items?level=two", "level"),
    ("/ogc/collections/resources/items?cursor=%%%", "cursor"),
    ("/ogc/collections/resources/items?limit=1&limit=2", "limit"),
    ("/ogc/collections/resources/items?f=xml", "f"),
    ("/ogc/collections/resources/items?crs=EPSG:2154", "crs"),
    ("/ogc/collections?bbox=1,2,3,4", "bbox"),
    ("/ogc?foo=1", "foo"),
    ("/ogc/collections/resources/items?status=act%00ive", "status"),
])
def test_bad_parameters_are_400_with_code_and_description(client: TestClient, url: str,
                                                          field: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == "InvalidParameterValue"
    assert field in body["description"]


@pytest.mark.parametrize("url", [
    "/ogc/collections/unicorns",
    "/ogc/collections/unicorns/items",
    "/ogc/collections/resources/items/not-a-uuid",
    # fixed ids no row has (collected alike in every pytest-xdist worker)
    f"/ogc/collections/resources/items/{uuid.uuid5(uuid.NAMESPACE_URL, 'terreau:no-resource')}",
    f"/ogc/collections/links/items/{uuid.uuid5(uuid.NAMESPACE_URL, 'terreau:no-link')}",
    "/ogc/collections/territories/items/nowhere",
    "/ogc/collections/communes/items/99999",
])
def test_unknown_collection_or_feature_is_404_with_code_and_description(
        client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404
    assert r.json()["code"] == "NotFound" and r.json()["description"]


def test_hidden_resources_are_404_and_kind_collections_hold_their_kind(
        client: TestClient, ogc_world: OgcWorld) -> None:
    for hidden in (ogc_world.members_id, ogc_world.pending_id, ogc_world.deleted_id):
        assert client.get(f"/ogc/collections/resources/items/{hidden}").status_code == 404
    assert client.get(f"/ogc/collections/resources-producer/items/{ogc_world.public_id}"
                      ).status_code == 404
    one = client.get(f"/ogc/collections/resources-shared_garden/items/{ogc_world.public_id}")
    assert one.status_code == 200 and one.json()["id"] == ogc_world.public_id
    assert one.headers["content-type"] == GEOJSON


def test_single_features_of_every_source(client: TestClient) -> None:
    territory = client.get("/ogc/collections/territories/items/frontignan").json()
    assert territory["id"] == "frontignan"
    assert territory["geometry"]["type"] == "MultiPolygon"
    commune = client.get("/ogc/collections/communes/items/48095").json()
    assert commune["properties"]["name"] == "Mende"
    link = client.get("/ogc/collections/links/items?limit=1").json()["features"][0]
    again = client.get(f"/ogc/collections/links/items/{link['id']}").json()
    assert again["geometry"] == link["geometry"] and again["id"] == link["id"]


def test_links_and_territories_page_with_keyset_too(client: TestClient) -> None:
    links, _ = _all(client, "/ogc/collections/links/items?limit=4")
    assert len(links) == len({f["id"] for f in links}) > 4
    territories, pages = _all(client, "/ogc/collections/territories/items?limit=2")
    assert len(territories) == pages[0]["numberMatched"] == len({f["id"] for f in territories})


def test_html_views_for_people(client: TestClient, ogc_world: OgcWorld) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    landing = client.get("/ogc", headers=html)
    assert landing.headers["content-type"].startswith("text/html")
    assert "QGIS" in landing.text and "/ogc/api" in landing.text
    assert "Collections" in client.get("/ogc/collections?lang=en", headers=html).text
    page = client.get(f"/ogc/collections/resources/items?territory={SLUG}", headers=html)
    assert page.headers["content-type"].startswith("text/html")
    assert "Jardin &lt;b&gt;public&lt;/b&gt; &amp; partagé" in page.text  # escaped
    assert "<b>public</b>" not in page.text
    one = client.get(f"/ogc/collections/resources/items/{ogc_world.public_id}?f=html")
    assert "Jardin &lt;b&gt;public&lt;/b&gt;" in one.text
    assert "<code>kind=</code>" in client.get("/ogc/collections/resources?f=html").text
    described = client.get("/ogc/collections/links?f=html&lang=en").text
    assert "level" in described and "Cooperation links" in described
    # a JSON client is never given HTML
    assert json.loads(client.get("/ogc/collections/resources/items?f=json").text)["type"] \
        == "FeatureCollection"
