"""The page scripts' shared helpers (el, fmt, safeColour, safeIcon, baseMap) live in one file."""

import re

from fastapi.testclient import TestClient

from api import assets
from carto import ROOT

HELPERS = ("el", "fmt", "safeColour", "safeIcon", "baseMap")


def test_each_helper_is_written_once() -> None:
    scripts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "static" / "js").glob("*.js")}
    for name in HELPERS:
        homes = [f for f, text in scripts.items() if re.search(rf"function {name}\(", text)]
        assert homes == ["terreau-common.js"], (name, homes)


def test_the_leaflet_base_map_is_set_up_once() -> None:
    """The map, its tile layer and the territory's outline were set up in four page scripts
    (link form, cooperation, resource form, workshop): Terreau.baseMap is the one home."""
    scripts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "static" / "js").glob("*.js")}
    for call in ("L.map(", "L.tileLayer("):
        homes = sorted(f for f, text in scripts.items() if call in text)
        assert homes == ["terreau-common.js"], (call, homes)
    users = sorted(f for f, text in scripts.items() if "baseMap(" in text and f != "terreau-common.js")
    assert {"cooperation.js", "link-form.js", "resource-form.js", "workshop.js"} <= set(users), users


def test_pages_load_the_helpers_before_their_script(client: TestClient) -> None:
    record = client.get("/api/resources", params={"limit": 1}).json()["features"][0]["id"]
    for url, script in (("/nearby", "/static/js/nearby.js"),
                        ("/territories/frontignan/cooperation", "/static/js/cooperation.js"),
                        (f"/resources/{record}", "/static/js/record-map.js")):
        html = client.get(url).text
        assert html.index("/static/js/terreau-common.js") < html.index(script), url
    # A territory map loads its files as one script (api.assets.BUNDLES), the helpers first.
    assert assets.MAP_JS in client.get("/territories/frontignan/map.html").text
    served = client.get(assets.MAP_JS).text
    assert served.index("/* js/terreau-common.js */") < served.index("root.Terreau = {")
    assert served.index("root.Terreau = {") < served.index("/* js/terreau-map.js */")


def test_the_offline_download_inlines_the_helpers(client: TestClient) -> None:
    html = client.get("/territories/frontignan/map.html?download=1").text
    assert "root.Terreau = {" in html
    assert "/static/js/terreau-common.js" not in html
