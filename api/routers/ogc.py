"""/ogc: OGC API – Features, Part 1 (Core), for QGIS, GDAL/OGR, OWSLib and browsers.

Many small requests from map clients: every handler is `async def` on the general read path
(api.deps.AsyncReadsDep through api.auth.read: the domain code synchronous, run on the async
engine's connection by `run_sync`), as docs/conventions.md ("Which engine") says.

JSON (GeoJSON for features) by default, HTML when `f=html` or when the browser asks for
text/html. Every query parameter is checked by `carto.ogc.query`; errors carry `{code,
description}` (api.problems). The OpenAPI document at /ogc/api is OpenAPI 3.0.3, written by
`carto.ogc.openapi` (FastAPI's own /openapi.json, 3.1, leaves these routes out).
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from starlette.datastructures import URL, QueryParams

from api import auth, readahead
from api.deps import AsyncReadsDep
from api.geojson import GEOJSON
from api.routers import links as link_routes
from api.routers import resources as resource_routes
from api.session import _signed_in
from api.templating import context, templates
from carto import search
from carto.errors import Invalid, NotFound
from carto.i18n import msg, pick_lang
from carto.ogc import CONFORMANCE, CRS84, OPENAPI_TYPE, catalogue, features, openapi, query
from carto.ogc.catalogue import LINKS, RESOURCES, Collection
from carto.visibility import ANONYMOUS, Principal

router = APIRouter(prefix="/ogc", tags=["ogc"], include_in_schema=False)

JSON = "application/json"
HTML = "text/html"
PAGE_PARAMS = ("f", "lang")
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    return params


def _wants_html(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "html"
    return HTML in request.headers.get("accept", "")


def _page_format(request: Request) -> tuple[bool, str]:
    """Landing, conformance, collections: only `f` and `lang` are defined."""
    params = _params(request)
    query.check_known(params, PAGE_PARAMS)
    return _wants_html(request, query.format_of(params)), pick_lang(request.query_params.get("lang"))


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _json(body: Any, media: str = JSON) -> Response:
    return Response(orjson.dumps(body), media_type=media)


def _html(request: Request, session: Session | None, template: str, lang: str,
          **values: Any) -> HTMLResponse:
    """A page; its header's reader (a session cookie) is read on the handler's connection,
    not by the template on a connection of the other engine."""
    if session is not None and request.cookies:
        _signed_in(request, session)
    return templates.TemplateResponse(request, template, context(lang, **values))


@router.get("")
async def landing(request: Request, session: AsyncReadsDep) -> Response:
    html, lang = _page_format(request)
    base = _base(request)
    links = [
        _link(base, "self", JSON, "this document"),
        _link(f"{base}?f=html", "alternate", HTML, "this document as HTML"),
        _link(f"{base}/api", "service-desc", OPENAPI_TYPE, "the API definition (OpenAPI 3.0.3)"),
        _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
        _link(f"{base}/collections", "data", JSON, "the collections"),
    ]
    body = {"title": "Terreau – OGC API Features",
            "description": "Ressources de la solidarité alimentaire et coopérations, Occitanie / "
                           "food-solidarity resources and cooperation links, Occitanie",
            "links": links}
    if html:
        return await session.run_sync(lambda s: _html(
            request, s, "ogc_landing.html", lang, base=base, links=links, conformance=CONFORMANCE))
    return _json(body)


@router.get("/conformance")
async def conformance(request: Request, session: AsyncReadsDep) -> Response:
    html, lang = _page_format(request)
    if html:
        return await session.run_sync(lambda s: _html(
            request, s, "ogc_landing.html", lang, base=_base(request), links=[],
            conformance=CONFORMANCE))
    return _json({"conformsTo": CONFORMANCE})


@router.get("/api")
async def api_definition(request: Request, session: AsyncReadsDep) -> Response:
    query.check_known(_params(request), PAGE_PARAMS)
    collections = await session.run_sync(catalogue.collections)
    return _json(openapi.document(_base(request), collections), OPENAPI_TYPE)


def _interval(values: list[datetime | None]) -> list[str | None]:
    return [v.astimezone(UTC).isoformat().replace("+00:00", "Z") if v else None for v in values]


def _collection_json(base: str, c: Collection, lang: str,
                     extent: catalogue.Extent | None) -> dict[str, Any]:
    href = f"{base}/collections/{c.id}"
    body: dict[str, Any] = {
        "id": c.id, "title": c.title(lang), "description": c.description(lang),
        "itemType": "feature", "crs": [CRS84], "storageCrs": CRS84,
        "links": [
            _link(href, "self", JSON, c.title(lang)),
            _link(f"{href}?f=html", "alternate", HTML, c.title(lang)),
            _link(f"{href}/items", "items", GEOJSON, c.title(lang)),
            _link(f"{href}/items?f=html", "items", HTML, c.title(lang)),
        ],
    }
    bbox, interval = extent if extent else (None, [])
    body["extent"] = {"spatial": {"bbox": [bbox] if bbox else [], "crs": CRS84}}
    if c.temporal:
        body["extent"]["temporal"] = {"interval": [_interval(interval or [None, None])],
                                      "trs": TRS}
    return body


@router.get("/collections")
async def list_collections(request: Request, session: AsyncReadsDep) -> Response:
    html, lang = _page_format(request)
    base = _base(request)

    def work(s: Session, principal: Principal) -> Response:
        extents = catalogue.extents(s, principal)
        collections = [_collection_json(base, c, lang, extents.get(c.id))
                       for c in catalogue.collections(s)]
        if html:
            return _html(request, s, "ogc_collections.html", lang, base=base,
                         collections=collections, one=False)
        return _json({"links": [_link(f"{base}/collections", "self", JSON),
                                _link(f"{base}/collections?f=html", "alternate", HTML)],
                      "collections": collections})

    return await auth.read(request, session, work)


@router.get("/collections/{collection_id}")
async def describe_collection(request: Request, collection_id: str,
                              session: AsyncReadsDep) -> Response:
    def work(s: Session, principal: Principal) -> Response:
        c = catalogue.get(s, collection_id)
        html, lang = _page_format(request)
        base = _base(request)
        body = _collection_json(base, c, lang, catalogue.extents(s, principal).get(c.id))
        if html:
            return _html(request, s, "ogc_collections.html", lang, base=base,
                         collections=[body], one=True, filters=c.filters)
        return _json(body)

    return await auth.read(request, session, work)


def _page(session: Session, principal: Principal, c: Collection,
          q: query.ItemsQuery) -> features.Page:
    if c.source == RESOURCES:
        return features.resources(session, principal, c, q)
    if c.source == LINKS:
        rows, next_cursor = features.links(session, principal, q)
        texts = [orjson.dumps(link_routes.feature(row, principal, session)).decode() for row in rows]
        return features.Page(",".join(texts), len(texts), next_cursor, None)
    return features.reference(session, c, q)


@router.get("/collections/{collection_id}/items")
async def items(request: Request, collection_id: str, session: AsyncReadsDep) -> Response:
    ahead = _reads_ahead(request)
    answer: Response | readahead.Page | None = None
    # A reader walking the collection: its first page, or a page that was read ahead for it
    # (even one void by now). A client jumping to cursors gets no page it will not ask for.
    walking = ahead is not None and (
        "cursor" not in request.query_params or ahead.holds(str(request.url)))
    if ahead is not None:  # the page read ahead for this URL, if any (api.readahead)
        answer = await ahead.take(str(request.url))
    if answer is None:
        answer = await auth.read(request, session, lambda s, principal: _items(
            request, s, principal, collection_id))
    if isinstance(answer, Response):
        return answer
    if ahead is not None and walking and answer.next_url:
        ahead.start(answer.next_url, _compute_ahead(request, collection_id, answer.next_url))
    return _page_response(answer)


def _reads_ahead(request: Request) -> readahead.ReadAhead | None:
    """The app's read-ahead (api.readahead) when this request may use it: an anonymous
    reader's JSON page."""
    if "authorization" in request.headers:
        return None
    try:
        if _wants_html(request, query.format_of(_params(request))):
            return None
    except Invalid:  # answered by the request's own checks, in their order
        return None
    ahead: readahead.ReadAhead | None = getattr(request.app.state, "read_ahead", None)
    return ahead


def _compute_ahead(request: Request, collection_id: str,
                   url: str) -> Callable[[], Awaitable[readahead.Page]]:
    """The answer an anonymous reader will get at `url`, computed as its request would."""
    app, base, target = request.app, _base(request), URL(url)

    def work(s: Session) -> readahead.Page:
        c = catalogue.get(s, collection_id)
        params: dict[str, list[str]] = {}
        for name, value in QueryParams(target.query).multi_items():
            params.setdefault(name, []).append(value)
        return _page_json(s, ANONYMOUS, c, query.parse_items(c, params), target, base)

    async def compute() -> readahead.Page:
        async with app.state.async_reads() as s:
            return await s.run_sync(work)

    return compute


def _items(request: Request, session: Session, principal: Principal,
           collection_id: str) -> Response | readahead.Page:
    """The HTML page, or the GeoJSON one (made a response by `items`)."""
    c = catalogue.get(session, collection_id)
    q = query.parse_items(c, _params(request))
    if not _wants_html(request, q.format):
        return _page_json(session, principal, c, q, request.url, _base(request))
    page = _page(session, principal, c, q)
    next_url = None
    if page.next_cursor is not None:
        next_url = str(request.url.include_query_params(cursor=page.next_cursor, f="html"))
    rows = orjson.loads(f"[{page.features}]")
    return _html(request, session, "ogc_items.html", pick_lang(request.query_params.get("lang")),
                 base=_base(request), collection=c, features=rows, matched=page.matched,
                 next_url=next_url, one=False)


def _page_json(session: Session, principal: Principal, c: Collection, q: query.ItemsQuery,
               url: URL, base: str) -> readahead.Page:
    """A page of items as GeoJSON, the answer to `url`: its links point next to it."""
    page = _page(session, principal, c, q)
    self_url = str(url)
    links = [_link(self_url, "self", GEOJSON),
             _link(str(url.include_query_params(f="html")), "alternate", HTML),
             _link(f"{base}/collections/{c.id}", "collection", JSON)]
    next_url = None
    if page.next_cursor is not None:
        next_url = str(url.include_query_params(cursor=page.next_cursor))
        links.append(_link(next_url, "next", GEOJSON))
    head: dict[str, Any] = {"type": "FeatureCollection",
                            "timeStamp": datetime.now(UTC).isoformat(timespec="seconds")
                            .replace("+00:00", "Z"),
                            "numberReturned": page.returned}
    if page.matched is not None:
        head["numberMatched"] = page.matched
    head["links"] = links
    # The features arrive as GeoJSON text from PostgreSQL; only the envelope is Python's.
    envelope = orjson.dumps(head).decode()
    body = envelope[:-1] + ',"features":[' + page.features + "]}"
    return readahead.Page(body.encode(), next_url)


def _page_response(page: readahead.Page) -> Response:
    headers = {"Link": f'<{page.next_url}>; rel="next"'} if page.next_url else None
    return Response(page.body, media_type=GEOJSON, headers=headers)


def _one(session: Session, principal: Principal, c: Collection, feature_id: str) -> str:
    if c.source == RESOURCES:
        row = search.get_resource(session, principal, features.parse_uuid(feature_id))
        if c.kind is not None and row["kind"] != c.kind:
            raise NotFound(msg("error.ogc.feature_unknown", id=feature_id))
        return orjson.dumps(resource_routes.feature(row, principal, session)).decode()
    if c.source == LINKS:
        row = search.get_link(session, principal, features.parse_uuid(feature_id))
        return orjson.dumps(link_routes.feature(row, principal, session)).decode()
    return features.reference_one(session, c, feature_id)


@router.get("/collections/{collection_id}/items/{feature_id}")
async def item(request: Request, collection_id: str, feature_id: str,
               session: AsyncReadsDep) -> Response:
    return await auth.read(request, session, lambda s, principal: _item(
        request, s, principal, collection_id, feature_id))


def _item(request: Request, session: Session, principal: Principal, collection_id: str,
          feature_id: str) -> Response:
    c = catalogue.get(session, collection_id)
    html, lang = _page_format(request)
    feature = orjson.loads(_one(session, principal, c, feature_id))
    base = _base(request)
    href = f"{base}/collections/{c.id}/items/{feature_id}"
    feature["links"] = [_link(href, "self", GEOJSON), _link(f"{href}?f=html", "alternate", HTML),
                        _link(f"{base}/collections/{c.id}", "collection", JSON)]
    if html:
        return _html(request, session, "ogc_items.html", lang, base=base, collection=c,
                     features=[feature], matched=None, next_url=None, one=True)
    return _json(feature, GEOJSON)
