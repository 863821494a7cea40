"""A partial index on the resources every reader sees, in key order.

OGC API clients (GDAL, QGIS) read every public resource page after page: `WHERE <public>
AND id > :after ORDER BY id LIMIT n`, and count them once (`numberMatched`). On the primary
key each page read its rows from the heap to test the predicate, and the count read the whole
table; on this index both are index-only scans. Its predicate is the readers' part of
`carto.visibility.resource_predicate`; tests/api/test_api_plans.py fails if the two drift
apart (the page and the count would stop using it).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE INDEX resource_public_idx ON resource (id)
           WHERE deleted_at IS NULL AND moderation = 'validated' AND visibility = 'public'
             AND status <> 'draft'"""
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS resource_public_idx")
