"""One source per rule (issue 11): kinds, caches, request parameters, privacy, SQL binds. Each
bug the issue names has its test here."""

import json
import re
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import ROOT, nearby, places, territories, vocab
from carto.cache import CACHES, DbCache, Entries
from carto.db import session_factory, transaction
from carto.territories import TerritorySpec
from tests.apiworld import World

# ---------------------------------------------------------------------------- kinds


def _nearby_label(client: TestClient, lang: str = "fr") -> str:
    body = client.get("/api/nearby", params={"commune": "34108", "kind": "producer",
                                             "lang": lang}).json()
    return str(body["features"][0]["properties"]["kind_label"])


def _page_config(client: TestClient) -> dict:
    page = client.get("/nearby").text
    found = re.search(r'id="nb-config"[^>]*>(.*?)</script>', page, re.S)
    assert found, "the page's configuration script"
    return dict(json.loads(found.group(1)))


def test_a_relabelled_kind_shows_everywhere(client: TestClient, world: World) -> None:
    """Bug: after PATCH /api/kinds/producer the territory page showed the new label and
    /api/nearby the old one."""
    admin = World.auth(world.admin)
    before = client.get("/api/kinds").json()
    old = next(k for k in before if k["code"] == "producer")
    assert _nearby_label(client) == old["label_fr"]  # cached now
    try:
        r = client.patch("/api/kinds/producer", headers=admin,
                         json={"label_fr": "Paysan·ne", "label_en": "Farmer"})
        assert r.status_code == 200, r.text
        assert _nearby_label(client) == "Paysan·ne"
        assert _nearby_label(client, "en") == "Farmer"
        assert "Paysan·ne" in client.get("/territories/frontignan").text
        assert any(k["label"] == "Paysan·ne" for k in _page_config(client)["kinds"])
        assert next(k for k in client.get("/api/kinds").json()
                    if k["code"] == "producer")["label_fr"] == "Paysan·ne"
    finally:
        client.patch("/api/kinds/producer", headers=admin,
                     json={"label_fr": old["label_fr"], "label_en": old["label_en"]})
    assert _nearby_label(client) == old["label_fr"]


def test_a_kind_added_by_an_admin_appears_in_nearby(client: TestClient, world: World,
                                                    migrated: str) -> None:
    """Bug: a kind added by an admin never appeared in /nearby (its kinds came from the CSV)."""
    assert "fab_lab" not in _page_config(client)["all_kinds"]
    r = client.post("/api/kinds", headers=World.auth(world.admin), json={
        "code": "fab_lab", "label_fr": "Atelier partagé", "label_en": "Shared workshop",
        "color": "#123456", "icon": "wrench", "sort_order": 50})
    assert r.status_code == 201, r.text
    try:
        config = _page_config(client)
        assert config["all_kinds"]["fab_lab"]["label"] == "Atelier partagé"
        assert "fab_lab" in [k["code"] for k in config["kinds"]]  # a chip of its own
        near = client.get("/api/nearby", params={"commune": "34108", "kind": "fab_lab"})
        assert near.status_code == 200, near.text
        assert client.get("/api/resources", params={"kind": "fab_lab"}).status_code == 200
    finally:
        with transaction(migrated) as session:
            session.execute(text("DELETE FROM resource_kind WHERE code = 'fab_lab'"))
        vocab.KINDS.invalidate()


def test_kinds_have_one_source(session: Session) -> None:
    """Nothing but carto.vocab reads the kind table, and the CSV only seeds it."""
    readers = [str(p.relative_to(ROOT)) for p in _sources()
               if re.search(r"FROM resource_kind|select\(ResourceKind", p.read_text())]
    assert readers == ["carto/vocab.py"]
    users = [str(p.relative_to(ROOT)) for p in _sources() if "seed_kinds(" in p.read_text()]
    assert sorted(users) == ["carto/referential.py", "carto/vocab.py"]

# ---------------------------------------------------------------------------- caches


def test_every_cache_is_the_one_helper() -> None:
    from api.readahead import EPOCH
    from api.routers.maps import PAGES

    assert {c.name for c in CACHES} >= {"kinds", "territory ids", "communes",
                                        "anonymous territory pages"}
    assert vocab.KINDS in CACHES and territories.IDS in CACHES and places.COMMUNES in CACHES
    # dropped by carto.cache.edited
    assert {c.name for c in CACHES if c.follows_edits} == {PAGES.name, EPOCH.name}
    assert isinstance(PAGES, Entries) and isinstance(territories.OUTLINES, Entries)


def test_the_cache_expires_and_is_dropped_on_commit(migrated: str) -> None:
    """A TTL for the other workers; explicit invalidation on the writes, after their COMMIT
    too, so a read that reloaded the old rows meanwhile does not keep them."""
    loads: list[float] = []

    def load(session: Session) -> float:
        loads.append(time.monotonic())
        return float(session.scalar(text("SELECT count(*) FROM resource_kind")) or 0)

    cache = DbCache("test", load, ttl=3600)
    CACHES.remove(cache)
    factory = session_factory(migrated)
    with factory() as reader, factory() as writer:
        first = cache.get(reader)
        assert cache.get(reader) == first and len(loads) == 1
        writer.begin()
        writer.execute(text("INSERT INTO resource_kind (code, label_fr, label_en, color, icon, "
                            "sort_order) VALUES ('cache_probe', 'x', 'x', '#000000', 'x', 99)"))
        cache.invalidate_on_commit(writer)
        assert cache.get(reader) == first  # not committed: a reader reloads the old rows
        writer.commit()
        assert cache.get(reader) == first + 1  # the commit dropped them again
        writer.execute(text("DELETE FROM resource_kind WHERE code = 'cache_probe'"))
        writer.commit()
    expiring = DbCache("test", load, ttl=0)
    CACHES.remove(expiring)
    with factory() as s:
        expiring.get(s)
        expiring.get(s)
    assert len(loads) == 5


def test_a_new_territory_is_found_at_once(migrated: str, client: TestClient) -> None:
    assert client.get("/api/resources", params={"territory": "cache-new"}).status_code == 404  # not there yet
    with transaction(migrated) as session:
        territories.create_from_communes(session, TerritorySpec(slug="cache-new", name="N"),
                                         ["34023"])
    assert client.get("/api/resources", params={"territory": "cache-new"}).status_code == 200

# ---------------------------------------------------------------------------- parameters


def test_one_bbox_behaviour_on_every_endpoint(client: TestClient) -> None:
    """Bug: /api/resources refused out-of-range boxes and the map clamped them."""
    def both(box: str) -> tuple[int, int]:
        a = client.get("/api/resources", params={"bbox": box}).status_code
        b = client.get("/territories/frontignan/map/features.json",
                       params={"bbox": box}).status_code
        return a, b

    assert both("-200,-100,200,100") == (200, 200)  # beyond the world: clamped to it
    assert both("3.6,43.3,0,3.9,43.5,10") == (200, 200)  # OGC's 3D form
    for bad in ("a,b,c,d", "1,2,3", "nan,1,2,3", "3.9,43.3,3.6,43.5", "inf,0,1,1",
                " 3.6,43.3,3.9,43.5", "3_6,43.3,39,43.5", "1e999,0,1,1"):
        assert both(bad) == (400, 400), bad
    worlds = client.get("/api/resources", params={"bbox": "-200,-100,200,100",
                                                  "limit": 10000}).json()["features"]
    assert len(worlds) == len(client.get("/api/resources",
                                         params={"limit": 10000}).json()["features"])


def test_one_code_list_and_limit_behaviour(client: TestClient) -> None:
    """Code lists: repeatable or comma-separated everywhere; limit: at least 1, clamped."""
    comma = client.get("/api/resources", params={"kind": "producer,market", "limit": 10000})
    repeated = client.get("/api/resources", params=[("kind", "producer"), ("kind", "market"),
                                                    ("limit", "10000")])
    assert comma.status_code == 200
    assert comma.json()["features"] == repeated.json()["features"] != []
    assert client.get("/api/resources", params={"kind": "unicorn"}).status_code == 400
    for url in ("/api/resources", "/api/links", "/api/nearby/suggest"):
        extra = {"q": "front"} if "suggest" in url else {}
        assert client.get(url, params={"limit": "0", **extra}).status_code == 400, url
        assert client.get(url, params={"limit": "999999", **extra}).status_code == 200, url
    big = client.get("/api/nearby", params={"commune": "34108", "limit": "999"}).json()
    assert big["query"]["limit"] == nearby.MAX_LIMIT

# ---------------------------------------------------------------------------- privacy


def _sources() -> list[Path]:
    return sorted([*(ROOT / "carto").rglob("*.py"), *(ROOT / "api").rglob("*.py")])


def test_the_private_predicate_and_masked_columns_live_in_visibility_only() -> None:
    """Bug: written in visibility.py, search.py, mapdata.py and nearby.py."""
    copies = [str(p.relative_to(ROOT)) for p in _sources()
              if re.search(r"is_private\s+OR|kind\s*=\s*'private_person'|THEN NULL ELSE",
                           p.read_text())]
    assert copies == ["carto/visibility.py"]

# ---------------------------------------------------------------------------- SQL binds


def test_nearby_statements_keep_sqlalchemy_escapes(session: Session) -> None:
    """Bug: nearby turned `:name` into `%(name)s` with a regex, which broke the `\\:` escape
    of a literal colon (and would have read a colon inside a string as a bind)."""
    rows = nearby._rows(session, r"SELECT 'à 10\:30' AS s, CAST(:x AS int) + 1 AS x, '5%' AS p",
                        {"x": 1})
    assert [tuple(r) for r in rows] == [("à 10:30", 2, "5%")]


# ---------------------------------------------------------------------------- numbers


def test_numbers_have_one_home() -> None:
    """`number`, `percent` and the reading of a typed decimal live in carto/numbers.py; pages
    get the formatters as template globals (api/templating.py), the gap and the importers
    import them."""
    from api.templating import templates
    from carto import numbers
    from carto.gap import charts, report

    assert templates.env.globals["number"] is numbers.number
    assert templates.env.globals["percent"] is numbers.percent
    assert report.number is numbers.number and charts.percent is numbers.percent
    copies = []
    for path in sorted([*ROOT.joinpath("carto").rglob("*.py"), *ROOT.joinpath("api").rglob("*.py")]):
        if path.name == "numbers.py" or path.relative_to(ROOT) == Path("carto/params.py"):
            continue  # params.number reads a query parameter (strict, a point, a 400 naming it)
        source = path.read_text(encoding="utf-8")
        if re.search(r"^def (number|percent|decimal)\(", source, re.M) \
                or 'replace(",", ".")' in source or "report.number" in source:
            copies.append(str(path.relative_to(ROOT)))
    assert copies == []
    percent_macros = [p.name for p in ROOT.joinpath("templates").glob("*.html")
                      if re.search(r'format\([^)]*\* ?100\) *}} *%', p.read_text("utf-8"))]
    assert percent_macros == [], "a page formats percentages with `percent(v, lang)`"
    assert numbers.percent(0.5, "fr") == "50\u202f%" and numbers.percent(0.5, "en") == "50%"
    assert numbers.decimal("1 234,5") == 1234.5 and numbers.decimal("inf") is None


def test_nearby_leaves_the_unknown_parameter_rule_to_api_query() -> None:
    """One home for "an unknown query parameter is a 400 naming it": api/query.py. /api/nearby
    reads its raw query string, so what it documents (openapi_extra) must be what it reads."""
    from api.routers.nearby import NEARBY_PARAMETERS

    source = ROOT.joinpath("carto", "nearby", "query.py").read_text(encoding="utf-8")
    assert "error.param.unknown" not in source and "\\x00" not in source
    assert sorted(p["name"] for p in NEARBY_PARAMETERS) == sorted(nearby.PARAMETERS)


# ---------------------------------------------------------------------------- engines


def test_ogc_tiles_nearby_and_resource_pages_are_served_on_the_async_read_path() -> None:
    """docs/conventions.md, "Which engine": /ogc, /tiles, /api/nearby and the pages of
    /api/resources (many small reads) run `async def` on AsyncReadsDep; none takes the thread
    pool's SessionDep. /api/nearby and GET /api/resources take a connection of the same async
    engine in the handler (`api.auth.read_own`), declaring none."""
    import asyncio
    import inspect

    from fastapi.routing import APIRoute

    from api.deps import get_async_reads, get_session
    from api.routers import nearby as nearby_routes
    from api.routers import ogc, resources, tiles

    def calls(dependant) -> set:  # type: ignore[no-untyped-def]
        found = {dependant.call}
        for sub in dependant.dependencies:
            found |= calls(sub)
        return found

    own = ("/api/nearby", "/api/resources")  # their session opened in the handler
    wrong, seen = [], 0
    for route in [*ogc.router.routes, *tiles.router.routes, *nearby_routes.router.routes,
                  *resources.router.routes]:
        if not isinstance(route, APIRoute) or not route.path.startswith(
                ("/ogc", "/tiles", *own)) or route.path == "/api/nearby/suggest" or (
                route.path.startswith("/api/resources")
                and (route.path != "/api/resources" or route.methods != {"GET"})):
            continue
        seen += 1
        used = calls(route.dependant)
        async_read = get_async_reads in used if route.path not in own \
            else "auth.read_own(" in inspect.getsource(route.endpoint)
        if not asyncio.iscoroutinefunction(route.endpoint) or get_session in used \
                or not async_read:
            wrong.append(route.path)
    assert seen >= 10 and wrong == []


# ---------------------------------------------------------------------------- resource reads


def test_a_resource_place_and_offer_are_read_in_search_only() -> None:
    """Bug: the columns of what a resource offers and the join to its commune and shown point
    were written in search.py, maps/data.py and nearby/sql.py."""
    copies = [str(p.relative_to(ROOT)) for p in _sources()
              if re.search(r"r\.price_note,\s*r\.documents_needed|"
                           r"LEFT JOIN commune c ON c\.code = r\.commune_code\s+CROSS JOIN LATERAL",
                           p.read_text())]
    assert copies == ["carto/search.py"]


# ---------------------------------------------------------------------------- write rules

def test_routers_decide_no_role_themselves() -> None:
    """Issue 10 §4: who may write what lives in carto/permissions.py; a router makes one call.
    A `require(...)` a router reaches through its own if/else is a rule written there (the gap
    overrides' "editor of its territory, else admin" was, twice)."""
    import ast

    found = []
    for path in sorted(ROOT.joinpath("api", "routers").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for branch in ast.walk(tree):
            if not isinstance(branch, ast.If | ast.IfExp):
                continue
            for node in ast.walk(branch):
                if isinstance(node, ast.Call) and (
                        getattr(node.func, "id", None) == "require"
                        or getattr(node.func, "attr", None) == "require"):
                    found.append(f"{path.name}:{node.lineno}")
    assert found == []


def test_bbox_and_cursor_are_documented_by_the_patterns_they_are_parsed_with(
        client: TestClient) -> None:
    """What /openapi.json allows of a bbox or a cursor is what carto.params accepts: the same
    pattern, checked first (float() alone took spaces and `1_0`; base64 alone dropped the
    characters it does not know)."""
    from carto import params

    spec = client.get("/openapi.json").json()

    def schema(path: str, name: str) -> dict:
        [found] = [p["schema"] for p in spec["paths"][path]["get"]["parameters"]
                   if p["name"] == name]
        return dict(found)

    for path in ("/api/resources", "/territories/{slug}/map/features.json"):
        assert schema(path, "bbox")["pattern"] == params.BBOX_PATTERN, path
        assert schema(path, "bbox")["format"] == "bbox"
    for path in ("/api/resources", "/api/links"):
        assert schema(path, "cursor")["pattern"] == params.CURSOR_PATTERN, path
    next_page = client.get("/api/resources", params={"limit": 1}).json()["next"]
    cursor = next_page.split("cursor=")[1]
    assert re.fullmatch(params.CURSOR_PATTERN, cursor)
    for bad in (cursor[:-1], cursor + "!", cursor[:10] + "*" + cursor[11:]):
        wrong = client.get("/api/resources", params={"cursor": bad})
        assert wrong.status_code == 400 and wrong.json()["errors"][0]["field"] == "cursor", bad
