"""The point private persons are shown at, stored: each commune's centre, with its index.

A private person is shown at their commune's centre (`ST_PointOnSurface` of its boundary, see
carto.visibility). Computed per row it cost a point-on-surface of a full-resolution boundary
for each private person read; and a filter on the *shown* position (bbox, polygon, catchment)
needs the communes whose centre lies in a shape, found by this column's GiST index.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """ALTER TABLE commune ADD COLUMN centre geometry(Point, 4326)
           GENERATED ALWAYS AS (ST_PointOnSurface(geom)) STORED"""
    )
    op.execute("CREATE INDEX commune_centre_gist ON commune USING gist (centre)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS commune_centre_gist")
    op.execute("ALTER TABLE commune DROP COLUMN IF EXISTS centre")
