"""/api/moderation: the queue of pending contributions, for the editors of a territory."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import PrincipalDep
from api.deps import SessionDep
from api.http import jsonable
from carto import moderation, permissions, territories

router = APIRouter(prefix="/api/moderation", tags=["moderation"])


@router.get("", summary="What waits for an editor's decision in a territory")
def pending(session: SessionDep, principal: PrincipalDep,
            territory: Annotated[str | None, Query(description="territory slug (unknown: 404)")]
            = None) -> JSONResponse:
    territory_id = permissions.moderation_queue(principal, territories.filter_id(session,
                                                                                territory))
    return JSONResponse(jsonable(moderation.pending(session, territory_id)))
