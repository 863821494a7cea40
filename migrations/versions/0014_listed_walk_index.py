"""The readers' nearby walk as an index-only scan: resource_listed_walk_gist replaces 0013's.

0013's resource_listed_kind_geom_gist, on `(kind, geom)` for the rows anyone may find where they
are, left the walk one heap page read per row it passed (about 60 buffers for the first batch
of 40). An index-only scan needs the walk's distance to be exact on the index entries, and
PostGIS's geometry distance on GiST is lossy (boxes, rechecked): PostgreSQL refuses an
index-only scan on it. `point(geom)` (PostGIS's cast of a point to PostgreSQL's own type) is
exact in GiST, so the key is `(kind, point(geom))` and the entries carry what the walk reads
(`id, opening_hours, geom`): no heap page (Heap Fetches: 0 once vacuumed; 21 buffers instead of
61), ~0.15 ms less of PostgreSQL's CPU per first batch on the 100k bench base (alternating
blocks of 200 statements, 1.64-1.86 against 1.79-2.01 ms). carto.nearby.sql.walk words the
walk for it when the caller reads only what readers read (visibility.reads_public_only) and
asks for one kind; the others walk 0012's indexes. The predicate is the readers'
(visibility.resource_predicate), 'active', and not a private person (visibility.concealed):
a change of those must come here too (tests/api/test_nearby.py fails otherwise).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PREDICATE = """deleted_at IS NULL AND moderation = 'validated' AND visibility = 'public'
             AND status <> 'draft' AND status = 'active'
             AND NOT is_private AND kind <> 'private_person'"""


def upgrade() -> None:
    op.execute(
        f"""CREATE INDEX resource_listed_walk_gist ON resource USING gist (kind, point(geom))
           INCLUDE (id, opening_hours, geom) WHERE {PREDICATE}"""
    )
    op.execute("DROP INDEX IF EXISTS resource_listed_kind_geom_gist")


def downgrade() -> None:
    op.execute(f"CREATE INDEX resource_listed_kind_geom_gist ON resource USING gist (kind, geom) "
               f"WHERE {PREDICATE}")
    op.execute("DROP INDEX IF EXISTS resource_listed_walk_gist")
