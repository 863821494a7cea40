"""GeoJSON responses (RFC 7946) with their own media type."""

from typing import Any

import orjson
from fastapi.responses import JSONResponse

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON


class FastGeoJSONResponse(GeoJSONResponse):
    """The same JSON (compact, UTF-8) encoded by orjson: the standard encoder took about a tenth
    of a /api/nearby request's Python time for twenty features."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
