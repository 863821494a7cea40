"""Pairs an editor said are not duplicates (issue 14): "Pas un doublon" on the moderation
pages. A pair is stored once, its smaller id first, and is never flagged again
(carto.duplicates.pairs leaves it out). Deleting either resource for good deletes the pair.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE duplicate_dismissal (
               a_id uuid NOT NULL REFERENCES resource(id) ON DELETE CASCADE,
               b_id uuid NOT NULL REFERENCES resource(id) ON DELETE CASCADE,
               dismissed_by text NOT NULL,
               dismissed_at timestamptz NOT NULL DEFAULT now(),
               PRIMARY KEY (a_id, b_id),
               CONSTRAINT duplicate_dismissal_ordered CHECK (a_id < b_id))"""
    )
    # the primary key serves lookups by a_id; this one the pairs' other end
    op.execute("CREATE INDEX duplicate_dismissal_b ON duplicate_dismissal (b_id)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS duplicate_dismissal")
