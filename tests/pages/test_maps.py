"""Territory maps on the server side: pages, standalone file, assets, data endpoints, safety."""

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import folium
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from api import assets
from carto import maps
from carto.config import map_settings
from carto.maps import data as mapdata
from carto.maps.layers import _kind_layer_name
from tests.mapfixtures import (
    PRIVATE_LAT,
    PRIVATE_LON,
    TEMPLATE_TEXT,
    XSS_NAME,
    XssTerritory,
    xss_territory,
)

__all__ = ["xss_territory"]  # the fixture, imported for pytest

CDN = re.compile(r"cdn\.|unpkg|jsdelivr|cdnjs|bootstrapcdn|code\.jquery|googleapis", re.I)
EMPTY = '{"type":"FeatureCollection","features":[]}'
DEMO = ["frontignan", "vauvert", "pezenas", "montpellier-celleneuve", "montpellier-centre",
        "haut-allier", "marvejols"]


def config_of(html: str) -> dict[str, Any]:
    """The data the page hands to terreau-map.js (the JSON object after the layers)."""
    start = html.index('{"lang":')
    value, _ = json.JSONDecoder().raw_decode(html[start:])
    return value


@pytest.fixture
def small_embed_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Territories above 5 resources are loaded by viewport."""
    monkeypatch.setenv("TERREAU_MAP_EMBED_LIMIT", "5")
    map_settings.cache_clear()
    yield 5
    monkeypatch.delenv("TERREAU_MAP_EMBED_LIMIT")
    map_settings.cache_clear()


def public_counts(session: Session, slug: str) -> tuple[int, int]:
    summary = mapdata.territory_summary(session, slug)
    return summary["resources"], summary["links"]


@pytest.mark.parametrize("slug", DEMO)
def test_each_demo_page_embeds_exactly_the_public_data(client: TestClient, session: Session,
                                                       slug: str) -> None:
    page = client.get(f"/territories/{slug}")
    assert page.status_code == 200
    html = page.text
    n_resources, n_links = public_counts(session, slug)
    assert f'<dd id="n-resources">{n_resources}</dd>' in html
    assert f'<dd id="n-links">{n_links}</dd>' in html
    cfg = config_of(html)
    assert cfg["mode"] == "embedded"
    assert len(cfg["resources"]) == n_resources and len(cfg["links"]) == n_links
    assert sum(cfg["counts"]["kinds"].values()) == n_resources
    assert assets.remote_assets(html) == [] and not CDN.search(html)
    assert "Terreau.init(" in html and 'id="tm-panel"' in html


def test_territory_page_keeps_its_lists_and_precision_words(client: TestClient) -> None:
    html = client.get("/territories/frontignan").text
    assert 'id="resources"' in html and 'id="links"' in html
    assert "Placé au centre de la commune" in html
    english = client.get("/territories/frontignan?lang=en").text
    assert '<html lang="en">' in english and "Placed at the commune" in english
    assert "Legend and filters" in english and "Cooperation links" in english


def test_pending_members_only_and_private_never_reach_the_map(
        client: TestClient, xss_territory: XssTerritory) -> None:
    cfg = config_of(client.get(f"/territories/{xss_territory.slug}").text)
    ids = {r["id"] for r in cfg["resources"]}
    assert xss_territory.pending_id not in ids and xss_territory.members_id not in ids
    private = next(r for r in cfg["resources"] if r["id"] == xss_territory.private_id)
    assert private["precision"] == "commune"
    assert (private["lon"], private["lat"]) != (PRIVATE_LON, PRIVATE_LAT)
    assert "phone" not in private and "address" not in private
    assert "12 rue Secrète" not in json.dumps(cfg)
    xss = next(r for r in cfg["resources"] if r["id"] == xss_territory.xss_id)
    assert xss["phone"] == "04 67 00 00 00"


def test_user_text_is_escaped_in_page_and_data(client: TestClient,
                                               xss_territory: XssTerritory) -> None:
    html = client.get(f"/territories/{xss_territory.slug}").text
    assert XSS_NAME not in html and "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # the table row, as text
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html  # the map's data, inert JSON
    assert "Test &lt;cartes&gt; &amp; échappement" in html
    assert config_of(html)["resources"][0]["name"]  # the JSON still parses


def test_template_syntax_in_user_text_is_never_evaluated(
        client: TestClient, session: Session, xss_territory: XssTerritory) -> None:
    """folium compiles what its elements write as templates: text people typed must come out
    as typed (a resource's description, a kind's label in the layer control)."""
    html = client.get(f"/territories/{xss_territory.slug}").text
    other = next(r for r in config_of(html)["resources"] if r["id"] == xss_territory.other_id)
    assert other["description"] == TEMPLATE_TEXT
    assert "Ouvert 49 jours" not in html
    view = maps.MapView(
        territory={"slug": "t", "name": "T"},
        geometry=mapdata.TerritoryGeometry(boundary_json=EMPTY, bbox=(3.7, 43.4, 3.8, 43.5),
                                           communes_json=EMPTY),
        kinds=[maps.Kind("x", "Jardins {{ 6*7 }}", "#123456", "leaf")], kind_counts={"x": 1},
        links_total=0, context={})
    urls = maps.MapUrls(*["/u"] * 7)
    parts = maps.render(maps.build(view, urls, "fr", "", "", 10, panel="#p"))
    assert "Jardins {{ 6*7 }}" in parts.script and "Jardins 42" not in parts.script


def test_fit_zoom_is_leaflets_fitbounds() -> None:
    """fitBounds' zoom: 360° wide in 256 px is zoom 0; each halving of the box one zoom more."""
    assert maps.fit_zoom((-180.0, -1e-6, 180.0, 1e-6), 256, 256) == pytest.approx(0)
    assert maps.fit_zoom((0.0, 0.0, 360 / 2 ** 10, 1e-6), 512, 256) == pytest.approx(11)
    wide = maps.fit_zoom((0.0, 0.0, 1.0, 1e-6), 256, 256)
    tall = maps.fit_zoom((0.0, 43.0, 1e-6, 44.0), 256, 256)  # Mercator: 1/cos(43.5°) longer
    assert wide - tall == pytest.approx(math.log2(1 / math.cos(math.radians(43.5))), abs=0.01)


@pytest.mark.parametrize("slug", DEMO)
def test_a_territory_map_starts_at_a_zoom_its_first_view_holds(client: TestClient,
                                                               session: Session,
                                                               slug: str) -> None:
    """The map is created at the zoom of its fit in a START_SIZE map (so the first frame is
    close to the script's fit), one of the zooms the page's first view is computed for."""
    page = client.get(f"/territories/{slug}").text
    zoom = int(re.search(r'"zoom": (\d+),', page).group(1))  # type: ignore[union-attr]
    bbox = mapdata.territory_geometry(session, mapdata.territory_id(session, slug)).bbox
    assert zoom == max(4, min(maps.MAX_ZOOM - 2, math.floor(maps.fit_zoom(bbox, *maps.START_SIZE))))
    assert zoom in maps.first_zooms(bbox)


def test_the_map_data_travels_as_json_beside_the_script(client: TestClient) -> None:
    """The data (outlines included, put in as the text kept per territory) is a JSON element the
    script reads by id: parsed as JSON by the browser, never compiled by folium's templates."""
    html = client.get("/territories/frontignan").text
    found = re.search(r'<script type="application/json" id="(tm-data-[0-9a-f]+)">(.*?)</script>',
                      html, re.S)
    assert found
    data = json.loads(found.group(2))
    assert data["communes"]["features"] and data["boundary"]["type"]
    assert any(f["properties"]["inside"] for f in data["communes"]["features"])
    script = html[html.index("Terreau.init("):]
    assert f'"{found.group(1)}");' in script[:script.index("</script>")]
    assert '"communes":' not in script[:script.index("</script>")]


def test_kind_labels_in_the_layer_control_are_escaped(session: Session) -> None:
    kind = maps.Kind("x", "<b onmouseover=alert(1)>Jardins</b>", "#123456", "leaf")
    name = _kind_layer_name(kind, 3)
    assert "<b onmouseover" not in name and "&lt;b onmouseover=alert(1)&gt;" in name
    odd = maps.Kind.checked("x", "X", "red;background:url(x)", 'x" onclick="alert(1)')
    assert odd.color == "#616161" and odd.icon == "circle"
    assert {k.code for k in maps.kinds(session, "fr")} >= {"producer", "food_aid"}


def test_map_alone_is_embeddable(client: TestClient) -> None:
    page = client.get("/territories/montpellier-celleneuve/map.html?lang=en")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en" class="tm-embed-page">' in html
    assert "Montpellier – Celleneuve" in html and "Open in Terreau" in html
    assert 'id="tm-panel"' not in html and config_of(html)["panel"] is None
    assert assets.remote_assets(html) == [] and not CDN.search(html)
    assert "x-frame-options" not in {k.lower() for k in page.headers}


def test_a_map_by_viewport_fetches_its_outlines_once_cached(client: TestClient,
                                                             small_embed_limit: int) -> None:
    """A large territory's page leaves the commune outlines out (they were 90 % of it) and
    names where they are; they come with an ETag and a max-age, a 304 when revalidated. A map
    that embeds its points, and a downloaded file, keep them inline."""
    cfg = config_of(client.get("/territories/frontignan").text)
    assert cfg["mode"] == "viewport" and cfg["communes"] is None
    assert cfg["urls"]["communes"] == "/territories/frontignan/map/communes.json"
    outlines = client.get(cfg["urls"]["communes"])
    assert outlines.status_code == 200
    assert outlines.headers["content-type"].startswith("application/geo+json")
    assert "max-age=3600" in outlines.headers["cache-control"]
    body = outlines.json()
    assert body["type"] == "FeatureCollection"
    assert any(f["properties"]["inside"] for f in body["features"])
    again = client.get(cfg["urls"]["communes"], headers={"If-None-Match": outlines.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/territories/nowhere/map/communes.json").status_code == 404
    downloaded = config_of(client.get("/territories/frontignan/map.html?download=1").text)
    assert downloaded["communes"]["features"]


def test_a_map_that_embeds_its_points_keeps_its_outlines_inline(client: TestClient) -> None:
    cfg = config_of(client.get("/territories/frontignan").text)
    assert cfg["mode"] == "embedded" and cfg["communes"]["features"]


def test_download_is_one_self_contained_file(client: TestClient) -> None:
    response = client.get("/territories/frontignan/map.html?download=1")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment;")
    html = response.text
    assert "<script src=" not in html and '<link rel="stylesheet"' not in html
    assert "/static/" not in html.split('"urls"')[0]  # every asset inlined before the data
    assert "data:font/woff2;base64," in html and "data:image/png;base64," in html
    assert re.search(r"url\(\s*(?!['\"]?(?:data:|#))", html) is None
    assert assets.remote_assets(html) == [] and not CDN.search(html)
    cfg = config_of(html)
    assert cfg["standalone"] is True and cfg["mode"] == "embedded"
    # No public address (TERREAU_PUBLIC_URL): the file does not link to the server that wrote it.
    assert cfg["urls"]["record"] == cfg["urls"]["page"] == "" and "testserver" not in html
    assert "Ouvrir dans Terreau" not in html
    assert len(html) < 1_500_000


def test_download_links_to_the_public_address(client: TestClient,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from carto.config import app_settings

    monkeypatch.setenv("TERREAU_PUBLIC_URL", "https://terreau.example/")
    app_settings.cache_clear()
    try:
        html = client.get("/territories/frontignan/map.html?download=1").text
    finally:
        monkeypatch.delenv("TERREAU_PUBLIC_URL")
        app_settings.cache_clear()
    cfg = config_of(html)
    assert cfg["urls"]["record"] == "https://terreau.example/resources/{id}"  # Voir la fiche
    assert 'href="https://terreau.example/territories/frontignan"' in html  # Ouvrir dans Terreau
    assert "testserver" not in html


def test_assets_are_served_by_the_app(client: TestClient) -> None:
    for js, css in maps_assets():
        for url in js + css:
            response = client.get(url)
            assert response.status_code == 200, url
    assert client.get("/static/vendor/font-awesome/webfonts/fa-solid-900.woff2").status_code == 200
    assert client.get("/static/vendor/leaflet/images/layers.png").status_code == 200
    with pytest.raises(ValueError):
        assets.path_for("/static/vendor/leaflet/../../../../etc/passwd")


def test_a_map_loads_its_files_as_one_script_and_one_stylesheet(client: TestClient) -> None:
    """Leaflet, its plugins, Font Awesome and our files came as twelve files, each one more
    request before the map's script could run (issue 18): one script and one stylesheet in the
    head now (the pictograms' after the script, below), holding each file in order, their
    images and fonts still found, revalidated by ETag."""
    for url in ("/territories/frontignan", "/territories/frontignan/map.html"):
        html = client.get(url).text
        head = html[:html.index("</head>")]
        assert re.findall(r'<script src="([^"]+)"', head) == [assets.MAP_JS], url
        assert assets.MAP_CSS in re.findall(r'<link rel="stylesheet" href="([^"]+)"', head)
        assert not any(part in html for parts in assets.BUNDLES.values() for part in parts)
    for bundle, parts in assets.BUNDLES.items():
        served = client.get(bundle)
        assert served.status_code == 200 and served.headers["cache-control"] == "no-cache"
        positions = [served.text.index(f"/* {part.removeprefix('/static/')} */") for part in parts]
        assert positions == sorted(positions), bundle
        again = client.get(bundle, headers={"If-None-Match": served.headers["etag"]})
        assert again.status_code == 304
    css = client.get(assets.MAP_CSS).text + client.get(assets.MAP_ICONS_CSS).text
    refs = {m.group(2) for m in re.finditer(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""", css)}
    files = sorted(r for r in refs if not r.startswith(("data:", "#")))
    assert "/static/vendor/font-awesome/webfonts/fa-solid-900.woff2" in files
    assert "/static/vendor/leaflet/images/layers.png" in files
    for ref in files:
        assert client.get(ref).status_code == 200, ref
    assert "sourceMappingURL" not in client.get(assets.MAP_JS).text


def test_the_icons_stylesheet_comes_after_the_map_script(client: TestClient) -> None:
    """Font Awesome's rules (two thirds of the map's styles) are not needed for the first
    markers: linked after the map's script, they are parsed, and the pictograms' font looked
    for, once the markers are there, not in the page's first layout before them (issue 18)."""
    for url in ("/territories/frontignan", "/territories/frontignan/map.html"):
        html = client.get(url).text
        head = html[:html.index("</head>")]
        assert assets.MAP_ICONS_CSS not in head, url
        script = html.index("Terreau.init(")
        link = html.index(f'<link rel="stylesheet" href="{assets.MAP_ICONS_CSS}">')
        assert link > script, url
    served = client.get(assets.MAP_CSS).text
    assert "fa-solid" not in served and "Font Awesome" not in served
    assert ".fa-solid" in client.get(assets.MAP_ICONS_CSS).text


def maps_assets() -> list[tuple[list[str], list[str]]]:
    return [([u for _, u in js], [u for _, u in css]) for js, css in assets.LOCAL_ASSETS.values()]


def test_localize_changes_one_map_not_folium_class_lists(session: Session) -> None:
    before_js, before_css = list(folium.Map.default_js), list(folium.Map.default_css)
    m = folium.Map(tiles=None)
    folium.plugins.Fullscreen().add_to(m)
    assets.localize(m)
    html = m.get_root().render()
    assert not CDN.search(html) and assets.MAP_JS in html and assets.MAP_CSS in html
    assert folium.Map.default_js == before_js and folium.Map.default_css == before_css
    other = folium.Map(tiles=None).get_root().render()
    assert "cdn.jsdelivr.net" in other  # a map built elsewhere keeps folium's own lists
    with pytest.raises(RuntimeError):
        unknown = folium.Map(tiles=None)
        folium.plugins.MiniMap().add_to(unknown)
        assets.localize(unknown)


def test_features_by_viewport_points_then_clusters(client: TestClient, session: Session,
                                                   small_embed_limit: int) -> None:
    n_resources, n_links = public_counts(session, "frontignan")
    bbox = "3.6,43.35,3.9,43.55"
    clusters = client.get(f"/territories/frontignan/map/features.json?bbox={bbox}&zoom=12")
    assert clusters.status_code == 200
    body = clusters.json()
    assert body["mode"] == "clusters" and n_resources > small_embed_limit
    assert sum(c[2] for c in body["clusters"]) == n_resources
    street = client.get(f"/territories/frontignan/map/features.json?bbox={bbox}&zoom=18").json()
    assert street["mode"] == "points" and len(street["resources"]) == n_resources
    assert len(street["links"]) == n_links
    weak_gone = client.get(f"/territories/frontignan/map/features.json?bbox={bbox}&zoom=18"
                           "&min_level=3").json()
    assert all(link[4] >= 3 for link in weak_gone["links"])
    kinds = client.get(f"/territories/frontignan/map/features.json?bbox={bbox}&zoom=18"
                       "&kinds=food_aid").json()
    assert {p[2] for p in kinds["resources"]} == {"food_aid"}
    page = client.get("/territories/frontignan").text
    cfg = config_of(page)
    assert cfg["mode"] == "viewport" and "resources" not in cfg
    assert "la carte charge celles de la zone affichée" in page


@pytest.mark.parametrize("query, field", [
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=3,43,2,44", "bbox"),
    ("bbox=nan,43,4,44", "bbox"), ("bbox=3,43,4,44&kinds=dragons", "kinds"),
    ("bbox=3,43,4,44&categories=x", "categories"),
])
def test_features_reject_bad_parameters(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/territories/frontignan/map/features.json?{query}")
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in json.dumps(response.json()["errors"])


def test_bbox_filters_private_persons_on_their_shown_point(
        client: TestClient, xss_territory: XssTerritory) -> None:
    """A tiny box around the real home must not reveal that someone lives there."""
    d = 0.001
    around_home = (f"{PRIVATE_LON - d},{PRIVATE_LAT - d},{PRIVATE_LON + d},{PRIVATE_LAT + d}")
    body = client.get(f"/territories/{xss_territory.slug}/map/features.json"
                      f"?bbox={around_home}&zoom=18").json()
    assert body["resources"] == []
    everything = client.get(f"/territories/{xss_territory.slug}/map/features.json"
                            "?bbox=3.5,43.3,4.0,43.6&zoom=18").json()
    shown = {p[0]: p for p in everything["resources"]}
    assert shown[xss_territory.private_id][5] == "commune"
    assert xss_territory.pending_id not in shown and xss_territory.members_id not in shown


def test_search_and_popups(client: TestClient, xss_territory: XssTerritory) -> None:
    found = client.get("/territories/montpellier-centre/map/search.json?q=epicerie").json()
    assert found["results"] and all("picerie" in r["name"].lower() for r in found["results"])
    hidden = client.get(f"/territories/{xss_territory.slug}/map/search.json?q=attente").json()
    assert hidden["results"] == []
    xss = client.get(f"/territories/{xss_territory.slug}/map/search.json?q=<img").json()
    assert [r["name"] for r in xss["results"]] == [XSS_NAME]
    detail = client.get(f"/territories/{xss_territory.slug}/map/resources/"
                        f"{xss_territory.xss_id}.json").json()
    assert detail["name"] == XSS_NAME and detail["links"][0]["level"] == 3
    link = client.get(f"/territories/{xss_territory.slug}/map/links/"
                      f"{xss_territory.link_id}.json").json()
    assert link["history"][0][:2] == ["2021-03-01", 3] and link["started_on"] == "2021-03-01"
    assert client.get(f"/territories/{xss_territory.slug}/map/resources/"
                      f"{xss_territory.pending_id}.json").status_code == 404
    assert client.get("/territories/frontignan/map/resources/nope.json").status_code in (400, 422)


def test_bbox_query_uses_the_spatial_index_at_volume(session: Session) -> None:
    """With a territory of 20,000 resources and a street-sized box, the common branch is served
    by the GiST index (`resource.geom && envelope`), not by walking the territory's rows.
    Measured on real volume (rolled back after), not forced with enable_seqscan."""
    from bench import synthetic
    from carto.territories import TerritorySpec, create_from_communes
    from tests.api.test_api_plans import plan_nodes

    territory = create_from_communes(session, TerritorySpec(slug="bbox-plan", name="Plan"),
                                     ["34172"])
    synthetic.add_resources(session, territory, 20_000, seed=11)
    session.execute(text("ANALYZE resource"))
    session.execute(text("ANALYZE resource_territory"))
    sql, params = mapdata._in_view_sql(mapdata.ANONYMOUS, "r.id")
    box = {"tid": territory.id, "w": 3.870, "s": 43.600, "e": 3.875, "n": 43.605}
    nodes = plan_nodes(session, sql, params | box)
    assert ("Index Scan", "resource_geom_gist") in nodes or (
        "Bitmap Index Scan", "resource_geom_gist") in nodes, nodes
    assert ("Seq Scan", "resource") not in nodes, nodes


def test_level_chips_count_every_link_when_the_list_is_cut(
        client: TestClient, session: Session, small_embed_limit: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded by viewport, the page lists only the first links; the chips above the list still
    count all of them, level by level."""
    from api.routers import maps as maps_router
    from carto import search, territories
    from carto.visibility import ANONYMOUS

    monkeypatch.setattr(maps_router, "TABLE_ROWS_LARGE", 2)
    tid = territories.id_of(session, "frontignan")
    assert tid is not None
    stats = search.territory_stats(session, ANONYMOUS, tid)
    assert stats["links"] > 2 and stats["resources"] > small_embed_limit
    html = client.get("/territories/frontignan").text
    chips = html[html.index('<h2>Liens de coopération'):html.index('<table id="links">')]
    shown = {int(level): int(n) for level, n in re.findall(r"(\d) · [^<·]+ · (\d+)</span>", chips)}
    assert shown == {int(k): v for k, v in stats["links_by_level"].items()}
