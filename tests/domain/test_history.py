"""Edits keep history, deletes are reversible, stale versions are refused."""

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from carto import history, links, resources
from carto.errors import Conflict, Invalid, NotFound, PreconditionFailed
from carto.models import Link, Resource


def _new_resource(session: Session, name: str = "Jardin test") -> Resource:
    return resources.create(session, {
        "name": name, "kind": "shared_garden", "lon": 3.78, "lat": 43.45,
        "location_precision": "exact", "territories": ["frontignan"], "commune": "34108",
        "opening_hours": "Mo-Fr 09:00-12:00; PH off", "products": ["vegetables"],
    }, actor="alice")


def test_an_update_records_before_and_after(session: Session) -> None:
    resource = _new_resource(session)
    resources.update(session, resource.id, {"name": "Jardin des Deux Pins"}, "bob", 1)
    log = history.entries(session, "resource", resource.id)
    assert [e.action for e in log] == ["create", "update"]
    assert log[1].actor == "bob"
    assert log[1].before["name"] == "Jardin test"
    assert log[1].after["name"] == "Jardin des Deux Pins"
    assert log[1].after["version"] == 2 == resource.version


def test_a_stale_version_is_refused(session: Session) -> None:
    resource = _new_resource(session)
    resources.update(session, resource.id, {"description": "première"}, "alice", 1)
    with pytest.raises(PreconditionFailed):
        resources.update(session, resource.id, {"description": "écrasée"}, "bob", 1)
    assert resource.description == "première"


def test_delete_is_soft_and_restore_brings_it_back(session: Session) -> None:
    resource = _new_resource(session)
    resources.delete(session, resource.id, "alice", 1)
    assert session.get(Resource, resource.id) is not None
    with pytest.raises(NotFound):
        resources.get(session, resource.id)
    resources.restore(session, resource.id, "alice")
    assert resources.get(session, resource.id).deleted_at is None
    assert [e.action for e in history.entries(session, "resource", resource.id)] == [
        "create", "delete", "restore"]


def test_bad_fields_are_named(session: Session) -> None:
    with pytest.raises(Invalid) as err:
        resources.create(session, {"name": "", "kind": "spaceship", "lon": 200, "lat": 43,
                                   "territories": ["frontignan"], "opening_hours": "n'importe",
                                   "email": "pas-un-mail", "colour": "red"}, actor="x")
    fields = {e.field for e in err.value.errors}
    assert {"name", "kind", "geometry.longitude", "opening_hours", "email", "colour"} <= fields


def test_changing_a_link_level_appends_to_its_history(session: Session) -> None:
    a = _new_resource(session, "A")
    b = _new_resource(session, "B")
    link = links.create(session, {"source": a.id, "target": b.id, "category": "territorial_structures",
                                  "level": 1,
                                  "territory": "frontignan"}, "alice")
    links.update(session, link.id, {"level": 3, "level_note": "prêt du jardin"}, "bob", 1)
    levels = links.level_history(session, link.id)
    assert [(h.level, h.note) for h in levels] == [(1, None), (3, "prêt du jardin")]
    log = history.entries(session, "link", link.id)
    assert log[-1].before["level"] == 1 and log[-1].after["level"] == 3


def test_duplicate_and_self_links_are_refused_with_the_field(session: Session) -> None:
    a = _new_resource(session, "A")
    b = _new_resource(session, "B")
    first = links.create(session, {"source": a.id, "target": b.id,
                                   "category": "aid_associations", "level": 2}, "alice")
    with pytest.raises(Conflict) as err:
        links.create(session, {"source": b.id, "target": a.id,
                               "category": "aid_associations", "level": 4}, "bob")
    assert str(first.id) in err.value.detail
    with pytest.raises(Invalid) as invalid:
        links.create(session, {"source": a.id, "target": a.id,
                               "category": "aid_associations", "level": 2}, "bob")
    assert invalid.value.errors[0].field == "target"
    with pytest.raises(Invalid) as invalid:
        links.create(session, {"source": a.id, "target": uuid.uuid4(),
                               "category": "aid_associations", "level": 9}, "bob")
    assert {e.field for e in invalid.value.errors} == {"target", "level"}
    assert session.scalar(select(Link).where(Link.id == first.id)) is not None
