"""The first schema: communes, territories, resources, cooperation links, history, tokens.

Written as SQL on purpose: the constraints are the point (they hold whichever client writes).

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FOOD_GROUPS = (
    "'vegetables','fruits','potatoes','cereals','pulses','oils','sugar','dairy','eggs','meat','fish'"
)
CROP_GROUPS = (
    "'cereals','oilseeds','protein_crops','pulses','potatoes','vegetables','orchards','nuts',"
    "'olives','vines','fodder','temporary_grassland','permanent_grassland','summer_pasture',"
    "'fallow','other'"
)
PRECISIONS = "'exact','address','street','neighbourhood','commune','approximate'"
ACCESS = "'unconditional','referral','membership','price','documents'"

TRACKED = """
    moderation text NOT NULL DEFAULT 'validated'
        CHECK (moderation IN ('pending','validated','rejected')),
    moderation_note text,
    provenance text NOT NULL DEFAULT 'workshop' CHECK (provenance IN ('import','workshop','demo')),
    source_name text,
    external_id text,
    licence text,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    deleted_by text,
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1)
"""

UPGRADE = [
    "CREATE EXTENSION IF NOT EXISTS postgis",
    """
    CREATE TABLE commune (
        code varchar(5) PRIMARY KEY CHECK (code ~ '^[0-9][0-9AB][0-9]{3}$'),
        name text NOT NULL,
        name_key text NOT NULL,
        department varchar(3) NOT NULL,
        epci_code varchar(9),
        epci_name text,
        population integer CHECK (population >= 0),
        population_year smallint,
        geom geometry(MultiPolygon, 4326) NOT NULL
            CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
    )
    """,
    "CREATE INDEX commune_geom_gist ON commune USING gist (geom)",
    "CREATE INDEX commune_name_key ON commune (name_key)",
    "CREATE INDEX commune_department ON commune (department)",
    """
    CREATE TABLE territory (
        id serial PRIMARY KEY,
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
        name text NOT NULL CHECK (length(btrim(name)) > 0),
        level text NOT NULL
            CHECK (level IN ('commune','intercommunality','neighbourhood','custom')),
        description text,
        population integer CHECK (population >= 0),
        population_source text,
        population_year smallint,
        geometry_source text,
        geom geometry(MultiPolygon, 4326) NOT NULL
            CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (population IS NULL OR population_source IS NOT NULL)
    )
    """,
    "CREATE INDEX territory_geom_gist ON territory USING gist (geom)",
    """
    CREATE TABLE territory_commune (
        territory_id integer NOT NULL REFERENCES territory(id) ON DELETE CASCADE,
        commune_code varchar(5) NOT NULL REFERENCES commune(code),
        PRIMARY KEY (territory_id, commune_code)
    )
    """,
    "CREATE INDEX territory_commune_commune ON territory_commune (commune_code)",
    """
    CREATE TABLE resource_kind (
        code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
        label_fr text NOT NULL,
        label_en text NOT NULL,
        color text NOT NULL CHECK (color ~ '^#[0-9a-fA-F]{6}$'),
        icon text NOT NULL,
        sort_order smallint NOT NULL DEFAULT 100
    )
    """,
    """
    CREATE TABLE cooperation_category (
        code text PRIMARY KEY,
        label_fr text NOT NULL,
        label_en text NOT NULL,
        stakes_fr text[] NOT NULL DEFAULT '{}',
        sort_order smallint NOT NULL DEFAULT 100
    )
    """,
    """
    CREATE TABLE cooperation_level (
        level smallint PRIMARY KEY CHECK (level BETWEEN 1 AND 5),
        code text NOT NULL UNIQUE,
        label_fr text NOT NULL,
        label_en text NOT NULL,
        color text NOT NULL
    )
    """,
    f"""
    CREATE TABLE resource (
        id uuid PRIMARY KEY,
        name varchar(200) NOT NULL CHECK (length(btrim(name)) > 0),
        kind text NOT NULL REFERENCES resource_kind(code),
        description text,
        address text,
        commune_code varchar(5) REFERENCES commune(code),
        geom geometry(Point, 4326) NOT NULL CHECK (
            NOT ST_IsEmpty(geom)
            AND ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90
        ),
        location_precision text NOT NULL CHECK (location_precision IN ({PRECISIONS})),
        location_note text,
        products text[] NOT NULL DEFAULT '{{}}' CHECK (products <@ ARRAY[{FOOD_GROUPS}]::text[]),
        access_conditions text[] NOT NULL DEFAULT '{{}}'
            CHECK (access_conditions <@ ARRAY[{ACCESS}]::text[]),
        price_note text,
        documents_needed text,
        opening_hours text,
        website text,
        phone text,
        email text,
        visibility text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public','members')),
        is_private boolean NOT NULL DEFAULT false,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active','closed','draft')),
        illustrative boolean NOT NULL DEFAULT false,
        {TRACKED}
    )
    """,
    "CREATE INDEX resource_geom_gist ON resource USING gist (geom)",
    "CREATE INDEX resource_kind_idx ON resource (kind)",
    "CREATE INDEX resource_commune_idx ON resource (commune_code)",
    "CREATE INDEX resource_status_idx ON resource (status, moderation) WHERE deleted_at IS NULL",
    "CREATE INDEX resource_products_gin ON resource USING gin (products)",
    """CREATE UNIQUE INDEX resource_external_id ON resource (source_name, external_id)
       WHERE external_id IS NOT NULL""",
    """
    CREATE TABLE resource_territory (
        resource_id uuid NOT NULL REFERENCES resource(id) ON DELETE CASCADE,
        territory_id integer NOT NULL REFERENCES territory(id) ON DELETE CASCADE,
        PRIMARY KEY (resource_id, territory_id)
    )
    """,
    "CREATE INDEX resource_territory_territory ON resource_territory (territory_id, resource_id)",
    f"""
    CREATE TABLE resource_output (
        resource_id uuid NOT NULL REFERENCES resource(id) ON DELETE CASCADE,
        food_group text NOT NULL CHECK (food_group IN ({FOOD_GROUPS})),
        kg_per_year numeric(14,1) NOT NULL CHECK (kg_per_year >= 0),
        year smallint,
        source text,
        PRIMARY KEY (resource_id, food_group)
    )
    """,
    f"""
    CREATE TABLE resource_surface (
        resource_id uuid NOT NULL REFERENCES resource(id) ON DELETE CASCADE,
        crop_group text NOT NULL CHECK (crop_group IN ({CROP_GROUPS})),
        hectares numeric(12,2) NOT NULL CHECK (hectares >= 0),
        year smallint,
        source text,
        PRIMARY KEY (resource_id, crop_group)
    )
    """,
    f"""
    CREATE TABLE link (
        id uuid PRIMARY KEY,
        source_id uuid NOT NULL REFERENCES resource(id),
        target_id uuid NOT NULL REFERENCES resource(id),
        category text NOT NULL REFERENCES cooperation_category(code),
        level smallint NOT NULL CHECK (level BETWEEN 1 AND 5) REFERENCES cooperation_level(level),
        stakes text[] NOT NULL DEFAULT '{{}}',
        description text,
        started_on date,
        status text NOT NULL DEFAULT 'active' CHECK (status IN ('active','ended')),
        directed boolean NOT NULL DEFAULT false,
        territory_id integer REFERENCES territory(id),
        {TRACKED},
        CONSTRAINT link_no_self_link CHECK (source_id <> target_id)
    )
    """,
    # One active link per unordered pair and category.
    """CREATE UNIQUE INDEX link_one_active_per_pair_category
       ON link (LEAST(source_id, target_id), GREATEST(source_id, target_id), category)
       WHERE status = 'active' AND deleted_at IS NULL""",
    "CREATE INDEX link_source_idx ON link (source_id)",
    "CREATE INDEX link_target_idx ON link (target_id)",
    "CREATE INDEX link_territory_idx ON link (territory_id)",
    "CREATE INDEX link_category_level_idx ON link (category, level)",
    """CREATE UNIQUE INDEX link_external_id ON link (source_name, external_id)
       WHERE external_id IS NOT NULL""",
    """
    CREATE TABLE link_level_history (
        id bigserial PRIMARY KEY,
        link_id uuid NOT NULL REFERENCES link(id) ON DELETE CASCADE,
        level smallint NOT NULL CHECK (level BETWEEN 1 AND 5) REFERENCES cooperation_level(level),
        changed_on date NOT NULL,
        note text,
        changed_by text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX link_level_history_link ON link_level_history (link_id, changed_on)",
    f"""
    CREATE TABLE farmland (
        id serial PRIMARY KEY,
        commune_code varchar(5) REFERENCES commune(code),
        territory_id integer REFERENCES territory(id) ON DELETE CASCADE,
        crop_group text NOT NULL CHECK (crop_group IN ({CROP_GROUPS})),
        hectares numeric(12,2) NOT NULL CHECK (hectares >= 0),
        year smallint NOT NULL,
        source text NOT NULL,
        CHECK ((commune_code IS NULL) <> (territory_id IS NULL))
    )
    """,
    """CREATE UNIQUE INDEX farmland_unique ON farmland
       (COALESCE(commune_code, ''), COALESCE(territory_id, 0), crop_group, year, source)""",
    "CREATE INDEX farmland_commune_idx ON farmland (commune_code)",
    "CREATE INDEX farmland_territory_idx ON farmland (territory_id)",
    """
    CREATE TABLE change_log (
        id bigserial PRIMARY KEY,
        entity_type text NOT NULL CHECK (entity_type IN ('resource','link')),
        entity_id uuid NOT NULL,
        action text NOT NULL
            CHECK (action IN ('create','update','delete','restore','validate','reject')),
        actor text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        before jsonb,
        after jsonb
    )
    """,
    "CREATE INDEX change_log_entity ON change_log (entity_type, entity_id, id)",
    """
    CREATE TABLE api_token (
        id serial PRIMARY KEY,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        role text NOT NULL CHECK (role IN ('contributor','editor','admin')),
        territory_id integer REFERENCES territory(id),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        CHECK (role = 'admin' OR territory_id IS NOT NULL)
    )
    """,
    "CREATE INDEX api_token_territory ON api_token (territory_id)",
    """
    CREATE TABLE context_feature (
        id text PRIMARY KEY,
        layer text NOT NULL,
        name text,
        category text,
        properties jsonb NOT NULL DEFAULT '{}',
        source text NOT NULL,
        licence text NOT NULL,
        geom geometry(Point, 4326) NOT NULL CHECK (NOT ST_IsEmpty(geom))
    )
    """,
    "CREATE INDEX context_feature_geom_gist ON context_feature USING gist (geom)",
    "CREATE INDEX context_feature_layer ON context_feature (layer)",
]

TABLES = [
    "context_feature",
    "api_token",
    "change_log",
    "farmland",
    "link_level_history",
    "link",
    "resource_surface",
    "resource_output",
    "resource_territory",
    "resource",
    "cooperation_level",
    "cooperation_category",
    "resource_kind",
    "territory_commune",
    "territory",
    "commune",
]


def upgrade() -> None:
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
