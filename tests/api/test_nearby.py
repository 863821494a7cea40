"""Find what is nearby (issue 5): geodesic order and radius, filters, communes, opening hours,
visibility (the walk's plans: test_nearby_plans.py; over HTTP: test_nearby_api.py).

Domain tests insert their own resources in the rolled-back `session`, around origins far from
the demo data (Norway, Brittany) unless they need French communes; API tests read the demo."""

import math
import random
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import nearby, opening
from carto.errors import Invalid
from carto.visibility import ADMIN, ANONYMOUS, CONTRIBUTOR, EDITOR, Principal, shown_geom
from tests.nearbyworld import GEOD, add, geod_m, ids, query

PARIS = opening.TIMEZONE


# ------------------------------------------------------------------ geometry bounds


def test_window_bounds_hold_for_random_points() -> None:
    """The box contains the whole geodesic circle, and m_min / m_max bound metres per degree:
    the proof the KNN loop relies on, checked against pyproj."""
    rnd = random.Random(5)
    for _ in range(400):
        lon0, lat0 = rnd.uniform(-170, 170), rnd.uniform(-75, 75)
        radius = rnd.choice([50.0, 2_000.0, 30_000.0, 200_000.0])
        win = nearby.window(lon0, lat0, radius)
        az = rnd.uniform(0, 360)
        lon1, lat1, _ = GEOD.fwd(lon0, lat0, az, radius * rnd.uniform(0.0, 1.0))
        assert win.minx <= lon1 <= win.maxx and win.miny <= lat1 <= win.maxy
        edge_lon, edge_lat, _ = GEOD.fwd(lon0, lat0, az, radius)
        assert win.minx <= edge_lon <= win.maxx and win.miny <= edge_lat <= win.maxy
        x, y = rnd.uniform(win.minx, win.maxx), rnd.uniform(win.miny, win.maxy)
        planar = math.hypot(x - lon0, y - lat0)
        metres = geod_m(lon0, lat0, x, y)
        if metres <= radius:  # the bounds are claimed inside the circle
            assert planar * win.m_min <= metres + 1e-6
            assert metres <= planar * win.m_max + 1e-6


def test_bearing_and_rounding() -> None:
    assert [nearby.bearing(a) for a in (0, 22.4, 22.6, 90, 135, 180, 225, 270, 315, 359)] == [
        "N",
        "N",
        "NE",
        "E",
        "SE",
        "S",
        "SW",
        "W",
        "NW",
        "N",
    ]
    assert nearby.bearing(-90) == "W" and nearby.bearing(None) is None
    assert [nearby.round_distance(d) for d in (0, 4.9, 5.1, 1234.4, 29_995.0)] == [0, 0, 10, 1230, 30_000]


# ------------------------------------------------------------------ order and radius


@pytest.mark.parametrize("lon0,lat0", [(10.0, 60.0), (-1.6, 47.2)])
def test_order_matches_pyproj_for_random_points(session: Session, lon0: float, lat0: float) -> None:
    rnd = random.Random(int(lat0))
    points = {}
    for _ in range(150):
        lon = lon0 + rnd.uniform(-0.8, 0.8)
        lat = lat0 + rnd.uniform(-0.45, 0.45)
        points[str(add(session, lon, lat))] = geod_m(lon0, lat0, lon, lat)
    radius_km = 40
    within = sorted((d, i) for i, d in points.items() if d <= radius_km * 1000)
    result = query(session, lat=lat0, lon=lon0, radius_km=radius_km, limit=60)
    assert ids(result) == [i for _, i in within[:60]]
    for feature, (d, _) in zip(result.features, within, strict=False):
        assert abs(feature["properties"]["distance_m"] - d) <= 5.01
        azimuth = GEOD.inv(lon0, lat0, *feature["geometry"]["coordinates"])[0]
        assert feature["properties"]["bearing"] == nearby.bearing(azimuth)
    assert result.matched == len(within) and result.matched_exact
    few = query(session, lat=lat0, lon=lon0, radius_km=radius_km, limit=5)  # several batches
    assert ids(few) == [i for _, i in within[:5]]
    # distances only grow along the list
    dists = [f["properties"]["distance_m"] for f in result.features]
    assert dists == sorted(dists)


def test_geodesic_order_is_not_degree_order(session: Session) -> None:
    """At 60° N, 7 km east is 0.126° away and 7.5-9 km north 0.067-0.081°: the KNN operator
    meets the hundred northern points first (more than a first batch), but the eastern one is
    nearer and must come first."""
    lon0, lat0 = 10.0, 60.0
    east = add(session, *GEOD.fwd(lon0, lat0, 90, 7_000)[:2], name="east")
    north = [add(session, *GEOD.fwd(lon0, lat0, -5 + i / 10, 7_500 + i * 15)[:2]) for i in range(100)]
    east_deg = abs(GEOD.fwd(lon0, lat0, 90, 7_000)[0] - lon0)
    north_deg = abs(GEOD.fwd(lon0, lat0, 0, 9_000)[1] - lat0)
    assert east_deg > north_deg  # in degrees every northern point is nearer
    result = query(session, lat=lat0, lon=lon0, limit=1)
    assert ids(result) == [str(east)]
    assert result.matched == 101
    result = query(session, lat=lat0, lon=lon0, limit=3)
    assert ids(result) == [str(east), str(north[0]), str(north[1])]
    assert [f["properties"]["bearing"] for f in result.features] == ["E", "N", "N"]


def test_radius_is_respected_at_its_edge(session: Session) -> None:
    lon0, lat0 = -1.6, 47.2
    radius = 12_345.0
    inside, outside = [], []
    for az in range(0, 360, 30):
        inside.append(str(add(session, *GEOD.fwd(lon0, lat0, az, radius - 1.0)[:2])))
        outside.append(str(add(session, *GEOD.fwd(lon0, lat0, az + 15, radius + 1.0)[:2])))
    result = query(session, lat=lat0, lon=lon0, radius_km=radius / 1000, limit=200)
    assert sorted(ids(result)) == sorted(inside)
    assert result.matched == len(inside) and result.matched_exact
    assert all(f["properties"]["distance_m"] == 12_340 for f in result.features)
    wider = query(session, lat=lat0, lon=lon0, radius_km=(radius + 2) / 1000, limit=200)
    assert sorted(ids(wider)) == sorted(inside + outside)


def test_count_is_a_lower_bound_past_the_cap(session: Session) -> None:
    lon0, lat0 = 10.0, 60.0
    rnd = random.Random(1)
    for _ in range(nearby.COUNT_CAP + 40):
        add(session, *GEOD.fwd(lon0, lat0, rnd.uniform(0, 360), rnd.uniform(0, 5_000))[:2])
    capped = query(session, lat=lat0, lon=lon0, radius_km=6, limit=10)
    assert len(capped.features) == 10
    assert not capped.matched_exact and capped.matched == nearby.COUNT_CAP
    # Twice the limit when that is more: the walk that finds the page counts, no further.
    page = query(session, lat=lat0, lon=lon0, radius_km=6, limit=30)
    assert not page.matched_exact and page.matched == 60 and page.stats["read"] == 60
    exact = query(session, lat=lat0, lon=lon0, radius_km=6, limit=200)
    assert exact.matched_exact and exact.matched == nearby.COUNT_CAP + 40


# ------------------------------------------------------------------ filters


def test_filters_combine(session: Session) -> None:
    lon0, lat0 = -1.6, 47.2
    tid = session.scalar(text("SELECT id FROM territory WHERE slug = 'frontignan'"))
    rows: dict[str, dict[str, Any]] = {}
    rnd = random.Random(3)
    for i in range(80):
        spec = {
            "kind": rnd.choice(["producer", "food_aid", "social_grocery", "market"]),
            "products": rnd.sample(["vegetables", "fruits", "eggs", "dairy"], rnd.randint(0, 2)),
            "access": rnd.sample(["unconditional", "referral", "price"], rnd.randint(0, 1)),
            "in_territory": i % 3 == 0,
        }
        lon, lat, _ = GEOD.fwd(lon0, lat0, rnd.uniform(0, 360), rnd.uniform(0, 9_000))
        rid = add(session, lon, lat, kind=spec["kind"], products=spec["products"], access=spec["access"])
        if spec["in_territory"]:
            session.execute(text("INSERT INTO resource_territory VALUES (:r, :t)"), {"r": rid, "t": tid})
        rows[str(rid)] = spec | {"d": geod_m(lon0, lat0, lon, lat)}

    def expect(pred: Any) -> list[str]:
        return [i for i, s in sorted(rows.items(), key=lambda kv: kv[1]["d"]) if pred(s)]

    cases = [
        ({}, lambda s: s["kind"] == "producer"),
        ({"kind": ["food_aid", "social_grocery"]}, lambda s: s["kind"] in ("food_aid", "social_grocery")),
        (
            {"kind": ["food_aid,market"], "access": "unconditional"},
            lambda s: s["kind"] in ("food_aid", "market") and "unconditional" in s["access"],
        ),
        (
            {"kind": ["producer", "market"], "product": ["eggs", "dairy"]},
            lambda s: s["kind"] in ("producer", "market") and {"eggs", "dairy"} & set(s["products"]),
        ),
        (
            {
                "kind": ["producer", "food_aid", "social_grocery", "market"],
                "product": "vegetables",
                "territory": "frontignan",
            },
            lambda s: "vegetables" in s["products"] and s["in_territory"],
        ),
    ]
    for params, pred in cases:
        result = query(session, lat=lat0, lon=lon0, radius_km=10, limit=200, **params)
        assert ids(result) == expect(pred), params
        assert result.matched == len(expect(pred))


def test_labels_are_in_the_request_language(session: Session) -> None:
    """Product and access labels come from the vocabularies in the asked language, in the
    row's order."""
    add(session, 3.1, 45.1, products=["fruits", "vegetables"], access=["referral"])
    for lang, fruits, vegetables, referral in (
        ("fr", "Fruits", "Légumes", "Sur orientation d'un·e travailleur·se social·e"),
        ("en", "Fruits", "Vegetables", "Referral by a social worker"),
    ):
        [feature] = query(session, lat="45.1", lon="3.1", radius_km="1", lang=lang).features
        props = feature["properties"]
        assert props["product_labels"] == [fruits, vegetables]
        assert props["access_labels"] == [referral]


def test_nearest_matching_found_beyond_many_nearer_non_matching(session: Session) -> None:
    """Filters apply before LIMIT: 300 nearer closed places do not hide the open one."""
    lon0, lat0 = 10.0, 60.0
    for i in range(300):
        add(session, *GEOD.fwd(lon0, lat0, i % 360, 100 + i * 10)[:2], oh="Mo-Fr 09:00-12:00")
    far_open = add(session, *GEOD.fwd(lon0, lat0, 45, 8_000)[:2], oh="Sa 00:00-24:00")
    result = query(session, lat=lat0, lon=lon0, radius_km=10, open_at="2025-07-19T15:00")
    assert ids(result) == [str(far_open)]
    assert result.matched == 1 and result.without_hours == 0
    assert result.closed == nearby.COUNT_CAP and not result.without_hours_exact  # up to the cap


# ------------------------------------------------------------------ opening hours

MOMENTS = {
    "tuesday 10:00": "2025-07-15T10:00",
    "bastille day 10:00": "2025-07-14T10:00",  # a Monday and a public holiday in France
    "saturday 01:00": "2025-07-19T01:00",
    "sunday 01:00": "2025-07-20T01:00",
    "sunday 03:00": "2025-07-20T03:00",
    "tuesday 07:30 UTC": "2025-07-15T07:30:00Z",  # 09:30 in Paris
    "tuesday 10:30 UTC": "2025-07-15T10:30:00+00:00",  # 12:30 in Paris
}
HOURS = {
    "weekday mornings": "Mo-Fr 09:00-12:00",
    "weekday mornings, not holidays": "Mo-Fr 09:00-12:00; PH off",
    "friday and saturday nights": "Fr-Sa 22:00-02:00",
    "always": "24/7",
}
OPEN = {
    "tuesday 10:00": {"weekday mornings", "weekday mornings, not holidays", "always"},
    "bastille day 10:00": {"weekday mornings", "always"},
    "saturday 01:00": {"friday and saturday nights", "always"},
    "sunday 01:00": {"friday and saturday nights", "always"},
    "sunday 03:00": {"always"},
    "tuesday 07:30 UTC": {"weekday mornings", "weekday mornings, not holidays", "always"},
    "tuesday 10:30 UTC": {"always"},
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_open_at_with_osm_hours(session: Session, moment: str) -> None:
    lon0, lat0 = -1.6, 47.2
    by_id = {}
    for i, (label, expr) in enumerate(HOURS.items()):
        by_id[str(add(session, *GEOD.fwd(lon0, lat0, 10, 500 + 100 * i)[:2], oh=expr))] = label
    add(session, *GEOD.fwd(lon0, lat0, 20, 300)[:2], oh=None)
    add(session, *GEOD.fwd(lon0, lat0, 30, 400)[:2], oh="not (valid hours")  # bypasses checks
    result = query(session, lat=lat0, lon=lon0, radius_km=5, open_at=MOMENTS[moment])
    assert {by_id[i] for i in ids(result)} == OPEN[moment]
    assert result.matched == len(OPEN[moment])
    assert result.without_hours == 2  # no hours, unreadable hours: counted apart
    assert result.closed == len(HOURS) - len(OPEN[moment])  # gave hours, closed then
    assert result.as_geojson()["closed"] == result.closed
    assert all(f["properties"]["open"] is True for f in result.features)
    without = query(session, lat=lat0, lon=lon0, radius_km=5)
    assert without.matched == 6 and without.without_hours is None


def test_opening_sentences() -> None:
    tuesday = datetime(2025, 7, 15, 10, 0, tzinfo=PARIS)
    assert opening.describe("Mo-Fr 09:00-12:00", tuesday) == "Ouvert jusqu'à 12:00"
    assert (
        opening.describe("Mo-Fr 09:00-12:00", datetime(2025, 7, 15, 13, 0)) == "Fermé · ouvre demain à 09:00"
    )
    assert (
        opening.describe("Mo-Fr 09:00-12:00; PH off", datetime(2025, 7, 13, 15, 0))
        == "Fermé · ouvre mardi à 09:00"
    )  # Monday the 14th of July is a holiday
    assert opening.describe("Fr-Sa 22:00-02:00", datetime(2025, 7, 18, 23, 0)) == "Ouvert jusqu'à 02:00"
    assert opening.describe("24/7", tuesday) == "Ouvert"
    assert opening.describe(None, tuesday) == "Horaires non renseignés"
    assert (
        opening.describe("Mo-Fr 09:00-12:00", datetime(2025, 7, 15, 13, 0), "en")
        == "Closed · opens tomorrow at 09:00"
    )
    assert opening.next_opening("Mo 10:00-11:00", tuesday) == datetime(2025, 7, 21, 10, 0, tzinfo=PARIS)
    assert opening.is_open("garbage ((", tuesday) is None


def test_opening_status_is_one_answer_per_minute() -> None:
    """`status` (cached per minute) says what the four separate functions say, to the second."""
    expressions = ["Mo-Fr 09:00-12:00", "Mo-Fr 09:00-12:00,14:00-18:00; PH off", "Fr-Sa 22:00-02:00",
                   "24/7", "Mo 10:00-11:00", "garbage ((", None, ""]
    moments = [datetime(2025, 7, 15, 11, 59, 59, tzinfo=PARIS), datetime(2025, 7, 15, 12, 0, 0, tzinfo=PARIS),
               datetime(2025, 7, 14, 10, 30, 15), datetime(2025, 7, 19, 1, 59, 30, tzinfo=PARIS),
               datetime(2025, 7, 19, 0, 0, 1, tzinfo=PARIS)]
    for expression in expressions:
        for moment in moments:
            for lang in ("fr", "en"):
                state = opening.status(expression, moment, lang)
                assert state.open == opening.is_open(expression, moment)
                assert state.next_opening == opening.next_opening(expression, moment)
                assert state.closes_at == opening.closes_at(expression, moment)
                assert state.text == opening.describe(expression, moment, lang)
    # a minute's last second and the next minute's first differ where the hours change
    assert opening.status("Mo-Fr 09:00-12:00", moments[0]).text == "Ouvert jusqu'à 12:00"
    assert opening.status("Mo-Fr 09:00-12:00", moments[1]).text == "Fermé · ouvre demain à 09:00"


def test_open_now_is_accepted(session: Session) -> None:
    add(session, -1.6, 47.2001, oh="24/7")
    result = query(session, lat=47.2, lon=-1.6, open_at="now")
    assert len(result.features) == 1 and result.query.open_at is not None


# ------------------------------------------------------------------ visibility


def test_visibility_pending_members_private(session: Session) -> None:
    """Pending, members-only, deleted, rejected and draft rows never show to a reader; a
    private person is placed, measured and filtered at the commune's centre."""
    commune = (
        session.execute(
            text("""
        SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
        FROM commune WHERE code = '34284'""")
        )
        .mappings()
        .one()
    )  # Saint-Pons-de-Thomières
    tid = session.scalar(text("SELECT id FROM territory WHERE slug = 'pezenas'"))
    cx, cy = float(commune["lon"]), float(commune["lat"])
    # the private person really lives 3 km north-east of the centre
    px, py, _ = GEOD.fwd(cx, cy, 45, 3_000)
    public = add(session, cx, cy, name="public")
    hidden = {
        "pending": add(session, cx, cy, moderation="pending", created_by="token:9:someone"),
        "members": add(session, cx, cy, visibility="members"),
        "rejected": add(session, cx, cy, moderation="rejected"),
        "draft": add(session, cx, cy, status="draft"),
    }
    deleted = add(session, cx, cy)
    session.execute(text("UPDATE resource SET deleted_at = now() WHERE id = :i"), {"i": deleted})
    private = add(
        session, px, py, is_private=True, commune="34284", address="12 rue secrète", name="Une habitante"
    )
    session.execute(text("UPDATE resource SET phone = '06 00 00 00 00', email = 'h@example.org' "
                         "WHERE id = :i"), {"i": private})
    for rid in [*hidden.values(), private]:
        session.execute(text("INSERT INTO resource_territory VALUES (:r, :t)"), {"r": rid, "t": tid})

    reader = query(session, lat=py, lon=px, radius_km=50, limit=200)
    assert set(ids(reader)) == {str(public), str(private)}
    shown = next(f for f in reader.features if f["id"] == str(private))
    assert shown["geometry"]["coordinates"] == [round(cx, 6), round(cy, 6)]
    assert shown["properties"]["location_precision"] == "commune"
    assert shown["properties"]["address"] is None
    assert shown["properties"]["phone"] is None and shown["properties"]["email"] is None
    assert abs(shown["properties"]["distance_m"] - geod_m(px, py, cx, cy)) <= 5.01
    assert reader.matched == 2

    # Standing on the real home with a 1 km radius finds nothing: the centre is 3 km away.
    assert ids(query(session, lat=py, lon=px, radius_km=1)) == []
    # The radius edge answers for the centre, never for the home.
    near_centre = query(session, lat=cy, lon=cx, radius_km=0.05, limit=200)
    assert str(private) in ids(near_centre)
    as_origin = query(session, resource=str(private), radius_km=1)
    assert as_origin.query.origin.lon == pytest.approx(cx) and ids(as_origin) == [str(public)]

    # A contributor of the territory sees members-only rows (and its own pending ones).
    contributor = Principal(role=CONTRIBUTOR, territory_id=tid, actor="token:9:someone")
    seen = set(ids(query(session, contributor, lat=cy, lon=cx, radius_km=5, limit=200)))
    assert {str(hidden["members"]), str(hidden["pending"])} <= seen
    assert str(hidden["rejected"]) not in seen and str(deleted) not in seen
    # An editor of the territory sees the private person where they are.
    editor = Principal(role=EDITOR, territory_id=tid, actor="token:10:ed")
    exact = query(session, editor, lat=py, lon=px, radius_km=1)
    assert ids(exact) == [str(private)] and exact.features[0]["properties"]["distance_m"] == 0
    assert exact.features[0]["properties"]["address"] == "12 rue secrète"


def test_own_position_matches_shown_geom(session: Session) -> None:
    """`carto.nearby` reads rows at their own position by KNN and the others through their
    commune; its cheap predicate must agree with `shown_geom`, principal by principal."""
    tid = session.scalar(text("SELECT id FROM territory WHERE slug = 'pezenas'"))
    mine = add(session, 3.4213, 43.4617, is_private=True, commune="34199")
    session.execute(text("INSERT INTO resource_territory VALUES (:r, :t)"), {"r": mine, "t": tid})
    add(session, 3.913, 43.617, is_private=True, commune="34172")
    add(session, 3.913, 43.617, is_private=True)  # no commune: shown on the 0.05° grid
    for principal in (
        ANONYMOUS,
        Principal(role=CONTRIBUTOR, territory_id=tid, actor="x"),
        Principal(role=EDITOR, territory_id=tid, actor="y"),
        Principal(role=ADMIN, actor="z"),
    ):
        disagree = session.scalar(
            text(f"""
            SELECT count(*) FROM resource r
            WHERE (({shown_geom(principal, "r")}) = r.geom) IS DISTINCT FROM
                  ({nearby._at_own_position(principal)})"""),
            {"vis_territory": principal.territory_id, "vis_actor": principal.actor},
        )
        assert disagree == 0, principal


# ------------------------------------------------------------------ communes


def test_commune_lookup_with_and_without_accents(session: Session) -> None:
    for value in ("Pézenas", "pezenas", "PEZENAS", " pézenas ", "34199", "Pézenas (34)"):
        origin = nearby.commune_origin(session, value)
        assert (origin.code, origin.department, origin.label) == ("34199", "34", "Pézenas (34)")
    assert nearby.commune_origin(session, "saint-flour-de-mercoire").code == "48150"
    with pytest.raises(Invalid) as err:
        nearby.commune_origin(session, "Atlantis")
    assert err.value.errors[0].field == "commune"


def test_ambiguous_commune_lists_candidates(client: TestClient, session: Session) -> None:
    homonyms = (
        session.execute(
            text("""
        SELECT min(name) AS name, array_agg(department ORDER BY department) AS deps
        FROM commune GROUP BY name_key HAVING count(DISTINCT department) > 1
        ORDER BY name_key LIMIT 3""")
        )
        .mappings()
        .all()
    )
    assert homonyms, "the four departments have homonym communes"
    for row in homonyms:
        response = client.get("/api/nearby", params={"commune": row["name"].lower()})
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["errors"][0]["field"] == "commune"
        assert sorted(c["department"] for c in body["candidates"]) == row["deps"]
        for dep in row["deps"]:
            assert f"({dep}" in body["errors"][0]["message"]
        picked = client.get("/api/nearby", params={"commune": f"{row['name']} ({row['deps'][0]})"})
        assert picked.status_code == 200
        assert picked.json()["origin"]["department"] == row["deps"][0]
