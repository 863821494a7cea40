"""A resource created without a commune gets the one holding its point (issue 12)."""

from sqlalchemy.orm import Session

from carto import resources


def _new(session: Session, **values: object) -> resources.Resource:
    data = {"name": "Ferme du test", "kind": "producer", "territories": ["frontignan"],
            **values}
    return resources.create(session, data, "test:ux", force=True)


def test_a_resource_created_without_a_commune_gets_the_one_holding_its_point(
        session: Session) -> None:
    assert _new(session, lon=3.7598, lat=43.45).commune_code == "34108"  # Frontignan
    given = _new(session, lon=3.7598, lat=43.45, commune="34172")  # said: kept as said
    assert given.commune_code == "34172"
    at_sea = _new(session, lon=3.9, lat=43.2)  # in the Gulf of Lion, no commune
    assert at_sea.commune_code is None
