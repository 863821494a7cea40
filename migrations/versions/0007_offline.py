"""Duplicates and merges (issue 14): a resource's name key, the indexes the duplicate search
walks, and the pointer a merged resource keeps to the one it was merged into.

- `terreau_name_key(name)`: the name folded (accents, case: `terreau_fold`), cut into words at
  anything that is not a letter or a digit, the words sorted: "Épicerie solidaire du Lez" and
  "lez du SOLIDAIRE epicerie" share one key. The SQL twin of `carto.text.name_key` (a test holds
  them equal). IMMUTABLE (words sorted under the "C" collation), hence a generated column.
- `resource.name_key`, generated and stored, with its index on the live rows (the keys that
  repeat, then their rows). Names schema-qualified: pg_restore runs with an empty search_path.
- `resource_geog_gist`: ST_DWithin on geography (metres, exact on the sphere) walks this index;
  partial on live rows, the only ones a duplicate search reads.
- `resource_external_id_alone`: the same external id under two source names (the unique index
  is on the pair).
- `resource.merged_into`: where a merged (soft-deleted) resource went; change_log gains the
  action "merge".

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ACTIONS = "'create','update','delete','restore','validate','reject'"


def upgrade() -> None:
    op.execute(
        """CREATE OR REPLACE FUNCTION terreau_name_key(value text) RETURNS text
           LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
           AS $$ SELECT coalesce(string_agg(w, ' ' ORDER BY w COLLATE "C"), '')
                 FROM regexp_split_to_table(public.terreau_fold(value), '[^[:alnum:]]+') AS w
                 WHERE w <> '' $$"""
    )
    op.execute(
        """ALTER TABLE resource ADD COLUMN name_key text
           GENERATED ALWAYS AS (terreau_name_key(name)) STORED"""
    )
    op.execute("CREATE INDEX resource_name_key ON resource (name_key) WHERE deleted_at IS NULL")
    op.execute("""CREATE INDEX resource_geog_gist ON resource USING gist ((geom::geography))
                  WHERE deleted_at IS NULL""")
    op.execute("""CREATE INDEX resource_external_id_alone ON resource (external_id)
                  WHERE external_id IS NOT NULL AND deleted_at IS NULL""")
    op.execute("ALTER TABLE resource ADD COLUMN merged_into uuid REFERENCES resource(id)")
    op.execute("""ALTER TABLE resource ADD CONSTRAINT resource_merged_is_deleted
                  CHECK (merged_into IS NULL OR (deleted_at IS NOT NULL AND merged_into <> id))""")
    op.execute("ALTER TABLE change_log DROP CONSTRAINT IF EXISTS change_log_action_check")
    op.execute(f"""ALTER TABLE change_log ADD CONSTRAINT change_log_action_check
                   CHECK (action IN ({ACTIONS},'merge'))""")


def downgrade() -> None:
    op.execute("ALTER TABLE change_log DROP CONSTRAINT IF EXISTS change_log_action_check")
    op.execute("DELETE FROM change_log WHERE action = 'merge'")
    op.execute(f"""ALTER TABLE change_log ADD CONSTRAINT change_log_action_check
                   CHECK (action IN ({ACTIONS}))""")
    op.execute("ALTER TABLE resource DROP CONSTRAINT IF EXISTS resource_merged_is_deleted")
    op.execute("ALTER TABLE resource DROP COLUMN IF EXISTS merged_into")
    op.execute("DROP INDEX IF EXISTS resource_external_id_alone")
    op.execute("DROP INDEX IF EXISTS resource_geog_gist")
    op.execute("DROP INDEX IF EXISTS resource_name_key")
    op.execute("ALTER TABLE resource DROP COLUMN IF EXISTS name_key")
    op.execute("DROP FUNCTION IF EXISTS terreau_name_key(text)")
