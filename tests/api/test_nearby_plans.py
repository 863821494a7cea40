"""Find what is nearby (issue 5): the walk and its statements. The readers' index-only walk
on its kind's plane (migration 0014), the plans PostgreSQL keeps for them, one statement per
settled search, and the statement cache."""

import importlib
import random
import re
import uuid
from typing import Any

import pytest
from psycopg import sql as psycopg_sql
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import nearby
from carto.visibility import ADMIN, ANONYMOUS, CONTRIBUTOR, EDITOR, Principal
from tests.nearbyworld import add, ids, query


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
