"""The catchment statements are planned with the catchment they are given, every time: psycopg
prepares a statement after 5 runs and PostgreSQL then tries a generic plan, blind to the bound
geometry; for the gap's producers that plan read every row (0.2-0.9 s became 16-33 s from the
11th analysis on one connection, `make bench`). They must never be prepared."""

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import gap


def _prepared_catchment_statements(session: Session) -> list[str]:
    """Prepared statements that select resources by a bound geometry (the producers' CTE)."""
    return list(session.scalars(text(
        "SELECT statement FROM pg_prepared_statements WHERE statement LIKE '%FROM resource r%'"
        " AND statement LIKE '%ST_GeomFromEWKB%'")))


def test_catchment_statements_are_never_prepared(session: Session) -> None:
    sc = gap.scenario(radius_km=30)
    for _ in range(12):  # past psycopg's prepare threshold (5) and PostgreSQL's 5 custom plans
        per = gap.territory_perimeter(session, "frontignan")
        gap.analyse(session, per, sc)
        gap.map_layers(session, per, 30)
    assert _prepared_catchment_statements(session) == []


def test_other_statements_still_are(session: Session) -> None:
    """The guard is scoped: the connection prepares as before once the block is left."""
    for _ in range(7):
        session.execute(text("SELECT count(*) FROM commune WHERE department = :d"), {"d": "34"})
    assert session.scalar(text("SELECT count(*) FROM pg_prepared_statements "
                               "WHERE statement LIKE '%FROM commune WHERE department%'")) == 1
