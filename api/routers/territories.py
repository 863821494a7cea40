import json
from typing import Any

from fastapi import APIRouter

from api.auth import PrincipalDep
from api.deps import SessionDep
from api.geojson import GeoJSONResponse
from carto import search, territories

router = APIRouter(prefix="/api/territories", tags=["territories"])


def _feature(row: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in row.items() if k not in ("geometry", "id")}
    props["communes"] = props.get("communes") or []
    props["commune_names"] = props.get("commune_names") or []
    return {"type": "Feature", "id": row["slug"], "geometry": json.loads(row["geometry"]),
            "properties": props}


@router.get("", response_class=GeoJSONResponse,
            summary="The territories, with counts of public resources and links")
def list_territories(session: SessionDep) -> GeoJSONResponse:
    features = [_feature(row) for row in territories.summaries(session)]
    return GeoJSONResponse({"type": "FeatureCollection", "features": features})


@router.get("/{slug}", response_class=GeoJSONResponse,
            summary="A territory: properties, counts by kind, by category and by level")
def get_territory(slug: str, session: SessionDep, principal: PrincipalDep) -> GeoJSONResponse:
    row = territories.summaries(session, slug)[0]
    feature = _feature(row)
    stats = search.territory_stats(session, principal, row["id"])
    feature["properties"].update(stats)
    return GeoJSONResponse(feature)
