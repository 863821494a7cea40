"""Territory maps built with folium (no HTTP here): the layers, their styles and the data the
browser script (static/js/terreau-map.js) needs.

What folium builds: the map and its basemap, a pane for the communes drawn *under* the tiles
(visible only when tiles fail or are switched off, so the map still reads offline), the
territory's boundary, one FeatureGroup per resource kind (toggled in the layer control, which
doubles as the kinds' legend: colour, pictogram, count), one for the cooperation links, the
context layers (off by default, each with its source and licence as attribution), fullscreen
and "locate me" controls.

What the script does with them: it draws the markers and the links from the data given here
(or fetched by viewport), builds every popup, tooltip and search result with DOM text nodes
(never innerHTML, so `<img src=x onerror=...>` stays text), spreads resources that share a
point on a ring around it (the demo's actors mostly sit at their commune's centre, and their
links must stay visible), groups dense areas into counted bubbles, and adds the scale, the
search box, the legend with the link filters (category, minimum level) and the print layout.

Every text a person reads comes from `carto.i18n` and every label put into HTML by Leaflet
itself (layer control, attribution) is escaped here.
"""

import html
import json
import math
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import folium
from branca.element import MacroElement
from folium import plugins
from folium.elements import JSCSSMixin
from folium.template import Template
from sqlalchemy.orm import Session

from carto import vocab
from carto.i18n import t
from carto.maps.data import CONTEXT_LAYERS, MapContent, TerritoryGeometry, script_safe

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?$")
ICON_NAME = re.compile(r"^[a-z0-9-]{1,40}$")
LEVEL_WEIGHTS = {1: 2.5, 2: 3.5, 3: 5, 4: 6.5, 5: 8}
APPROXIMATE = vocab.APPROXIMATE_PRECISIONS
DOWNLOAD_LIMIT = 20_000  # resources in one standalone file (a USB stick, a tablet's memory)
MAX_ZOOM = 19

OSM_ATTRIBUTION = ('© <a href="https://www.openstreetmap.org/copyright">'
                   '{contributors}</a> — ODbL 1.0')


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no `</script>`, no `<!--`, no line separators)."""
    return script_safe(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str))


@dataclass
class Kind:
    code: str
    label: str
    color: str
    icon: str

    @classmethod
    def checked(cls, code: str, label: str, color: str | None, icon: str | None) -> "Kind":
        """Colour and icon name end up in HTML attributes: anything unexpected is replaced
        (the database checks them too; this does not rely on it)."""
        return cls(code, label, color if color and HEX_COLOUR.match(color) else "#616161",
                   icon if icon and ICON_NAME.match(icon) else "circle")


def kinds(session: Session, lang: str) -> list[Kind]:
    """The kinds as the database has them (admins may edit labels, colours and icons): colours
    and icon names are checked, since they end up in HTML attributes."""
    return [Kind.checked(k.code, k.label(lang), k.extra.get("color"), k.extra.get("icon"))
            for k in vocab.resource_kinds(session).values()]


@dataclass
class MapUrls:
    """Where the script fetches and links to (absolute in a downloaded file)."""

    features: str
    search: str
    resource: str  # with {id}
    link: str  # with {id}
    record: str  # the resource's row on the territory page, with {id}
    api_record: str  # with {id}
    page: str
    communes: str = ""  # the outlines, fetched by a map loaded by viewport (see `config`)


@dataclass
class MapView:
    territory: dict[str, Any]
    geometry: TerritoryGeometry
    kinds: list[Kind]
    kind_counts: dict[str, int]
    links_total: int
    context: dict[str, dict[str, Any]]
    content: MapContent | None = None  # None: loaded by viewport
    categories_present: dict[str, int] = field(default_factory=dict)
    first: dict[str, Any] | None = None  # by viewport: the first view (data.first_view)

    @property
    def mode(self) -> str:
        return "embedded" if self.content is not None else "viewport"


class TerreauLayers(JSCSSMixin):
    """Hands folium's layers and the data to terreau-map.js."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = Terreau.init({{ this._parent.get_name() }}, {
            tiles: {{ this.tiles.get_name() if this.tiles else 'null' }},
            control: {{ this.control.get_name() }},
            boundary: {{ this.boundary.get_name() }},
            communes: {{ this.communes.get_name() }},
            links: {{ this.links.get_name() }},
            kinds: {
            {%- for code, layer in this.kind_layers.items() %}
                {{ code|tojson }}: {{ layer.get_name() }},
            {%- endfor %}
            },
            context: {
            {%- for code, layer in this.context_layers.items() %}
                {{ code|tojson }}: {{ layer.get_name() }},
            {%- endfor %}
            }
        }, {{ this.data_id|tojson }});
        {% endmacro %}
    """)

    def __init__(self, config: dict[str, Any], tiles: Any, boundary: Any, communes: Any,
                 links: Any, kind_layers: dict[str, Any], context_layers: dict[str, Any],
                 control: Any):
        super().__init__()
        self._name = "TerreauLayers"
        self.data_id = f"tm-data-{self._id}"
        self.config_json = config_json(config)
        self.tiles, self.boundary, self.communes, self.links = tiles, boundary, communes, links
        self.control = control
        self.kind_layers, self.context_layers = kind_layers, context_layers


def _kind_layer_name(kind: Kind, count: int) -> str:
    """Leaflet's layer control sets names with innerHTML: the label is escaped, the swatch is
    built from checked values only."""
    return (f'<span class="tm-swatch" style="--c:{kind.color}">'
            f'<i class="fa-solid fa-{kind.icon}" aria-hidden="true"></i></span> '
            f'<span class="tm-layer-label">{html.escape(kind.label)}</span> '
            f'<span class="tm-count">{count}</span>')


def js_text(lang: str, prefix: str = "map.js.") -> dict[str, str]:
    """Every sentence a page script shows, from the catalogue (the keys under `prefix`)."""
    from carto.i18n import catalogue

    return {key[len(prefix):]: t(key, lang) for key in catalogue() if key.startswith(prefix)}


def _vocabularies(view: MapView, lang: str) -> dict[str, Any]:
    return {
        "kinds": {k.code: [k.label, k.color, k.icon] for k in view.kinds},
        "levels": {str(n): [term.label(lang), term.extra.get("color", "#999"),
                            LEVEL_WEIGHTS.get(n, 3)] for n, term in vocab.levels().items()},
        "categories": vocab.labels(vocab.categories, lang),
        "foods": vocab.labels(vocab.food_groups, lang),
        "access": vocab.labels(vocab.access_conditions, lang),
        "precisions": vocab.labels(vocab.precisions, lang),
        "approximate": list(APPROXIMATE),
    }


def config_json(cfg: dict[str, Any]) -> str:
    """The script's data as JSON text; the outlines (`boundary_json`, `communes_json`: text
    already safe in a script, kept per territory) are put in as they are, not re-encoded."""
    rest = {k: v for k, v in cfg.items() if k not in ("boundary_json", "communes_json")}
    text = script_json(rest)
    return (text[:-1] + ',"boundary":' + cfg["boundary_json"] + ',"communes":'
            + (cfg["communes_json"] or "null") + "}")


def config(view: MapView, urls: MapUrls, lang: str, embed_limit: int,
           standalone: bool = False, panel: str | None = None) -> dict[str, Any]:
    tr = view.territory
    x0, y0, x1, y1 = view.geometry.bbox
    out: dict[str, Any] = {
        "lang": lang,
        "mode": view.mode,
        "standalone": standalone,
        "panel": panel,
        "territory": {"slug": tr["slug"], "name": tr["name"]},
        "bounds": [[y0, x0], [y1, x1]],
        "limit": embed_limit,
        "urls": urls.__dict__,
        "vocab": _vocabularies(view, lang),
        "text": js_text(lang),
        "counts": {"resources": sum(view.kind_counts.values()), "links": view.links_total,
                   "kinds": view.kind_counts, "categories": view.categories_present},
        "context": {layer: {"label": t(f"map.context.{layer}", lang),
                            "points": data["points"]}
                    for layer, data in view.context.items()},
        "boundary_json": view.geometry.boundary_json,
        # A map loaded by viewport fetches the outlines (urls.communes: cached by the browser)
        # once its first markers are drawn: inline they were 90 % of a large territory's page
        # (566 of 625 kB for Hérault), parsed before anything showed (docs/benchmarks.md, maps).
        # A downloaded file and a map that embeds its points keep them inline.
        "communes_json": (None if view.mode == "viewport" and not standalone
                          else view.geometry.communes_json),
    }
    if view.first is not None:
        out["first"] = view.first
    if view.content is not None:
        out["resources"] = view.content.resources
        out["links"] = view.content.links
        out["outside"] = view.content.outside
    return out


_EMPTY = {"type": "FeatureCollection", "features": []}


def build(view: MapView, urls: MapUrls, lang: str, tile_url: str, tile_attribution: str,
          embed_limit: int, standalone: bool = False, panel: str | None = None) -> folium.Map:
    """The folium map of one territory; its assets are made local by `api.assets.localize`.

    `panel`: a CSS selector of an element beside the map that receives the layer control and
    the legend (the territory page); without it they stay on the map (iframe, download)."""
    x0, y0, x1, y1 = view.geometry.bbox
    # No m.fit_bounds(): its animated zoom would finish after the script's own fit (which
    # also takes in resources placed outside the boundary) and undo it.
    m = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=start_zoom(view.geometry.bbox),
                   tiles=None, control_scale=False, prefer_canvas=False, zoom_snap=0.5,
                   zoom_delta=1, maxZoom=MAX_ZOOM, minZoom=4)

    tiles = None
    if tile_url.strip():
        tiles = folium.TileLayer(tiles=tile_url, attr=tile_attribution,
                                 name=t("map.layer.basemap", lang), control=False,
                                 max_zoom=MAX_ZOOM, max_native_zoom=19)
        tiles.add_to(m)

    # Communes under the tiles: the background when tiles fail or are off. Both layers are
    # created empty: the script fills them from its data once the first view is set (drawn
    # once, at the right zoom, after the markers' request has left) and styles them.
    folium.map.CustomPane("communes", z_index=150, pointer_events=False).add_to(m)
    communes = folium.GeoJson(_EMPTY, name=t("map.layer.communes", lang), control=False,
                              pane="communes", interactive=False)
    communes.add_to(m)
    boundary = folium.GeoJson(_EMPTY, name=t("map.layer.boundary", lang), control=False,
                              interactive=False)
    boundary.add_to(m)

    kind_layers: dict[str, Any] = {}
    for kind in view.kinds:
        count = view.kind_counts.get(kind.code, 0)
        if count == 0:
            continue
        group = folium.FeatureGroup(name=_kind_layer_name(kind, count), show=True)
        group.add_to(m)
        kind_layers[kind.code] = group
    links = folium.FeatureGroup(
        name=(f'<span class="tm-swatch tm-swatch-links"></span> '
              f'{html.escape(t("map.layer.links", lang))} '
              f'<span class="tm-count">{view.links_total}</span>'), show=True)
    links.add_to(m)

    context_layers: dict[str, Any] = {}
    for layer in CONTEXT_LAYERS:
        data = view.context.get(layer)
        if not data:
            continue
        if layer == "osm_food_shops":
            attribution = OSM_ATTRIBUTION.format(
                contributors=html.escape(t("map.osm_contributors", lang)))
        else:
            attribution = f"{html.escape(data['source'])} — {html.escape(data['licence'])}"
        label = html.escape(t(f"map.context.{layer}", lang))
        group = folium.FeatureGroup(
            name=(f'<span class="tm-swatch tm-ctx tm-ctx-{layer}"></span> {label} '
                  f'<span class="tm-count">{len(data["points"])}</span>'),
            show=False, attribution=attribution)
        group.add_to(m)
        context_layers[layer] = group

    plugins.Fullscreen(position="topleft", title=t("map.fullscreen", lang),
                       title_cancel=t("map.fullscreen_exit", lang)).add_to(m)
    plugins.LocateControl(position="topleft", flyTo=True, showPopup=False,
                          strings={"title": t("map.locate", lang)},
                          locateOptions={"maxZoom": 16}).add_to(m)
    # The layer control first: it only names layers, and the script then may move it.
    # On the map itself (iframe, download) it folds into a button; the script unfolds it when
    # the map is large. On the territory page it moves to the panel beside the map, where its
    # list always shows (terreau-map.css): created folded there too, since Leaflet measures an
    # unfolded control against the map as it is added, a page layout before the first markers.
    control = folium.LayerControl(position="topright", collapsed=True)
    control.add_to(m)
    cfg = config(view, urls, lang, embed_limit, standalone, panel)
    TerreauLayers(cfg, tiles, boundary, communes, links, kind_layers, context_layers,
                  control).add_to(m)
    return m


# The map sizes a first view is sent for: from a phone's map to a wide screen's, less the
# script's fit padding (70 px each side).
FIRST_VIEW_SIZES = ((200, 200), (2400, 1500))
# The map the first frame is drawn for, before the script's own fit (a laptop's territory map
# less the padding): the frame that fit then barely moves.
START_SIZE = (768, 768)


def fit_zoom(bbox: tuple[float, float, float, float], width: int, height: int) -> float:
    """The zoom at which Leaflet's fitBounds shows `bbox` in `width` x `height` pixels."""
    x0, y0, x1, y1 = bbox

    def mercator(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(max(-85.0, min(85.0, lat))) / 2))

    dx = max((x1 - x0) / 360, 1e-9)
    dy = max((mercator(y1) - mercator(y0)) / (2 * math.pi), 1e-9)
    return math.log2(min(width / dx, height / dy) / 256)


def first_zooms(bbox: tuple[float, float, float, float]) -> list[int]:
    """Every whole zoom the script may round its first view to, on any screen (it fits the
    territory's box with a zoom snapped to 0.5, then asks at the rounded zoom)."""
    (w0, h0), (w1, h1) = FIRST_VIEW_SIZES
    low = max(4, math.floor(fit_zoom(bbox, w0, h0)))
    high = min(MAX_ZOOM, math.ceil(fit_zoom(bbox, w1, h1)))
    return list(range(low, high + 1))


def start_zoom(bbox: tuple[float, float, float, float]) -> int:
    """The zoom the map is created at: the whole zoom under the fit in a START_SIZE map, so the
    first frame is close to what the script's fit shows."""
    return max(4, min(MAX_ZOOM - 2, math.floor(fit_zoom(bbox, *START_SIZE))))


@dataclass
class MapParts:
    """A rendered map in pieces to place in a page: links and styles for <head>, the map's
    <div>, its data (a JSON `<script>` block, read by the script: the browser parses JSON
    faster than a script literal), its script (after the div and the data), and what comes
    after the script (`icons`: the pictograms' stylesheet, which the first markers do not
    need; set by the app, which knows where it serves it)."""

    header: str
    div: str
    data: str
    script: str
    icons: str = ""


_VIEWPORT_META = re.compile(r"<meta name=\"viewport\"[^>]*>", re.S)
_FOLIUM_PAGE_STYLES = re.compile(r"<style>\s*html, body \{.*?</style>\s*<style>\s*#map \{.*?</style>",
                                 re.S)


# A Jinja opening (`{{`, `{%`, `{#`) in text a macro wrote: its `{` is written as an expression
# that prints "{", so the second compilation below prints the text back unchanged.
_JINJA_OPENING = re.compile(r"\{(?=[{%#])")


def _inert(rendered: str) -> str:
    return _JINJA_OPENING.sub("{{ '{' }}", rendered)


class _InertMacros:
    """An element's template whose macros' output is compiled as plain text.

    Why: branca's `MacroElement.render` wraps what each macro wrote (layer names, attributions,
    the map's data: text people typed) in `Element(output)`, which compiles it as a Jinja
    template and renders it again, so a resource named `{{ 7*7 }}` would show 49 and
    `{{ cycler.__init__.__globals__.os... }}` would run on the server."""

    def __init__(self, template: Any) -> None:
        self._template = template

    @property
    def module(self) -> Any:
        macros = self._template.module.__dict__

        def inert(macro: Any) -> Any:
            return lambda *args, **kwargs: _inert(macro(*args, **kwargs))

        return SimpleNamespace(**{name: inert(macros[name]) for name in ("header", "html", "script")
                                  if name in macros})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._template, name)


def _make_inert(element: Any) -> None:
    """Every macro element of the map (the map itself included) writes inert text."""
    if isinstance(element, MacroElement) and not isinstance(element._template, _InertMacros):
        element._template = _InertMacros(element._template)
    for child in list(element._children.values()):
        _make_inert(child)


def render(m: folium.Map) -> MapParts:
    figure: Any = m.get_root()  # a branca Figure: header, html and script parts
    _make_inert(m)
    figure.render()
    header = figure.header.render()
    # The page has its own viewport (pinch-zoom stays allowed) and layout.
    header = _VIEWPORT_META.sub("", header)
    header = _FOLIUM_PAGE_STYLES.sub("", header)
    layers = next(e for e in m._children.values() if isinstance(e, TerreauLayers))
    data = (f'<script type="application/json" id="{layers.data_id}">'
            f"{layers.config_json}</script>")
    return MapParts(header=header, div=figure.html.render(), data=data,
                    script=figure.script.render())
