"""Resource collections publish the JSON Schema of their features (`describedBy`), and their
pages leave null properties out and positions at 7 decimals: fewer bytes for GDAL to parse,
and yet GDAL's layer has the same columns as from the API's GeoJSON, nulls and all."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from carto.ogc import SCHEMA_TYPE
from carto.search import COMPACT_DECIMALS
from tests.ogcworld import OgcWorld

GEOJSON = "application/geo+json"


def _schema_of(client: TestClient, collection: str) -> dict[str, Any]:
    described = [link for link in client.get(f"/ogc/collections/{collection}").json()["links"]
                 if link["rel"] == "describedBy"]
    assert [link["type"] for link in described] == [SCHEMA_TYPE]
    r = client.get(described[0]["href"])
    assert r.status_code == 200 and r.headers["content-type"] == SCHEMA_TYPE
    schema = r.json()
    Draft202012Validator.check_schema(schema)
    return schema


def _nulls(feature: dict[str, Any]) -> bool:
    return any(v is None for v in feature["properties"].values())


def test_every_feature_of_a_resource_collection_matches_its_schema(
        client: TestClient, ogc_world: OgcWorld) -> None:
    for collection in ("resources", "resources-shared_garden"):
        validator = Draft202012Validator(_schema_of(client, collection))
        page = client.get(f"/ogc/collections/{collection}/items?limit=10000").json()
        assert page["features"]
        for feature in page["features"]:
            validator.validate(feature)
            assert not _nulls(feature)
        one = client.get(f"/ogc/collections/{collection}/items/{ogc_world.public_id}").json()
        validator.validate(one)
        assert not _nulls(one)


def test_pages_are_the_apis_features_without_nulls_at_7_decimals(client: TestClient) -> None:
    ogc = client.get("/ogc/collections/resources/items?limit=500").json()["features"]
    api = {f["id"]: f for f in client.get("/api/resources?limit=500").json()["features"]}
    assert len(ogc) == len(api) > 50
    nulls = 0
    for feature in ogc:
        same = api[feature["id"]]
        kept = {k: v for k, v in same["properties"].items() if v is not None}
        nulls += len(same["properties"]) - len(kept)
        assert feature["properties"].keys() == kept.keys()
        assert feature["geometry"]["coordinates"] == [
            round(v, COMPACT_DECIMALS) for v in same["geometry"]["coordinates"]]
    assert nulls > len(ogc)  # the API's pages do carry nulls: there was something to leave out


def test_only_resource_collections_have_a_schema(client: TestClient) -> None:
    for collection in ("territories", "links", "communes"):
        body = client.get(f"/ogc/collections/{collection}").json()
        assert not [link for link in body["links"] if link["rel"] == "describedBy"]
        r = client.get(f"/ogc/collections/{collection}/schema")
        assert r.status_code == 404 and r.json()["code"] == "NotFound"
    assert client.get("/ogc/collections/unicorns/schema").status_code == 404
    r = client.get("/ogc/collections/resources/schema?limit=3")
    assert r.status_code == 400 and "limit" in r.json()["description"]
    paths = client.get("/ogc/api").json()["paths"]
    assert "/collections/resources/schema" in paths
    assert "/collections/links/schema" not in paths


FIELD = re.compile(r"^(\w+): (\w+(?:\(\w+\))?) \(\d+\.\d+\)$")


def _fields(source: str, layer: str = "-al") -> list[tuple[str, str]]:
    done = subprocess.run(["ogrinfo", "-ro", "-so", source, layer], capture_output=True,
                          text=True, timeout=120,
                          env={"GDAL_HTTP_TIMEOUT": "60", "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    return [(m[1], m[2]) for line in done.stdout.splitlines() if (m := FIELD.match(line))]


@pytest.mark.skipif(shutil.which("ogrinfo") is None,
                    reason="gdal-bin is installed by scripts/system-deps.sh")
def test_gdal_makes_the_same_columns_with_nulls_left_out(live_server: str, ogc_world: OgcWorld,
                                                         tmp_path: Path) -> None:
    """GDAL's OAPIF driver makes its columns from the schema (plus the sample's `id`); from the
    API's GeoJSON, where every feature carries every property (nulls too), its GeoJSON driver
    finds them in the data. Same names, same order, the same types but for the lists: typed
    by the schema rather than guessed (GDAL 3.6 reads no JSON sub-type from a schema)."""
    with_nulls = tmp_path / "api.geojson"
    with_nulls.write_bytes(httpx.get(f"{live_server}/api/resources?limit=10000",
                                     timeout=60).content)
    theirs = _fields(str(with_nulls))
    ours = _fields(f"OAPIF:{live_server}/ogc", "resources")
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert len(ours) > 30 and ours[0] == ("id", "String")
    differ = {a[0]: (a[1], b[1]) for a, b in zip(ours, theirs, strict=True) if a != b}
    # where the data leave GDAL guessing (an empty list first: "JSON text"), the schema says
    # what the values are: lists of texts; lists of objects stay text, without the sub-type
    assert differ == {"products": ("StringList", "String(JSON)"),
                      "access_conditions": ("StringList", "String(JSON)"),
                      "outputs": ("String", "String(JSON)"),
                      "surfaces": ("String", "String(JSON)")}, differ
    assert dict(ours)["created_at"] == "DateTime" and dict(ours)["territories"] == "StringList"
