"""A partial index on private persons' rows.

Maps and nearby search find private persons through their commune's centre, not their home, so
those rows cannot use the GiST index on `geom`; without this index each such query read the
whole table (a sequential scan at 100,000 resources).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE INDEX resource_private_idx ON resource (commune_code)
           WHERE is_private OR kind = 'private_person'"""
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS resource_private_idx")
