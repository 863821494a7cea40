"""The readers' nearby walk as an index-only scan: resource_listed_walk_gist replaces 0013's.

0013's resource_listed_kind_geom_gist, on `(kind, geom)` for the rows anyone may find where they
are, left the walk one heap page read per row it passed (about 60 buffers for the first batch
of 40), and its kind key, through btree_gist, cost as much again. This index:

- is keyed on a PostgreSQL `point`: PostGIS's geometry distance is lossy on GiST (boxes,
  rechecked) and PostgreSQL runs no index-only scan on a lossy distance; `point <-> point` on a
  point's own entry is exact;
- moves each kind's points east by 360° times a hash of its code (`hashtext(kind) & 1023`,
  so the kinds admins add get theirs): a walk from the origin moved the same way meets that
  kind's entries only, with no second key;
- carries what the walk reads (`id, kind, opening_hours, geom`): no heap page (Heap Fetches: 0
  once vacuumed). The kind stays a filter on the entry, for two kinds whose hashes meet.

On the 100k bench base the walk of the first batch (40 rows) took 0.50 ms of backend CPU
against 0.78 ms for a `(kind, point)` key and about 1.2 ms for 0013's heap walk (alternating
blocks of 200 statements). carto.nearby.sql.walk writes the same key (WALK_KEY) and words the
walk for it when the caller reads only what readers read (visibility.reads_public_only) and
asks for one kind; the others walk 0012's indexes. The predicate is the readers'
(visibility.resource_predicate), 'active', and not a private person (visibility.concealed):
a change of those, or of the key, must come here too (tests/api/test_nearby_plans.py
fails otherwise).

An index-only scan skips the heap only on pages the visibility map marks all-visible, which
vacuum sets. Where it is unset the planner, which prices the walk's window (`point <@ box`) at a
constant 0.1 % of the rows, may take a bitmap scan and a sort instead: 14.7 ms against 1.7 ms for
a first batch in Montpellier. So resource is vacuumed once 1 % of its rows were inserted or
changed (autovacuum's defaults: 20 %), not 20,000 imported rows later on a table of 100,000.

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
KEY = "point(ST_X(geom) + (360 * CAST(hashtext(kind) & 1023 AS float8)), ST_Y(geom))"


def upgrade() -> None:
    op.execute(
        f"""CREATE INDEX resource_listed_walk_gist ON resource USING gist ({KEY})
           INCLUDE (id, kind, opening_hours, geom) WHERE {PREDICATE}"""
    )
    op.execute("DROP INDEX IF EXISTS resource_listed_kind_geom_gist")
    op.execute("ALTER TABLE resource SET (autovacuum_vacuum_insert_scale_factor = 0.01, "
               "autovacuum_vacuum_scale_factor = 0.01)")


def downgrade() -> None:
    op.execute("ALTER TABLE resource RESET (autovacuum_vacuum_insert_scale_factor, "
               "autovacuum_vacuum_scale_factor)")
    op.execute(f"CREATE INDEX resource_listed_kind_geom_gist ON resource USING gist (kind, geom) "
               f"WHERE {PREDICATE}")
    op.execute("DROP INDEX IF EXISTS resource_listed_walk_gist")
