"""A GiST index on (kind, geom): the nearby walk of one kind reads that kind's rows only.

A nearby search (carto.nearby) walks the 100 nearest matching rows (count_cap) with
`ORDER BY geom <-> origin`. On resource_geom_gist the kind was a filter on the heap: for
producers (a third of the rows) the walk fetched ~380 rows to keep 100. With the kind in the
index (btree_gist's equality on text), the walk is `Index Cond: kind = $1` and visits that
kind's entries only. GiST cannot take `kind = ANY(...)`: a search of several kinds still walks
resource_geom_gist (tests/api/test_nearby.py holds both plans).

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-01
"""

from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE INDEX resource_kind_geom_gist ON resource USING gist (kind, geom)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS resource_kind_geom_gist")
