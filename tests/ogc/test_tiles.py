"""Vector tiles (/tiles), read from a real uvicorn server and decoded with mapbox-vector-tile:
the expected features, at the position readers are shown, never a private home."""

import math

import httpx
import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient

from carto.ogc import tiles
from tests.apiworld import World
from tests.ogcworld import GARDEN, HOME, SLUG, OgcWorld, public_count

MVT = "application/vnd.mapbox-vector-tile"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def lonlat(z: int, x: int, y: int, px: float, py: float, extent: int = 4096) -> tuple[float, float]:
    """A point of a decoded tile (y up, as mapbox-vector-tile gives it) back to lon/lat."""
    n = 2 ** z
    fx, fy = x + px / extent, y + (extent - py) / extent
    lon = fx / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * fy / n))))
    return lon, lat


def decode(body: bytes, layer: str) -> list[dict]:  # type: ignore[type-arg]
    return mapbox_vector_tile.decode(body).get(layer, {}).get("features", [])


def _get(live_server: str, path: str, **kw: object) -> httpx.Response:
    return httpx.get(f"{live_server}{path}", timeout=30, **kw)  # type: ignore[arg-type]


def test_resource_tile_has_the_public_features_and_hides_the_rest(
        live_server: str, ogc_world: OgcWorld) -> None:
    z = 15
    x, y = tile_of(*GARDEN, z)
    r = _get(live_server, f"/tiles/resources/{z}/{x}/{y}.pbf")
    assert r.status_code == 200 and r.headers["content-type"] == MVT
    features = decode(r.content, "resources")
    ids = {f["properties"]["id"] for f in features}
    assert ogc_world.public_id in ids
    for hidden in (ogc_world.members_id, ogc_world.pending_id, ogc_world.deleted_id):
        assert hidden not in ids
    public = next(f for f in features if f["properties"]["id"] == ogc_world.public_id)
    assert public["properties"]["kind"] == "shared_garden"
    lon, lat = lonlat(z, x, y, *public["geometry"]["coordinates"])
    assert (lon, lat) == pytest.approx(GARDEN, abs=1e-3)


def test_private_person_is_in_the_tile_of_the_commune_centre_not_of_home(
        live_server: str, ogc_world: OgcWorld) -> None:
    z = 15
    hx, hy = tile_of(*HOME, z)
    cx, cy = tile_of(*ogc_world.centre, z)
    assert (hx, hy) != (cx, cy)
    home = decode(_get(live_server, f"/tiles/resources/{z}/{hx}/{hy}.pbf").content, "resources")
    assert ogc_world.private_id not in {f["properties"]["id"] for f in home}
    centre = decode(_get(live_server, f"/tiles/resources/{z}/{cx}/{cy}.pbf").content,
                    "resources")
    private = next(f for f in centre if f["properties"]["id"] == ogc_world.private_id)
    assert private["properties"]["location_precision"] == "commune"
    assert lonlat(z, cx, cy, *private["geometry"]["coordinates"]) == pytest.approx(
        ogc_world.centre, abs=1e-3)
    # the link to them ends at the centre too
    links = decode(_get(live_server, f"/tiles/links/{z}/{cx}/{cy}.pbf").content, "links")
    to_private = [f for f in links if f["properties"]["target_id"] == ogc_world.private_id]
    assert len(to_private) == 1
    assert {f["properties"]["target_id"] for f in links} & {ogc_world.members_id} == set()
    home_links = decode(_get(live_server, f"/tiles/links/{z}/{hx}/{hy}.pbf").content, "links")
    assert not [f for f in home_links if f["properties"]["target_id"] == ogc_world.private_id]


def test_world_tile_holds_every_public_resource_and_filters(live_server: str,
                                                            ogc_world: OgcWorld,
                                                            migrated: str) -> None:
    everything = decode(_get(live_server, "/tiles/resources/0/0/0.pbf").content, "resources")
    assert len(everything) == public_count(migrated)
    gardens = decode(_get(live_server, "/tiles/resources/0/0/0.pbf?kind=shared_garden").content,
                     "resources")
    assert gardens and {f["properties"]["kind"] for f in gardens} == {"shared_garden"}
    mine = decode(_get(live_server, f"/tiles/resources/0/0/0.pbf?territory={SLUG}").content,
                  "resources")
    assert {f["properties"]["id"] for f in mine} == {ogc_world.public_id, ogc_world.private_id}


def test_low_zoom_tiles_are_capped(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tiles.cap(0) < tiles.cap(10) < tiles.cap(14)
    x, y = tile_of(3.8767, 43.6108, 10)  # Montpellier: many demo links
    links = f"/tiles/links/10/{x}/{y}.pbf"
    assert len(decode(client.get(links).content, "links")) > 3
    assert len(decode(client.get("/tiles/resources/0/0/0.pbf").content, "resources")) > 3
    monkeypatch.setattr(tiles, "cap", lambda z: 3)
    assert len(decode(client.get("/tiles/resources/0/0/0.pbf").content, "resources")) == 3
    # lines shorter than a pixel are dropped by ST_AsMVTGeom: at most the cap
    assert 1 <= len(decode(client.get(links).content, "links")) <= 3


def test_tiles_carry_etag_and_max_age_and_answer_304(live_server: str, ogc_world: OgcWorld,
                                                     world: World) -> None:
    z = 12
    x, y = tile_of(*GARDEN, z)
    first = _get(live_server, f"/tiles/resources/{z}/{x}/{y}.pbf")
    assert first.headers["cache-control"] == f"public, max-age={300}"
    assert "Authorization" in first.headers["vary"]
    # what an editor sees is theirs: no shared cache keeps it (visibility.reads_public_only)
    edited = _get(live_server, f"/tiles/resources/{z}/{x}/{y}.pbf",
                  headers={"Authorization": f"Bearer {world.editor}"})
    assert edited.headers["cache-control"] == f"private, max-age={300}"
    tag = first.headers["etag"]
    again = _get(live_server, f"/tiles/resources/{z}/{x}/{y}.pbf",
                 headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    other = _get(live_server, f"/tiles/resources/{z}/{x}/{y}.pbf?kind=producer",
                 headers={"If-None-Match": tag})
    assert other.status_code == 200 and other.headers["etag"] != tag


def test_an_empty_tile_is_an_empty_body(live_server: str) -> None:
    r = _get(live_server, "/tiles/resources/10/0/0.pbf")  # the Pacific
    assert r.status_code == 200 and r.content == b""


def test_tilejson(live_server: str) -> None:
    doc = _get(live_server, "/tiles/resources.json").json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"] == [f"{live_server}/tiles/resources/{{z}}/{{x}}/{{y}}.pbf"]
    assert doc["vector_layers"][0]["id"] == "resources"
    west, south, east, north = doc["bounds"]
    assert west <= GARDEN[0] <= east and south <= GARDEN[1] <= north
    assert _get(live_server, "/tiles/links.json").json()["vector_layers"][0]["id"] == "links"


@pytest.mark.parametrize("path, status, field", [
    ("/tiles/resources/23/0/0.pbf", 400, "z"),
    ("/tiles/resources/2/4/0.pbf", 400, "x"),
    ("/tiles/resources/2/0/0.pbf?colour=red", 400, "colour"),
    ("/tiles/resources/2/0/0.pbf?kind=unicorn", 400, "kind"),
    ("/tiles/links/2/0/0.pbf?kind=producer", 400, "kind"),
    ("/tiles/gardens/2/0/0.pbf", 404, None),
    ("/tiles/gardens.json", 404, None),
])
def test_bad_tile_requests(live_server: str, path: str, status: int, field: str | None) -> None:
    r = _get(live_server, path)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] in ("InvalidParameterValue", "NotFound")
    if field:
        assert field in body["description"]
