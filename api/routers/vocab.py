"""The vocabularies with French and English labels, for forms; the kind taxonomy is editable
by admins."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.auth import PrincipalDep, require
from api.deps import SessionDep
from api.schemas import KindIn, KindPatchIn
from carto import cache, vocab
from carto.errors import Conflict, FieldError, NotFound
from carto.i18n import msg
from carto.models import ResourceKind
from carto.visibility import ADMIN

router = APIRouter(prefix="/api", tags=["vocabularies"])


def _kind(k: ResourceKind) -> dict[str, Any]:
    return {"code": k.code, "label_fr": k.label_fr, "label_en": k.label_en, "color": k.color,
            "icon": k.icon, "sort_order": k.sort_order}


@router.get("/kinds", summary="Resource kinds (editable taxonomy)")
def list_kinds(session: SessionDep) -> JSONResponse:
    """From the one cache of kinds (carto.vocab.resource_kinds), as every page and search."""
    return JSONResponse([{"code": k.code, "label_fr": k.label_fr, "label_en": k.label_en,
                          "color": k.extra["color"] or None, "icon": k.extra["icon"] or None,
                          "sort_order": int(k.extra["sort_order"])}
                         for k in vocab.resource_kinds(session).values()])


@router.post("/kinds", status_code=201, summary="Add a kind (admin)")
def create_kind(body: KindIn, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    require(principal, ADMIN)
    if session.get(ResourceKind, body.code) is not None:
        raise Conflict(msg("error.kinds.exists", code=body.code),
                       [FieldError("code", msg("error.kinds.exists", code=body.code))])
    kind = ResourceKind(**body.model_dump())
    session.add(kind)
    session.flush()
    vocab.KINDS.invalidate_on_commit(session)  # pages, searches and /api/nearby see it
    cache.edited(session)
    return JSONResponse(_kind(kind), status_code=201)


@router.patch("/kinds/{code}", summary="Relabel, recolour a kind (admin)")
def patch_kind(code: str, body: KindPatchIn, session: SessionDep,
               principal: PrincipalDep) -> JSONResponse:
    require(principal, ADMIN)
    kind = session.get(ResourceKind, code)
    if kind is None:
        raise NotFound(msg("error.kinds.unknown", code=code))
    for key, value in body.model_dump(exclude_none=True).items():
        setattr(kind, key, value)
    session.flush()
    vocab.KINDS.invalidate_on_commit(session)
    cache.edited(session)
    return JSONResponse(_kind(kind))


@router.get("/categories", summary="The six cooperation categories")
def list_categories() -> JSONResponse:
    return JSONResponse([{"code": c.code, "label_fr": c.label_fr, "label_en": c.label_en,
                          "stakes_fr": c.extra["stakes_fr"].split(";")}
                         for c in vocab.categories().values()])


@router.get("/levels", summary="The five-step cooperation ladder")
def list_levels() -> JSONResponse:
    return JSONResponse([{"level": n, "code": t.code, "label_fr": t.label_fr,
                          "label_en": t.label_en, "color": t.extra["color"]}
                         for n, t in vocab.levels().items()])


@router.get("/food-groups", summary="Food groups (products)")
def list_food_groups() -> JSONResponse:
    return JSONResponse([{"code": t.code, "label_fr": t.label_fr, "label_en": t.label_en}
                         for t in vocab.food_groups().values()])
