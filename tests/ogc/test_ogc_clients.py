"""/ogc read by the clients food-policy officers use, against a real uvicorn server: GDAL's
OAPIF driver (Debian's ogrinfo/ogr2ogr, and pyogrio's bundled GDAL, the one QGIS-era builds
ship), and OWSLib's Features client."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyogrio
import pytest
from owslib.ogcapi.features import Features

from carto.visibility import ANONYMOUS, shown_geom
from tests.ogcworld import GARDEN, OgcWorld, public_count

pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None,
                                reason="gdal-bin is installed by scripts/system-deps.sh")


def _gdal(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={"GDAL_HTTP_TIMEOUT": "60", "CPL_DEBUG": "OFF", "PATH": "/usr/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ogrinfo_lists_the_collections(live_server: str, ogc_world: OgcWorld) -> None:
    out = _gdal("ogrinfo", "-ro", "-q", f"OAPIF:{live_server}/ogc")
    for name in ("territories (title: Territoires) (Multi Polygon)", "resources (",
                 "links (", "communes (", "resources-producer ("):
        assert name in out


def test_ogr2ogr_reads_every_public_resource_across_pages_into_a_geopackage(
        live_server: str, ogc_world: OgcWorld, migrated: str, tmp_path: Path) -> None:
    target = tmp_path / "resources.gpkg"
    # a small page size: the read crosses many `next` links
    _gdal("ogr2ogr", "-f", "GPKG", str(target), f"OAPIF:{live_server}/ogc", "resources",
          "-oo", "PAGE_SIZE=9")
    info = pyogrio.read_info(target, layer="resources")
    assert info["features"] == public_count(migrated)
    frame = pyogrio.read_dataframe(target, layer="resources")
    assert frame["id"].is_unique and ogc_world.public_id in set(frame["id"])
    assert ogc_world.members_id not in set(frame["id"])
    assert {"name", "kind", "territories"} <= set(frame.columns)


def test_ogrinfo_spatial_filter_becomes_a_bbox(live_server: str, ogc_world: OgcWorld,
                                               migrated: str) -> None:
    x, y = GARDEN
    out = _gdal("ogrinfo", "-ro", "-al", "-so", "-spat", str(x - 0.01), str(y - 0.01),
                str(x + 0.01), str(y + 0.01), f"OAPIF:{live_server}/ogc", "resources")
    assert "Feature Count: 1" in out
    out = _gdal("ogrinfo", "-ro", "-al", "-so", "-spat", "3.0", "43.0", "4.5", "44.0",
                f"OAPIF:{live_server}/ogc", "resources")
    shown = shown_geom(ANONYMOUS, "r")
    expected = public_count(migrated, f"{shown} && ST_MakeEnvelope(3.0, 43.0, 4.5, 44.0, 4326)")
    assert expected > 10
    assert f"Feature Count: {expected}" in out


PYOGRIO_READ = """
import json, sys
import pyogrio
url, x, y = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
frame = pyogrio.read_dataframe(url, layer="resources")
near = pyogrio.read_dataframe(url, layer="resources", bbox=(x - 0.01, y - 0.01, x + 0.01, y + 0.01))
communes = pyogrio.read_dataframe(url + "/collections/communes", where="department = '48'",
                                  max_features=3)
print(json.dumps({"layers": [str(n) for n, _ in pyogrio.list_layers(url)],
                  "ids": list(frame["id"]), "near": list(near["id"]),
                  "communes": list(communes["department"])}))
"""


def test_pyogrio_reads_all_resources_and_a_bbox(live_server: str, ogc_world: OgcWorld,
                                                migrated: str) -> None:
    # In a process of its own: pyogrio holds the GIL while GDAL waits for this process's server.
    done = subprocess.run([sys.executable, "-c", PYOGRIO_READ, f"OAPIF:{live_server}/ogc",
                           str(GARDEN[0]), str(GARDEN[1])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.splitlines()[-1])
    assert {"territories", "resources", "links", "communes"} <= set(got["layers"])
    assert len(got["ids"]) == len(set(got["ids"])) == public_count(migrated)
    assert got["near"] == [ogc_world.public_id]
    assert got["communes"] == ["48", "48", "48"]


def test_owslib_lists_collections_and_reads_items(live_server: str,
                                                  ogc_world: OgcWorld) -> None:
    api = Features(f"{live_server}/ogc")
    ids = {c["id"] for c in api.collections()["collections"]}
    assert {"territories", "resources", "links", "communes", "resources-producer"} <= ids
    assert "core" in " ".join(api.conformance()["conformsTo"])
    page = api.collection_items("resources", limit=5)
    assert page["type"] == "FeatureCollection" and len(page["features"]) == 5
    one = api.collection_item("resources", ogc_world.public_id)
    assert one["id"] == ogc_world.public_id
    assert "/collections/{collectionId}/items" in api.api()["paths"] or \
        "/collections/resources/items" in api.api()["paths"]
