"""Tokens, managed by admins (`carto token create` does the same from the shell)."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.auth import PrincipalDep, require
from api.deps import SessionDep
from api.http import jsonable
from api.schemas import TokenIn
from carto import tokens
from carto.models import ApiToken
from carto.visibility import ADMIN

router = APIRouter(prefix="/api/tokens", tags=["tokens"])


@router.post("", status_code=201, summary="Create a token; it is shown once")
def create_token(body: TokenIn, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    require(principal, ADMIN)
    new = tokens.create(session, body.role, body.territory, body.name)
    return JSONResponse({"id": new.id, "token": new.token, "role": new.role,
                         "territory": new.territory}, status_code=201)


@router.get("", summary="Tokens (never the secrets)")
def list_tokens(session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    require(principal, ADMIN)
    rows = session.scalars(select(ApiToken).order_by(ApiToken.id))
    return JSONResponse(jsonable([
        {"id": r.id, "name": r.name, "role": r.role,
         "territory": r.territory.slug if r.territory else None, "created_at": r.created_at,
         "revoked_at": r.revoked_at} for r in rows]))


@router.delete("/{token_id}", status_code=204, summary="Revoke a token")
def revoke_token(token_id: int, session: SessionDep, principal: PrincipalDep) -> Response:
    require(principal, ADMIN)
    tokens.revoke(session, token_id)
    return Response(status_code=204)
