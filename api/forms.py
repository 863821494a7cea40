"""What every page form shares (issue 13): the posted form as a dependency, the write done in
a savepoint so that a refused write leaves nothing behind, the domain's field errors turned
into a message per form field, and numbers typed the French way.

A page handler: `check_post`, turn the form into the payload the API would send, make the one
domain call inside `attempt`, and on `Refused` render the form again with `errors` next to
their fields and what was typed (see api/routers/resource_pages.py).

Every posted form obeys carto.validation's one rule of storable text (no NUL, no lone
surrogate): `STORABLE`, a dependency of each router with forms, refuses a field holding such
a character before its handler runs (422 naming the field; PostgreSQL would refuse it later
with an error naming nothing). The resource form instead shows that error next to its field
(`reject_unstorable` on its payload, inside `attempt`); tests/house/test_forms.py holds every
form route to one or the other."""

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from carto.errors import CartoError, FieldError
from carto.validation import reject_unstorable

T = TypeVar("T")


async def _form(request: Request) -> FormData:
    """The posted fields (read here, asynchronously, so handlers can stay synchronous on the
    write engine)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(_form)]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def storable_form(request: Request) -> None:
    """A posted form's every field name and value (a file's name) is storable text, or
    `Invalid` names the field: a problem document, or an error page for a browser
    (api.problems). The form is the one FastAPI parsed for the handler (Starlette keeps it)."""
    if not request.headers.get("content-type", "").lower().startswith(FORM_TYPES):
        return
    for name, value in (await request.form()).multi_items():
        reject_unstorable({name: value if isinstance(value, str) else value.filename or ""})


STORABLE = Depends(storable_form)


class Refused(Exception):
    """A write the domain refused with field errors: what to show next to each field."""

    def __init__(self, errors: dict[str, str], status: int = 422) -> None:
        super().__init__(errors)
        self.errors = errors
        self.status = status


def field_messages(errors: Iterable[FieldError], lang: str,
                   name_of: Callable[[str], str] = lambda f: f) -> dict[str, str]:
    """One message per form field (several for one field are joined). `name_of` maps the
    domain's field (`geometry.longitude`, `outputs[2].kg_per_year`) to the form's."""
    out: dict[str, str] = {}
    for e in errors:
        key = name_of(e.field or "")
        text = e.text(lang)
        out[key] = f"{out[key]} ; {text}" if key in out and text not in out[key] else text
    return out


def attempt(session: Session, write: Callable[[], T], lang: str,
            name_of: Callable[[str], str] = lambda f: f) -> T:
    """Run the one domain call in a savepoint: refused with field errors, nothing it began
    stays in the request's transaction (a half-built row would otherwise be committed with
    the page answering the error) and `Refused` carries the messages. Errors without fields
    (403, 404, 412...) go up unchanged."""
    try:
        with session.begin_nested():
            return write()
    except CartoError as exc:
        if not exc.errors:
            raise
        raise Refused(field_messages(exc.errors, lang, name_of)) from exc


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]


def plain(value: Any) -> str:
    """A value shown back in a field: numbers without a useless ".0"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
