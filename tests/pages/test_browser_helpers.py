"""The page scripts' shared helpers (el, fmt, safeColour, safeIcon) live in one file."""

import re

from fastapi.testclient import TestClient

from carto import ROOT

HELPERS = ("el", "fmt", "safeColour", "safeIcon")


def test_each_helper_is_written_once() -> None:
    scripts = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "static" / "js").glob("*.js")}
    for name in HELPERS:
        homes = [f for f, text in scripts.items() if re.search(rf"function {name}\(", text)]
        assert homes == ["terreau-common.js"], (name, homes)


def test_pages_load_the_helpers_before_their_script(client: TestClient) -> None:
    for url, script in (("/nearby", "/static/js/nearby.js"),
                        ("/territories/frontignan/map.html", "/static/js/terreau-map.js")):
        html = client.get(url).text
        assert html.index("/static/js/terreau-common.js") < html.index(script), url


def test_the_offline_download_inlines_the_helpers(client: TestClient) -> None:
    html = client.get("/territories/frontignan/map.html?download=1").text
    assert "root.Terreau = {" in html
    assert "/static/js/terreau-common.js" not in html
