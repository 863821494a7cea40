"""Domain exceptions, mapped once to HTTP statuses by `api.problems`.

    CartoError
    ├── NotFound            a thing that does not exist (or that the caller may not see)
    ├── Invalid             bad input; carries a list of (field, message)
    ├── Conflict            the data says no (duplicate link, population missing...)
    ├── PreconditionFailed  optimistic locking: the version changed meanwhile
    ├── PreconditionRequired  a write without the version it applies to
    ├── Unauthenticated     no valid token
    └── Forbidden           a token without the right role or territory
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class CartoError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, detail: str, errors: list[FieldError] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}  # more members for the problem document (e.g. `candidates`)


class NotFound(CartoError):
    pass


class Invalid(CartoError):
    @classmethod
    def field(cls, field: str, message: str) -> "Invalid":
        return cls(f"{field}: {message}", [FieldError(field, message)])


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
