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
    # Why the cards and the counts differ from what the intro and `carto demo load` say: a
    # commune with a page per neighbourhood, resources on two pages or shown to members only.
    split: dict[str, int] = {}
    for row in rows:
        if row["level"] == "neighbourhood" and len(row["commune_names"] or []) == 1:
            split[row["commune_names"][0]] = split.get(row["commune_names"][0], 0) + 1
    split = {name: n for name, n in split.items() if n > 1}
    return templates.TemplateResponse(request, "index.html", context(
        lang, territories=rows, split=split, totals=territories.totals(session)))


@router.get("/territories/{slug}", response_class=HTMLResponse)
def territory_page(request: Request, slug: str, session: SessionDep, lang: LangDep,
                   principal: PagePrincipalDep) -> HTMLResponse:
    """The territory's map (api.routers.maps builds it), with its lists of resources and links,
    for this reader (api.session: a contributor sees their own pending items, marked)."""
    return templates.TemplateResponse(request, "territory.html",
                                      maps.page_context(request, session, slug, lang, principal))
