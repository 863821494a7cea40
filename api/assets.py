"""Map assets served by the app itself: no page fetches a script, a style or a font elsewhere.

Where the files come from:

- Leaflet 1.9.3 and Font Awesome 6.2.1 from their PyPI wheels (`xstatic-leaflet`,
  `xstatic-font-awesome`), served from the installed package under `/static/vendor/leaflet/`
  and `/static/vendor/font-awesome/` with each library's own folder layout, because their CSS
  refers to images and fonts by relative path (`images/layers.png`, `../webfonts/...`);
- Leaflet.fullscreen 3.0.2 and Leaflet.locatecontrol 0.79.0, which have no wheel, copied from
  their npm packages into `static/vendor/<package>/` with their LICENSE (see
  `static/vendor/README.md`);
- our own `static/js/terreau-common.js` (helpers shared with the nearby page) and
  `static/js/terreau-map.js`, `static/css/terreau-map.css` and `static/css/terreau-marks.css`.

A territory map loads those files as one script and one stylesheet (`BUNDLES`, served from
memory under `/static/bundle/`): a first visit asked for twelve files, one worker answering
them in turn, before the map's script could run (issue 18). Each file stays where it is, for
the pages that need only Leaflet.

folium points every map at CDNs through *class-level* `default_js` / `default_css` lists (and
`add_js_link` mutates those lists for every later map of the process). `localize()` therefore
sets *instance* attributes on each element of one map, which shadow the class lists and leave
them untouched.

`inline_html()` turns a rendered page into one self-contained file for `?download=1`: scripts
and styles inlined, their `url(...)` images and fonts turned into `data:` URIs.
"""

import base64
import mimetypes
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from api.http import body_tag, revalidated
from carto import ROOT

STATIC_DIR = ROOT / "static"


def _xstatic_dir(module: str) -> Path:
    """The data folder of an installed xstatic wheel (e.g. `xstatic.pkg.leaflet`)."""
    import importlib

    pkg: Any = importlib.import_module(module)
    return Path(pkg.BASE_DIR)


# URL prefix -> folder of an installed wheel (mounted before the general /static mount).
WHEEL_DIRS: dict[str, str] = {
    "/static/vendor/leaflet": "xstatic.pkg.leaflet",
    "/static/vendor/font-awesome": "xstatic.pkg.font_awesome",
}

LEAFLET_JS = "/static/vendor/leaflet/leaflet.js"
LEAFLET_CSS = "/static/vendor/leaflet/leaflet.css"
FA_CSS = "/static/vendor/font-awesome/css/fontawesome.min.css"
FA_SOLID_CSS = "/static/vendor/font-awesome/css/solid.min.css"
FULLSCREEN_JS = "/static/vendor/leaflet.fullscreen/Control.FullScreen.js"
FULLSCREEN_CSS = "/static/vendor/leaflet.fullscreen/Control.FullScreen.css"
LOCATE_JS = "/static/vendor/leaflet.locatecontrol/dist/L.Control.Locate.min.js"
LOCATE_CSS = "/static/vendor/leaflet.locatecontrol/dist/L.Control.Locate.min.css"
COMMON_JS = "/static/js/terreau-common.js"  # el, fmt, safeColour: shared by the page scripts
BUBBLES_JS = "/static/js/terreau-bubbles.js"  # the counted bubbles, one layer for them all
TERREAU_JS = "/static/js/terreau-map.js"
TERREAU_CSS = "/static/css/terreau-map.css"
MARKS_CSS = "/static/css/terreau-marks.css"  # what every map marks the same way (a workshop's too)

# What a territory map loads, in the order its page used to load the files one by one.
MAP_JS = "/static/bundle/terreau-map.js"
MAP_CSS = "/static/bundle/terreau-map.css"
# Font Awesome's rules (80 kB, two thirds of the map's styles) are linked after the map's script
# (MapParts.icons): the first markers need none of them, and in the head they were parsed, and
# their pictograms' font looked for, in the page's first layout, before the first markers.
MAP_ICONS_CSS = "/static/bundle/terreau-icons.css"
BUNDLES: dict[str, tuple[str, ...]] = {
    MAP_JS: (LEAFLET_JS, FULLSCREEN_JS, LOCATE_JS, COMMON_JS, BUBBLES_JS, TERREAU_JS),
    MAP_CSS: (LEAFLET_CSS, FULLSCREEN_CSS, LOCATE_CSS, MARKS_CSS, TERREAU_CSS),
    MAP_ICONS_CSS: (FA_CSS, FA_SOLID_CSS),
}


def icons_link() -> str:
    """The map's pictograms' stylesheet, for a page to place after the map's script."""
    return f'<link rel="stylesheet" href="{MAP_ICONS_CSS}">'

# folium class name -> (default_js, default_css) for one map, all local: the map brings the
# bundles, which hold its plugins' and our files too.
LOCAL_ASSETS: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    # jQuery, Bootstrap and awesome-markers are dropped: only folium's Popup and
    # keep_in_front use jQuery, and the map uses neither (popups are built in terreau-map.js).
    "Map": ([("terreau_map_js", MAP_JS)], [("terreau_map_css", MAP_CSS)]),
    "Fullscreen": ([], []),
    "LocateControl": ([], []),
    "TerreauLayers": ([], []),
}


def localize(element: Any) -> None:
    """Point `element` and its children at the app's own copies of their assets.

    Sets instance attributes only: the class-level lists stay as folium ships them, so a map
    built elsewhere in the process is not affected (and ours is not affected by it)."""
    stack = [element]
    while stack:
        item = stack.pop()
        name = type(item).__name__
        if hasattr(item, "default_js") or hasattr(item, "default_css"):
            if name not in LOCAL_ASSETS:
                raise RuntimeError(f"no local assets known for folium element {name}: "
                                   "add them to api.assets.LOCAL_ASSETS (no CDN)")
            js, css = LOCAL_ASSETS[name]
            item.default_js = list(js)
            item.default_css = list(css)
        stack.extend(getattr(item, "_children", {}).values())


def install(app: FastAPI) -> None:
    """Serve the wheels' folders under /static/vendor/... and the bundles, ahead of the general
    /static mount (Starlette matches routes in order, and /static would otherwise swallow
    these paths)."""
    for prefix, module in WHEEL_DIRS.items():
        mount = Mount(prefix, app=StaticFiles(directory=_xstatic_dir(module)),
                      name=prefix.strip("/").replace("/", "-"))
        app.router.routes.insert(0, mount)
    for url in BUNDLES:
        app.router.routes.insert(0, Route(url, _serve_bundle, methods=["GET", "HEAD"],
                                          include_in_schema=False))


_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.M)


async def _serve_bundle(request: Request) -> Response:
    """A bundle from memory, revalidated by its ETag (no-cache: a new release shows at once;
    the service worker keeps it like any /static file)."""
    url = request.url.path
    body, tag = _served(url, _stamps(url))
    return revalidated(request, body, _MEDIA[url[url.rfind("."):]], "no-cache", tag=tag)


@lru_cache(maxsize=4)
def _served(url: str, stamps: tuple[int, ...]) -> tuple[bytes, str]:
    """A bundle's bytes and ETag, kept: encoding and hashing them took ~0.8 ms a request."""
    body = _bundle(url, False, stamps).encode()
    return body, body_tag(body)


def _stamps(url: str) -> tuple[int, ...]:
    """The modification times of a bundle's files: an edited file is seen at once."""
    return tuple(path_for(p).stat().st_mtime_ns for p in BUNDLES[url])


def bundle(url: str, inline: bool) -> str:
    """The files of bundle `url` joined, in order. A stylesheet's relative `url(...)` is made
    absolute (it was relative to each file's folder), or a data: URI when `inline` (the
    download); a script loses its source-map comment (it names a map of that file alone)."""
    return _bundle(url, inline, _stamps(url))


@lru_cache(maxsize=8)
def _bundle(url: str, inline: bool, stamps: tuple[int, ...]) -> str:
    if url.endswith(".css"):
        texts = [inline_css(p) if inline else _absolute_css(p) for p in BUNDLES[url]]
    else:
        texts = [_SOURCE_MAP.sub("", path_for(p).read_text(encoding="utf-8"))
                 for p in BUNDLES[url]]
    # ";" after each script: one ending without it may not run into the next one's "(".
    end = "\n" if url.endswith(".css") else "\n;\n"
    return "".join(f"/* {p.removeprefix('/static/')} */\n{t.strip()}{end}"
                   for p, t in zip(BUNDLES[url], texts, strict=True))


def _absolute_css(url: str) -> str:
    folder = url.rsplit("/", 1)[0]

    def replace(match: re.Match[str]) -> str:
        ref = match.group(2).strip()
        if ref.startswith(("data:", "#", "/")) or "://" in ref:
            return match.group(0)
        return f"url({_join(folder, ref)})"

    return _CSS_URL.sub(replace, path_for(url).read_text(encoding="utf-8"))


def path_for(url: str) -> Path:
    """The file behind a local asset URL (`/static/...`); refuses anything outside."""
    clean = url.split("?", 1)[0].split("#", 1)[0]
    for prefix, module in WHEEL_DIRS.items():
        if clean.startswith(prefix + "/"):
            base = _xstatic_dir(module)
            break
    else:
        if not clean.startswith("/static/"):
            raise ValueError(f"not a local asset: {url}")
        base, prefix = STATIC_DIR, "/static"
    path = (base / clean[len(prefix) + 1:]).resolve()
    if not path.is_relative_to(base.resolve()) or not path.is_file():
        raise ValueError(f"no such asset: {url}")
    return path


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".woff2":
        mime = "font/woff2"
    elif path.suffix == ".svg":
        mime = "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
# Font Awesome offers woff2 then ttf: every browser that runs Leaflet 1.9 reads woff2, so the
# ttf copy (400 kB) is left out of the standalone file.
_TTF_FALLBACK = re.compile(r""",\s*url\([^)]*\.ttf\)\s*format\(["']truetype["']\)""")


def inline_css(url: str) -> str:
    """The stylesheet at `url` (a file or a bundle) with every relative image/font reference as
    a data: URI."""
    if url in BUNDLES:
        return bundle(url, inline=True)
    path = path_for(url)
    css = _TTF_FALLBACK.sub("", path.read_text(encoding="utf-8"))
    folder = url.rsplit("/", 1)[0]

    def replace(match: re.Match[str]) -> str:
        ref = match.group(2).strip()
        if ref.startswith(("data:", "#")):
            return match.group(0)
        if "://" in ref or ref.startswith("//"):
            raise ValueError(f"{url} refers to a remote resource: {ref}")
        target = ref if ref.startswith("/") else _join(folder, ref)
        return f"url({_data_uri(path_for(target))})"

    return _CSS_URL.sub(replace, css)


def _join(folder: str, ref: str) -> str:
    parts = folder.split("/")
    for piece in ref.split("/"):
        if piece == "..":
            parts.pop()
        elif piece not in (".", ""):
            parts.append(piece)
    return "/".join(parts)


@lru_cache(maxsize=32)
def _inline_js(url: str) -> str:
    # "</script" inside a script would close the element early.
    text = bundle(url, inline=True) if url in BUNDLES else path_for(url).read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")


@lru_cache(maxsize=32)
def _inline_css_cached(url: str) -> str:
    return inline_css(url).replace("</style", "<\\/style")


_SCRIPT_TAG = re.compile(r"""<script\s+src="(/static/[^"]+)"\s*>\s*</script>""")
_LINK_TAG = re.compile(r"""<link\s+rel="stylesheet"\s+href="(/static/[^"]+)"\s*/?>""")


def inline_html(html: str) -> str:
    """One self-contained document: local scripts and stylesheets inlined (with their images
    and fonts as data: URIs), so the file opens from a USB stick with no server."""
    html = _SCRIPT_TAG.sub(lambda m: f"<script>{_inline_js(m.group(1))}</script>", html)
    html = _LINK_TAG.sub(lambda m: f"<style>{_inline_css_cached(m.group(1))}</style>", html)
    return html


REMOTE_ASSET = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def remote_assets(html: str) -> list[str]:
    """Tags that would load something from another host (for tests and a guard)."""
    return [m.group(0) for m in REMOTE_ASSET.finditer(html)]
