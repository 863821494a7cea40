"""/tiles: Mapbox vector tiles of resources and links (`carto.ogc.tiles`) and their TileJSON.

Tiles carry an ETag (a hash of their bytes: a client revalidating gets a 304 without the body)
and `Cache-Control: max-age`; what a token may see differs from what a reader sees, so a tile
read with a token is `private` and every tile varies on Authorization.

Map clients ask for tiles by the dozen: both handlers are `async def` on the general read path
(api.deps.AsyncReadsDep through api.auth.read), docs/conventions.md ("Which engine").
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api import auth
from api.deps import AsyncReadsDep
from api.http import revalidated
from carto.errors import InvalidParameter
from carto.i18n import msg
from carto.ogc import catalogue, tiles
from carto.visibility import Principal, reads_public_only

router = APIRouter(prefix="/tiles", tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
MAX_AGE = 300  # seconds: an edit shows on maps within five minutes


def _codes(value: str | None) -> list[str] | None:
    return [c for c in value.split(",") if c] if value else None


@router.get("/{layer}/{z}/{x}/{y}.pbf", response_class=Response,
            summary="A vector tile (MVT) of resources or links, positions as shown to the caller",
            responses={200: {"content": {MVT: {}}}, 304: {"description": "not modified"}})
async def tile(request: Request, session: AsyncReadsDep,
               layer: Annotated[str, Path(description="resources or links")],
               z: int, x: int, y: int,
               territory: Annotated[str | None, Query(description="territory slug")] = None,
               kind: Annotated[str | None, Query(description="resources: kind codes, commas")]
               = None,
               ) -> Response:
    tiles.layer(layer)
    if layer != "resources" and kind is not None:
        raise InvalidParameter.field("kind", msg("error.tiles.kind_on_links"))

    def work(s: Session, principal: Principal) -> tuple[bytes, bool]:
        # a shared cache may keep a tile only if it is the same for every reader of the public
        everyone = reads_public_only(principal)
        if layer == "resources":
            return (tiles.resources_tile(s, principal, z, x, y, _codes(kind), territory),
                    everyone)
        return tiles.links_tile(s, principal, z, x, y, territory), everyone

    body, public = await auth.read(request, session, work)
    scope = "public" if public else "private"
    return revalidated(request, body, MVT, f"{scope}, max-age={MAX_AGE}", vary="Authorization")


@router.get("/{layer}.json", summary="TileJSON 3.0.0 of a tile layer (resources or links)")
async def tilejson(request: Request, layer: str, session: AsyncReadsDep) -> JSONResponse:
    spec = tiles.layer(layer)
    base = str(request.base_url).rstrip("/")
    extent = await auth.read(request, session,
                             lambda s, principal: catalogue.extents(s, principal).get(layer))
    bounds = extent[0] if extent and extent[0] else [-180.0, -85.0511, 180.0, 85.0511]
    return JSONResponse({
        "tilejson": "3.0.0", "name": f"terreau-{layer}", "scheme": "xyz",
        "tiles": [f"{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"],
        "minzoom": 0, "maxzoom": tiles.MAX_ZOOM, "bounds": bounds,
        "vector_layers": [{"id": spec.id, "fields": spec.fields, "minzoom": 0,
                           "maxzoom": tiles.MAX_ZOOM}],
    })
