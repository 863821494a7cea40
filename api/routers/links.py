"""/api/links: cooperation links as GeoJSON LineStrings between their two resources; writes
with roles, versions, level history."""

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from api.auth import PrincipalDep, require
from api.deps import SessionDep
from api.geojson import GEOJSON, GeoJSONResponse
from api.http import csv_response, etag, expected_version, jsonable
from api.schemas import LinkIn, RejectIn
from carto import history, links, moderation, params, search, territories, vocab
from carto.errors import Invalid, NotFound
from carto.i18n import msg
from carto.models import Link, Resource
from carto.validation import reject_nul
from carto.visibility import CONTRIBUTOR, EDITOR, Principal

router = APIRouter(prefix="/api/links", tags=["links"])

CSV_COLUMNS = ["id", "source_id", "source_name", "target_id", "target_name", "category",
               "level", "level_label", "stakes", "description", "started_on", "status",
               "directed", "territory", "moderation", "created_at", "updated_at", "version"]


def _props(row: dict[str, Any], principal: Principal) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("id", "geometry", "source_name_")}
    props["source_name"] = row["source_name_"]
    props["provenance_source"] = row["source_name"]
    props["level_label"] = vocab.levels()[row["level"]].label_fr
    props["level_label_en"] = vocab.levels()[row["level"]].label_en
    if not principal.is_editor:
        for key in ("created_by", "updated_by", "moderation_note"):
            props.pop(key, None)
    return props


def feature(row: dict[str, Any], principal: Principal) -> dict[str, Any]:
    return {"type": "Feature", "id": str(row["id"]), "geometry": json.loads(row["geometry"]),
            "properties": jsonable(_props(row, principal))}


def _one(row: dict[str, Any], principal: Principal, status: int = 200,
         headers: dict[str, str] | None = None) -> GeoJSONResponse:
    return GeoJSONResponse(feature(row, principal), status_code=status,
                           headers={"ETag": etag(row["version"]), **(headers or {})})


def _territories_of(link: Link) -> set[int]:
    if link.territory_id is not None:
        return {link.territory_id}
    ends: list[Resource] = [link.source, link.target]
    return {t.id for end in ends for t in end.territories}


@router.get("", response_class=GeoJSONResponse, summary="Cooperation links (LineStrings)")
def list_links(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    territory: Annotated[str | None, Query()] = None,
    category: Annotated[list[str] | None, Query(description="repeatable")] = None,
    min_level: Annotated[int | None, Query(ge=1, le=5)] = None,
    resource: Annotated[uuid.UUID | None, Query(description="links touching it")] = None,
    status: Annotated[list[str] | None, Query(description="active, ended")] = None,
    limit: Annotated[int, Query()] = 1000,
    cursor: Annotated[str | None, Query()] = None,
    format: Annotated[str, Query(pattern="^(geojson|json|csv)$")] = "geojson",
) -> Response:
    reject_nul({"territory": territory, "category": category, "status": status})
    flt = search.LinkFilter(territory=territory, categories=category or [], min_level=min_level,
                            resource=resource, statuses=status or [])
    after = params.decode_cursor(cursor)
    limit = params.limit(limit, 1000, search.MAX_LIMIT)
    rows, last = search.list_links(session, principal, flt, limit, after)
    next_url = None
    if last is not None:
        next_url = str(request.url.include_query_params(cursor=params.encode_cursor(last)))
    if format == "csv":
        flat = [_props(r, principal) | {"id": r["id"]} for r in rows]
        return csv_response(flat, CSV_COLUMNS, "links.csv")
    body: dict[str, Any] = {"type": "FeatureCollection",
                            "features": [feature(r, principal) for r in rows],
                            "numberReturned": len(rows)}
    if next_url:
        body["next"] = next_url
        body["links"] = [{"rel": "next", "type": GEOJSON, "href": next_url}]
    return GeoJSONResponse(body)


@router.post("", response_class=GeoJSONResponse, status_code=201,
             summary="Create a link (a JSON object: source, target, category, level, ...)")
def create_link(request: Request, body: LinkIn, session: SessionDep,
                principal: PrincipalDep) -> Response:
    data = body.model_dump()
    reject_nul(data)
    territory_id = None
    if isinstance(data.get("territory"), str):
        territory_id = territories.id_of(session, data["territory"])
    require(principal, CONTRIBUTOR, {territory_id} if territory_id else None)
    if principal.role != "admin" and territory_id is None:
        raise Invalid.field("territory", msg("error.links.territory_required"))
    for end in ("source", "target"):  # an end one may not see does not exist for them
        try:
            search.get_resource(session, principal, uuid.UUID(str(data.get(end))))
        except (ValueError, TypeError):
            pass  # not an id: the domain names the field
        except NotFound as exc:
            raise Invalid.field(end, msg("error.links.unknown_end", value=data.get(end))) from exc
    state = "validated" if principal.is_editor else "pending"
    link = links.create(session, data, principal.actor, moderation=state)
    row = search.get_link(session, principal, link.id)
    return _one(row, principal, 201, {"Location": str(request.url_for("get_link",
                                                                      link_id=link.id))})


@router.get("/{link_id}", response_class=GeoJSONResponse, name="get_link")
def get_link(link_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Response:
    return _one(search.get_link(session, principal, link_id), principal)


@router.patch("/{link_id}", response_class=GeoJSONResponse,
              summary="Change some fields; a new level (with level_note) joins the history")
def patch_link(request: Request, link_id: uuid.UUID, body: LinkIn, session: SessionDep,
               principal: PrincipalDep) -> Response:
    search.get_link(session, principal, link_id)
    link = links.get(session, link_id)
    require(principal, EDITOR, _territories_of(link))
    version = expected_version(request)
    data = body.model_dump()
    reject_nul(data)
    links.update(session, link_id, data, principal.actor, version)
    require(principal, EDITOR, _territories_of(link))
    return _one(search.get_link(session, principal, link_id), principal)


@router.delete("/{link_id}", status_code=204)
def delete_link(request: Request, link_id: uuid.UUID, session: SessionDep,
                principal: PrincipalDep) -> Response:
    search.get_link(session, principal, link_id)
    link = links.get(session, link_id)
    require(principal, EDITOR, _territories_of(link))
    links.delete(session, link_id, principal.actor, expected_version(request))
    return Response(status_code=204)


@router.post("/{link_id}/restore", response_class=GeoJSONResponse)
def restore_link(link_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Response:
    link = links.get(session, link_id, include_deleted=True)
    require(principal, EDITOR, _territories_of(link))
    links.restore(session, link_id, principal.actor)
    return _one(search.get_link(session, principal, link_id), principal)


@router.get("/{link_id}/history")
def link_history(link_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> JSONResponse:
    link = links.get(session, link_id, include_deleted=True)
    require(principal, EDITOR, _territories_of(link))
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


@router.post("/{link_id}/validate", response_class=GeoJSONResponse)
def validate_link(link_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> Response:
    require(principal, EDITOR, _territories_of(links.get(session, link_id)))
    moderation.validate(session, "link", link_id, principal.actor)
    return _one(search.get_link(session, principal, link_id), principal)


@router.post("/{link_id}/reject", response_class=GeoJSONResponse)
def reject_link(link_id: uuid.UUID, body: RejectIn, session: SessionDep,
                principal: PrincipalDep) -> Response:
    require(principal, EDITOR, _territories_of(links.get(session, link_id)))
    reject_nul(body.reason, "reason")
    moderation.reject(session, "link", link_id, principal.actor, body.reason)
    return _one(search.get_link(session, principal, link_id), principal)
