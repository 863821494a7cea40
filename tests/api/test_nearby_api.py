"""Find what is nearby (issue 5), over HTTP: GeoJSON by distance, the three origins, every bad
input a 400 naming its parameter, the page, and the event-loop engine under the endpoint."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.nearbyworld import add, query

# ------------------------------------------------------------------ the API


def test_api_answers_geojson_by_distance(client: TestClient) -> None:
    response = client.get(
        "/api/nearby", params={"commune": "Montpellier", "kind": "producer,food_aid", "radius_km": "50"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["origin"]["type"] == "commune" and body["origin"]["code"] == "34172"
    assert body["query"]["kind"] == ["producer", "food_aid"] and body["query"]["radius_km"] == 50
    dists = [f["properties"]["distance_m"] for f in body["features"]]
    assert dists == sorted(dists) and all(d % 10 == 0 and d <= 50_000 for d in dists)
    assert body["matched"] >= body["returned"] == len(body["features"]) > 0
    kinds = {f["properties"]["kind"] for f in body["features"]}
    assert kinds <= {"producer", "food_aid"}
    first = body["features"][0]["properties"]
    assert {
        "name",
        "kind_label",
        "bearing",
        "products",
        "access_conditions",
        "opening_status",
        "phone",
        "email",
        "website",
    } <= set(first)
    english = client.get("/api/nearby", params={"commune": "34172", "lang": "en"}).json()
    assert english["features"][0]["properties"]["kind_label"] == "Producer"


def test_api_point_and_resource_origins(client: TestClient) -> None:
    point = client.get("/api/nearby", params={"lat": "43.6138", "lon": "3.8251"}).json()
    assert point["origin"]["type"] == "point"
    assert (point["origin"]["lon"], point["origin"]["lat"]) == (3.8251, 43.6138)
    first = point["features"][0]["id"]
    around = client.get("/api/nearby", params={"resource": first, "kind": "producer"}).json()
    assert around["origin"]["type"] == "resource" and around["origin"]["id"] == first
    assert first not in [f["id"] for f in around["features"]]


BAD = [
    ("", "origin"),
    ("lat=43.6", "lon"),
    ("lon=3.8", "lat"),
    ("lat=43.6&lon=3.8&commune=34172", "origin"),
    ("commune=34172&resource=9c13be21-0f07-51ed-8b35-9978bb95f18b", "origin"),
    ("lat=95&lon=3.8", "lat"),
    ("lat=43.6&lon=-181", "lon"),
    ("lat=NaN&lon=3.8", "lat"),
    ("lat=43.6&lon=inf", "lon"),
    ("lat=43,6&lon=3.8", "lat"),
    ("lat=abc&lon=3.8", "lat"),
    ("commune=Atlantis", "commune"),
    ("commune=99999", "commune"),
    ("commune=", "commune"),
    ("resource=not-a-uuid", "resource"),
    ("commune=34172&radius_km=-5", "radius_km"),
    ("commune=34172&radius_km=0", "radius_km"),
    ("commune=34172&radius_km=201", "radius_km"),
    ("commune=34172&radius_km=1e9", "radius_km"),
    ("commune=34172&radius_km=nan", "radius_km"),
    ("commune=34172&limit=0", "limit"),
    ("commune=34172&limit=-3", "limit"),
    ("commune=34172&limit=ten", "limit"),
    ("commune=34172&limit=-1", "limit"),
    ("commune=34172&kind=unicorn", "kind"),
    ("commune=34172&kind=producer,", "kind"),
    ("commune=34172&product=caviar", "product"),
    ("commune=34172&access=vip", "access"),
    ("commune=34172&open_at=tomorrow", "open_at"),
    ("commune=34172&open_at=2025-07-15", "open_at"),
    ("commune=34172&open_at=2025-13-45T10:00", "open_at"),
    ("commune=34172&radius=5", "radius"),
    ("commune=34172&limit=5&limit=6", "limit"),
    ("commune=34172%00", "commune"),
]


@pytest.mark.parametrize("qs", ["resource=00000000-0000-0000-0000-000000000000",
                                "commune=34172&territory=atlantis"])
def test_a_territory_or_resource_that_is_not_there_is_a_404_naming_it(
        client: TestClient, qs: str) -> None:
    """As in every query (territories.filter_id): it names something that does not exist (or
    that this reader may not see), which no schema can know."""
    response = client.get(f"/api/nearby?{qs}")
    assert response.status_code == 404, response.text
    assert [e["field"] for e in response.json()["errors"]] == [qs.split("&")[-1].split("=")[0]]


@pytest.mark.parametrize("qs,field", BAD)
def test_bad_input_is_a_400_naming_the_parameter(client: TestClient, qs: str, field: str) -> None:
    response = client.get(f"/api/nearby?{qs}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], body
    assert body["status"] == 400 and body["detail"]


def test_suggestions(client: TestClient, session: Session) -> None:
    body = client.get("/api/nearby/suggest", params={"q": "pezen"}).json()
    assert body["suggestions"][0]["code"] == "34199"
    body = client.get("/api/nearby/suggest", params={"q": "Saint-Brès"}).json()
    homonyms = [s for s in body["suggestions"] if s["type"] == "commune" and s["name"] == "Saint-Brès"]
    assert sorted(s["department"] for s in homonyms) == ["30", "34"]
    assert all(s["homonym"] for s in homonyms)
    body = client.get("/api/nearby/suggest", params={"q": "celleneuve"}).json()
    types = {s["type"] for s in body["suggestions"]}
    assert {"territory", "resource"} <= types
    members = session.scalars(text("SELECT name FROM resource WHERE visibility = 'members'")).all()
    names = {s["name"] for s in body["suggestions"]}
    assert members and not names & set(members)
    for q, field in (("", "q"), ("a", "q"), ("x" * 101, "q"), (None, "q")):
        response = client.get("/api/nearby/suggest", params={} if q is None else {"q": q})
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == field
    assert client.get("/api/nearby/suggest", params={"q": "mont", "limit": "0"}).status_code == 400


def test_page_is_french_and_carries_its_config(client: TestClient) -> None:
    html = client.get("/nearby").text
    assert '<html lang="fr">' in html and "Trouver à proximité" in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/js/nearby.js" in html
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?://""", html)
    assert "Ma position" in html
    assert "Nearby" in client.get("/nearby?lang=en").text
    for path in ("/static/js/nearby.js", "/static/css/nearby.css", "/static/vendor/leaflet/leaflet.js"):
        assert client.get(path).status_code == 200, path


def test_api_runs_on_the_event_loop_engine(client: TestClient) -> None:
    """/api/nearby takes its connection from the app's async engine (no pool thread, no sync
    pool checkout); the domain code is the same as in-process."""
    from sqlalchemy import event

    from carto.db import get_engine

    app: Any = client.app
    checkouts = {"async": 0, "sync": 0}

    def counter(name: str) -> Any:
        def count(*_: Any) -> None:
            checkouts[name] += 1

        return count

    async_listener, sync_listener = counter("async"), counter("sync")
    sync_engine = app.state.engine
    assert sync_engine is get_engine(app.state.database_url)
    event.listen(app.state.async_engine.sync_engine.pool, "checkout", async_listener)
    event.listen(sync_engine.pool, "checkout", sync_listener)
    try:
        response = client.get("/api/nearby", params={"commune": "Frontignan", "kind": "producer"})
    finally:
        event.remove(app.state.async_engine.sync_engine.pool, "checkout", async_listener)
        event.remove(sync_engine.pool, "checkout", sync_listener)
    assert response.status_code == 200, response.text
    assert response.json()["features"]
    assert checkouts == {"async": 1, "sync": 0}


def test_api_database_down_or_busy_is_a_503(monkeypatch: pytest.MonkeyPatch, migrated: str) -> None:
    from api.main import create_app
    from carto.config import database_settings

    with TestClient(create_app("postgresql://nobody@127.0.0.1:1/none")) as down:
        response = down.get("/api/nearby", params={"lat": "43.6", "lon": "3.9"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")

    # one connection, held elsewhere: the request waits async_pool_timeout, then says so
    monkeypatch.setenv("ASYNC_POOL_SIZE", "1")
    monkeypatch.setenv("ASYNC_POOL_TIMEOUT", "0.3")
    database_settings.cache_clear()
    try:
        with TestClient(create_app(migrated)) as busy:
            app: Any = busy.app
            held = busy.portal.call(app.state.async_engine.connect().start)
            try:
                response = busy.get("/api/nearby", params={"lat": "43.6", "lon": "3.9"})
            finally:
                busy.portal.call(held.close)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            assert busy.get("/api/nearby", params={"lat": "43.6", "lon": "3.9"}).status_code == 200
    finally:
        database_settings.cache_clear()


def test_api_reads_on_the_one_connection_it_holds(monkeypatch: pytest.MonkeyPatch,
                                                  migrated: str) -> None:
    """carto.db.read_on_async: the statements a request sends through SQLAlchemy (the commune
    origin, the territory) and those sent by hand on the psycopg connection (the walk) share
    the one connection it took; a pool of one connection answers each of them at once."""
    from api.main import create_app
    from carto.config import database_settings

    monkeypatch.setenv("ASYNC_POOL_SIZE", "1")
    monkeypatch.setenv("ASYNC_POOL_TIMEOUT", "0.3")
    database_settings.cache_clear()
    try:
        with TestClient(create_app(migrated)) as one:
            for _ in range(3):
                found = one.get("/api/nearby", params={"commune": "34172", "radius_km": "50"})
                assert found.status_code == 200, found.text
                assert found.json()["origin"]["code"] == "34172"
                missing = one.get("/api/nearby", params={"lat": "43.6", "lon": "3.9",
                                                         "territory": "nowhere"})
                assert missing.status_code == 404
                assert [e["field"] for e in missing.json()["errors"]] == ["territory"]
    finally:
        database_settings.cache_clear()


def test_statements_are_numbered_once_for_psycopg() -> None:
    """`carto.db.hot_rows` hands psycopg `$n` placeholders (a RawCursor: no parse per run): a
    name used twice is one parameter, a literal `%` and an escaped colon stay as written."""
    from carto.db import _positional

    query, names = _positional("SELECT :a, :b, :a, 'x%y', 'h\\:m'")
    assert (query, names) == (b"SELECT $1, $2, $1, 'x%y', 'h:m'", ("a", "b"))


def test_features_name_their_commune_as_the_referential_does(session: Session) -> None:
    """The commune's name and department come from carto.places's cache, not from a join in
    the statement: the same as the commune table, for the rows of the first batch and for a
    private person, whose details are read afterwards (`_details_sql`)."""
    private = add(session, 3.8770, 43.6110, is_private=True, commune="34172",
                  name="Particulier (test)")
    result = query(session, commune="34172", kind="producer,food_aid", radius_km=100, limit=200)
    communes = {code: (name, dep) for code, name, dep in session.execute(
        text("SELECT code, name, department FROM commune"))}
    shown = {f["id"]: f["properties"] for f in result.features}
    assert len(shown) > 5 and all(p["commune"] is not None for p in shown.values())
    assert all((p["commune_name"], p["department"]) == communes[p["commune"]]
               for p in shown.values())
    assert (shown[str(private)]["location_precision"], shown[str(private)]["commune_name"],
            shown[str(private)]["department"]) == ("commune", "Montpellier", "34")
