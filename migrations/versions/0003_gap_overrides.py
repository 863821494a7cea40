"""Gap analysis: coefficient overrides per territory, per department or for all territories.

The coefficients themselves live in data/reference/*.csv (versioned with the code); this table
only holds the values a territory's editor or an admin replaced, each with its source.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE gap_override (
            id serial PRIMARY KEY,
            territory_id integer REFERENCES territory(id) ON DELETE CASCADE,
            department varchar(3),
            parameter text NOT NULL
                CHECK (parameter IN ('consumption_kg','yield_t_ha','organic_ratio','waste_share')),
            product text NOT NULL,
            value numeric(14,4) NOT NULL CHECK (value >= 0),
            source text NOT NULL CHECK (length(btrim(source)) > 0),
            year smallint,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CHECK (territory_id IS NULL OR department IS NULL)
        )
        """
    )
    op.execute(
        """CREATE UNIQUE INDEX gap_override_scope ON gap_override
           (COALESCE(territory_id, 0), COALESCE(department, ''), parameter, product)"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS gap_override")
