"""Accent- and case-insensitive search on resources ("epicerie" finds "Épicerie").

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # unaccent() is only STABLE (its dictionary could change); pinning the dictionary makes a
    # wrapper that can be declared IMMUTABLE, hence usable in a generated column and an index.
    op.execute(
        """CREATE OR REPLACE FUNCTION terreau_fold(value text) RETURNS text
           LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
           AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, value)) $$"""
    )
    op.execute(
        """ALTER TABLE resource ADD COLUMN search_text text
           GENERATED ALWAYS AS (terreau_fold(name || ' ' || coalesce(description, ''))) STORED"""
    )
    op.execute("CREATE INDEX resource_search_trgm ON resource USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS resource_search_trgm")
    op.execute("ALTER TABLE resource DROP COLUMN IF EXISTS search_text")
    op.execute("DROP FUNCTION IF EXISTS terreau_fold(text)")
