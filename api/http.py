"""Small HTTP helpers shared by the routers: ETags, If-Match, CSV, JSON values, bodies."""

import hashlib
import io
import json
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from carto.errors import Invalid, PreconditionRequired
from carto.i18n import msg
from carto.text import SpreadsheetWriter


def etag(version: int) -> str:
    return f'"{version}"'


def body_tag(body: bytes) -> str:
    """The ETag of a body: a hash of its bytes."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def revalidated(request: Request, body: bytes, media_type: str, cache_control: str,
                vary: str | None = None, tag: str | None = None) -> Response:
    """A body whose ETag is a hash of its bytes (`tag`: that hash, kept by a caller that serves
    the same bytes often): a client revalidating with If-None-Match gets a 304 without it
    (tiles, a map's commune outlines, the map bundles)."""
    tag = tag or body_tag(body)
    headers = {"ETag": tag, "Cache-Control": cache_control} | ({"Vary": vary} if vary else {})
    if tag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


# An If-Match this API reads: the ETag it sent (`"3"`, weak `W/"3"` too) or the bare version.
# The one definition: expected_version parses with it and /openapi.json documents it
# (api.openapi), so that what the schema allows is exactly what is accepted.
IF_MATCH_PATTERN = r'^(W/)?("[0-9]{1,9}"|[0-9]{1,9})$'
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


def expected_version(request: Request, required: bool = True) -> int | None:
    """PATCH and DELETE say which version they change: no silent overwrite (428 without).
    `required=False` (restore, validate, reject): checked when sent, None otherwise."""
    header = request.headers.get("if-match")
    if header is None and not required:
        return None
    if header is None:
        raise PreconditionRequired(msg("error.if_match.required"))
    if not _IF_MATCH.fullmatch(header.strip()):
        raise Invalid.field("If-Match", msg("error.if_match.unreadable", value=header))
    return int(header.strip().removeprefix("W/").strip('"'))


def client_id(value: Any, field: str = "id") -> uuid.UUID | None:
    """A client-generated id (a UUID) for a creation that may be sent again, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise Invalid.field(field, msg("error.lifecycle.client_id", value=value))


def jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def csv_response(rows: list[dict[str, Any]], columns: list[str], filename: str,
                 headers: dict[str, str] | None = None) -> Response:
    buffer = io.StringIO()
    writer = SpreadsheetWriter(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(k)) for k in columns])
    return Response(
        buffer.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **(headers or {})},
    )


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(jsonable(v)) for v in value)
    if isinstance(value, dict):
        return json.dumps(jsonable(value), ensure_ascii=False)
    return jsonable(value)
