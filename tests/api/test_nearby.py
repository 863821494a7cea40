"""Find what is nearby (issue 5): geodesic order and radius, filters, communes, opening hours,
visibility, the query plan, and every bad input as a 400 naming its parameter.

Domain tests insert their own resources in the rolled-back `session`, around origins far from
the demo data (Norway, Brittany) unless they need French communes; API tests read the demo."""

import importlib
import math
import random
import re
import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import sql as psycopg_sql
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import nearby, opening
from carto.errors import Invalid
from carto.visibility import ADMIN, ANONYMOUS, CONTRIBUTOR, EDITOR, Principal, shown_geom

GEOD = Geod(ellps="WGS84")
PARIS = opening.TIMEZONE


def add(session: Session, lon: float, lat: float, **values: Any) -> uuid.UUID:
    """One resource, straight into the table (so tests may also write what validation
    refuses, e.g. unreadable opening hours)."""
    rid = uuid.uuid4()
    row = {
        "id": rid,
        "name": values.pop("name", f"Test {rid.hex[:6]}"),
        "kind": "producer",
        "lon": lon,
        "lat": lat,
        "products": [],
        "access": [],
        "oh": None,
        "visibility": "public",
        "moderation": "validated",
        "is_private": False,
        "status": "active",
        "commune": None,
        "address": None,
        "created_by": "test",
        "precision": "exact",
    }
    row.update(values)
    session.execute(
        text("""
        INSERT INTO resource (id, name, kind, geom, location_precision, products,
                              access_conditions, opening_hours, visibility, moderation,
                              is_private, status, commune_code, address, created_by, updated_by)
        VALUES (:id, :name, :kind, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :precision,
                :products, :access, :oh, :visibility, :moderation, :is_private, :status,
                :commune, :address, :created_by, :created_by)"""),
        row,
    )
    return rid


def query(session: Session, principal: Principal = ANONYMOUS, **params: Any) -> nearby.NearbyResult:
    raw = {k: v if isinstance(v, list) else [str(v)] for k, v in params.items()}
    return nearby.search(session, principal, nearby.parse(session, principal, raw))


def ids(result: nearby.NearbyResult) -> list[str]:
    return [f["id"] for f in result.features]


def geod_m(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    return float(GEOD.inv(lon0, lat0, lon1, lat1)[2])


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


def test_the_table_the_walk_reads_is_vacuumed_soon_after_writes(session: Session) -> None:
    """The readers' walk skips the heap only where vacuum has set the visibility map (sql.walk):
    resource is vacuumed once 1 % of its rows were inserted or changed, not autovacuum's 20 %,
    so a large import does not leave the walk to a bitmap scan for long (migration 0014)."""
    options = session.scalar(text("SELECT reloptions FROM pg_class WHERE relname = 'resource'"))
    assert {"autovacuum_vacuum_insert_scale_factor=0.01",
            "autovacuum_vacuum_scale_factor=0.01"} <= set(options or []), options


def test_kinds_that_share_a_plane_of_the_walk_stay_apart(session: Session) -> None:
    """A reader's walk of one kind runs on that kind's plane of resource_listed_walk_gist (a
    hash of the code: sql.walk, migration 0014). Two kinds whose hashes meet share a plane: the
    walk of one meets the other's entries, nearer here, and leaves them out; the count stays
    exact and the other kind is found as well."""
    session.execute(text("""
        INSERT INTO resource_kind (code, label_fr, label_en, color, icon, sort_order)
        VALUES ('plane_962', 'Plan', 'Plane', '#616161', 'circle', 98)"""))
    assert session.scalar(text("SELECT hashtext('plane_962') & 1023 = hashtext('producer') & 1023"))
    lon0, lat0 = -3.0, 48.0  # Brittany: no demo data
    sharing = [add(session, lon0 + 0.001 * i, lat0, kind="plane_962") for i in range(1, 60)]
    producers = [add(session, lon0 + 0.1 + 0.001 * i, lat0) for i in range(5)]
    result = query(session, lat=lat0, lon=lon0, radius_km=30)
    assert ids(result) == [str(p) for p in producers]
    assert result.matched == 5 and result.matched_exact
    other = query(session, lat=lat0, lon=lon0, radius_km=30, kind="plane_962", limit=60)
    assert ids(other) == [str(r) for r in sharing] and other.matched == 59


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


# ------------------------------------------------------------------ the plan


def _plan(session: Session, sql: str, params: dict[str, Any]) -> str:
    return "\n".join(session.execute(text("EXPLAIN " + sql), params).scalars())


def test_a_search_its_first_batch_settles_takes_one_statement(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first batch brings the details of its k nearest and the private persons shown near
    enough to join them (sql.first_batch_sql): one statement, one round trip; a second one
    only for the details of a private person among the nearest."""
    search_module = importlib.import_module("carto.nearby.search")
    real = search_module._rows
    statements: list[str] = []

    def counted(s: Session, sql: str, params: dict[str, Any], *rows: Any) -> list[Any]:
        statements.append(sql)
        return real(s, sql, params, *rows)

    rng = random.Random(5)
    # At Occitanie's latitude: farther north, a degree of longitude shrinks and the first batch's
    # lower bound of the unread rows (sql.first_batch_sql) settles less often in one batch.
    placed = {add(session, 10.0 + rng.uniform(-0.05, 0.05), 43.0 + rng.uniform(-0.03, 0.03),
                  address="1 Storgata")
              for _ in range(150)}
    monkeypatch.setattr(search_module, "_rows", counted)
    q = nearby.parse(session, ANONYMOUS, {"lat": ["43.0"], "lon": ["10.0"], "radius_km": ["20"]})
    result = nearby.search(session, ANONYMOUS, q)
    assert result.stats["batches"] == 1 and len(statements) == 1, statements
    assert len(result.features) == 20 and {uuid.UUID(f["id"]) for f in result.features} <= placed
    dists = [f["properties"]["distance_m"] for f in result.features]
    assert dists == sorted(dists)
    first = result.features[0]["properties"]
    assert (first["address"], first["kind_label"]) == ("1 Storgata", "Producteur·rice")

    # no commune: shown on the 0.05° grid, at the origin itself, found by the same statement
    private = add(session, 10.012, 42.991, is_private=True, address="2 Storgata")
    statements.clear()
    result = nearby.search(session, ANONYMOUS, q)
    assert len(statements) == 2 and "r.id = ANY(CAST(:ids AS uuid[]))" in statements[1], statements
    shown = result.features[0]
    assert shown["id"] == str(private) and shown["geometry"]["coordinates"] == [10.0, 43.0]
    assert (shown["properties"]["address"], shown["properties"]["distance_m"]) == (None, 0)
    assert result.matched == nearby.COUNT_CAP + 1 and len(result.features) == 20


def _generic_plan(session: Session, sql: str, params: dict[str, Any]) -> str:
    """EXPLAIN ANALYZE of `sql` as the generic plan a prepared statement settles on (psycopg
    prepares a statement after a few runs; PostgreSQL then plans it once, blind to the values)."""
    names: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    body = re.sub(r"(?<![:\w]):(\w+)", placeholder, sql)
    conn = session.connection().connection.driver_connection
    assert conn is not None
    literals = psycopg_sql.SQL(", ").join(psycopg_sql.Literal(params[n]) for n in names)
    session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    conn.execute(f"PREPARE nearby_generic AS {body}")
    try:
        run = psycopg_sql.SQL("EXPLAIN (ANALYZE, COSTS OFF) EXECUTE nearby_generic ({})").format(literals)
        return "\n".join(line for (line,) in conn.execute(run))
    finally:
        conn.execute("DEALLOCATE nearby_generic")


def test_first_batch_reads_the_details_once_in_its_generic_plan(session: Session) -> None:
    """The details of the k nearest are read once, not once per row of the batch: the generic
    plan of a prepared first batch (what /api/nearby runs after a few requests) joined the
    details' sub-query inside a nested loop over the batch, k lookups per row (on the bench's
    data twice the statement's PostgreSQL CPU). `top` and `det` are materialised."""
    rng = random.Random(8)
    for _ in range(150):
        add(session, 10.0 + rng.uniform(-0.05, 0.05), 60.0 + rng.uniform(-0.03, 0.03))
    q = nearby.parse(session, ANONYMOUS, {"lat": ["60.0"], "lon": ["10.0"], "radius_km": ["20"]})
    sql, params = nearby.first_batch_sql(ANONYMOUS, q)
    plan = _generic_plan(session, sql, params | {"n": 100})
    lookups = re.findall(r"Index (?:Only )?Scan using \w+ on resource r\b.*loops=(\d+)\)\n"
                         r"\s+Index Cond: \(id = ", plan)
    assert all(int(n) <= q.limit for n in lookups), plan
    assert "CTE Scan on det" in plan, plan
    assert not re.search(r"Seq Scan on resource\b", plan), plan


def test_first_batch_text_is_cached_by_what_it_depends_on() -> None:
    """`first_batch_sql` keeps one text per principal and query shape: for every principal and
    every combination of the filters that change the text, the kept text is the one built
    afresh for that query, so a query never runs another query's statement."""
    from carto.nearby import sql as nearby_sql

    principals = [ANONYMOUS, Principal(role=CONTRIBUTOR, territory_id=1, actor="c"),
                  Principal(role=CONTRIBUTOR, territory_id=1, actor="w", workshop_id=3),
                  Principal(role=EDITOR, territory_id=2, actor="e"), Principal(role=ADMIN)]
    texts = set()
    for principal in principals:
        for bits in range(32):
            q = nearby.NearbyQuery(
                nearby.Origin("point", 2.35, 48.85, "x",
                              resource_id=uuid.uuid4() if bits & 16 else None),
                kinds=("producer",) if bits & 1 else ("producer", "shop"),
                products=("legumes",) if bits & 2 else (),
                access=("gratuit",) if bits & 4 else (),
                territory_id=7 if bits & 8 else None)
            for _ in range(2):
                sql, params = nearby.first_batch_sql(principal, q)
                assert sql == nearby_sql._first_batch_text(principal, q)
            assert params["lon"] == 2.35 and params["k"] == q.limit
            texts.add(sql)
    assert len(texts) == len(principals) * 32


def test_explain_uses_the_gist_index(session: Session) -> None:
    """With 20,000 synthetic resources (the demo alone is too small for any planner to bother
    with an index), every nearby query reads resource through an index, never a Seq Scan."""
    from bench import synthetic

    territory = synthetic.ensure_territory(session, "nearby-plan-test", ["34"])
    synthetic.add_resources(session, territory, 20_000, seed=11)
    session.execute(text("ANALYZE resource"))
    q = nearby.parse(session, ANONYMOUS, {"commune": ["34172"]})
    seq = re.compile(r"Seq Scan on resource(\s|$)")

    # One kind: the walk reads that kind's plane of resource_listed_walk_gist (migration 0014:
    # an anonymous caller's visibility, status and privacy are its predicate; sql.walk), the
    # window an index condition, nothing tested but the kind, on the entry, and an index-only
    # scan: no heap page for the rows walked past once vacuum has set the visibility map.
    # These rows are this transaction's, not yet all-visible: PostgreSQL would price the walk's
    # heap checks against a bitmap scan of the window estimated at 0.1 % of the rows
    # (sql.walk), so the bitmap scan is ruled out here as the visibility map rules it out on a
    # vacuumed table (the 100k bench base: docs/benchmarks.md, Nearby).
    session.execute(text("SET LOCAL enable_bitmapscan = off"))
    one_kind = re.compile(r"Index Only Scan using resource_listed_walk_gist .*\n\s*Index Cond: "
                          r"\(\(point\(\(st_x\(geom\) \+ .*hashtext\(kind\).* <@ .*\n"
                          r"\s*Order By: \(\(point\(\(st_x\(geom\) .* <-> .*\n"
                          r"\s*Filter: \(kind = [^\n]*\)$(?!\n\s*Filter)", re.M)
    sql, params = nearby.candidates_sql(ANONYMOUS, q)
    plan = _plan(session, sql, params | {"n": 48, "skip": 0})
    assert one_kind.search(plan) and not seq.search(plan), plan

    sql, params = nearby.count_sql(ANONYMOUS, q)
    plan = _plan(session, sql, params)
    assert one_kind.search(plan) and not seq.search(plan), plan

    sql, params = nearby.first_batch_sql(ANONYMOUS, q)
    plan = _plan(session, sql, params | {"n": 100})
    assert one_kind.search(plan) and not seq.search(plan), plan
    # Its private persons (the 'h' rows) through their commune, as hidden_sql reads them, in
    # the plan PostgreSQL keeps once psycopg prepared the statement too.
    private = re.compile(r"Index Scan using resource_(private|commune)_idx on resource r_1\b")
    assert private.search(plan), plan
    plan = _generic_plan(session, sql, params | {"n": 100})
    assert one_kind.search(plan), plan
    assert private.search(plan) and not seq.search(plan), plan
    session.execute(text("SET LOCAL enable_bitmapscan = on"))

    # An editor sees more than that index holds: the walk is on geometry, of 0012's index.
    editor = Principal(role=EDITOR, territory_id=territory.id, actor="plan-editor")
    sql, params = nearby.first_batch_sql(editor, q)
    plan = _plan(session, sql, params | {"n": 100})
    assert re.search(r"Index Scan using resource_kind_geom_gist .*\n.*Index Cond: "
                     r".*\(kind = '.*\n\s*Order By: \(geom <->", plan), plan
    assert not seq.search(plan), plan

    # Several kinds (GiST takes no `= ANY`): still a KNN walk of a geom index, kinds filtered.
    several = nearby.parse(session, ANONYMOUS, {"commune": ["34172"], "kind": ["producer,shop"]})
    sql, params = nearby.first_batch_sql(ANONYMOUS, several)
    plan = _plan(session, sql, params | {"n": 100})
    assert re.search(r"Index Scan using resource_(kind_)?geom_gist", plan), plan
    assert "Order By: (geom <->" in plan and not seq.search(plan), plan

    hidden = nearby.hidden_params(session, q, 2_000.0)
    assert hidden["codes"] == ["34172"]  # Montpellier's centre is the only one that near
    sql, params = nearby.hidden_sql(ANONYMOUS, q)
    plan = _plan(session, sql, params | hidden)
    assert re.search("resource_(private|commune)_idx", plan) and not seq.search(plan), plan
    hidden = nearby.hidden_params(session, q, 30_000.0)
    sql, params = nearby.hidden_sql(ANONYMOUS, q, many_communes=True)
    plan = _plan(session, sql, params | hidden)
    assert re.search("resource_(private|commune)_idx", plan) and not seq.search(plan), plan

    timed = nearby.parse(session, ANONYMOUS, {"commune": ["34172"], "open_at": ["now"]})
    sql, params = nearby.hours_in_window_sql(ANONYMOUS, timed)
    plan = _plan(session, sql, params)  # the window holds most rows here: any index will do
    assert "Index" in plan and not seq.search(plan), plan
    sql, params = nearby.candidates_sql(ANONYMOUS, timed)
    plan = _plan(session, sql, params | {"n": 48, "skip": 0, "open_hours": ["24/7"]})
    assert re.search(r"resource_listed_walk_gist", plan) and not seq.search(plan), plan

    # and the answer is still the geodesic order
    result = nearby.search(session, ANONYMOUS, q)
    dists = [f["properties"]["distance_m"] for f in result.features]
    assert len(dists) == 20 and dists == sorted(dists)


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


# ------------------------------------------------------------------ the API


def test_api_answers_geojson_by_distance(client: TestClient) -> None:
    response = client.get(
        "/api/nearby", params={"commune": "Montpellier", "kind": "producer,food_aid", "radius_km": "50"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["origin"]["type"] == "commune" and body["origin"]["code"] == "34172"
    assert body["query"]["kind"] == ["producer", "food_aid"] and body["query"]["radius_km"] == 50
    dists = [f["properties"]["distance_m"] for f in body["features"]]
    assert dists == sorted(dists) and all(d % 10 == 0 and d <= 50_000 for d in dists)
    assert body["matched"] >= body["returned"] == len(body["features"]) > 0
    kinds = {f["properties"]["kind"] for f in body["features"]}
    assert kinds <= {"producer", "food_aid"}
    first = body["features"][0]["properties"]
    assert {
        "name",
        "kind_label",
        "bearing",
        "products",
        "access_conditions",
        "opening_status",
        "phone",
        "email",
        "website",
    } <= set(first)
    english = client.get("/api/nearby", params={"commune": "34172", "lang": "en"}).json()
    assert english["features"][0]["properties"]["kind_label"] == "Producer"


def test_api_point_and_resource_origins(client: TestClient) -> None:
    point = client.get("/api/nearby", params={"lat": "43.6138", "lon": "3.8251"}).json()
    assert point["origin"]["type"] == "point"
    assert (point["origin"]["lon"], point["origin"]["lat"]) == (3.8251, 43.6138)
    first = point["features"][0]["id"]
    around = client.get("/api/nearby", params={"resource": first, "kind": "producer"}).json()
    assert around["origin"]["type"] == "resource" and around["origin"]["id"] == first
    assert first not in [f["id"] for f in around["features"]]


BAD = [
    ("", "origin"),
    ("lat=43.6", "lon"),
    ("lon=3.8", "lat"),
    ("lat=43.6&lon=3.8&commune=34172", "origin"),
    ("commune=34172&resource=9c13be21-0f07-51ed-8b35-9978bb95f18b", "origin"),
    ("lat=95&lon=3.8", "lat"),
    ("lat=43.6&lon=-181", "lon"),
    ("lat=NaN&lon=3.8", "lat"),
    ("lat=43.6&lon=inf", "lon"),
    ("lat=43,6&lon=3.8", "lat"),
    ("lat=abc&lon=3.8", "lat"),
    ("commune=Atlantis", "commune"),
    ("commune=99999", "commune"),
    ("commune=", "commune"),
    ("resource=not-a-uuid", "resource"),
    ("commune=34172&radius_km=-5", "radius_km"),
    ("commune=34172&radius_km=0", "radius_km"),
    ("commune=34172&radius_km=201", "radius_km"),
    ("commune=34172&radius_km=1e9", "radius_km"),
    ("commune=34172&radius_km=nan", "radius_km"),
    ("commune=34172&limit=0", "limit"),
    ("commune=34172&limit=-3", "limit"),
    ("commune=34172&limit=ten", "limit"),
    ("commune=34172&limit=-1", "limit"),
    ("commune=34172&kind=unicorn", "kind"),
    ("commune=34172&kind=producer,", "kind"),
    ("commune=34172&product=caviar", "product"),
    ("commune=34172&access=vip", "access"),
    ("commune=34172&open_at=tomorrow", "open_at"),
    ("commune=34172&open_at=2025-07-15", "open_at"),
    ("commune=34172&open_at=2025-13-45T10:00", "open_at"),
    ("commune=34172&radius=5", "radius"),
    ("commune=34172&limit=5&limit=6", "limit"),
    ("commune=34172%00", "commune"),
]


@pytest.mark.parametrize("qs", ["resource=00000000-0000-0000-0000-000000000000",
                                "commune=34172&territory=atlantis"])
def test_a_territory_or_resource_that_is_not_there_is_a_404_naming_it(
        client: TestClient, qs: str) -> None:
    """As in every query (territories.filter_id): it names something that does not exist (or
    that this reader may not see), which no schema can know."""
    response = client.get(f"/api/nearby?{qs}")
    assert response.status_code == 404, response.text
    assert [e["field"] for e in response.json()["errors"]] == [qs.split("&")[-1].split("=")[0]]


@pytest.mark.parametrize("qs,field", BAD)
def test_bad_input_is_a_400_naming_the_parameter(client: TestClient, qs: str, field: str) -> None:
    response = client.get(f"/api/nearby?{qs}")
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], body
    assert body["status"] == 400 and body["detail"]


def test_suggestions(client: TestClient, session: Session) -> None:
    body = client.get("/api/nearby/suggest", params={"q": "pezen"}).json()
    assert body["suggestions"][0]["code"] == "34199"
    body = client.get("/api/nearby/suggest", params={"q": "Saint-Brès"}).json()
    homonyms = [s for s in body["suggestions"] if s["type"] == "commune" and s["name"] == "Saint-Brès"]
    assert sorted(s["department"] for s in homonyms) == ["30", "34"]
    assert all(s["homonym"] for s in homonyms)
    body = client.get("/api/nearby/suggest", params={"q": "celleneuve"}).json()
    types = {s["type"] for s in body["suggestions"]}
    assert {"territory", "resource"} <= types
    members = session.scalars(text("SELECT name FROM resource WHERE visibility = 'members'")).all()
    names = {s["name"] for s in body["suggestions"]}
    assert members and not names & set(members)
    for q, field in (("", "q"), ("a", "q"), ("x" * 101, "q"), (None, "q")):
        response = client.get("/api/nearby/suggest", params={} if q is None else {"q": q})
        assert response.status_code == 400 and response.json()["errors"][0]["field"] == field
    assert client.get("/api/nearby/suggest", params={"q": "mont", "limit": "0"}).status_code == 400


def test_page_is_french_and_carries_its_config(client: TestClient) -> None:
    html = client.get("/nearby").text
    assert '<html lang="fr">' in html and "Trouver à proximité" in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/js/nearby.js" in html
    assert not re.search(r"""<(script|link)[^>]+(src|href)=["']https?://""", html)
    assert "Ma position" in html
    assert "Nearby" in client.get("/nearby?lang=en").text
    for path in ("/static/js/nearby.js", "/static/css/nearby.css", "/static/vendor/leaflet/leaflet.js"):
        assert client.get(path).status_code == 200, path


def test_api_runs_on_the_event_loop_engine(client: TestClient) -> None:
    """/api/nearby takes its connection from the app's async engine (no pool thread, no sync
    pool checkout); the domain code is the same as in-process."""
    from sqlalchemy import event

    from carto.db import get_engine

    app: Any = client.app
    checkouts = {"async": 0, "sync": 0}

    def counter(name: str) -> Any:
        def count(*_: Any) -> None:
            checkouts[name] += 1

        return count

    async_listener, sync_listener = counter("async"), counter("sync")
    sync_engine = app.state.engine
    assert sync_engine is get_engine(app.state.database_url)
    event.listen(app.state.async_engine.sync_engine.pool, "checkout", async_listener)
    event.listen(sync_engine.pool, "checkout", sync_listener)
    try:
        response = client.get("/api/nearby", params={"commune": "Frontignan", "kind": "producer"})
    finally:
        event.remove(app.state.async_engine.sync_engine.pool, "checkout", async_listener)
        event.remove(sync_engine.pool, "checkout", sync_listener)
    assert response.status_code == 200, response.text
    assert response.json()["features"]
    assert checkouts == {"async": 1, "sync": 0}


def test_api_database_down_or_busy_is_a_503(monkeypatch: pytest.MonkeyPatch, migrated: str) -> None:
    from api.main import create_app
    from carto.config import database_settings

    with TestClient(create_app("postgresql://nobody@127.0.0.1:1/none")) as down:
        response = down.get("/api/nearby", params={"lat": "43.6", "lon": "3.9"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")

    # one connection, held elsewhere: the request waits async_pool_timeout, then says so
    monkeypatch.setenv("ASYNC_POOL_SIZE", "1")
    monkeypatch.setenv("ASYNC_POOL_TIMEOUT", "0.3")
    database_settings.cache_clear()
    try:
        with TestClient(create_app(migrated)) as busy:
            app: Any = busy.app
            held = busy.portal.call(app.state.async_engine.connect().start)
            try:
                response = busy.get("/api/nearby", params={"lat": "43.6", "lon": "3.9"})
            finally:
                busy.portal.call(held.close)
            assert response.status_code == 503
            assert response.headers["retry-after"] == "2"
            assert busy.get("/api/nearby", params={"lat": "43.6", "lon": "3.9"}).status_code == 200
    finally:
        database_settings.cache_clear()


def test_api_reads_on_the_one_connection_it_holds(monkeypatch: pytest.MonkeyPatch,
                                                  migrated: str) -> None:
    """carto.db.read_on_async: the statements a request sends through SQLAlchemy (the commune
    origin, the territory) and those sent by hand on the psycopg connection (the walk) share
    the one connection it took; a pool of one connection answers each of them at once."""
    from api.main import create_app
    from carto.config import database_settings

    monkeypatch.setenv("ASYNC_POOL_SIZE", "1")
    monkeypatch.setenv("ASYNC_POOL_TIMEOUT", "0.3")
    database_settings.cache_clear()
    try:
        with TestClient(create_app(migrated)) as one:
            for _ in range(3):
                found = one.get("/api/nearby", params={"commune": "34172", "radius_km": "50"})
                assert found.status_code == 200, found.text
                assert found.json()["origin"]["code"] == "34172"
                missing = one.get("/api/nearby", params={"lat": "43.6", "lon": "3.9",
                                                         "territory": "nowhere"})
                assert missing.status_code == 404
                assert [e["field"] for e in missing.json()["errors"]] == ["territory"]
    finally:
        database_settings.cache_clear()


def test_statements_are_numbered_once_for_psycopg() -> None:
    """`carto.db.hot_rows` hands psycopg `$n` placeholders (a RawCursor: no parse per run): a
    name used twice is one parameter, a literal `%` and an escaped colon stay as written."""
    from carto.db import _positional

    query, names = _positional("SELECT :a, :b, :a, 'x%y', 'h\\:m'")
    assert (query, names) == (b"SELECT $1, $2, $1, 'x%y', 'h:m'", ("a", "b"))
