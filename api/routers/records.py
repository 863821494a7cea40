"""Record pages of resources (issue 13): /resources/{id}, public-safe. What it shows is what
carto.search reads through carto.visibility for this reader (the same rows and the same shown
position as the API), with the editor-only fields filtered by carto.permissions.shown_fields.
A deleted resource stays readable by the editors of its territory, with "Restaurer"; a merged
one sends its readers to the kept one's page (307: a merge can be undone)."""

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api import assets
from api.deps import LangDep, SessionDep
from api.session import PagePrincipalDep
from api.templating import context, templates
from carto import opening, permissions, places, resources, search, territories, vocab
from carto.errors import Merged, NotFound
from carto.visibility import Principal

router = APIRouter(tags=["pages"], include_in_schema=False)


def _deleted(session: Session, principal: Principal, resource_id: uuid.UUID) -> dict[str, Any]:
    """A deleted resource as its editors see it (its last picture), else the 404 it is for
    everyone else."""
    resource = resources.get(session, resource_id, include_deleted=True)
    if resource.deleted_at is None \
            or not permissions.edits(principal, permissions.resource_territories(resource)):
        raise NotFound(None)
    row = resources.snapshot(resource)
    return {**row, "id": resource.id, "commune_name": places.commune_label(session, row["commune"]),
            "commune_code": row["commune"]}


@router.get("/resources/{resource_id}", response_class=HTMLResponse, name="resource_page")
def resource_page(request: Request, resource_id: uuid.UUID, session: SessionDep, lang: LangDep,
                  principal: PagePrincipalDep) -> Response:
    try:
        row = search.get_resource(session, principal, resource_id, merged=True)
    except Merged as gone:  # merged into another: its page (a merge can be undone: 307)
        suffix = "?lang=en" if lang == "en" else ""
        return RedirectResponse(f"/resources/{gone.into}{suffix}", status_code=307)
    except NotFound as exc:
        try:
            row = _deleted(session, principal, resource_id)
        except NotFound:
            raise exc from None
    tids = territories.ids_of(session, row["territories"])
    row = permissions.shown_fields(principal, tids, row, search.EDITOR_ONLY)
    links, _ = search.list_links(session, principal, search.LinkFilter(resource=resource_id))
    kinds = vocab.resource_kinds(session)
    names = {t["slug"]: t["name"] for t in territories.summaries(session)}
    hours = opening.status(row.get("opening_hours"), datetime.now(UTC), lang)
    return templates.TemplateResponse(request, "resource.html", context(
        lang, r=row, kind=kinds.get(row["kind"]), food_groups=vocab.food_groups(),
        access=vocab.access_conditions(), precisions=vocab.precisions(),
        levels=vocab.levels(), categories=vocab.categories(), links=links, hours=hours,
        territory_names=names, edits=permissions.edits(principal, tids),
        deleted=bool(row.get("deleted")),
        leaflet_js=assets.LEAFLET_JS, leaflet_css=assets.LEAFLET_CSS))
