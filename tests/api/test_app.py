"""The app skeleton: health, the home page, the territories as GeoJSON, errors."""

import pytest
from fastapi.testclient import TestClient

from api.main import YOUNG_GENERATION, create_app


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_says_when_the_database_is_down() -> None:
    app = create_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    with TestClient(app) as c:
        response = c.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_api_territories_is_geojson(client: TestClient) -> None:
    response = client.get("/api/territories")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    by_slug = {f["id"]: f for f in body["features"]}
    frontignan = by_slug["frontignan"]
    assert frontignan["geometry"]["type"] == "MultiPolygon"
    lon, lat = frontignan["geometry"]["coordinates"][0][0][0]
    assert 3.6 < lon < 3.9 and 43.3 < lat < 43.6  # RFC 7946: lon, lat
    props = frontignan["properties"]
    assert props["population"] == 24136 and props["communes"] == ["34108"]
    assert props["resources"] > 0 and props["links"] > 0
    assert by_slug["haut-allier"]["properties"]["level"] == "intercommunality"
    assert len(by_slug["haut-allier"]["properties"]["communes"]) == 10


def test_home_lists_the_territories_with_counts(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="fr">' in html
    territories = client.get("/api/territories").json()["features"]
    for feature in territories:
        props = feature["properties"]
        assert f'href="/territories/{props["slug"]}"' in html
        assert props["name"].replace("'", "&#39;") in html
    assert "ODbL" in html and "Licence Ouverte" in html
    english = client.get("/?lang=en").text
    assert '<html lang="en">' in english and "Territories" in english


def test_territory_page_lists_resources_and_links(client: TestClient) -> None:
    response = client.get("/territories/frontignan")
    assert response.status_code == 200
    props = next(f["properties"] for f in client.get("/api/territories").json()["features"]
                 if f["id"] == "frontignan")
    assert f'<dd id="n-resources">{props["resources"]}</dd>' in response.text
    assert f'<dd id="n-links">{props["links"]}</dd>' in response.text
    assert "Placé au centre de la commune" in response.text


def test_unknown_territory(client: TestClient) -> None:
    page = client.get("/territories/atlantis", headers={"accept": "text/html"})
    assert page.status_code == 404 and "atlantis" in page.text and "<html" in page.text
    api = client.get("/api/nowhere")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["status"] == 404


def test_a_database_outage_is_a_503_not_a_500() -> None:
    app = create_app("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    with TestClient(app) as c:
        response = c.get("/api/resources")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"


def test_telemetry_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """FastAPI's built-in OpenTelemetry looks the global providers up on every request when it
    is on, even unconfigured: off by default (TERREAU_TELEMETRY), on when asked."""
    from opentelemetry import trace

    from carto.config import app_settings

    calls = []
    real = trace.get_tracer_provider

    def counting() -> trace.TracerProvider:
        calls.append(1)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counting)
    for setting, expect_lookups in (("false", False), ("true", True)):
        monkeypatch.setenv("TERREAU_TELEMETRY", setting)
        app_settings.cache_clear()
        calls.clear()
        with TestClient(create_app("postgresql://nobody@127.0.0.1:1/none")) as client:
            client.get("/static/nothing-here")
        assert bool(calls) is expect_lookups
    app_settings.cache_clear()


def test_start_up_heap_is_frozen() -> None:
    """Without gc.freeze() at start-up, a full collection walks every module's objects (~100 ms
    on the dev machine) every few dozen requests: the p99 of /api/nearby."""
    import gc

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with TestClient(create_app("postgresql://nobody@127.0.0.1:1/none")):
        assert gc.get_freeze_count() > 50_000


def test_young_generation_is_collected_less_often_while_serving() -> None:
    """A nearby request allocates thousands of short-lived containers: with CPython's 700 the
    young generation was collected every few requests, walking the other requests' live
    objects. The process's own thresholds come back at shutdown."""
    import gc

    before = gc.get_threshold()
    with TestClient(create_app("postgresql://nobody@127.0.0.1:1/none")):
        assert gc.get_threshold() == (YOUNG_GENERATION, *before[1:])
    assert gc.get_threshold() == before


def test_nearby_is_the_first_router_walked_and_the_only_one_for_its_paths() -> None:
    """Each request walks the app's routes in order until one matches, ~5 us per router:
    the nearby router comes right after the mounts, and no other route matches its paths with
    any method, so the order changes no answer (405s included)."""
    from starlette.routing import Match

    from api.routers import nearby

    routes = create_app("postgresql://nobody@127.0.0.1:1/none").router.routes
    paths = [route.path for route in nearby.router.routes]  # type: ignore[attr-defined]
    assert "/api/nearby" in paths
    first = next(i for i, route in enumerate(routes) if type(route).__name__ == "_IncludedRouter")
    for path in paths:
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            scope = {"type": "http", "path": path, "method": method, "root_path": "",
                     "query_string": b"", "headers": []}
            found = [i for i, route in enumerate(routes) if route.matches(scope)[0] != Match.NONE]
            assert len(found) == 1, (path, method, found)
            assert found[0] <= first + 1, (path, found, first)  # maps' router, then nearby's
