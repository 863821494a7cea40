"""Domain exceptions, mapped once to HTTP statuses by `api.problems`.

    CartoError
    ├── NotFound            a thing that does not exist (or that the caller may not see)
    ├── Merged              a resource merged into another, which the caller sees (410)
    ├── Invalid             bad input; carries a list of (field, message)
    │   └── InvalidParameter  a bad query parameter, whatever the method (always a 400)
    ├── Conflict            the data says no (duplicate link, population missing...)
    ├── PreconditionFailed  optimistic locking: the version changed meanwhile
    ├── PreconditionRequired  a write without the version it applies to
    ├── Unauthenticated     no valid token
    ├── Forbidden           a token without the right role or territory
    ├── TooManyRequests     a client over its rate (429 with Retry-After)
    └── Overloaded          too much costly work at once (503 with Retry-After)

Messages are catalogue keys with their values (`carto.i18n.msg`), put into words in the
reader's language by `api.problems` (or in French by the CLI):

    raise Invalid.field("bbox", msg("error.bbox.order"))
    raise NotFound(msg("error.resource.unknown", id=resource_id))
"""

import uuid
from dataclasses import dataclass
from typing import Any

from carto.i18n import DEFAULT_LANG, Message, render

Text = Message | str  # a str is data shown as it is (a database's own words); sentences are Messages


@dataclass(frozen=True)
class FieldError:
    field: str
    message: Text

    def text(self, lang: str = DEFAULT_LANG) -> str:
        return render(self.message, lang)


class CartoError(Exception):
    """Base of every error the domain raises on purpose. Without a `detail`, the detail is the
    list of field errors."""

    def __init__(self, detail: Text | None = None, errors: list[FieldError] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.message = detail
        self.errors = errors or []
        self.extra = extra or {}  # more members for the problem document (e.g. `candidates`)
        super().__init__(self.detail)

    def detail_in(self, lang: str) -> str:
        if self.message is not None:
            return render(self.message, lang)
        return "; ".join(f"{e.field}: {e.text(lang)}" for e in self.errors)

    @property
    def detail(self) -> str:
        """In French: the CLI and the logs."""
        return self.detail_in(DEFAULT_LANG)


class NotFound(CartoError):
    pass


class Merged(CartoError):
    """A resource merged into another (carto.duplicates): gone from here, living on in `into`
    (a 410 naming it in `merged_into`, with a Link to it; the record page redirects)."""

    def __init__(self, detail: Text, into: uuid.UUID) -> None:
        super().__init__(detail, extra={"merged_into": str(into)})
        self.into = into


class Invalid(CartoError):
    @classmethod
    def field(cls, field: str, message: Text) -> "Invalid":
        return cls(None, [FieldError(field, message)])


class InvalidParameter(Invalid):
    """A query-string parameter at fault (unknown, NUL...): a 400 even on a POST, whose 422
    is for the body."""


class Conflict(CartoError):
    pass


class PreconditionFailed(CartoError):
    pass


class PreconditionRequired(CartoError):
    pass


class Unauthenticated(CartoError):
    pass


class Forbidden(CartoError):
    pass


class TooManyRequests(CartoError):
    """`retry_after`: seconds until the client may ask again (the Retry-After header)."""

    def __init__(self, detail: Text, retry_after: int, field: str | None = None) -> None:
        super().__init__(detail, [FieldError(field, detail)] if field else None)
        self.retry_after = max(1, retry_after)


class Overloaded(CartoError):
    def __init__(self, detail: Text, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = max(1, retry_after)
