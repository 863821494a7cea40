"""HTML pages for people: French first (`?lang=en` for English)."""

from collections import Counter

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import LangDep, SessionDep
from api.templating import context, templates
from carto import listing, territories

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, lang: LangDep) -> HTMLResponse:
    rows = territories.summaries(session)
    return templates.TemplateResponse(request, "index.html", context(lang, territories=rows))


@router.get("/territories/{slug}", response_class=HTMLResponse)
def territory_page(request: Request, slug: str, session: SessionDep, lang: LangDep) -> HTMLResponse:
    summary = territories.summaries(session, slug)[0]
    resources = listing.territory_resources(session, summary["id"])
    links = listing.territory_links(session, summary["id"])
    by_kind = Counter(r["kind"] for r in resources)
    by_level = Counter(link["level"] for link in links)
    return templates.TemplateResponse(
        request,
        "territory.html",
        context(lang, territory=summary, resources=resources, links=links, by_kind=by_kind,
                by_level=by_level),
    )
