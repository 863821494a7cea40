"""Cooperation indicators on small hand-built networks whose answers are worked out by hand:
degrees, components, betweenness weighted by level, the share at level >= 3; a past day sees
neither later links nor later levels; the evolution lists exactly the changes made."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from carto import vocab
from carto.indicators import evolution, indicators, measures, snapshot, tables
from carto.visibility import ANONYMOUS, Principal
from tests.indicators_world import actor, end, link, set_level, territory

ADMIN = Principal(role="admin", actor="admin")


@pytest.fixture
def hand(session: Session) -> dict[str, object]:
    """Component {A-B-C-D, B-E} (a tree), component {F-G}, isolated H and I.
    A and B share two links (two categories): one partner, two links."""
    slug = "ind-hand"
    tid = territory(session, slug)
    kinds = {"A": "producer", "B": "food_aid", "C": "association", "D": "public_body",
             "E": "social_grocery", "F": "shared_garden", "G": "social_service", "H": "premises",
             "I": "association"}
    ids = {n: actor(session, tid, f"Acteur {n}", k) for n, k in kinds.items()}
    for a, b, level, cat in (("A", "B", 1, "aid_associations"),
                             ("A", "B", 2, "producers_suppliers"),
                             ("B", "C", 3, "territorial_structures"),
                             ("C", "D", 4, "public_associations"),
                             ("B", "E", 5, "aid_associations"),
                             ("F", "G", 2, "territorial_structures")):
        link(session, slug, ids[a], ids[b], level, cat)
    return {"slug": slug, "ids": ids}


def test_hand_built_network(session: Session, hand: dict) -> None:
    ind = indicators(snapshot(session, ANONYMOUS, hand["slug"]))
    net = ind["network"]
    assert ind["resources"]["total"] == 9
    assert ind["resources"]["by_kind"]["association"] == 2
    assert ind["links"]["total"] == 6
    assert ind["links"]["by_level"] == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1}
    assert ind["links"]["strong"] == 3 and ind["links"]["strong_share"] == 0.5
    assert ind["links"]["matrix"]["aid_associations"] == {1: 1, 2: 0, 3: 0, 4: 0, 5: 1}
    assert ind["links"]["matrix"]["residents_volunteers"] == dict.fromkeys(range(1, 6), 0)
    assert (net["actors"], net["connected"], net["isolated"]) == (9, 7, 2)
    assert [a["name"] for a in net["isolated_actors"]] == ["Acteur H", "Acteur I"]
    assert net["components"] == 2 and net["component_sizes"] == [5, 2]
    assert net["pairs"] == 5
    assert net["density"] == pytest.approx(5 / 36, abs=1e-6)
    degrees = {a["name"]: (a["degree"], a["links"]) for a in net["most_connected"]}
    assert degrees == {"Acteur B": (3, 4), "Acteur C": (2, 2), "Acteur A": (1, 2),
                       "Acteur D": (1, 1), "Acteur E": (1, 1), "Acteur F": (1, 1),
                       "Acteur G": (1, 1)}
    assert net["most_connected"][0]["name"] == "Acteur B"
    # A tree: B lies on 5 of the pairs' paths, C on 3; normalised by (7-1)(7-2)/2 = 15 over
    # the 7 linked actors.
    assert [(b["name"], b["betweenness"]) for b in net["bridges"]] == [
        ("Acteur B", pytest.approx(5 / 15, abs=1e-6)), ("Acteur C", pytest.approx(3 / 15, abs=1e-6))]
    assert net["betweenness"]["method"] == "exact"
    pairs = {tuple(p["kinds"]): (p["total"], p["by_level"]) for p in ind["kind_pairs"]}
    assert pairs[("food_aid", "producer")] == (2, {1: 1, 2: 1, 3: 0, 4: 0, 5: 0})
    assert pairs[("association", "public_body")][0] == 1
    assert ind["kind_pairs"][0]["kinds"] == ["food_aid", "producer"]  # the most links first


def test_betweenness_is_weighted_by_level(session: Session) -> None:
    """A square W-X-Y-Z whose X side is strong (level 5) and Z side weak (level 1): W-Y goes
    through X (1/5+1/5 < 1+1); X-Z has two equally long paths (via W, via Y). Unweighted, the
    four corners would be equal (0.5 each)."""
    slug = "ind-square"
    tid = territory(session, slug)
    ids = {n: actor(session, tid, n, "association") for n in "WXYZ"}
    for a, b, level in (("W", "X", 5), ("X", "Y", 5), ("Y", "Z", 1), ("Z", "W", 1)):
        link(session, slug, ids[a], ids[b], level)
    net = indicators(snapshot(session, ANONYMOUS, slug))["network"]
    values = {b["name"]: b["betweenness"] for b in net["bridges"]}
    assert values == {"X": pytest.approx(1 / 3, abs=1e-6), "W": pytest.approx(1 / 6, abs=1e-6),
                      "Y": pytest.approx(1 / 6, abs=1e-6)}
    assert net["components"] == 1 and net["isolated"] == 0


def test_sampled_betweenness_above_the_limit(session: Session, hand: dict,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measures, "EXACT_BETWEENNESS_LIMIT", 3)
    monkeypatch.setattr(measures, "BETWEENNESS_SAMPLES", 7)  # every linked actor: exact again
    net = indicators(snapshot(session, ANONYMOUS, hand["slug"]))["network"]
    assert net["betweenness"] == {"method": "sampled", "samples": 7, "weight": "1/level"}
    assert net["bridges"][0]["name"] == "Acteur B"
    assert net["bridges"][0]["betweenness"] == pytest.approx(5 / 15, abs=1e-6)


def test_only_what_the_principal_may_see(session: Session) -> None:
    """A pending link and a members-only actor count for an admin, not for a reader."""
    slug = "ind-visibility"
    tid = territory(session, slug)
    a = actor(session, tid, "Visible A", "food_aid")
    b = actor(session, tid, "Visible B", "food_aid")
    hidden = actor(session, tid, "Réservé aux membres", "association", visibility="members")
    link(session, slug, a, b, 3, moderation="pending")
    link(session, slug, a, hidden, 2)
    reader = indicators(snapshot(session, ANONYMOUS, slug))
    admin = indicators(snapshot(session, ADMIN, slug))
    assert reader["links"]["total"] == 0 and reader["resources"]["total"] == 2
    assert reader["network"]["isolated"] == 2
    assert admin["links"]["total"] == 2 and admin["resources"]["total"] == 3


D0 = date(2024, 3, 1)
D1 = date(2024, 9, 1)


@pytest.fixture
def dated(session: Session) -> dict[str, object]:
    """Changes between D0 and D1, each dated: one created, one ended, two 2->3, one 4->2; one
    link unchanged; one link and one level change after D1."""
    slug = "ind-dated"
    tid = territory(session, slug)
    ids = {n: actor(session, tid, f"Acteur {n}", "association") for n in "ABCDEFGH"}
    before = D0 - timedelta(days=30)
    between = D0 + timedelta(days=60)
    after = D1 + timedelta(days=30)
    lk = {
        "same": link(session, slug, ids["A"], ids["B"], 2, on=before),
        "up1": link(session, slug, ids["B"], ids["C"], 2, on=before),
        "up2": link(session, slug, ids["C"], ids["D"], 2, on=before),
        "down": link(session, slug, ids["D"], ids["E"], 4, on=before),
        "ended": link(session, slug, ids["E"], ids["F"], 1, on=before),
        "new": link(session, slug, ids["F"], ids["G"], 1, on=between),
        "later": link(session, slug, ids["G"], ids["H"], 5, on=after),
    }
    set_level(session, lk["up1"], 3, between)
    set_level(session, lk["up2"], 3, between)
    set_level(session, lk["down"], 2, between)
    set_level(session, lk["same"], 5, after)  # after D1: not part of the evolution
    end(session, lk["ended"], datetime.combine(between, datetime.min.time(), UTC))
    return {"slug": slug, "ids": ids, "links": lk}


def test_past_day_ignores_later_links_and_uses_the_level_valid_then(session: Session,
                                                                    dated: dict) -> None:
    lk = dated["links"]
    at0 = snapshot(session, ANONYMOUS, dated["slug"], D0)
    assert set(at0.links) == {lk["same"], lk["up1"], lk["up2"], lk["down"], lk["ended"]}
    assert {k: at0.links[lk[k]].level for k in ("same", "up1", "down", "ended")} == \
        {"same": 2, "up1": 2, "down": 4, "ended": 1}
    at1 = snapshot(session, ANONYMOUS, dated["slug"], D1)
    assert set(at1.links) == {lk["same"], lk["up1"], lk["up2"], lk["down"], lk["new"]}
    assert at1.links[lk["up1"]].level == 3 and at1.links[lk["same"]].level == 2
    now = snapshot(session, ANONYMOUS, dated["slug"])
    assert now.links[lk["same"]].level == 5 and lk["later"] in now.links
    assert lk["ended"] not in now.links
    ind0 = indicators(at0)
    assert ind0["links"]["by_level"] == {1: 1, 2: 3, 3: 0, 4: 1, 5: 0}
    # the actors were recorded today; on D0 only the ends of the links of D0 were there
    assert ind0["resources"]["total"] == 6 and ind0["network"]["isolated"] == 0
    before_all = indicators(snapshot(session, ANONYMOUS, dated["slug"], date(2020, 1, 1)))
    assert before_all["links"]["total"] == 0 and before_all["links"]["strong_share"] is None


def test_evolution_lists_exactly_the_changes(session: Session, dated: dict) -> None:
    lk = {k: str(v) for k, v in dated["links"].items()}
    evo = evolution(snapshot(session, ANONYMOUS, dated["slug"], D0),
                    snapshot(session, ANONYMOUS, dated["slug"], D1))
    assert [r["id"] for r in evo["created"]] == [lk["new"]]
    assert [r["id"] for r in evo["ended"]] == [lk["ended"]]
    assert sorted(r["id"] for r in evo["moved_up"]) == sorted([lk["up1"], lk["up2"]])
    assert [(r["id"], r["from_level"], r["to_level"]) for r in evo["moved_down"]] == \
        [(lk["down"], 4, 2)]
    assert evo["transitions"] == [{"from_level": 2, "to_level": 3, "count": 2},
                                  {"from_level": 4, "to_level": 2, "count": 1}]
    assert evo["indicators"]["links"] == {"from": 5, "to": 5, "change": 0}
    assert evo["indicators"]["strong"] == {"from": 1, "to": 2, "change": 1}
    assert evo["sentence"] == (
        "depuis le 1er mars 2024 : 1 coopération nouvelle, 2 passées de l'échange de services "
        "à la mutualisation de moyens, 1 passée de la réalisation d'une action commune à "
        "l'échange de services, 1 terminée")
    en = evolution(snapshot(session, ANONYMOUS, dated["slug"], D0),
                   snapshot(session, ANONYMOUS, dated["slug"], D1), "en")
    assert en["sentence"] == (
        "since 1 March 2024: 1 new cooperation, 2 moved from exchange of services to pooling "
        "of means, 1 moved from a joint action to exchange of services, 1 ended")
    changes = tables.evolution_tables(evo, "fr")["changes"][1]
    assert sorted(r["change"] for r in changes) == ["created", "ended", "moved_down",
                                                    "moved_up", "moved_up"]


def test_evolution_without_change(session: Session, dated: dict) -> None:
    day = D1 + timedelta(days=1)
    evo = evolution(snapshot(session, ANONYMOUS, dated["slug"], D1),
                    snapshot(session, ANONYMOUS, dated["slug"], day))
    assert not (evo["created"] or evo["ended"] or evo["moved_up"] or evo["moved_down"])
    assert evo["sentence"] == "depuis le 1er septembre 2024 : aucun changement"


def test_network_files(session: Session, hand: dict) -> None:
    import io

    import networkx as nx

    snap = snapshot(session, ANONYMOUS, hand["slug"])
    for fmt, reader in (("gexf", nx.read_gexf), ("graphml", nx.read_graphml)):
        g = reader(io.BytesIO(tables.network_file(snap, fmt)))
        assert g.number_of_nodes() == 9 and g.number_of_edges() == 5
        b = str(hand["ids"]["B"])
        assert g.degree(b) == 3
        names = nx.get_node_attributes(g, "label")
        assert names[b] == "Acteur B"


def test_csv_cells_are_spreadsheet_safe(session: Session) -> None:
    """A name a spreadsheet would run as a formula comes out as text in the actors table."""
    from api.http import csv_response

    slug = "ind-csv"
    tid = territory(session, slug)
    a = actor(session, tid, "=HYPERLINK(\"http://x\")", "association")
    b = actor(session, tid, "Voisin", "association")
    link(session, slug, a, b, 2)
    columns, rows = tables.actors_table(snapshot(session, ANONYMOUS, slug), "fr",
                                        vocab.resource_kinds(session))
    body = csv_response(rows, columns, "x.csv").body.decode()
    assert "'=HYPERLINK" in body and "\n=HYPERLINK" not in body
