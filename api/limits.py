"""Bodies over the limit (1 MB by default) are refused with 413 before they are read whole."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import localised_problem
from carto.i18n import msg, negotiate


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """`larger`: path prefixes allowed more (file uploads: /api/imports)."""

    def __init__(self, app: ASGIApp, max_bytes: int,
                 larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((n for prefix, n in self.larger.items()
                      if scope.get("path", "").startswith(prefix)), self.max_bytes)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = localised_problem(_scope_lang(scope), 413, "problem.too_large",
                                     msg("problem.too_large.limit", bytes=limit))
        await response(scope, receive, send)


def _scope_lang(scope: Scope) -> str:
    """`api.problems.request_lang` for a middleware, which has no Request yet."""
    from urllib.parse import parse_qs

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    headers = dict(scope.get("headers") or [])
    return negotiate((query.get("lang") or [None])[0],
                     headers.get(b"accept-language", b"").decode("latin-1"))
