"""Territory maps (no HTTP here): `data` reads what a map shows through the visibility rules
(embedded content, viewport points and clusters, popups, search), `layers` builds the folium
map and the data its script needs. `from carto import maps` gives the builder's names;
`from carto.maps import data` the reads."""

from carto.maps.layers import (
    APPROXIMATE,
    DOWNLOAD_LIMIT,
    HEX_COLOUR,
    ICON_NAME,
    LEVEL_WEIGHTS,
    MAX_ZOOM,
    OSM_ATTRIBUTION,
    START_SIZE,
    Kind,
    MapParts,
    MapUrls,
    MapView,
    TerreauLayers,
    build,
    config,
    first_zooms,
    fit_zoom,
    js_text,
    kinds,
    render,
    script_json,
)

__all__ = [
    "APPROXIMATE", "DOWNLOAD_LIMIT", "HEX_COLOUR", "ICON_NAME", "LEVEL_WEIGHTS", "MAX_ZOOM",
    "OSM_ATTRIBUTION", "START_SIZE", "Kind", "MapParts", "MapUrls", "MapView", "TerreauLayers", "build",
    "config", "first_zooms", "fit_zoom", "js_text", "kinds", "render", "script_json",
]
