"""Opportunities on a hand-placed territory: complementary close pairs are proposed with why,
never a pair already linked (active or ended), never a pair across territories, the closest
first within each rule, and distances from the position the principal is shown."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.errors import Invalid
from carto.indicators import opportunities
from carto.indicators.opportunities import rules
from carto.visibility import ANONYMOUS, Principal
from tests.indicators_world import actor, end, link, territory

LON, LAT = 3.6957, 43.4028  # Sète
KM_LAT = 1 / 111.2  # degrees of latitude per km


def north(km: float) -> tuple[float, float]:
    return LON, LAT + km * KM_LAT


@pytest.fixture
def places(session: Session) -> dict:
    slug, other = "opp-a", "opp-b"
    tid = territory(session, slug)
    tid_b = territory(session, other, "34157")
    ids = {}

    def put(name: str, kind: str, km: float, t: int = tid, **extra: object) -> None:
        lon, lat = north(km)
        ids[name] = actor(session, t, name, kind, lon, lat, **extra)

    put("Ferme", "producer", 0)
    put("Épicerie", "social_grocery", 1)
    put("Restos", "food_aid", 2)
    put("Secours", "food_aid", 4)
    put("AMAP", "purchasing_group", 30)          # too far for a producer (15 km)
    put("Ferme voisine", "producer", 1.5, tid_b)   # other territory only
    put("Local", "premises", 0.5)
    put("Asso sans local", "association", 1)
    put("Asso avec local", "association", 0.8)
    put("Autre local", "premises", 3)
    put("Service social", "social_service", 6)
    put("Jardin", "shared_garden", 9)
    link(session, slug, ids["Ferme"], ids["Restos"], 2, "producers_suppliers")
    old = link(session, slug, ids["Épicerie"], ids["Secours"], 1, "aid_associations")
    end(session, old, datetime(2024, 1, 1, tzinfo=UTC))
    link(session, slug, ids["Asso avec local"], ids["Autre local"], 3, "territorial_structures")
    return {"slug": slug, "other": other, "ids": ids}


def _pairs(opp: dict, rule: str) -> list[tuple[str, str]]:
    return [(o["a"]["name"], o["b"]["name"]) for o in opp["opportunities"] if o["rule"] == rule]


def test_rules_file_is_read() -> None:
    codes = [r.code for r in rules()]
    assert codes == ["producer_outlet", "premises_for_association", "garden_social",
                     "aid_same_town"]


def test_opportunities(session: Session, places: dict) -> None:
    opp = opportunities(session, ANONYMOUS, places["slug"])
    # Ferme-Restos are linked; the AMAP is 30 km away; the neighbouring farm is elsewhere
    assert _pairs(opp, "producer_outlet") == [("Ferme", "Épicerie"), ("Ferme", "Secours")]
    first = next(o for o in opp["opportunities"] if o["rule"] == "producer_outlet")
    assert first["distance_m"] == pytest.approx(1000, rel=0.01)
    assert first["why"] == "« Ferme » produit à 1,0 km de « Épicerie », qui pourrait " \
                           "s'approvisionner localement"
    en = opportunities(session, ANONYMOUS, places["slug"], lang="en")["opportunities"][0]
    assert en["why"] == "“Ferme” farms 1.0 km from “Épicerie”, which could buy locally"
    assert en["rule_label"] == "A producer near a solidarity grocery, food aid or a purchasing group"
    assert first["category"] == "producers_suppliers"
    # the association already linked to premises is not proposed again
    premises = [(round(o["distance_m"] / 1000, 1), o["a"]["name"], o["b"]["name"])
                for o in opp["opportunities"] if o["rule"] == "premises_for_association"]
    assert sorted(premises) == [(0.5, "Local", "Asso sans local"), (0.5, "Local", "Épicerie"),
                                (1.0, "Autre local", "Restos"), (1.0, "Autre local", "Secours"),
                                (1.5, "Local", "Restos"), (2.0, "Autre local", "Asso sans local"),
                                (2.0, "Autre local", "Épicerie"), (3.5, "Local", "Secours")]
    assert [d for d, _, _ in premises] == sorted(d for d, _, _ in premises)
    assert _pairs(opp, "garden_social") == [("Jardin", "Service social")]  # 3 km
    # Épicerie-Secours had a link (ended): not proposed; each pair listed once
    same_town = _pairs(opp, "aid_same_town")
    assert sorted(map(sorted, same_town)) == sorted(map(sorted, [("Épicerie", "Restos"),
                                                                 ("Restos", "Secours")]))
    for rule in {o["rule"] for o in opp["opportunities"]}:
        distances = [o["distance_m"] for o in opp["opportunities"] if o["rule"] == rule]
        assert distances == sorted(distances)
    names = {o[end]["name"] for o in opp["opportunities"] for end in ("a", "b")}
    assert "Ferme voisine" not in names and "AMAP" not in names


def test_never_an_existing_link_nor_a_cross_territory_pair(session: Session,
                                                           places: dict) -> None:
    ids = places["ids"]
    linked = {frozenset((r[0], r[1])) for r in session.execute(text(
        "SELECT source_id, target_id FROM link WHERE deleted_at IS NULL")).all()}
    members = set(session.scalars(text("""SELECT resource_id FROM resource_territory rt
        JOIN territory t ON t.id = rt.territory_id WHERE t.slug = :s"""), {"s": places["slug"]}))
    opp = opportunities(session, ANONYMOUS, places["slug"], limit=200)
    assert opp["opportunities"]
    for o in opp["opportunities"]:
        a, b = (next(i for i in ids.values() if str(i) == o[e]["id"]) for e in ("a", "b"))
        assert frozenset((a, b)) not in linked
        assert {a, b} <= members
    # declaring one of them removes it from the next answer
    link(session, places["slug"], ids["Ferme"], ids["Épicerie"], 1, "producers_suppliers")
    again = opportunities(session, ANONYMOUS, places["slug"])
    assert ("Ferme", "Épicerie") not in _pairs(again, "producer_outlet")


def test_distance_is_from_the_shown_position(session: Session) -> None:
    """A private garden is shown at its commune's centre to a reader: the distance counts from
    there (an editor of the territory sees, and is measured from, the exact point)."""
    slug = "opp-private"
    tid = territory(session, slug)
    centre = session.execute(text("""SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom)
        AS p FROM commune WHERE code = '34301') c""")).one()
    service = actor(session, tid, "CCAS", "public_body", centre[0], centre[1] + 2 * KM_LAT)
    actor(session, tid, "Jardin de Mme X", "shared_garden", centre[0], centre[1] + 6 * KM_LAT,
          is_private=True)
    assert service
    reader = opportunities(session, ANONYMOUS, slug)["opportunities"]
    assert [o["distance_m"] for o in reader] == [pytest.approx(2000, rel=0.01)]
    assert reader[0]["a"]["lat"] == pytest.approx(centre[1])
    editor = Principal(role="editor", territory_id=tid, actor="ed")
    exact = opportunities(session, editor, slug)["opportunities"]
    assert [o["distance_m"] for o in exact] == [pytest.approx(4000, rel=0.01)]


def test_limit_is_checked(session: Session, places: dict) -> None:
    assert len(_pairs(opportunities(session, ANONYMOUS, places["slug"], limit=1),
                      "premises_for_association")) == 1
    with pytest.raises(Invalid) as err:
        opportunities(session, ANONYMOUS, places["slug"], limit=0)
    assert err.value.errors[0].field == "limit"
