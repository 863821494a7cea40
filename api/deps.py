"""Typed dependencies shared by the routers."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from carto.i18n import pick_lang

READS = ("GET", "HEAD")


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per write request: committed when the handler returns, rolled back on
    error. Reads go without a transaction (see carto.db.session_factory)."""
    factory = request.app.state.read_sessions if request.method in READS else \
        request.app.state.sessions
    session: Session = factory()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def get_lang(lang: Annotated[str | None, Query(description="fr (default) or en")] = None) -> str:
    return pick_lang(lang)


SessionDep = Annotated[Session, Depends(get_session)]
LangDep = Annotated[str, Depends(get_lang)]
