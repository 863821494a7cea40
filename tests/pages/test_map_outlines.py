"""A map's outlines (simplified boundary and surrounding communes) are read from the database
once per territory, and a territory saved again is drawn with its new boundary at once."""

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from carto import territories
from carto.maps import data as mapdata
from carto.territories import TerritorySpec


@pytest.fixture
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    conn = session.connection()

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        seen.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    yield seen
    event.remove(conn, "before_cursor_execute", record)


def test_outlines_are_read_once_then_follow_a_saved_territory(
        session: Session, statements: list[str]) -> None:
    spec = TerritorySpec(slug="outline-test", name="Contours")
    t = territories.create_from_communes(session, spec, ["34108"])
    first = mapdata.territory_geometry(session, t.id)
    statements.clear()
    again = mapdata.territory_geometry(session, t.id)
    assert statements == []  # no SQL: the outlines of this territory are kept
    assert again == first
    again.communes["features"][0]["properties"]["style"] = {"color": "red"}  # as folium does
    assert "style" not in mapdata.territory_geometry(session, t.id).communes["features"][0][
        "properties"]  # each call gets its own dicts

    territories.create_from_communes(session, spec, ["34301"], replace=True)
    moved = mapdata.territory_geometry(session, t.id)
    assert moved.bbox != first.bbox and moved.boundary != first.boundary
    inside = {f["id"] for f in moved.communes["features"] if f["properties"]["inside"]}
    assert inside == {"34301"}
