"""/api/links: cooperation links as GeoJSON LineStrings between their two resources; writes
with roles, versions, level history."""

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.auth import PrincipalDep, WriterDep
from api.deps import SessionDep
from api.geojson import GEOJSON, GeoJSONResponse
from api.http import client_id, csv_response, etag, expected_version, jsonable
from api.schemas import LinkIn, LinkPatchIn, RejectIn
from carto import history, links, moderation, params, permissions, search, territories, vocab
from carto.visibility import Principal

router = APIRouter(prefix="/api/links", tags=["links"])

CSV_COLUMNS = ["id", "source_id", "source_name", "target_id", "target_name", "category",
               "level", "level_label", "stakes", "description", "started_on", "status",
               "directed", "territory", "moderation", "created_at", "updated_at", "version"]


def _props(row: dict[str, Any], principal: Principal, session: Session) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("id", "geometry", "source_name_")}
    props["source_name"] = row["source_name_"]
    props["provenance_source"] = row["source_name"]
    props["level_label"] = vocab.levels()[row["level"]].label_fr
    props["level_label_en"] = vocab.levels()[row["level"]].label_en
    own = territories.ids_of(session, [row["territory"]] if row["territory"] else [])
    return permissions.shown_fields(principal, own, props, search.EDITOR_ONLY)


def feature(row: dict[str, Any], principal: Principal, session: Session) -> dict[str, Any]:
    return {"type": "Feature", "id": str(row["id"]), "geometry": json.loads(row["geometry"]),
            "properties": jsonable(search.stamped(_props(row, principal, session)))}


def _one(row: dict[str, Any], principal: Principal, session: Session, status: int = 200,
         headers: dict[str, str] | None = None) -> GeoJSONResponse:
    return GeoJSONResponse(feature(row, principal, session), status_code=status,
                           headers={"ETag": etag(row["version"]), **(headers or {})})


@router.get("", response_class=GeoJSONResponse, summary="Cooperation links (LineStrings)")
def list_links(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    territory: Annotated[str | None, Query(description="territory slug (unknown: 404)")] = None,
    category: Annotated[list[str] | None, Query(
        description="category codes (GET /api/categories), repeatable or comma-separated; an "
                    "unknown one is a 400 naming the parameter",
        json_schema_extra=params.codes_schema("category", vocab.categories()))] = None,
    min_level: Annotated[int | None, Query(ge=1, le=5)] = None,
    resource: Annotated[uuid.UUID | None, Query(description="links touching it")] = None,
    status: Annotated[list[str] | None, Query(
        description=", ".join(vocab.LINK_STATUSES) + "; repeatable or comma-separated",
        json_schema_extra=params.fixed_codes_schema(vocab.LINK_STATUSES))] = None,
    limit: Annotated[int, Query(description=f"page size, clamped to {search.MAX_LIMIT:,}",
                                json_schema_extra=params.LIMIT_SCHEMA)] = 1000,
    cursor: Annotated[str | None, Query(description="from the `next` link",
                                        json_schema_extra=params.CURSOR_SCHEMA)] = None,
    format: Annotated[str, Query(pattern="^(geojson|json|csv)$")] = "geojson",
) -> Response:
    territories.filter_id(session, territory)  # an unknown one: 404 naming it
    flt = search.LinkFilter(territory=territory, categories=category or [], min_level=min_level,
                            resource=resource, statuses=status or [])
    after = params.decode_cursor(cursor)
    limit = params.limit(limit, 1000, search.MAX_LIMIT)
    rows, last = search.list_links(session, principal, flt, limit, after)
    next_url = None
    if last is not None:
        next_url = str(request.url.include_query_params(cursor=params.encode_cursor(last)))
    if format == "csv":
        flat = [_props(r, principal, session) | {"id": r["id"]} for r in rows]
        return csv_response(flat, CSV_COLUMNS, "links.csv")
    body: dict[str, Any] = {"type": "FeatureCollection",
                            "features": [feature(r, principal, session) for r in rows],
                            "numberReturned": len(rows)}
    if next_url:
        body["next"] = next_url
        body["links"] = [{"rel": "next", "type": GEOJSON, "href": next_url}]
    return GeoJSONResponse(body)


@router.post("", response_class=GeoJSONResponse, status_code=201,
             summary="Create a link (source, target, category, level, territory; a client "
                     "UUID as `id` makes a replay create nothing)")
def create_link(request: Request, body: LinkIn, session: SessionDep,
                principal: WriterDep) -> Response:
    data = body.model_dump(exclude_unset=True)
    link = links.create(session, data, principal, link_id=client_id(data.pop("id", None)))
    row = search.get_link(session, principal, link.id)
    return _one(row, principal, session, 201, {"Location": str(request.url_for("get_link",
                                                                      link_id=link.id))})


@router.get("/{link_id}", response_class=GeoJSONResponse, name="get_link")
def get_link(link_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Response:
    return _one(search.get_link(session, principal, link_id), principal, session)


@router.patch("/{link_id}", response_class=GeoJSONResponse,
              summary="Change some fields; a new level (with level_note) joins the history")
def patch_link(request: Request, link_id: uuid.UUID, body: LinkPatchIn, session: SessionDep,
               principal: WriterDep) -> Response:
    data = body.model_dump(exclude_unset=True)
    links.update(session, link_id, data, principal, expected_version(request))
    return _one(search.get_link(session, principal, link_id), principal, session)


@router.delete("/{link_id}", status_code=204)
def delete_link(request: Request, link_id: uuid.UUID, session: SessionDep,
                principal: WriterDep) -> Response:
    links.delete(session, link_id, principal, expected_version(request))
    return Response(status_code=204)


@router.post("/{link_id}/restore", response_class=GeoJSONResponse,
             summary="Undo a delete (If-Match optional)")
def restore_link(request: Request, link_id: uuid.UUID, session: SessionDep,
                 principal: WriterDep) -> Response:
    links.restore(session, link_id, principal, expected_version(request, False))
    return _one(search.get_link(session, principal, link_id), principal, session)


@router.get("/{link_id}/history")
def link_history(link_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    link = links.get(session, link_id, include_deleted=True)
    permissions.read_history(principal, permissions.link_territories(link))
    return JSONResponse(jsonable({"id": link_id, "entries": [
        {"action": e.action, "actor": e.actor, "at": e.at, "before": e.before, "after": e.after}
        for e in history.entries(session, "link", link_id)]}))


@router.get("/{link_id}/levels", summary="How the link's level moved over time")
def link_levels(link_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    search.get_link(session, principal, link_id)
    levels = vocab.levels()
    return JSONResponse(jsonable({"id": link_id, "levels": [
        {"date": h.changed_on, "level": h.level, "label_fr": levels[h.level].label_fr,
         "label_en": levels[h.level].label_en, "note": h.note}
        for h in links.level_history(session, link_id)]}))


@router.post("/{link_id}/validate", response_class=GeoJSONResponse,
             summary="Publish a contributed link (If-Match optional)")
def validate_link(request: Request, link_id: uuid.UUID, session: SessionDep,
                  principal: WriterDep) -> Response:
    moderation.validate(session, "link", link_id, principal, expected_version(request, False))
    return _one(search.get_link(session, principal, link_id), principal, session)


@router.post("/{link_id}/reject", response_class=GeoJSONResponse,
             summary="Refuse a contributed link, saying why (If-Match optional)")
def reject_link(request: Request, link_id: uuid.UUID, body: RejectIn, session: SessionDep,
                principal: WriterDep) -> Response:
    moderation.reject(session, "link", link_id, principal, body.reason,
                      expected_version(request, False))
    return _one(search.get_link(session, principal, link_id), principal, session)
