"""Bounded costs (issue 10 §5, §6): what one gap request may ask for, named in a 4xx before any
SQL runs, and the rate limits (429 with Retry-After) on analyses, /api/nearby and wrong tokens.

The rest of the suite runs with high limits (tests/conftest.py); here each test builds an app
with its own low ones."""

import asyncio
import math
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.ratelimit import NEARBY, InlineExpiryMemory, RateLimiter
from carto.config import RateLimitSettings, gap_settings
from carto.errors import TooManyRequests
from tests.apiworld import World


def square(x0: float, y0: float, size: float) -> dict[str, object]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x0 + size, y0], [x0 + size, y0 + size],
                                                [x0, y0 + size], [x0, y0]]]}


WORLD = {"type": "Polygon",
         "coordinates": [[[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]]]}
# about 1.1 km across, in Frontignan: the analysis works
SMALL = square(3.75, 43.44, 0.01)


def fields(response: object) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("radius", [0, 30])
def test_a_whole_world_polygon_is_a_422_naming_the_geometry(client: TestClient,
                                                            radius: int) -> None:
    # with a radius it was a 500 ("Antipodal (180 degrees long) edge detected!")
    response = client.post("/api/gap", params={"radius_km": radius}, json=WORLD)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert fields(response) == ["geometry"]


def test_an_unclosed_ring_is_refused_naming_the_coordinates(client: TestClient) -> None:
    ring = SMALL["coordinates"][0][:-1]  # type: ignore[index]
    response = client.post("/api/gap", json={"type": "Polygon", "coordinates": [ring]})
    assert response.status_code == 422, response.text
    assert fields(response) == ["geometry.coordinates"]
    assert "fermé" in response.json()["detail"]
    english = client.post("/api/gap", params={"lang": "en"},
                          json={"type": "Polygon", "coordinates": [ring]})
    assert "not closed" in english.json()["detail"]
    # the same ring closed is analysed
    assert client.post("/api/gap", json=SMALL).status_code == 200


def test_a_ring_of_three_positions_is_refused(client: TestClient) -> None:
    ring = [[3.75, 43.44], [3.76, 43.44], [3.75, 43.44]]
    response = client.post("/api/gap", json={"type": "Polygon", "coordinates": [ring]})
    assert response.status_code == 422 and fields(response) == ["geometry.coordinates"]


def test_a_polygon_larger_than_the_area_limit_is_refused(client: TestClient) -> None:
    most = gap_settings().max_area_km2
    side = math.sqrt(most * 1.3) / 111.32 / math.cos(math.radians(43.5))  # degrees of longitude
    big = {"type": "Polygon", "coordinates": [[
        [3.0, 43.0], [3.0 + side, 43.0], [3.0 + side, 43.0 + side * 0.73],
        [3.0, 43.0 + side * 0.73], [3.0, 43.0]]]}
    response = client.post("/api/gap", json=big)
    assert response.status_code == 422, response.text
    assert fields(response) == ["geometry"] and "km²" in response.json()["detail"]


def test_a_long_thin_polygon_is_refused_by_its_span(client: TestClient) -> None:
    # 0.01° wide (less than 1 km) but 5° long: a small area, edges far apart
    thin = {"type": "Polygon", "coordinates": [[[0.0, 43.0], [5.0, 43.0], [5.0, 43.01],
                                                [0.0, 43.01], [0.0, 43.0]]]}
    response = client.post("/api/gap", json=thin)
    assert response.status_code == 422 and fields(response) == ["geometry"]
    assert "km" in response.json()["detail"]


def test_too_many_vertices_are_refused_before_any_geometry_is_built(client: TestClient) -> None:
    n = gap_settings().max_vertices + 1
    ring = [[3.75 + 0.01 * math.cos(2 * math.pi * i / n), 43.44 + 0.01 * math.sin(2 * math.pi * i / n)]
            for i in range(n - 1)]
    response = client.post("/api/gap", json={"type": "Polygon", "coordinates": [ring + ring[:1]]})
    assert response.status_code == 422, response.text
    assert fields(response) == ["geometry.coordinates"]
    assert str(n) in response.json()["detail"]


def test_radius_and_commune_count_limits_name_their_parameter(client: TestClient) -> None:
    limits = gap_settings()
    over = client.get("/api/territories/frontignan/gap",
                      params={"radius_km": limits.max_radius_km + 1})
    assert over.status_code == 400 and fields(over) == ["radius_km"]
    codes = ",".join(f"{34000 + i}" for i in range(limits.max_communes + 1))
    many = client.get("/api/gap", params={"communes": codes})
    assert many.status_code == 400 and fields(many) == ["communes"]


def test_an_unknown_member_of_an_override_is_refused(client: TestClient, world: World) -> None:
    payload = {"parameter": "yield_t_ha", "product": "vegetables", "value": 21.5,
               "source": "essai", "territory": "api-a", "colour": "red"}
    response = client.post("/api/gap/overrides", json=payload, headers=World.auth(world.admin))
    assert response.status_code == 422, response.text
    assert fields(response) == ["colour"]
    assert client.get("/api/gap/overrides", params={"territory": "api-a"}).json() == []


def test_the_documented_limits_are_in_the_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/gap"]["post"]
    limits = gap_settings()
    assert f"{limits.max_area_km2:g} km²" in post["description"]
    assert f"{limits.max_vertices} vertices" in post["description"]
    assert {"429", "503"} <= set(post["responses"])


@pytest.fixture
def limited(migrated: str, demo_loaded: object) -> Iterator[tuple[TestClient, RateLimiter]]:
    """An app of its own, whose limits each test sets."""
    app = create_app(migrated)
    with TestClient(app) as c:
        yield c, app.state.rate_limiter


def use(client_and_limiter: tuple[TestClient, RateLimiter], **limits: object) -> TestClient:
    c, _ = client_and_limiter
    c.app.state.rate_limiter = RateLimiter(RateLimitSettings(**limits))  # type: ignore[attr-defined]
    return c


def test_analyses_past_the_rate_get_429_with_retry_after(
        limited: tuple[TestClient, RateLimiter], world: World) -> None:
    c = use(limited, gap="3/minute")
    url = "/api/territories/frontignan/gap"
    assert [c.get(url).status_code for _ in range(3)] == [200, 200, 200]
    refused = c.get(url)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # every costly gap endpoint shares the count; a cheap one does not
    assert c.post("/api/gap", json=SMALL).status_code == 429
    assert c.get("/api/gap/communes", params={"territory": "frontignan"}).status_code == 429
    page = c.get("/territories/frontignan/gap", headers={"Accept": "text/html"})
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert c.get("/api/gap/coefficients").status_code == 200
    # a token is counted apart from the address it comes from
    assert c.get(url, headers=World.auth(world.editor)).status_code == 200


def test_the_rate_limit_can_be_switched_off(limited: tuple[TestClient, RateLimiter]) -> None:
    c = use(limited, gap="1/minute", enabled=False)
    url = "/api/territories/frontignan/gap"
    assert [c.get(url).status_code for _ in range(3)] == [200, 200, 200]


def test_wrong_tokens_past_the_limit_refuse_every_token(
        limited: tuple[TestClient, RateLimiter], world: World) -> None:
    c = use(limited, failed_tokens="3/minute")
    bad = {"Authorization": "Bearer guess"}
    assert [c.get("/api/moderation", params={"territory": "api-a"}, headers=bad).status_code
            for _ in range(3)] == [401, 401, 401]
    refused = c.get("/api/moderation", params={"territory": "api-a"},
                    headers=World.auth(world.editor))
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    assert fields(refused) == ["Authorization"]
    # reading without a token is not a token attempt
    assert c.get("/api/territories").status_code == 200


def test_right_tokens_are_not_counted_as_failures(limited: tuple[TestClient, RateLimiter],
                                                  world: World) -> None:
    c = use(limited, failed_tokens="2/minute")
    statuses = {c.get("/api/moderation", params={"territory": "api-a"},
                      headers=World.auth(world.editor)).status_code for _ in range(5)}
    assert statuses == {200}


def test_nearby_has_its_own_rate(limited: tuple[TestClient, RateLimiter]) -> None:
    c = use(limited, nearby="2/minute")
    params = {"lat": 43.45, "lon": 3.75}
    assert [c.get("/api/nearby", params=params).status_code for _ in range(3)] == [200, 200, 429]
    assert c.get("/api/territories/frontignan/gap").status_code == 200


def test_analyses_wait_for_a_free_slot_then_get_503(
        limited: tuple[TestClient, RateLimiter]) -> None:
    c = use(limited, gap_wait_s=0.05)
    rl: RateLimiter = c.app.state.rate_limiter  # type: ignore[attr-defined]
    rl.gap_slots = asyncio.Semaphore(0)  # every slot held (by analyses that never end)
    busy = c.get("/api/territories/frontignan/gap")
    assert busy.status_code == 503, busy.text
    assert int(busy.headers["Retry-After"]) >= 1
    rl.gap_slots = asyncio.Semaphore(1)
    assert [c.get("/api/territories/frontignan/gap").status_code for _ in range(3)] == [200] * 3
    assert rl.gap_slots._value == 1  # each analysis gave its slot back


def test_counting_a_request_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's memory storage started a `threading.Timer` whenever the last one had run
    (every 10 ms under traffic), on the event loop of /api/nearby; expiry now runs inline."""
    rl = RateLimiter(RateLimitSettings(nearby="1000/minute"))
    started: list[threading.Thread] = []
    monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread))
    for _ in range(5):
        rl.hit(NEARBY, "ip:192.0.2.1")
        time.sleep(0.02)
    assert started == []


def test_past_windows_are_still_dropped() -> None:
    rl = RateLimiter(RateLimitSettings(nearby="2/second"))
    store = rl.strategy.storage
    assert isinstance(store, InlineExpiryMemory)
    rl.hit(NEARBY, "ip:192.0.2.1")
    rl.hit(NEARBY, "ip:192.0.2.1")
    with pytest.raises(TooManyRequests):
        rl.hit(NEARBY, "ip:192.0.2.1")
    time.sleep(1.05)
    rl.hit(NEARBY, "ip:192.0.2.1")  # the window moved: counted again, and the old entries gone
    assert [len(entries) for entries in store.events.values()] == [1]
