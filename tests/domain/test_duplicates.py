"""Duplicates (issue 14): flagged pairs (names folded and in any order within 300 m, or the same
external id), the merge that keeps both histories and re-points links, and the plan of the
pair search (the API: tests/api/test_duplicates_api.py)."""

import math
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bench import synthetic
from carto import duplicates, history, links, resources
from carto import text as carto_text
from carto.errors import Conflict, Forbidden, Invalid, NotFound, PreconditionFailed
from carto.models import Link, LinkLevelChange, Resource, Territory
from carto.territories import TerritorySpec, create_from_communes
from carto.visibility import ADMIN, EDITOR, Principal
from tests.api.test_api_plans import plan_nodes
from tests.apiworld import SETE, feature

NAMES = ["Épicerie solidaire du Lez", "LEZ (du) solidaire, epicerie", "Œuvre de l'Hôtel-Dieu",
         "Straße 12", "  Jardin   partagé  ", "Banque alimentaire de l'Hérault",
         "L’Atelier_vélo", "Café-épicerie « La Ruche »", "Ça m'dit"]


def _shift(point: tuple[float, float], east_m: float) -> tuple[float, float]:
    """The point `east_m` metres further east."""
    return (point[0] + east_m / (111_320 * math.cos(math.radians(point[1]))), point[1])


def _territory(session: Session, slug: str) -> Territory:
    return create_from_communes(session, TerritorySpec(slug=slug, name=slug), ["34301"])


def _resource(session: Session, slug: str, name: str, point: tuple[float, float] = SETE,
              actor: Any = "test", moderation: str | None = None, **props: Any) -> Resource:
    data = feature(name=name, territories_=[slug], point=point)
    values = {**data["properties"], "lon": point[0], "lat": point[1], **props}
    return resources.create(session, values, actor, moderation=moderation)


def _pairs(session: Session, territory: Territory) -> set[frozenset[str]]:
    found = duplicates.pairs(session, Principal(role=ADMIN, actor="t"), territory.id)
    return {frozenset((p["keep"]["name"], p["merge"]["name"])) for p in found}


def test_the_name_key_and_its_sql_twin_agree(session: Session) -> None:
    assert carto_text.name_key(NAMES[0]) == carto_text.name_key(NAMES[1]) \
        == "du epicerie lez solidaire"
    demo = list(session.scalars(select(Resource.name)))
    for name in NAMES + demo:
        sql = session.scalar(text("SELECT terreau_name_key(:n)"), {"n": name})
        assert sql == carto_text.name_key(name), name
    stored = session.execute(text("SELECT name, name_key FROM resource LIMIT 50")).all()
    assert stored and all(key == carto_text.name_key(name) for name, key in stored)


def test_similar_names_within_300_m_are_flagged_and_not_beyond(session: Session) -> None:
    territory = _territory(session, "dup-names")
    slug = territory.slug
    _resource(session, slug, "Épicerie solidaire du Port")
    _resource(session, slug, "port du SOLIDAIRE epicerie", _shift(SETE, 120))
    _resource(session, slug, "Epicerie solidaire du port (bis)", _shift(SETE, 2000))
    _resource(session, slug, "Jardin partagé 1", _shift(SETE, 2000))
    _resource(session, slug, "Jardin partagé 2", _shift(SETE, 2010))
    _resource(session, slug, "Jardin partagee 2", _shift(SETE, 2250),  # a typo, just added
              moderation="pending")
    _resource(session, slug, "Jardin partagee 1", _shift(SETE, 2010))  # not pending
    _resource(session, slug, "Jardin partagé 2", _shift(SETE, 2650))  # 400 m and more away
    found = duplicates.pairs(session, Principal(role=ADMIN, actor="t"), territory.id)
    assert {frozenset((p["keep"]["name"], p["merge"]["name"])) for p in found} == {
        frozenset(("Épicerie solidaire du Port", "port du SOLIDAIRE epicerie")),
        frozenset(("Jardin partagé 2", "Jardin partagee 2")),
    }
    [port] = [p for p in found if "Port" in (p["keep"]["name"] + p["merge"]["name"])]
    assert port["reasons"] == ["same_name"] and 115 <= port["distance_m"] <= 125
    assert sorted(p["reasons"][0] for p in found) == ["same_name", "similar_name"]


def test_the_same_external_id_is_flagged_at_any_distance(session: Session) -> None:
    territory = _territory(session, "dup-ext")
    slug = territory.slug
    _resource(session, slug, "Marché du mardi", external_id="node/42", source_name="osm")
    _resource(session, slug, "Marche de Sete", _shift(SETE, 5000), external_id="node/42",
              source_name="gogocarto")
    _resource(session, slug, "Autre", _shift(SETE, 10), external_id="node/43")
    [pair] = duplicates.pairs(session, Principal(role=ADMIN, actor="t"), territory.id)
    assert pair["reasons"] == ["external_id"] and 4900 < pair["distance_m"] < 5100


def test_pairs_are_for_the_editors_of_the_territory(session: Session) -> None:
    territory = _territory(session, "dup-who")
    _resource(session, territory.slug, "Halle")
    _resource(session, territory.slug, "halle", _shift(SETE, 5))
    editor = Principal(role=EDITOR, territory_id=territory.id, actor="ed")
    assert len(duplicates.pairs(session, editor, None)) == 1  # its own territory by default
    with pytest.raises(Forbidden):
        duplicates.pairs(session, Principal(role="contributor", territory_id=territory.id,
                                            actor="c"), territory.id)
    with pytest.raises(Forbidden):
        duplicates.pairs(session, Principal(role=EDITOR, territory_id=territory.id + 999,
                                            actor="x"), territory.id)


def test_a_pair_said_not_a_duplicate_is_not_flagged_again(session: Session) -> None:
    territory = _territory(session, "dup-dismiss")
    first = _resource(session, territory.slug, "Halle aux grains")
    second = _resource(session, territory.slug, "halle aux GRAINS", _shift(SETE, 30))
    third = _resource(session, territory.slug, "Grains (halle aux)", _shift(SETE, 60))
    assert len(_pairs(session, territory)) == 3  # same names: every two of the three
    editor = Principal(role=EDITOR, territory_id=territory.id, actor="ed")
    for who in (Principal(role="contributor", territory_id=territory.id, actor="c"),
                Principal(role=EDITOR, territory_id=territory.id + 999, actor="x")):
        with pytest.raises(Forbidden):
            duplicates.dismiss(session, second.id, first.id, who)
    with pytest.raises(Invalid):
        duplicates.dismiss(session, first.id, first.id, editor)
    with pytest.raises(NotFound):
        duplicates.dismiss(session, first.id, uuid.uuid4(), editor)
    dismissal, new = duplicates.dismiss(session, second.id, first.id, editor)  # either order
    assert new and (dismissal.a_id, dismissal.b_id) == tuple(sorted((first.id, second.id)))
    assert dismissal.dismissed_by == "ed"
    assert not duplicates.dismiss(session, first.id, second.id, editor)[1]  # said once
    assert session.scalar(text("SELECT count(*) FROM duplicate_dismissal WHERE a_id = :a"),
                          {"a": dismissal.a_id}) == 1
    found = duplicates.pairs(session, editor, territory.id)
    assert {frozenset((p["keep"]["id"], p["merge"]["id"])) for p in found} == {
        frozenset((first.id, third.id)), frozenset((second.id, third.id))}


def _link(session: Session, a: Resource, b: Resource, category: str = "aid_associations",
          level: int = 2) -> Link:
    return links.create(session, {"source": str(a.id), "target": str(b.id),
                                  "category": category, "level": level,
                                  "level_note": "au départ"}, "test")


def test_a_merge_keeps_both_histories_and_repoints_the_links(session: Session) -> None:
    territory = _territory(session, "dup-merge")
    slug = territory.slug
    kept = _resource(session, slug, "Épicerie du Port")
    twin = _resource(session, slug, "epicerie du port", _shift(SETE, 30))
    other = _resource(session, slug, "Banque alimentaire", _shift(SETE, 900))
    third = _resource(session, slug, "Restos", _shift(SETE, 800))
    moved = _link(session, twin, other, level=3)           # becomes kept -> other
    self_link = _link(session, kept, twin)                 # would be kept -> kept
    _link(session, kept, third, "aid_associations")             # the kept one already has it
    repeat = _link(session, third, twin, "aid_associations")    # would repeat it
    session.flush()
    twin_history = [(e.action, e.after) for e in history.entries(session, "resource", twin.id)]
    kept_history = [e.id for e in history.entries(session, "resource", kept.id)]

    report = duplicates.merge(session, twin.id, kept.id, "moderatrice", twin.version)

    assert report.repointed == [moved.id]
    assert report.removed_self_links == [self_link.id]
    assert [i for i, _ in report.removed_duplicates] == [repeat.id]
    session.expire_all()
    merged = session.get(Resource, twin.id)
    assert merged is not None and merged.deleted_at is not None
    assert merged.merged_into == kept.id and merged.deleted_by == "moderatrice"
    entries = history.entries(session, "resource", twin.id)
    assert [(e.action, e.after) for e in entries[:-1]] == twin_history  # untouched
    assert entries[-1].action == "merge" and entries[-1].after is not None
    assert entries[-1].after["merged_into"] == str(kept.id) and entries[-1].after["deleted"]
    assert [e.id for e in history.entries(session, "resource", kept.id)] == kept_history
    link = session.get(Link, moved.id)
    assert link is not None and (link.source_id, link.target_id) == (kept.id, other.id)
    assert link.level == 3 and link.version == 2
    assert [e.action for e in history.entries(session, "link", moved.id)] == ["create", "update"]
    assert session.scalar(select(LinkLevelChange.note).where(
        LinkLevelChange.link_id == moved.id)) == "au départ"
    for gone in (self_link.id, repeat.id):
        assert [e.action for e in history.entries(session, "link", gone)] == ["create", "delete"]
    # the merged one is gone from the pairs, from reads; restoring brings it back alone
    assert _pairs(session, territory) == set()
    with pytest.raises(Conflict):  # into the merged one: a 409 naming where it went
        duplicates.merge(session, kept.id, twin.id, "moderatrice", None)
    back = resources.restore(session, twin.id, "moderatrice")
    assert back.merged_into is None and back.deleted_at is None


def test_a_merge_checks_versions_roles_and_ends(session: Session) -> None:
    territory = _territory(session, "dup-rules")
    slug = territory.slug
    a = _resource(session, slug, "Halle")
    b = _resource(session, slug, "halle", _shift(SETE, 5))
    session.flush()
    with pytest.raises(Invalid) as same:
        duplicates.merge(session, a.id, a.id, "m", None)
    assert same.value.errors[0].field == "into"
    with pytest.raises(PreconditionFailed):
        duplicates.merge(session, b.id, a.id, "m", b.version + 1)
    with pytest.raises(Forbidden):
        duplicates.merge(session, b.id, a.id, Principal(role="contributor",
                                                        territory_id=territory.id, actor="c"),
                         b.version)
    with pytest.raises(Forbidden):
        duplicates.merge(session, b.id, a.id, Principal(role=EDITOR, territory_id=territory.id
                                                        + 999, actor="x"), b.version)
    with pytest.raises(NotFound):
        duplicates.merge(session, b.id, uuid.uuid4(), "m", b.version)
    editor = Principal(role=EDITOR, territory_id=territory.id, actor="ed")
    assert duplicates.merge(session, b.id, a.id, editor, b.version).into == a.id


def test_the_pair_search_walks_the_indexes(session: Session) -> None:
    territory = create_from_communes(session, TerritorySpec(slug="dup-plan", name="Plan"),
                                     ["34172"])
    synthetic.add_resources(session, territory, 20_000, seed=11)
    session.execute(text("ANALYZE resource"))
    session.execute(text("ANALYZE resource_territory"))
    sql, params = duplicates._pairs_sql(Principal(role=ADMIN, actor="t"), territory.id)
    nodes = plan_nodes(session, sql, params)
    indexes = {index for _, index in nodes}
    # near names: the pending rows by their index, each one's neighbours by the geography one
    assert {"resource_status_idx", "resource_geog_gist"} <= indexes, nodes
    # the same key or external id: the repeated values first (one pass, grouped), never a
    # comparison of every row with every other
    assert sum(1 for t, _ in nodes if t == "Aggregate") >= 3, nodes  # the union and two
    # numbered synthetic names ("#12", "#13") are not one another's duplicates
    assert duplicates.pairs(session, Principal(role=ADMIN, actor="t"), territory.id) == []


def test_not_a_duplicate_taken_back_flags_the_pair_again(session: Session) -> None:
    """« Annuler »: the dismissal goes (either order), the pair is flagged again; the same
    editors as for saying it; a pair not dismissed is a 404; saying it again restores it."""
    territory = _territory(session, "dup-undismiss")
    first = _resource(session, territory.slug, "Moulin des Treilles")
    second = _resource(session, territory.slug, "treilles (moulin des)", _shift(SETE, 40))
    editor = Principal(role=EDITOR, territory_id=territory.id, actor="ed")
    duplicates.dismiss(session, first.id, second.id, editor)
    assert _pairs(session, territory) == set()
    listed = duplicates.dismissals(session, editor, territory.id)
    assert [(d["a"]["id"], d["b"]["id"], d["dismissed_by"]) for d in listed] == [
        (*sorted((first.id, second.id)), "ed")]
    for who in (Principal(role="contributor", territory_id=territory.id, actor="c"),
                Principal(role=EDITOR, territory_id=territory.id + 999, actor="x")):
        with pytest.raises(Forbidden):
            duplicates.undismiss(session, first.id, second.id, who)
        with pytest.raises(Forbidden):
            duplicates.dismissals(session, who, territory.id)
    with pytest.raises(NotFound):
        duplicates.undismiss(session, first.id, uuid.uuid4(), editor)
    duplicates.undismiss(session, second.id, first.id, editor)  # either order
    assert duplicates.dismissals(session, editor, territory.id) == []
    assert len(_pairs(session, territory)) == 1
    with pytest.raises(NotFound):  # already taken back
        duplicates.undismiss(session, first.id, second.id, editor)
    assert duplicates.dismiss(session, first.id, second.id, editor)[1]  # said anew
    assert _pairs(session, territory) == set()
