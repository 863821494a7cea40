"""GET /api/territories/{slug}/export: the territory as a GeoPackage, GeoJSON, XLSX or zipped
CSV — what the caller may read (carto.io.exports through carto.visibility)."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from api.auth import PrincipalDep
from api.deps import LangDep, SessionDep
from carto.io import datainclusion, exports

router = APIRouter(tags=["exports"])


@router.get("/api/territories/{slug}/export",
            summary="The territory's resources, links, level history, sources and licences as a "
                    "file: gpkg, geojson, csv (zip), csv-fr (zip, `;` and decimal commas for French "
                    "Excel) or xlsx; datainclusion: the national schema's "
                    "{structures, services}")
def export_territory(
    slug: str, session: SessionDep, principal: PrincipalDep, lang: LangDep,
    format: Annotated[str, Query(pattern="^(gpkg|geojson|csv|csv-fr|xlsx|datainclusion)$")] = "gpkg",
) -> Response:
    if format == "datainclusion":  # public resources only, each row valid for the schema
        return JSONResponse(datainclusion.export(session, slug, lang))
    body = exports.export(session, principal, slug, format, lang)
    name = exports.file_name(slug, format, date.today())
    return Response(body, media_type=exports.MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
