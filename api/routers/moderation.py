"""/api/moderation: the queue of pending contributions, for the editors of a territory."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import PrincipalDep
from api.deps import SessionDep
from api.http import jsonable
from carto import moderation, permissions, territories
from carto.errors import Invalid
from carto.i18n import msg

router = APIRouter(prefix="/api/moderation", tags=["moderation"])


@router.get("", summary="What waits for an editor's decision in a territory")
def pending(session: SessionDep, principal: PrincipalDep,
            territory: Annotated[str | None, Query()] = None) -> JSONResponse:
    territory_id = None
    if territory is not None:
        territory_id = territories.id_of(session, territory)
        if territory_id is None:
            raise Invalid.field("territory", msg("error.territories.unknown", slug=territory))
    territory_id = permissions.moderation_queue(principal, territory_id)
    return JSONResponse(jsonable(moderation.pending(session, territory_id)))
