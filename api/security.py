"""Security headers, set once for every response (issue 10 §8).

Pages get a Content-Security-Policy whose scripts and styles are the app's own files plus the
inline elements the page itself marks with the request's nonce (folium's map script, the
Swagger UI start-up): an injected `<script>` has no nonce and does not run. Inline `style=""`
attributes stay allowed (`style-src-attr`): the pages colour chips and legends with them, and
Leaflet writes them into the markers it builds. Images may come from the basemap tile host
(the only outside fetch), fonts and images also from `data:` (Leaflet and Swagger inline
their icons). `frame-ancestors` is `'self'` for every page except the map made to be embedded
(`/territories/{slug}/map.html`), whose ancestors are a setting.

Every response gets `X-Content-Type-Options: nosniff`; pages also `Referrer-Policy`. CORS
(GET and HEAD only, for the API) is off unless `TERREAU_CORS_ORIGINS` names origins."""

import re
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carto.config import map_settings, security_settings

EMBEDDABLE = re.compile(r"^/territories/[^/]+/map\.html$")
_TAG = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)


def tile_source(tile_url: str) -> str | None:
    """The CSP source of the basemap tiles: `https://{s}.tile.osm.org/{z}/...` gives
    `https://*.tile.osm.org` (Leaflet's `{s}` picks a sub-domain)."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url.replace("{s}", "sub-domain-wildcard"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.replace("sub-domain-wildcard", "*")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def content_security_policy(nonce: str, path: str) -> str:
    tiles = tile_source(map_settings().tile_url)
    images = " ".join(s for s in ("'self'", "data:", "blob:", tiles) if s)
    ancestors = security_settings().embed_ancestors if EMBEDDABLE.match(path) else "'self'"
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "style-src-attr 'unsafe-inline'",
        f"img-src {images}",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


def with_nonce(html: str, nonce: str) -> str:
    """`html` the app wrote itself (never user text) with the nonce on each inline script and
    style element, so the policy lets them run (`<script src>` is left alone: the offline
    download inlines those by matching them as written)."""
    def mark(m: re.Match[str]) -> str:
        attributes = m.group(2)
        if re.search(r"\b(src|nonce)\s*=", attributes, re.IGNORECASE):
            return m.group(0)  # a file ('self' covers it) or already marked
        return f'<{m.group(1)} nonce="{nonce}"{attributes}>'

    return _TAG.sub(mark, html)


def request_nonce(scope: Scope) -> str:
    state = scope.setdefault("state", {})
    if "csp_nonce" not in state:
        state["csp_nonce"] = secrets.token_urlsafe(16)
    return str(state["csp_nonce"])


class SecurityHeaders:
    """Pure ASGI (no body buffering): the headers are decided from the path and the response's
    content type when the response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = request_nonce(scope)
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy",
                                       content_security_policy(nonce, path))
                    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def cors_origins() -> list[str]:
    return [o.strip() for o in security_settings().cors_origins.split(",") if o.strip()]
