"""Engine and sessions. One engine per URL, created lazily so tests can point elsewhere."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from carto.config import database_settings


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    settings = database_settings()
    return create_engine(
        url or settings.database_url,
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        echo=settings.echo_sql,
    )


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """One unit of work: committed if the block ends normally, rolled back otherwise."""
    session = session_factory(url)()
    try:
        with session.begin():
            yield session
    finally:
        session.close()


def ping(url: str | None = None) -> bool:
    try:
        with get_engine(url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
