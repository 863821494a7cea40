"""HTML pages for people: French first (`?lang=en` for English)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.deps import LangDep, SessionDep
from api.routers import maps
from api.session import PagePrincipalDep
from api.templating import context, templates
from carto import territories

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, lang: LangDep) -> HTMLResponse:
    rows = territories.summaries(session)
    return templates.TemplateResponse(request, "index.html", context(lang, territories=rows))


@router.get("/territories/{slug}", response_class=HTMLResponse)
def territory_page(request: Request, slug: str, session: SessionDep, lang: LangDep,
                   principal: PagePrincipalDep) -> HTMLResponse:
    """The territory's map (api.routers.maps builds it), with its lists of resources and links,
    for this reader (api.session: a contributor sees their own pending items, marked)."""
    return templates.TemplateResponse(request, "territory.html",
                                      maps.page_context(request, session, slug, lang, principal))
