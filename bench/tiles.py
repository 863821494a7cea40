"""Vector tiles vs the viewport GeoJSON that a territory map above the embed limit loads today
(issue 16: the map uses tiles only if they are faster), measured in Chromium.

Data: `bench-tiles` (the communes of Hérault, 20,000 synthetic resources, 40,000 links at full
scale: above TERREAU_MAP_EMBED_LIMIT, so the map loads by viewport). For map viewports of
1280x900 at zooms 10, 12 and 14 centred on the densest place, Debian's headless Chromium
(Playwright), from a page of the app, times
- `GET /territories/bench-tiles/map/features.json?bbox=…&zoom=…` then `response.json()`: what
  static/js/terreau-map.js does after every pan (the reference);
- every tile of resources and links covering the same viewport
  (`/tiles/{layer}/{z}/{x}/{y}.pbf?territory=bench-tiles`), fetched in parallel, bodies read as
  ArrayBuffers — decoding and drawing not counted: the tiles' lower bound.
Cache off, alternating, medians. No target: the ratio decides (> 1: the GeoJSON stays).

    python -m bench tiles
"""

import math
import statistics

from sqlalchemy import text

from bench import common, synthetic
from bench.harness import Context, Figure, analyze, benchmark
from carto.db import transaction

WIDTH, HEIGHT = 1280, 900
SLUG = "bench-tiles"

MEASURE = """async ([geojsonUrl, tileUrls]) => {
  const t0 = performance.now();
  const body = await (await fetch(geojsonUrl, {cache: 'no-store'})).json();
  const t1 = performance.now();
  const buffers = await Promise.all(tileUrls.map(
      u => fetch(u, {cache: 'no-store'}).then(r => r.arrayBuffer())));
  const t2 = performance.now();
  return {geojson: t1 - t0, tiles: t2 - t1, mode: body.mode,
          points: (body.resources || []).length, tileBytes: buffers.reduce((n, b) => n + b.byteLength, 0)};
}"""


def viewport(lon: float, lat: float, z: int) -> tuple[tuple[float, float, float, float],
                                                        list[tuple[int, int]]]:
    """The bbox a WIDTHxHEIGHT map centred on lon/lat shows at zoom z, and its tiles."""
    n = 2 ** z
    cx = (lon + 180) / 360 * n * 256
    cy = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n * 256
    x0, x1 = (cx - WIDTH / 2) / 256, (cx + WIDTH / 2) / 256
    y0, y1 = (cy - HEIGHT / 2) / 256, (cy + HEIGHT / 2) / 256

    def lon_of(x: float) -> float:
        return x / n * 360 - 180

    def lat_of(y: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))

    tiles = [(x, y) for x in range(int(x0), int(x1) + 1) for y in range(int(y0), int(y1) + 1)]
    return (lon_of(x0), lat_of(y1), lon_of(x1), lat_of(y0)), tiles


def densest(url: str) -> tuple[float, float]:
    with transaction(url) as session:
        row = session.execute(text("""
            SELECT round(ST_X(geom)::numeric, 1) AS x, round(ST_Y(geom)::numeric, 1) AS y
            FROM resource GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1""")).one()
    return float(row.x), float(row.y)


@benchmark("tiles", "vector tiles vs the viewport GeoJSON of a large territory's map")
def run(ctx: Context) -> list[Figure]:
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    resources, links = ctx.size(20_000), ctx.size(40_000)
    with transaction(ctx.url) as session:
        synthetic.fill_territory(session, SLUG, ["34"], resources, links)
    analyze(ctx.url)
    lon, lat = densest(ctx.url)
    runs = ctx.size(5, minimum=2)
    figures = []
    with common.uvicorn_server(ctx.url) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/ogc?f=html")
            for z in (10, 12, 14):
                (w, s, e, n), tiles = viewport(lon, lat, z)
                geojson = (f"{base}/territories/{SLUG}/map/features.json?"
                           f"bbox={w:.5f},{s:.5f},{e:.5f},{n:.5f}&zoom={z}")
                urls = [f"{base}/tiles/{layer}/{z}/{x}/{y}.pbf?territory={SLUG}"
                        for layer in ("resources", "links") for x, y in tiles]
                page.evaluate(MEASURE, [geojson, urls])  # warm-up
                measured = [page.evaluate(MEASURE, [geojson, urls]) for _ in range(runs)]
                g = statistics.median(m["geojson"] for m in measured)
                t = statistics.median(m["tiles"] for m in measured)
                first = measured[0]
                ctx.details.append(
                    f"zoom {z}: viewport GeoJSON {g:.0f} ms ({first['mode']}, "
                    f"{first['points']} points), {len(urls)} tiles {t:.0f} ms "
                    f"({first['tileBytes']:,} bytes), fetch only.")
                figures.append(Figure(
                    f"tiles.viewport_z{z}_ms", f"tiles of a 1280x900 map at zoom {z}, fetch only",
                    t, g, "the viewport GeoJSON of the same map (features.json)", "ms"))
        finally:
            browser.close()
    return figures
