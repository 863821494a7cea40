"""GeoJSON responses (RFC 7946) with their own media type."""

from fastapi.responses import JSONResponse

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON
