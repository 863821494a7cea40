"""Workshops (issue 14): sessions joined by a short code, their participants (a pseudonym and a
contributor token that writes only while the workshop is open), the facilitator's questions and
one vote per participant; the provenance of what a workshop adds (`workshop_id` on resources and
links).

Why a column on the rows and not only the change log: the live feed, the counters, the
moderation page, the summary and the exports all filter on "what this workshop added", many
times a second while a workshop runs; one indexed column is one predicate (a partial index: most
rows were not added in a workshop), where the change log would need a join on its actor. The
column is set once, at creation, and never changed by an edit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The join code's alphabet: read aloud without ambiguity (no 0/O, no 1/l/I), upper case.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

UPGRADE = [
    f"""
    CREATE TABLE workshop (
        id serial PRIMARY KEY,
        code text NOT NULL UNIQUE CHECK (code ~ '^[{CODE_ALPHABET}]{{6}}$'),
        territory_id integer NOT NULL REFERENCES territory(id) ON DELETE CASCADE,
        title text NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
        held_on date NOT NULL,
        place text CHECK (length(place) <= 300),
        ends_at timestamptz NOT NULL,
        closed_at timestamptz,
        closed_by text,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX workshop_territory ON workshop (territory_id)",
    """
    CREATE TABLE workshop_participant (
        id serial PRIMARY KEY,
        workshop_id integer NOT NULL REFERENCES workshop(id) ON DELETE CASCADE,
        pseudonym text NOT NULL CHECK (length(btrim(pseudonym)) BETWEEN 1 AND 40),
        token_id integer NOT NULL UNIQUE REFERENCES api_token(id) ON DELETE CASCADE,
        joined_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX workshop_participant_workshop ON workshop_participant (workshop_id)",
    """
    CREATE TABLE workshop_question (
        id serial PRIMARY KEY,
        workshop_id integer NOT NULL REFERENCES workshop(id) ON DELETE CASCADE,
        text text NOT NULL CHECK (length(btrim(text)) BETWEEN 1 AND 300),
        options text[] NOT NULL CHECK (cardinality(options) BETWEEN 2 AND 20),
        closed_at timestamptz,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX workshop_question_workshop ON workshop_question (workshop_id)",
    """
    CREATE TABLE workshop_vote (
        question_id integer NOT NULL REFERENCES workshop_question(id) ON DELETE CASCADE,
        participant_id integer NOT NULL REFERENCES workshop_participant(id) ON DELETE CASCADE,
        option smallint NOT NULL CHECK (option >= 0),
        voted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (question_id, participant_id)
    )
    """,
    "ALTER TABLE api_token ADD COLUMN workshop_id integer REFERENCES workshop(id) ON DELETE CASCADE",
    "ALTER TABLE resource ADD COLUMN workshop_id integer REFERENCES workshop(id) ON DELETE SET NULL",
    "ALTER TABLE link ADD COLUMN workshop_id integer REFERENCES workshop(id) ON DELETE SET NULL",
    "CREATE INDEX resource_workshop ON resource (workshop_id) WHERE workshop_id IS NOT NULL",
    "CREATE INDEX link_workshop ON link (workshop_id) WHERE workshop_id IS NOT NULL",
    "CREATE INDEX api_token_workshop ON api_token (workshop_id) WHERE workshop_id IS NOT NULL",
    "CREATE INDEX workshop_vote_participant ON workshop_vote (participant_id)",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for index in ("workshop_vote_participant", "api_token_workshop", "link_workshop"):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    op.execute("DROP INDEX IF EXISTS resource_workshop")
    op.execute("ALTER TABLE link DROP COLUMN IF EXISTS workshop_id")
    op.execute("ALTER TABLE resource DROP COLUMN IF EXISTS workshop_id")
    op.execute("ALTER TABLE api_token DROP COLUMN IF EXISTS workshop_id")
    for table in ("workshop_vote", "workshop_question", "workshop_participant", "workshop"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
