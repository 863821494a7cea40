"""/api/resources: search (GeoJSON or CSV, keyset pages), create, read, edit, delete, restore,
history, moderation. Writes need a token with the right role in the resource's territory."""

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api import auth
from api.auth import PrincipalDep, WriterDep
from api.deps import SessionDep
from api.geojson import GEOJSON, GeoJSONResponse
from api.http import client_id, csv_response, etag, expected_version, jsonable
from api.schemas import RejectIn, ResourceFeatureIn, ResourcePatchIn
from carto import history, moderation, params, permissions, resources, search, territories, vocab
from carto.errors import Invalid
from carto.i18n import msg
from carto.visibility import Principal

router = APIRouter(prefix="/api/resources", tags=["resources"])

# Code lists (carto.params.codes_schema): the kinds are a table that grows at run time, so a
# pattern and a 400 naming an unknown code, not an enum frozen at start-up.
KIND_CODES = params.codes_schema("kind", [vocab.KIND_EXAMPLE])
PRODUCT_CODES = params.codes_schema("food-group", vocab.food_groups())
KINDS_DOC = ("kind codes (GET /api/kinds), repeatable or comma-separated; an unknown one is a "
             "400 naming the parameter")
PRODUCTS_DOC = ("food groups (GET /api/food-groups), repeatable or comma-separated; an unknown "
                "one is a 400 naming the parameter")

CSV_COLUMNS = [
    "id", "name", "kind", "description", "address", "commune_code", "commune_name", "lon", "lat",
    "location_precision", "location_note", "products", "access_conditions", "price_note",
    "documents_needed", "opening_hours", "website", "phone", "email", "visibility", "status",
    "moderation", "illustrative", "territories", "provenance", "source_name", "external_id",
    "licence", "created_at", "updated_at", "version",
]


def feature(row: dict[str, Any], principal: Principal, session: Session) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("id", "lon", "lat")}
    props = permissions.shown_fields(principal, territories.ids_of(session, row["territories"]),
                                     props, search.EDITOR_ONLY)
    return {
        "type": "Feature",
        "id": str(row["id"]),
        "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
        "properties": jsonable(search.stamped(props)),
    }


def _one(row: dict[str, Any], principal: Principal, session: Session, status: int = 200,
         headers: dict[str, str] | None = None) -> GeoJSONResponse:
    return GeoJSONResponse(feature(row, principal, session), status_code=status,
                           headers={"ETag": etag(row["version"]), **(headers or {})})


def _payload(geometry: Any, properties: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    data = dict(properties)
    force = data.pop("force", False)
    if not isinstance(force, bool):
        raise Invalid.field("force", msg("error.validation.boolean"))
    for forbidden in ("id", "version", "moderation", "moderation_note", "created_by",
                      "created_at", "updated_by", "updated_at", "deleted", "commune_name",
                      "lon", "lat"):
        if forbidden in data:
            raise Invalid.field(forbidden, msg("error.resources.computed_field"))
    if "commune_code" in data:
        if "commune" in data:
            raise Invalid.field("commune", msg("error.resources.commune_twice"))
        data["commune"] = data.pop("commune_code")
    if geometry is not None:
        data["lon"], data["lat"] = geometry.coordinates[0], geometry.coordinates[1]
    return data, force


@router.get("", response_class=GeoJSONResponse,
            summary="Search resources (GeoJSON FeatureCollection, or CSV with format=csv)")
async def list_resources(
    request: Request,
    territory: Annotated[str | None, Query(description="territory slug (unknown: 404)")] = None,
    kind: Annotated[list[str] | None, Query(description=KINDS_DOC,
                                            json_schema_extra=KIND_CODES)] = None,
    product: Annotated[list[str] | None, Query(description=PRODUCTS_DOC,
                                               json_schema_extra=PRODUCT_CODES)] = None,
    q: Annotated[str | None, Query(max_length=200,
                                   description="text, accent- and case-insensitive")] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat",
                                      json_schema_extra=params.BBOX_SCHEMA)] = None,
    status: Annotated[list[str] | None, Query(
        description=", ".join(vocab.RESOURCE_STATUSES) + "; repeatable or comma-separated",
        json_schema_extra=params.fixed_codes_schema(vocab.RESOURCE_STATUSES))] = None,
    limit: Annotated[int, Query(description=f"page size, clamped to {search.MAX_LIMIT:,}",
                                json_schema_extra=params.LIMIT_SCHEMA)] = 100,
    cursor: Annotated[str | None, Query(description="from the `next` link",
                                        json_schema_extra=params.CURSOR_SCHEMA)] = None,
    format: Annotated[str, Query(pattern="^(geojson|json|csv)$")] = "geojson",
) -> Response:
    """On the event loop (api.auth.read_own: a connection of the async engine taken here, no
    dependency to solve, the token looked up on that session): a page is one statement, and
    the thread pool's hops (session, principal, handler) cost the worker more CPU than the
    statement's own Python. The CSV's rows are written on the thread pool, off the loop."""
    flt = search.ResourceFilter(territory=territory, kinds=kind or [], products=product or [],
                                q=q, bbox=params.bbox(bbox), statuses=status or [])
    after = params.decode_cursor(cursor)
    limit = params.limit(limit, search.DEFAULT_LIMIT, search.MAX_LIMIT)
    if format == "csv":
        def rows_of(session: Session, principal: Principal
                    ) -> tuple[list[dict[str, Any]], uuid.UUID | None]:
            territories.filter_id(session, territory)  # an unknown one: 404 naming it
            return search.list_resources(session, principal, flt, limit, after)

        rows, last = await auth.read_own(request, rows_of)
        return await run_in_threadpool(csv_response, rows, CSV_COLUMNS, "resources.csv",
                                       _next_header(request, last))

    def page_of(session: Session, principal: Principal) -> search.FeaturesText:
        territories.filter_id(session, territory)  # an unknown one: 404 naming it
        return search.list_resources_geojson(session, principal, flt, limit, after)

    page = await auth.read_own(request, page_of)
    last = page.last
    links = [{"rel": "self", "type": GEOJSON, "href": str(request.url)}]
    head: dict[str, Any] = {"type": "FeatureCollection", "numberReturned": page.returned}
    if last is not None:
        next_url = _next_url(request, last)
        head["next"] = next_url
        links.append({"rel": "next", "type": GEOJSON, "href": next_url})
    head["links"] = links
    # The features arrive as GeoJSON text from PostgreSQL; only the envelope is Python's.
    envelope = json.dumps(head, ensure_ascii=False)
    body = envelope[:-1] + ', "features": [' + page.text + "]}"
    return Response(body.encode("utf-8"), media_type=GEOJSON,
                    headers=_next_header(request, last))


def _next_url(request: Request, last: uuid.UUID) -> str:
    return str(request.url.include_query_params(cursor=params.encode_cursor(last)))


def _next_header(request: Request, last: uuid.UUID | None) -> dict[str, str]:
    return {"Link": f'<{_next_url(request, last)}>; rel="next"'} if last is not None else {}


@router.post("", response_class=GeoJSONResponse, status_code=201,
             summary="Create a resource (contributors' entries wait for an editor); a client "
                     "UUID as the Feature's id makes a replay create nothing")
def create_resource(request: Request, body: ResourceFeatureIn, session: SessionDep,
                    principal: WriterDep) -> Response:
    data, force = _payload(body.geometry, body.properties)
    resource = resources.create(session, data, principal, resource_id=client_id(body.id),
                                force=force)
    row = search.get_resource(session, principal, resource.id)
    return _one(row, principal, session, 201, {"Location": str(request.url_for("get_resource",
                                                                      resource_id=resource.id))})


@router.get("/{resource_id}", response_class=GeoJSONResponse, name="get_resource",
            summary="One resource; a resource merged into another answers 410 naming the kept "
                    "one (`merged_into`, and a Link header with rel=\"canonical\")")
def get_resource(resource_id: uuid.UUID, session: SessionDep,
                 principal: PrincipalDep) -> Response:
    return _one(search.get_resource(session, principal, resource_id, merged=True), principal,
                session)


@router.patch("/{resource_id}", response_class=GeoJSONResponse,
              summary="Change some fields; needs If-Match with the ETag read")
def patch_resource(request: Request, resource_id: uuid.UUID, body: ResourcePatchIn,
                   session: SessionDep, principal: WriterDep) -> Response:
    data, force = _payload(body.geometry, body.properties)
    resources.update(session, resource_id, data, principal, expected_version(request),
                     force=force)
    return _one(search.get_resource(session, principal, resource_id), principal, session)


@router.delete("/{resource_id}", status_code=204, summary="Delete (soft; restore undoes it)")
def delete_resource(request: Request, resource_id: uuid.UUID, session: SessionDep,
                    principal: WriterDep) -> Response:
    resources.delete(session, resource_id, principal, expected_version(request))
    return Response(status_code=204)


@router.post("/{resource_id}/restore", response_class=GeoJSONResponse,
             summary="Undo a delete (If-Match optional)")
def restore_resource(request: Request, resource_id: uuid.UUID, session: SessionDep,
                     principal: WriterDep) -> Response:
    resources.restore(session, resource_id, principal, expected_version(request, False))
    return _one(search.get_resource(session, principal, resource_id), principal, session)


@router.get("/{resource_id}/history", summary="The change log: who, when, before, after")
def resource_history(resource_id: uuid.UUID, session: SessionDep,
                     principal: PrincipalDep) -> JSONResponse:
    existing = resources.get(session, resource_id, include_deleted=True)
    permissions.read_history(principal, permissions.resource_territories(existing))
    entries = history.entries(session, "resource", resource_id)
    return JSONResponse(jsonable({"id": resource_id, "entries": [
        {"action": e.action, "actor": e.actor, "at": e.at, "before": e.before, "after": e.after}
        for e in entries]}))


@router.post("/{resource_id}/validate", response_class=GeoJSONResponse,
             summary="Publish a contribution (If-Match optional)")
def validate_resource(request: Request, resource_id: uuid.UUID, session: SessionDep,
                      principal: WriterDep) -> Response:
    moderation.validate(session, "resource", resource_id, principal,
                        expected_version(request, False))
    return _one(search.get_resource(session, principal, resource_id), principal, session)


@router.post("/{resource_id}/reject", response_class=GeoJSONResponse,
             summary="Refuse a contribution, saying why (If-Match optional)")
def reject_resource(request: Request, resource_id: uuid.UUID, body: RejectIn,
                    session: SessionDep, principal: WriterDep) -> Response:
    moderation.reject(session, "resource", resource_id, principal, body.reason,
                      expected_version(request, False))
    return _one(search.get_resource(session, principal, resource_id), principal, session)
