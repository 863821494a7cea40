"""The schema from empty, and the rules the database itself enforces."""

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, InternalError
from sqlalchemy.orm import Session


def test_migrations_reach_head(session: Session, migrated: str) -> None:
    from alembic.script import ScriptDirectory

    from carto.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(migrated)).get_current_head()
    assert session.scalar(text("SELECT version_num FROM alembic_version")) == head
    assert session.scalar(text("SELECT postgis_lib_version()"))


def test_every_geometry_column_has_a_gist_index(session: Session) -> None:
    columns = session.execute(
        text("SELECT f_table_name, f_geometry_column FROM geometry_columns "
             "WHERE f_table_schema = 'public'")
    ).all()
    assert len(columns) >= 4
    for table, column in columns:
        indexed = session.scalar(
            text("""SELECT count(*) FROM pg_indexes WHERE tablename = :t
                    AND indexdef ILIKE '%USING gist (' || :c || ')%'"""),
            {"t": table, "c": column},
        )
        assert indexed == 1, f"{table}.{column} has no GiST index"


def test_foreign_keys_are_indexed(session: Session) -> None:
    for table, column in [("link", "source_id"), ("link", "target_id"), ("link", "territory_id"),
                          ("resource", "kind"), ("resource", "commune_code"),
                          ("resource_territory", "territory_id"),
                          ("territory_commune", "commune_code")]:
        assert session.scalar(
            text("""SELECT count(*) FROM pg_indexes WHERE tablename = :t
                    AND indexdef ~ ('\\(' || :c || '[,)]')"""),
            {"t": table, "c": column},
        ), f"{table}.{column} not indexed"


def _insert_link(session: Session, source: uuid.UUID, target: uuid.UUID, level: int = 2,
                 category: str = "aid_associations") -> None:
    session.execute(
        text("""INSERT INTO link (id, source_id, target_id, category, level, created_by,
                                  updated_by)
                VALUES (:id, :s, :t, :c, :l, 'test', 'test')"""),
        {"id": uuid.uuid4(), "s": source, "t": target, "c": category, "l": level},
    )


def _two_resources(session: Session) -> tuple[uuid.UUID, uuid.UUID]:
    ids = session.scalars(text("SELECT id FROM resource ORDER BY id LIMIT 2")).all()
    assert len(ids) == 2
    return ids[0], ids[1]


def _rejected(session: Session, action: object) -> None:
    savepoint = session.begin_nested()
    with pytest.raises((IntegrityError, InternalError)):
        action()  # type: ignore[operator]
        session.flush()
    savepoint.rollback()


def test_self_link_is_rejected(session: Session) -> None:
    a, _ = _two_resources(session)
    _rejected(session, lambda: _insert_link(session, a, a))


@pytest.mark.parametrize("level", [0, 6])
def test_level_out_of_the_ladder_is_rejected(session: Session, level: int) -> None:
    a, b = _two_resources(session)
    _rejected(session, lambda: _insert_link(session, a, b, level=level, category="pooling"))


def test_one_active_link_per_pair_and_category(session: Session) -> None:
    a, b = _two_resources(session)
    session.execute(text("DELETE FROM link WHERE source_id IN (:a, :b) OR target_id IN (:a, :b)"),
                    {"a": a, "b": b})
    _insert_link(session, a, b, category="territorial_structures")
    # the same pair the other way round, same category: refused
    _rejected(session, lambda: _insert_link(session, b, a, category="territorial_structures"))
    # another category is another link
    _insert_link(session, b, a, category="public_associations")


def test_invalid_polygon_is_rejected(session: Session) -> None:
    bowtie = "MULTIPOLYGON(((3 43, 4 44, 4 43, 3 44, 3 43)))"
    _rejected(session, lambda: session.execute(text(
        """INSERT INTO territory (slug, name, level, geom)
           VALUES ('bowtie', 'Nœud papillon', 'custom', ST_GeomFromText(:w, 4326))"""),
        {"w": bowtie}))


@pytest.mark.parametrize("lon,lat", [(200, 43), (3.8, 95)])
def test_coordinates_out_of_range_are_rejected(session: Session, lon: float, lat: float) -> None:
    a, _ = _two_resources(session)
    _rejected(session, lambda: session.execute(
        text("UPDATE resource SET geom = ST_SetSRID(ST_MakePoint(:x, :y), 4326) WHERE id = :id"),
        {"x": lon, "y": lat, "id": a}))


def test_unknown_product_is_rejected(session: Session) -> None:
    a, _ = _two_resources(session)
    _rejected(session, lambda: session.execute(
        text("UPDATE resource SET products = ARRAY['caviar'] WHERE id = :id"), {"id": a}))
