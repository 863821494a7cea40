from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.auth import PrincipalDep, require
from api.deps import SessionDep
from api.http import jsonable
from carto import moderation, territories
from carto.errors import Invalid
from carto.i18n import msg
from carto.visibility import EDITOR

router = APIRouter(prefix="/api/moderation", tags=["moderation"])


@router.get("", summary="What waits for an editor's decision in a territory")
def pending(session: SessionDep, principal: PrincipalDep,
            territory: Annotated[str | None, Query()] = None) -> JSONResponse:
    territory_id = None
    if territory is not None:
        territory_id = territories.id_of(session, territory)
        if territory_id is None:
            raise Invalid.field("territory", msg("error.territories.unknown", slug=territory))
    elif principal.role != "admin":
        territory_id = principal.territory_id
    require(principal, EDITOR, {territory_id} if territory_id is not None else None)
    return JSONResponse(jsonable(moderation.pending(session, territory_id)))
