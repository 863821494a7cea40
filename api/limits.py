"""What a request body may be, checked before any handler reads it: at most `max_bytes` (1 MB
by default; 413 whether the size is declared or the body comes chunked), and JSON whose every
string is storable text (a lone surrogate such as "\\ud800" parses in Python but cannot be
stored or re-encoded, PostgreSQL's text holds no NUL: 422 naming the member, key or value,
instead of a 500 deep in the database driver: carto.validation's one rule of storable text).
So a handler of a JSON body never checks its strings again. /openapi.json says so once, for every body
(api.openapi: free strings carry `NUL_FREE_PATTERN`, free keys as `propertyNames`).

The body is read whole here, once: bodies are small (the limit), and a handler that fails
while reading one (the old way of refusing a chunked body mid-stream) turned the 413 into
FastAPI's generic 400. Uploads (`larger`: path prefixes allowed more, /api/imports) are not
buffered: they stream to their handler, counted as they come."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import localised_problem
from carto.errors import Invalid
from carto.i18n import msg, negotiate
from carto.validation import flaw_message, unstorable

WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int,
                 larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        limit = next((n for prefix, n in self.larger.items()
                      if scope.get("path", "").startswith(prefix)), None)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > (limit or
                                                                             self.max_bytes):
            await self._refuse(scope, receive, send, limit or self.max_bytes)
            return
        if limit is not None:
            await self._stream(scope, receive, send, limit)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send, self.max_bytes)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        kind = headers.get(b"content-type", b"")
        if (not kind or b"json" in kind) and b"\\u" in body:  # what FastAPI reads as JSON
            found = _unstorable_field(body)
            if found is not None:
                await self._invalid(scope, receive, send, *found)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
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

    async def _invalid(self, scope: Scope, receive: Receive, send: Send, field: str,
                       flaw: str) -> None:
        lang = _scope_lang(scope)
        refused = Invalid.field(field, flaw_message(flaw))  # its detail: "field: message"
        response = localised_problem(lang, 422, "problem.invalid_body", refused.detail_in(lang),
                                     refused.errors)
        await response(scope, receive, send)


def _unstorable_field(body: bytes) -> tuple[str, str] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # not JSON: FastAPI says so, naming the position
    return unstorable(parsed)


def _scope_lang(scope: Scope) -> str:
    """`api.problems.request_lang` for a middleware, which has no Request yet."""
    from urllib.parse import parse_qs

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    headers = dict(scope.get("headers") or [])
    return negotiate((query.get("lang") or [None])[0],
                     headers.get(b"accept-language", b"").decode("latin-1"))
