"""/api/nearby (what is near a point, a commune or a resource), its autocomplete, and the
/nearby page. The domain (`carto.nearby`) checks every parameter; a mistake is a 400
problem+json naming the parameter, never an empty answer."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from api import assets, auth
from api.auth import PrincipalDep
from api.deps import LangDep, SessionDep
from api.geojson import FastGeoJSONResponse, GeoJSONResponse
from api.ratelimit import nearby_rate
from api.templating import context, templates
from carto import maps, nearby, params, places, vocab
from carto.config import map_settings
from carto.maps import data as mapdata
from carto.visibility import Principal

router = APIRouter(tags=["nearby"])

# Kinds people do not look for around them (back-office partners): no chip on the page. Every
# other kind of the table gets one, those an admin adds included.
NOT_ON_PAGE = ("premises", "public_body", "social_service", "association")
RADII_KM = (2, 5, 10, 30, 50, 100)

NEARBY_DOC = f"""Resources ordered by geodesic distance from **one** origin:
`lat` & `lon` (WGS84), `commune` (INSEE code, or a name matched without accents or case;
"Saint-Brès (34)" picks the department) or `resource` (an id; that resource is left out).

Filters: `kind` (repeatable or comma-separated; default `producer`), `product` (food group),
`access` (access condition), `territory` (slug), `radius_km` (default
{nearby.DEFAULT_RADIUS_KM:g}, at most {nearby.MAX_RADIUS_KM:g}), `limit` (default
{nearby.DEFAULT_LIMIT}, clamped to {nearby.MAX_LIMIT}), `open_at` (ISO 8601 date-time, Paris time
without an offset, or `now`: only resources open then; those giving no hours are left out and
counted in `without_hours`).

Each feature has `distance_m` (geodesic, WGS84 ellipsoid, rounded to 10 m) and `bearing`
(N, NE, E...). The collection says the `origin` used and `matched`, how many match within the
radius: exact when `matched_exact` is true, otherwise a lower bound (counting stops after the
{nearby.COUNT_CAP} nearest, or twice the limit). Private persons are placed, measured and
filtered at their commune's centre.

Exactly one origin: `lat` and `lon` together, or `commune`, or `resource` (a rule between
parameters that OpenAPI cannot state; none or two: a 400 naming `origin`, `lat` without `lon`:
a 400 naming `lon`). Any mistake (no or two origins, unknown commune, kind, product...,
coordinates out of range, radius out of bounds, a limit below 1, unreadable date, unknown
parameter) is a **400** application/problem+json whose `errors[].field` names the parameter; an
ambiguous commune name also lists the `candidates`. A `territory` or `resource` that does not
exist (or that the reader may not see) is a **404** naming the parameter."""


def _params(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params}


def _query_parameter(name: str, description: str, schema: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
    """One parameter as /openapi.json shows it; `schema` from the definitions that check it
    (carto.params, carto.nearby's bounds), a plain string when anything goes (`lang`)."""
    schema = schema or {"type": "string"}
    array = schema.get("type") == "array"
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
        **({"style": "form", "explode": True} if array else {}),
    }


def _number(low: float, high: float, above: bool = False) -> dict[str, Any]:
    """A number parsed by carto.params.number and checked within [low, high] (`above`: low
    itself excluded)."""
    return {"type": "number", ("exclusiveMinimum" if above else "minimum"): low, "maximum": high}


UNKNOWN_CODE = "; an unknown one is a 400 naming the parameter"
NEARBY_PARAMETERS = [
    _query_parameter("lat", "Latitude of the origin (WGS84), with lon", _number(-90, 90)),
    _query_parameter("lon", "Longitude of the origin (WGS84), with lat", _number(-180, 180)),
    _query_parameter("commune", "INSEE code or name of a commune (accents and case ignored; "
                                "\"Name (34)\" picks the department); unknown or ambiguous: a 400",
                     {"type": "string", "pattern": r"^[^\x00]*\S[^\x00]*$", "format": "commune",
                      "examples": ["34108"]}),
    _query_parameter("resource", "Id of a resource (left out of the answer); one the reader "
                                 "cannot see or that does not exist: a 404 naming it",
                     {"type": "string", "format": "uuid"}),
    _query_parameter("kind", "Resource kinds, repeatable or comma-separated (default producer)"
                             + UNKNOWN_CODE, params.codes_schema("kind", [vocab.KIND_EXAMPLE])),
    _query_parameter("product", "Food groups, repeatable or comma-separated" + UNKNOWN_CODE,
                     params.codes_schema("food-group", vocab.food_groups())),
    _query_parameter("access", "Access conditions, repeatable or comma-separated"
                               + UNKNOWN_CODE,
                     params.codes_schema("access", vocab.access_conditions())),
    _query_parameter("territory", "Territory slug (unknown: a 404 naming it)"),
    _query_parameter(
        "radius_km", f"Radius in km (default {nearby.DEFAULT_RADIUS_KM:g}, at most "
                     f"{nearby.MAX_RADIUS_KM:g})", _number(0, nearby.MAX_RADIUS_KM, above=True)),
    _query_parameter("limit", f"How many (default {nearby.DEFAULT_LIMIT}, clamped to "
                              f"{nearby.MAX_LIMIT})", params.LIMIT_SCHEMA),
    _query_parameter("open_at", "ISO 8601 date and time (Paris time without an offset), or now",
                     {"type": "string", "format": "nearby-moment", "examples": ["now"]}),
    _query_parameter("lang", "fr (default) or en, for labels"),
]


@router.get(
    "/api/nearby",
    response_class=GeoJSONResponse,
    summary="Resources nearest to a point, a commune or a resource (GeoJSON, by distance)",
    description=NEARBY_DOC,
    responses={
        400: {
            "description": "A parameter is missing, unknown or out of range",
            "content": {"application/problem+json": {}},
        },
        429: {
            "description": "Too many requests from this address (`TERREAU_RATE_NEARBY`, "
                           "Retry-After)",
            "content": {"application/problem+json": {}},
        },
    },
    openapi_extra={"parameters": NEARBY_PARAMETERS},
)
async def nearby_api(request: Request) -> Response:
    """The parameters are documented above but read from the raw query string, so that a
    repeated or misspelt parameter is an error rather than silently ignored.

    The busiest endpoint runs on the event loop (api.auth.read_own: a connection of the async
    engine's pool taken in the handler, carto.db.read_on_async, the rate limit checked first,
    as a dependency would: declaring none saves ~0.2-0.3 ms of worker CPU per request): the
    same synchronous domain code, given a session on it through SQLAlchemy's greenlet bridge, so
    each statement awaits PostgreSQL instead of blocking a pool thread. Against the thread pool
    it saves the hop and the GIL hand-overs (20,000 → 4,500 context switches/s) and serves
    ~15 % more requests (docs/benchmarks.md, Nearby)."""
    params = _params(request)

    def work(session: Session, principal: Principal) -> Response:
        query = nearby.parse(session, principal, params)  # Invalid: a 400 (api.problems)
        result = nearby.search(session, principal, query)
        return FastGeoJSONResponse(result.as_geojson(), headers={"Cache-Control": "private, max-age=30"})

    await nearby_rate(request)
    return await auth.read_own(request, work)


@router.get(
    "/api/nearby/suggest",
    summary="Autocomplete for the nearby page: communes, territories and resources whose name contains q",
)
def nearby_suggest(
    session: SessionDep,
    principal: PrincipalDep,
    q: Annotated[str, Query(min_length=2, max_length=100, pattern=r"^\s*[^\s\x00][^\x00]*[^\s\x00]\s*$",
                            description="2 to 100 characters of a name (spaces around ignored)")],
    limit: Annotated[int | None,
                     Query(ge=1, description="Per group, at least 1, clamped to 20 (default 6)")] = None,
    lang: Annotated[str | None, Query(description="fr (default) or en")] = None,
) -> Response:
    n = params.limit(limit, 6, 20)  # per group, clamped to 20
    items = places.suggest(session, principal, q, n, "en" if lang == "en" else "fr")
    return JSONResponse({"q": q, "suggestions": items}, headers={"Cache-Control": "private, max-age=60"})


@router.get("/nearby/communes.json", include_in_schema=False)
def nearby_communes(
    session: SessionDep,
    bbox: Annotated[str | None, Query(description="west,south,east,north (WGS84)")] = None,
) -> JSONResponse:
    """The page map's background without tiles: the communes in view (carto.maps.data)."""
    return JSONResponse(mapdata.communes_in_box(session, params.box(bbox)),
                        headers={"Cache-Control": "public, max-age=3600"})


def page_config(session: Session, lang: str) -> dict[str, Any]:
    """Everything the page script needs, as data: labels, pictograms, colours, tiles. Kinds
    come from the one cache of the table (carto.vocab.resource_kinds), colours and icons
    checked (carto.maps.kinds), as on the territory maps."""
    settings = map_settings()
    kinds = maps.kinds(session, lang)
    foods = vocab.food_groups()
    return {
        "lang": lang,
        "api": "/api/nearby",
        "suggest": "/api/nearby/suggest",
        "communes": "/nearby/communes.json",
        "tiles": {"url": settings.tile_url or "", "attribution": settings.tile_attribution},
        "kinds": [{"code": k.code, "label": k.label, "colour": k.color, "icon": k.icon}
                  for k in kinds if k.code not in NOT_ON_PAGE],
        "all_kinds": {k.code: {"label": k.label, "colour": k.color, "icon": k.icon}
                      for k in kinds},
        "products": [{"code": code, "label": term.label(lang)} for code, term in foods.items()],
        "access": vocab.labels(vocab.access_conditions, lang),
        "radii": list(RADII_KM),
        "default_radius": nearby.DEFAULT_RADIUS_KM,
        "text": maps.js_text(lang, "nearby."),
    }


@router.get("/nearby", response_class=HTMLResponse, include_in_schema=False)
def nearby_page(request: Request, session: SessionDep, lang: LangDep) -> HTMLResponse:
    config = page_config(session, lang)
    urls = {
        "leaflet_js": assets.LEAFLET_JS,
        "leaflet_css": assets.LEAFLET_CSS,
        "fa_css": assets.FA_CSS,
        "fa_solid_css": assets.FA_SOLID_CSS,
    }
    return templates.TemplateResponse(
        request,
        "nearby.html",
        context(
            lang,
            config_json=maps.script_json(config),
            config=config,
            assets=urls,
        ),
    )
