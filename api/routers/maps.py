"""Territory maps: the page's map, the map alone (iframe), the standalone download, and the
data endpoints a large territory's map loads by viewport."""

from collections import Counter
from collections.abc import Callable, Collection
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from api import assets
from api.deps import LangDep, SessionDep
from api.http import revalidated
from api.responses import GEOJSON
from api.session import ReaderDep
from api.templating import context, templates
from carto import maps, params, vocab
from carto.cache import Entries
from carto.config import app_settings, map_settings
from carto.errors import Invalid
from carto.i18n import msg
from carto.maps import data as mapdata
from carto.visibility import ANONYMOUS, Principal

router = APIRouter(tags=["maps"])

TABLE_ROWS_LARGE = 100  # rows listed under the map of a territory loaded by viewport
OUTLINES_MAX_AGE = 3600  # seconds: communes change with the reference data, not with edits


def _urls(request: Request, slug: str, lang: str, absolute: bool,
          standalone: bool = False) -> maps.MapUrls:
    """Where the map fetches and links to. A downloaded file is opened far from the server that
    wrote it: its links go to TERREAU_PUBLIC_URL, and are left out when that is unset."""
    base = str(request.base_url).rstrip("/") if absolute else ""
    if standalone:
        base = app_settings().public_url.strip().rstrip("/")
    suffix = "?lang=en" if lang == "en" else ""
    root = f"{base}/territories/{slug}"
    linked = bool(base) or not standalone
    return maps.MapUrls(
        features=f"{root}/map/features.json", search=f"{root}/map/search.json",
        resource=f"{root}/map/resources/{{id}}.json", link=f"{root}/map/links/{{id}}.json",
        record=f"{base}/resources/{{id}}{suffix}" if linked else "",
        api_record=f"{base}/api/resources/{{id}}" if linked else "",
        page=f"{root}{suffix}" if linked else "", communes=f"{root}/map/communes.json")


def map_view(session: Session, summary: dict[str, Any], lang: str, embed: bool,
             principal: Principal = ANONYMOUS, workshop_id: int | None = None) -> maps.MapView:
    """What the map shows; with `workshop_id`, only what that workshop added (its output),
    counted from what is embedded rather than the territory's counts."""
    tid = summary["id"]
    geometry = mapdata.territory_geometry(session, tid)
    content = mapdata.map_content(session, tid, principal, workshop_id) if embed else None
    first = None if embed else mapdata.first_view(
        session, tid, maps.first_zooms(geometry.bbox), map_settings().embed_limit, principal)
    if workshop_id is not None and content is not None:
        summary["by_kind"] = dict(Counter(r["kind"] for r in content.resources))
        summary["by_category"] = dict(Counter(lk["category"] for lk in content.links))
        summary["resources"], summary["links"] = len(content.resources), len(content.links)
    return maps.MapView(
        territory=summary, geometry=geometry, kinds=maps.kinds(session, lang),
        kind_counts=summary["by_kind"], links_total=summary["links"],
        context=mapdata.context_features(session, geometry.bbox), content=content,
        categories_present=summary["by_category"], first=first)


def build_map(request: Request, session: Session, summary: dict[str, Any], lang: str,
              standalone: bool = False, panel: str | None = None,
              principal: Principal = ANONYMOUS,
              workshop_id: int | None = None) -> tuple[maps.MapParts, maps.MapView]:
    """The map's three HTML pieces, with every asset local (inlined later for a download).
    A workshop's map (`workshop_id`) is always embedded: a workshop adds a few dozen rows."""
    settings = map_settings()
    embed = standalone or workshop_id is not None or summary["resources"] <= settings.embed_limit
    if standalone and workshop_id is None and summary["resources"] > maps.DOWNLOAD_LIMIT:
        raise Invalid.field("download", msg("map.download_too_big",
                                            n=f"{maps.DOWNLOAD_LIMIT:,}".replace(",", "\u202f")))
    view = map_view(session, summary, lang, embed, principal, workshop_id)
    m = maps.build(view, _urls(request, summary["slug"], lang, absolute=standalone,
                         standalone=standalone), lang,
                   settings.tile_url, settings.tile_attribution, settings.embed_limit,
                   standalone=standalone, panel=panel)
    assets.localize(m)
    parts = maps.render(m)
    parts.icons = assets.icons_link()
    return parts, view


# The territory pages of anonymous readers, per territory, language and map settings: their
# counts (carto.search.territory_stats), lists and map (with its first view) change only with
# a write, and computing them was most of a large territory's page (0.9 s of SQL for 10,000
# resources). So is the map alone (map.html, for an iframe; not the download). Every accepted
# write drops them (`carto.cache.edited`); other workers see it within the ttl. Signed-in
# readers (their own pending items) are computed each time.
PAGES: Entries[tuple[Any, ...], dict[str, Any]] = Entries(
    "anonymous territory pages", ttl=60.0, follows_edits=True)


def page_context(request: Request, session: Session, slug: str, lang: str,
                 principal: Principal = ANONYMOUS) -> dict[str, Any]:
    """Everything templates/territory.html needs: the map and the lists under it (rendered
    once, templates/_territory_lists.html), as this reader may see them (a contributor's own
    pending items included, marked)."""
    if principal != ANONYMOUS:
        parts = _page_parts(request, session, slug, lang, principal)
    else:
        parts = _anonymous(session, ("page", mapdata.territory_id(session, slug), lang),
                           lambda: _page_parts(request, session, slug, lang, principal))
    return context(lang, **parts, settings=map_settings(), today=date.today())


def _anonymous(session: Session, key: tuple[Any, ...],
               make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What `make` builds for an anonymous reader, kept in PAGES under `key` and the map
    settings (a test or an operator may change them)."""
    settings = map_settings()
    full = (*key, settings.embed_limit, settings.tile_url, settings.tile_attribution)
    return PAGES.entry(session, full, make)


def _page_parts(request: Request, session: Session, slug: str, lang: str,
                principal: Principal) -> dict[str, Any]:
    summary = mapdata.territory_summary(session, slug)
    parts, view = build_map(request, session, summary, lang, panel="#tm-panel",
                            principal=principal)
    if view.content is not None:
        resources, links = view.content.resources, view.content.links
    else:
        resources = mapdata.territory_resources(session, summary["id"], principal,
                                                limit=TABLE_ROWS_LARGE)
        links = mapdata.territory_links(session, summary["id"], principal,
                                        limit=TABLE_ROWS_LARGE)
    lists = templates.get_template("_territory_lists.html").render(
        lang=lang, territory=summary, resources=resources, links=links,
        by_kind=summary["by_kind"], by_level=summary["by_level"], kinds=view.kinds)
    return {"territory": summary, "map": parts, "mode": view.mode,
            "lists": Markup(lists),  # autoescaped when rendered: our own HTML
            "kinds": view.kinds, "context_layers": sorted(view.context)}


@router.get("/territories/{slug}/map.html", response_class=HTMLResponse,
            summary="The territory's map alone, to embed in an iframe; download=1 for one "
                    "self-contained file that opens offline")
def map_alone(request: Request, slug: str, session: SessionDep, lang: LangDep,
              download: Annotated[bool, Query(description="one self-contained HTML file")] = False,
              ) -> Response:
    if not download:  # an iframe's map, as anonymous as the page (PAGES)
        def make() -> dict[str, Any]:
            summary = mapdata.territory_summary(session, slug)
            parts, view = build_map(request, session, summary, lang)
            return {"summary": summary, "parts": parts, "view": view}

        found = _anonymous(session, ("alone", mapdata.territory_id(session, slug), lang), make)
        return HTMLResponse(_alone_page(request, lang, found["summary"], found["parts"],
                                        found["view"], standalone=False))
    summary = mapdata.territory_summary(session, slug)
    return standalone_file(map_page(request, session, summary, lang, standalone=True),
                           f"terreau-{slug}-{date.today().isoformat()}.html")


def map_page(request: Request, session: Session, summary: dict[str, Any], lang: str,
             standalone: bool, principal: Principal = ANONYMOUS, workshop_id: int | None = None,
             title: str | None = None) -> str:
    """templates/map_alone.html around the map: the territory's, or a workshop's output
    (`workshop_id`, headed by `title`)."""
    parts, view = build_map(request, session, summary, lang, standalone=standalone,
                            principal=principal, workshop_id=workshop_id)
    return _alone_page(request, lang, summary, parts, view, standalone, title)


def _alone_page(request: Request, lang: str, summary: dict[str, Any], parts: maps.MapParts,
                view: maps.MapView, standalone: bool, title: str | None = None) -> str:
    return templates.get_template("map_alone.html").render(context(
        lang, request=request, territory=summary, map=parts, mode=view.mode,
        standalone=standalone, kinds=view.kinds, context_layers=sorted(view.context),
        settings=map_settings(), today=date.today(), title=title,
        page_url=_urls(request, summary["slug"], lang, absolute=True,
                       standalone=standalone).page))


def standalone_file(page: str, name: str) -> HTMLResponse:
    """One self-contained file (every asset inlined), downloaded under `name`."""
    return HTMLResponse(assets.inline_html(page),
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _layers(value: str | None, name: str, known: Collection[str]) -> list[str] | None:
    """The layers left on: None (no parameter) is every one, an empty value none of them."""
    if value is None:
        return None
    return params.codes(value, known, name) if value else []


# The layers' code lists (carto.params.codes_schema, an empty value allowed): kinds are a table
# that grows at run time, so a pattern and a 400 naming an unknown code, not a frozen enum.
KIND_LAYERS = params.codes_schema("kind", [vocab.KIND_EXAMPLE], repeatable=False, empty=True)
CATEGORY_LAYERS = params.codes_schema("category", vocab.categories(), repeatable=False,
                                      empty=True)
LAYERS_DOC = ("the {what} layers left on: comma-separated codes (an unknown one is a 400 "
              "naming the parameter); empty: none; absent: all")


@router.get("/territories/{slug}/map/features.json",
            summary="What the map shows in a bounding box: points, or grid clusters when there "
                    "are too many, with the links touching the points")
def features(
    slug: str, session: SessionDep, principal: ReaderDep,
    bbox: Annotated[str, Query(description="west,south,east,north (WGS84)",
                               json_schema_extra=params.BBOX_SCHEMA)],
    zoom: Annotated[int, Query(ge=0, le=22)] = 12,
    kinds: Annotated[str | None, Query(description=LAYERS_DOC.format(what="kind"),
                                       json_schema_extra=KIND_LAYERS)] = None,
    min_level: Annotated[int, Query(ge=1, le=5)] = 1,
    categories: Annotated[str | None, Query(description=LAYERS_DOC.format(what="category"),
                                            json_schema_extra=CATEGORY_LAYERS)] = None,
) -> JSONResponse:
    box = params.box(bbox)
    tid = mapdata.territory_id(session, slug)
    wanted = set(kinds.split(",")) if kinds else set()  # ("" would refresh the kinds each time)
    kind_codes = _layers(kinds, "kinds", vocab.resource_kinds(session, wanted).keys())
    cat_codes = _layers(categories, "categories", vocab.categories().keys())
    limit = map_settings().embed_limit
    body = mapdata.features_in_view(session, tid, box, zoom, limit, kind_codes, principal)
    if body["mode"] == "points":
        found = mapdata.links_in_view(session, tid, [p[0] for p in body["resources"]],
                                      min_level, cat_codes, principal)
        body["links"] = found["links"]
        body["links_truncated"] = found["truncated"]
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/territories/{slug}/map/communes.json", response_class=Response,
            summary="The outlines of the territory's communes and of those around it, as its "
                    "map draws them (GeoJSON; ETag, cached for an hour)",
            responses={304: {"description": "not modified (If-None-Match)"}})
def communes(slug: str, request: Request, session: SessionDep) -> Response:
    geometry = mapdata.territory_geometry(session, mapdata.territory_id(session, slug))
    return revalidated(request, geometry.communes_json.encode(), GEOJSON,
                       f"public, max-age={OUTLINES_MAX_AGE}")


@router.get("/territories/{slug}/map/search.json",
            summary="Resources of the territory whose name contains the text (accents ignored)")
def search(slug: str, session: SessionDep, principal: ReaderDep,
           q: Annotated[str, Query(max_length=200)] = "") -> JSONResponse:
    tid = mapdata.territory_id(session, slug)
    return JSONResponse({"results": mapdata.search(session, tid, q, principal=principal)})


@router.get("/territories/{slug}/map/resources/{resource_id}.json",
            summary="One resource as its map popup shows it, with its links")
def resource_popup(slug: str, resource_id: str, session: SessionDep,
                   principal: ReaderDep) -> JSONResponse:
    tid = mapdata.territory_id(session, slug)
    return JSONResponse(mapdata.resource_detail(session, tid, resource_id, principal))


@router.get("/territories/{slug}/map/links/{link_id}.json",
            summary="One cooperation link as its map popup shows it, with its level history")
def link_popup(slug: str, link_id: str, session: SessionDep,
               principal: ReaderDep) -> JSONResponse:
    tid = mapdata.territory_id(session, slug)
    return JSONResponse(mapdata.link_detail(session, tid, link_id, principal))
