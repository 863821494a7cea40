"""Duplicates for the editors: the flagged pairs of a territory and the merge of one resource
into another (carto.duplicates). The moderation pages show the same pairs."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.auth import PrincipalDep, WriterDep
from api.deps import SessionDep
from api.http import expected_version, jsonable
from api.schemas import MergeIn
from carto import duplicates, territories
from carto.errors import Invalid
from carto.i18n import msg

router = APIRouter(tags=["moderation"])


@router.get("/api/moderation/duplicates",
            summary="Resources entered twice: similar names within 300 m, or the same "
                    "external id (editors of the territory)")
def duplicate_pairs(session: SessionDep, principal: PrincipalDep,
                    territory: Annotated[str | None, Query(description="territory slug")]
                    = None) -> JSONResponse:
    territory_id = None
    if territory is not None:
        territory_id = territories.id_of(session, territory)
        if territory_id is None:
            raise Invalid.field("territory", msg("error.territories.unknown", slug=territory))
    return JSONResponse(jsonable({"pairs": duplicates.pairs(session, principal, territory_id),
                                  "radius_m": duplicates.RADIUS_M}))


@router.post("/api/resources/{resource_id}/merge",
             summary="Merge this resource into another: it is deleted with a pointer to the "
                     "kept one, its links move there (If-Match: this resource's version)")
def merge_resource(request: Request, resource_id: uuid.UUID, body: MergeIn,
                   session: SessionDep, principal: WriterDep) -> JSONResponse:
    report = duplicates.merge(session, resource_id, body.into, principal,
                              expected_version(request))
    return JSONResponse(report.as_dict())
