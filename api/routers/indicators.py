"""Cooperation indicators over HTTP: a territory's indicators on a day, its evolution between
two days, the opportunities, the network for Gephi, territories side by side; CSV of every
table (`format=csv&table=...`); and the two pages built from them.

Computation lives in `carto.indicators`; this module parses, serialises and renders."""

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from api import assets
from api.auth import PrincipalDep
from api.deps import LangDep, SessionDep
from api.http import csv_response
from api.session import PagePrincipalDep
from api.templating import context, templates
from carto import indicators as ind
from carto import params, vocab
from carto.config import map_settings
from carto.errors import Invalid
from carto.i18n import msg
from carto.indicators import graphview, tables
from carto.indicators.opportunities import DEFAULT_LIMIT, MAX_LIMIT
from carto.indicators.snapshot import first_day
from carto.maps import data as mapdata
from carto.maps import js_text, script_json

router = APIRouter(tags=["cooperation indicators"])

AtQ = Annotated[str | None, Query(description="the day (YYYY-MM-DD), default today: links and "
                                              "levels as they were then",
                                  json_schema_extra=params.DATE_SCHEMA)]
FORMATS = ("json", "csv")
GRAPH_FORMATS = ("gexf", "graphml")
FormatQ = Annotated[str, Query(description="json (default) or csv",
                               json_schema_extra=params.one_of(FORMATS))]
TableQ = Annotated[str | None, Query(description="with format=csv: which table")]


def parse_day(value: str | None, field: str) -> date | None:
    """A day of a page's form (carto.params.day, as the API reads it), whose empty field
    means "not given"; the API's operations call params.day (an empty day is refused, as
    `format: date` says)."""
    return params.day(value or None, field)


def _table(tables_: dict[str, tables.Table], name: str | None, default: str,
           filename: str) -> Response:
    chosen = name or default
    if chosen not in tables_:
        raise Invalid.field("table", msg("error.indicators.table", tables=", ".join(tables_),
                                          value=chosen))
    columns, rows = tables_[chosen]
    return csv_response(rows, columns, f"{filename}-{chosen}.csv")


def labels(session: Session, lang: str) -> dict[str, Any]:
    """The vocabularies' labels, so a client shows the programme's words without a second call."""
    return {"levels": {n: term.label(lang) for n, term in vocab.levels().items()},
            "categories": {c: term.label(lang) for c, term in vocab.categories().items()},
            "kinds": {k: term.label(lang) for k, term in vocab.resource_kinds(session).items()}}


@router.get("/api/territories/{slug}/indicators",
            summary="A territory's cooperation indicators on a day: resources by kind, links by "
                    "category x level, share at level >= 3, the network (isolated actors, "
                    "components, density, bridges, most connected), links between kinds")
def territory_indicators(slug: str, session: SessionDep, principal: PrincipalDep,
                         lang: LangDep, at: AtQ = None, format: FormatQ = "json",
                         table: TableQ = None) -> Response:
    fmt = params.choice(format, FORMATS, "format")
    snap = ind.snapshot(session, principal, slug, params.day(at, "at"))
    body = ind.indicators(snap)
    if fmt == "csv":
        return _table(tables.indicator_tables(body, snap, lang, vocab.resource_kinds(session)),
                      table, "matrix",
                      f"indicateurs-{slug}-{snap.at.isoformat()}")
    return JSONResponse(body | {"labels": labels(session, lang)})


@router.get("/api/territories/{slug}/evolution",
            summary="What changed between two days: links created, ended, moved up or down the "
                    "ladder, each indicator's change, and the sentence")
def territory_evolution(slug: str, session: SessionDep, principal: PrincipalDep,
                        lang: LangDep,
                        from_: Annotated[str, Query(
                            alias="from", description="first day (YYYY-MM-DD), at most `to`",
                            json_schema_extra=params.DATE_SCHEMA)],
                        to: Annotated[str | None, Query(
                            description="last day (YYYY-MM-DD), default today",
                            json_schema_extra=params.DATE_SCHEMA)] = None,
                        format: FormatQ = "json", table: TableQ = None) -> Response:
    fmt = params.choice(format, FORMATS, "format")
    start, end = params.day(from_, "from"), params.day(to, "to") or date.today()
    if start is None:
        raise Invalid.field("from", msg("error.indicators.date_missing"))
    if start > end:
        raise Invalid.field("from", msg("error.indicators.date_order"))
    evo = ind.evolution(ind.snapshot(session, principal, slug, start),
                        ind.snapshot(session, principal, slug, end), lang)
    if fmt == "csv":
        return _table(tables.evolution_tables(evo, lang), table, "changes",
                      f"evolution-{slug}-{start.isoformat()}-{end.isoformat()}")
    return JSONResponse(evo)


@router.get("/api/territories/{slug}/opportunities",
            summary="Cooperations that could exist: complementary, close, unlinked pairs of the "
                    "territory, closest first within each rule (data/reference/opportunities.csv)")
def territory_opportunities(slug: str, session: SessionDep, principal: PrincipalDep,
                            lang: LangDep,
                            limit: Annotated[int, Query(description=f"per rule, 1 to {MAX_LIMIT}")]
                            = DEFAULT_LIMIT,
                            format: FormatQ = "json") -> Response:
    fmt = params.choice(format, FORMATS, "format")
    opp = ind.opportunities(session, principal, slug, limit, lang)
    if fmt == "csv":
        columns, rows = tables.opportunity_table(opp)
        return csv_response(rows, columns, f"opportunites-{slug}.csv")
    return JSONResponse(opp)


@router.get("/api/territories/{slug}/network",
            summary="The cooperation network for Gephi and other graph tools: GEXF or GraphML")
def territory_network(slug: str, session: SessionDep, principal: PrincipalDep,
                      format: Annotated[str, Query(description="gexf (default) or graphml",
                                                   json_schema_extra=params.one_of(
                                                       GRAPH_FORMATS))] = "gexf",
                      at: AtQ = None) -> Response:
    fmt = params.choice(format, GRAPH_FORMATS, "format")
    snap = ind.snapshot(session, principal, slug, params.day(at, "at"))
    media = "application/gexf+xml" if fmt == "gexf" else "application/graphml+xml"
    name = f"reseau-{slug}-{snap.at.isoformat()}.{fmt}"
    return Response(tables.network_file(snap, fmt), media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/api/indicators/compare",
            summary="Territories side by side (default: the programme's six)")
def compare(session: SessionDep, principal: PrincipalDep, lang: LangDep,
            territories: Annotated[str | None, Query(description="slugs, comma-separated")]
            = None, at: AtQ = None, format: FormatQ = "json") -> Response:
    fmt = params.choice(format, FORMATS, "format")
    cmp = tables.compare(session, principal, tables.parse_slugs(territories),
                         params.day(at, "at"))
    if fmt == "csv":
        columns, rows = tables.compare_table(cmp)
        return csv_response(rows, columns, f"comparaison-{cmp['at']}.csv")
    return JSONResponse(cmp | {"labels": labels(session, lang)})


PAGE_OPPORTUNITIES = 8  # per rule, on the page (the API and its CSV give more)
MAP_LINKS = 5000  # links drawn on the page's map, the strongest first


@router.get("/territories/{slug}/cooperation", response_class=HTMLResponse,
            include_in_schema=False)
def cooperation_page(request: Request, slug: str, session: SessionDep,
                     principal: PagePrincipalDep,
                     lang: LangDep, at: AtQ = None,
                     from_: Annotated[str | None, Query(alias="from")] = None,
                     to: Annotated[str | None, Query()] = None) -> HTMLResponse:
    """Where the territory stands on the ladder, its network, how it moved, what to try next."""
    today = date.today()
    day = parse_day(at, "at") or today
    snap = ind.snapshot(session, principal, slug, day)
    body = ind.indicators(snap)
    end = parse_day(to, "to") or today
    start = parse_day(from_, "from")
    if start is None:  # since the first dated link (the day before), else a year back
        first = first_day(session, principal, slug)
        start = min(first - timedelta(days=1), end) if first else end - timedelta(days=365)
    if start > end:
        raise Invalid.field("from", msg("error.indicators.date_order"))
    later = snap if end == day else ind.snapshot(session, principal, slug, end)
    evo = ind.evolution(ind.snapshot(session, principal, slug, start), later, lang)
    opp = ind.opportunities(session, principal, slug, PAGE_OPPORTUNITIES, lang)
    geometry = mapdata.territory_geometry(session, snap.territory_id)
    degree: dict[Any, int] = {}
    for link in snap.links.values():
        degree[link.source] = degree.get(link.source, 0) + 1
        degree[link.target] = degree.get(link.target, 0) + 1
    kinds = vocab.resource_kinds(session)
    nodes = {str(a.id): [a.lon, a.lat, a.name,
                         kinds[a.kind].extra.get("color", "#555") if a.kind in kinds else "#555",
                         degree.get(a.id, 0)]
             for a in snap.actors.values() if a.lon is not None}
    strongest = sorted(snap.links.values(), key=lambda lk: -lk.level)[:MAP_LINKS]
    settings = map_settings()
    data = {
        "territory": slug, "boundary": geometry.boundary, "nodes": nodes,
        "links": [[str(lk.source), str(lk.target), lk.level] for lk in strongest],
        "levels": {str(n): [term.label(lang), term.extra.get("color", "#999")]
                   for n, term in vocab.levels().items()},
        "opportunities": opp["opportunities"],
        "tiles": {"url": settings.tile_url, "attribution": settings.tile_attribution},
        "texts": js_text(lang, "coop.js."),
    }
    return templates.TemplateResponse(request, "cooperation.html", context(
        lang, territory={"slug": snap.slug, "name": snap.name}, ind=body, evo=evo, opp=opp,
        drawing=graphview.drawing(snap, kinds), data=script_json(data), kinds=kinds, today=today.isoformat(),
        leaflet_js=assets.LEAFLET_JS, leaflet_css=assets.LEAFLET_CSS))


@router.get("/compare", response_class=HTMLResponse, include_in_schema=False)
def compare_page(request: Request, session: SessionDep, principal: PrincipalDep, lang: LangDep,
                 territories: Annotated[str | None, Query()] = None, at: AtQ = None
                 ) -> HTMLResponse:
    """The programme's territories side by side, category by category as the document does."""
    cmp = tables.compare(session, principal, tables.parse_slugs(territories),
                         parse_day(at, "at"))
    return templates.TemplateResponse(request, "compare.html", context(
        lang, cmp=cmp, today=date.today().isoformat()))
