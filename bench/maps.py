"""Territory maps at scale: server build time, page size, time to first markers in Chromium.

Run against a database filled by bench/synthetic.py (never the shared dev database):

    createdb -h 127.0.0.1 -p 5433 -U postgres terreau_bench_maps
    export DATABASE_URL=postgresql://postgres@127.0.0.1:5433/terreau_bench_maps
    .venv/bin/carto db upgrade
    .venv/bin/python -m bench.synthetic --resources 10000 --links 20000 \\
        --territory bench-maps-10k --departments 34
    .venv/bin/python -m bench.synthetic --resources 100000 --territory bench-maps-100k
    .venv/bin/python -m bench.maps --add-links bench-maps-100k=200000
    .venv/bin/python -m bench.maps bench-maps-10k bench-maps-100k

(`bench.synthetic --links` pairs resources through a CTE without an index, which is fine for
20,000 links and takes tens of minutes for 200,000; `--add-links` does the same with an indexed
temporary table, in seconds.)

For each territory it reports:
- the server's time to build `GET /territories/{slug}` (median of --runs, TestClient, so no
  network) and the HTML size;
- in headless Chromium (served by uvicorn on loopback, no tiles): the time from navigation to
  the first marker or cluster bubble on the map, the bytes the page loaded until then, and
  after zooming to street level at the densest bubble, the time to the first individual
  markers;
- the data endpoint's time at a few zooms.
"""

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from typing import Any

os.environ.setdefault("TERREAU_MAP_TILE_URL", "")


def _server(url: str) -> tuple[Any, str]:
    import uvicorn

    from api.main import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(url), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def server_side(url: str, slug: str, runs: int) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from api.main import create_app

    out: dict[str, Any] = {}
    with TestClient(create_app(url)) as client:
        client.get(f"/territories/{slug}")  # warm-up: connections, templates, vocabularies
        times, size = [], 0
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(f"/territories/{slug}")
            times.append(time.perf_counter() - started)
            size = len(response.content)
            assert response.status_code == 200, response.text[:500]
        out["page_ms"] = statistics.median(times) * 1000
        out["page_bytes"] = size
        alone = client.get(f"/territories/{slug}/map.html")
        out["map_html_bytes"] = len(alone.content)
        bbox = _bbox(client, slug)
        for zoom, box in (("8", bbox), ("12", _shrink(bbox, 16)), ("15", _shrink(bbox, 128))):
            ts = []
            for _ in range(runs):
                started = time.perf_counter()
                body = client.get(f"/territories/{slug}/map/features.json",
                                  params={"bbox": ",".join(map(str, box)), "zoom": zoom})
                ts.append(time.perf_counter() - started)
            data = body.json()
            out[f"features_z{zoom}_ms"] = statistics.median(ts) * 1000
            out[f"features_z{zoom}"] = (data["mode"], len(data.get("resources") or
                                                          data.get("clusters") or []),
                                        len(body.content))
    return out


def _bbox(client: Any, slug: str) -> list[float]:
    feature = next(f for f in client.get("/api/territories").json()["features"]
                   if f["id"] == slug)
    xs, ys = [], []

    def walk(c: Any) -> None:
        if isinstance(c[0], (int, float)):
            xs.append(c[0])
            ys.append(c[1])
        else:
            for part in c:
                walk(part)

    walk(feature["geometry"]["coordinates"])
    return [min(xs), min(ys), max(xs), max(ys)]


def _shrink(box: list[float], factor: int) -> list[float]:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w, h = (box[2] - box[0]) / factor / 2, (box[3] - box[1]) / factor / 2
    return [cx - w, cy - h, cx + w, cy + h]


def browser_side(base: str, slug: str, runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    firsts, bytes_loaded, streets = [], [], []
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for _ in range(runs):
            page = b.new_page(viewport={"width": 1280, "height": 900})
            loaded: list[int] = []

            def count(response: Any, into: list[int] = loaded) -> None:
                into.append(int(response.headers.get("content-length") or len(response.body())))

            page.on("response", count)
            page.goto(f"{base}/territories/{slug}", wait_until="commit")
            page.wait_for_selector(".tm-marker, .tm-bubble", timeout=60_000)
            firsts.append(page.evaluate("performance.now()"))
            bytes_loaded.append(sum(loaded))
            # Street level at the biggest bubble: the first individual markers.
            page.wait_for_function("!document.querySelector('.folium-map[data-loading]')")
            started = page.evaluate("""() => {
                const bubbles = [...document.querySelectorAll('.tm-bubble')];
                bubbles.sort((a, b) => b.dataset.count - a.dataset.count);
                const map = window.terreauMap.map;
                const target = bubbles.length ? map.containerPointToLatLng(
                    L.DomUtil.getPosition(bubbles[0]).add(map._getMapPanePos()).add([20, 20]))
                    : map.getCenter();
                const t = performance.now();
                map.setView(target, 16, {animate: false});
                return t;
            }""")
            page.wait_for_function("document.querySelectorAll('.tm-marker').length > 0 && "
                                   "!document.querySelector('.folium-map[data-loading]')",
                                   timeout=60_000)
            streets.append(page.evaluate("performance.now()") - started)
            page.close()
        b.close()
    return {"first_markers_ms": statistics.median(firsts),
            "bytes_until_first_markers": statistics.median(bytes_loaded),
            "street_markers_ms": statistics.median(streets)}


def add_links(url: str, slug: str, count: int) -> int:
    """Random links between the territory's synthetic resources, marked like bench.synthetic's."""
    from sqlalchemy import text

    from bench.synthetic import SOURCE
    from carto.db import transaction

    with transaction(url) as session:
        tid = session.execute(text("SELECT id FROM territory WHERE slug = :s"),
                              {"s": slug}).scalar_one()
        session.execute(text("""
            CREATE TEMP TABLE pool ON COMMIT DROP AS
            SELECT r.id, row_number() OVER (ORDER BY r.id) AS i
            FROM resource r JOIN resource_territory rt ON rt.resource_id = r.id
            WHERE rt.territory_id = :tid AND r.source_name = :src"""), {"tid": tid, "src": SOURCE})
        session.execute(text("CREATE UNIQUE INDEX ON pool (i)"))
        total = session.execute(text("SELECT count(*) FROM pool")).scalar_one()
        result = session.execute(text("""
            WITH pairs AS MATERIALIZED (
                SELECT g, 1 + floor(random() * :total)::bigint AS a,
                       1 + floor(random() * :total)::bigint AS b
                FROM generate_series(1, :count) g)
            INSERT INTO link (id, source_id, target_id, category, level, territory_id,
                              description, provenance, source_name, created_by, updated_by)
            SELECT gen_random_uuid(), pa.id, pb.id,
                   (ARRAY['aid_associations','territorial_structures','public_associations',
                          'residents_volunteers','producers_suppliers',
                          'social_workers_volunteers'])[1 + (p.g % 6)],
                   1 + (p.g % 5), :tid, 'Lien synthétique', 'import', :src, 'bench', 'bench'
            FROM pairs p JOIN pool pa ON pa.i = p.a JOIN pool pb ON pb.i = p.b
            WHERE pa.id <> pb.id
            ON CONFLICT DO NOTHING"""), {"tid": tid, "src": SOURCE, "count": count,
                                        "total": total})
        session.execute(text("ANALYZE link"))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("slugs", nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--add-links", metavar="SLUG=N", help="generate N links, then stop")
    args = parser.parse_args()
    from carto.config import database_settings

    url = database_settings().database_url
    if url.rsplit("/", 1)[-1].split("?")[0] == "terreau":
        sys.exit("refusing to run on the shared dev database 'terreau': use terreau_bench_maps")
    if args.add_links:
        slug, _, n = args.add_links.partition("=")
        started = time.perf_counter()
        made = add_links(url, slug, int(n))
        print(f"{made} links in {slug} ({time.perf_counter() - started:.1f} s)")
        return
    server, base = _server(url)
    try:
        for slug in args.slugs:
            result = server_side(url, slug, args.runs) | browser_side(base, slug, args.runs)
            print(f"{slug}:")
            for key, value in result.items():
                shown = f"{value:.0f}" if isinstance(value, float) else value
                print(f"  {key}: {shown}")
    finally:
        server.should_exit = True


if __name__ == "__main__":
    main()
