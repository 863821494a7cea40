"""OGC API – Features, Part 1 (Core) over Terreau's data, and vector tiles.

- `catalogue`: the collections (territories, resources, links, communes, one per resource kind),
  their queryable properties and extents;
- `query`: the `items` request (limit, bbox, datetime, property filters, cursor), checked once;
- `features`: pages of features as GeoJSON text built by PostgreSQL, through the visibility
  rules of `carto.visibility` (resources and links through `carto.search`, the one home of
  those reads);
- `openapi`: the OpenAPI 3.0 document describing `/ogc`;
- `tiles`: Mapbox vector tiles of resources and links (ST_AsMVT), same visibility rules.

No web framework here: `api/routers/ogc.py` and `api/routers/tiles.py` serve these.
"""

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
