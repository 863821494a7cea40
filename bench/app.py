"""The app as the benchmarks serve it: Terreau's own app plus the bare references of the
throughput and map figures (same process, same worker, same middlewares and routing).

- `/_bench/bare` (on the event loop, like /api/nearby and /api/resources) and
  `/_bench/bare-sync` (on the worker's thread pool, like the writes): a tiny JSON answer, no
  database, no domain code;
- `/_bench/leaflet?n=N&bbox=minlon,minlat,maxlon,maxlat`: a bare Leaflet page (the same
  Leaflet the maps use, served by the app) drawing N div markers spread over the box, the
  reference of "first markers in Chromium".

    uvicorn --factory bench.app:create_app
"""

import json
import random
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

from api import assets
from api.main import create_app as create_terreau_app

BARE_ASYNC = "/_bench/bare"
BARE_SYNC = "/_bench/bare-sync"
LEAFLET = "/_bench/leaflet"
BARE_MARKER = "bench-marker"

_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Leaflet nu</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{css}">
<link rel="stylesheet" href="{LEAFLET}.css">
</head><body><div id="map"></div>
<script src="{js}"></script>
<script src="{LEAFLET}.js?{query}"></script>
</body></html>"""

_CSS = f"""html, body, #map {{ height: 100%; margin: 0; }}
.{BARE_MARKER} {{ background: #2a7; border-radius: 50%; border: 2px solid #fff; }}"""

_JS = """var points = {points};
var map = L.map('map').fitBounds([[{s}, {w}], [{n}, {e}]]);
points.forEach(function (p) {{
  L.marker([p[1], p[0]], {{icon: L.divIcon({{className: '{cls}', iconSize: [24, 24]}})}})
    .addTo(map);
}});"""


def _bbox(raw: str) -> tuple[float, float, float, float]:
    w, s, e, n = (float(v) for v in raw.split(","))
    return w, s, e, n


def leaflet_page(n: int, bbox: str) -> str:
    """The page: Leaflet's own files, then the markers' script (external files only, so the
    app's Content-Security-Policy applies to it as to the maps)."""
    _bbox(bbox)
    return _PAGE.format(css=assets.LEAFLET_CSS, js=assets.LEAFLET_JS, LEAFLET=LEAFLET,
                        query=f"n={n}&bbox={bbox}")


def leaflet_script(n: int, bbox: str) -> str:
    w, s, e, north = _bbox(bbox)
    rng = random.Random(n)
    points = [[round(rng.uniform(w, e), 5), round(rng.uniform(s, north), 5)] for _ in range(n)]
    return _JS.format(points=json.dumps(points), w=w, s=s, e=e, n=north, cls=BARE_MARKER)


def create_app(database_url: str | None = None) -> FastAPI:
    app = create_terreau_app(database_url)

    async def bare() -> dict[str, Any]:
        return {"status": "ok"}

    def bare_sync() -> dict[str, Any]:
        return {"status": "ok"}

    async def leaflet(n: int, bbox: str) -> HTMLResponse:
        return HTMLResponse(leaflet_page(n, bbox))

    async def leaflet_js(n: int, bbox: str) -> Response:
        return Response(leaflet_script(n, bbox), media_type="text/javascript")

    async def leaflet_css() -> Response:
        return Response(_CSS, media_type="text/css")

    app.add_api_route(BARE_ASYNC, bare, include_in_schema=False)
    app.add_api_route(BARE_SYNC, bare_sync, include_in_schema=False)
    app.add_api_route(LEAFLET, leaflet, include_in_schema=False)
    app.add_api_route(LEAFLET + ".js", leaflet_js, include_in_schema=False)
    app.add_api_route(LEAFLET + ".css", leaflet_css, include_in_schema=False)
    return app
