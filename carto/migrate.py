"""Bring a database to the current schema, then make sure the reference data is there."""

from alembic import command
from alembic.config import Config

from carto import ROOT
from carto.config import database_settings
from carto.db import transaction
from carto.referential import load_communes, sync_vocabularies


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url or database_settings().database_url
    return config


def upgrade(url: str | None = None, with_communes: bool = True) -> None:
    command.upgrade(alembic_config(url), "head")
    with transaction(url) as session:
        sync_vocabularies(session)
        if with_communes:
            load_communes(session)
