"""The SQL that matters is checked with EXPLAIN on a realistic volume (rolled back after)."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench import synthetic
from carto import search
from carto.territories import TerritorySpec, create_from_communes
from carto.visibility import ANONYMOUS


def plan_nodes(session: Session, sql: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, relation or index) for every node of the plan."""
    tree = session.execute(text("EXPLAIN (FORMAT JSON) " + sql), params).scalar_one()
    nodes: list[tuple[str, str]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append((node["Node Type"], node.get("Index Name") or node.get("Relation Name", "")))
        for child in node.get("Plans", []):
            walk(child)

    walk(tree[0]["Plan"])
    return nodes


def test_a_page_filtered_by_territory_walks_indexes_not_the_table(session: Session) -> None:
    territory = create_from_communes(session, TerritorySpec(slug="plan-test", name="Plan"),
                                     ["34172"])
    synthetic.add_resources(session, territory, 20_000, seed=7)
    session.execute(text("ANALYZE resource"))
    session.execute(text("ANALYZE resource_territory"))
    flt = search.ResourceFilter(territory="plan-test", kinds=["producer"])
    first_id = session.scalar(text("SELECT resource_id FROM resource_territory "
                                   "WHERE territory_id = :t ORDER BY resource_id LIMIT 1"),
                              {"t": territory.id})
    for after in (None, first_id):
        sql, params, _ = search._page(session, ANONYMOUS, flt, 100, after)
        nodes = plan_nodes(session, sql, params)
        assert any(index == "resource_territory_territory" for _, index in nodes), nodes
        assert ("Seq Scan", "resource") not in nodes, nodes
        assert ("Seq Scan", "resource_territory") not in nodes, nodes
    page = search.list_resources_geojson(session, ANONYMOUS, flt, 100)
    assert page.returned == 100 and page.last is not None


def test_public_pages_walk_the_public_index_in_key_order(session: Session) -> None:
    """GDAL and QGIS page through every public resource (`/ogc/.../items`, `/api/resources`):
    each page is an index-only walk of resource_public_idx (migration 0009) from the cursor,
    not a walk of the primary key that reads every row from the heap to test the predicate.
    Fails if the index's predicate and `visibility.resource_predicate` drift apart.

    Asked with index-only scans the only ones left: the rows written in this transaction are
    not all-visible yet, so the planner costs an index-only scan like a walk of the primary key
    (1 % apart) or above a scan of the whole table, and what else the test worker's database
    held decided between them (a CI run chose resource_pkey). Only the public index can answer
    the page from the index alone, and only while its predicate is the readers' one."""
    territory = create_from_communes(session, TerritorySpec(slug="plan-public", name="Public"),
                                     ["34172"])
    synthetic.add_resources(session, territory, 20_000, seed=11)
    session.execute(text("ANALYZE resource"))
    middle = session.scalar(text("SELECT id FROM resource ORDER BY id OFFSET 10000 LIMIT 1"))
    for scan in ("indexscan", "bitmapscan", "seqscan"):
        session.execute(text(f"SET LOCAL enable_{scan} = off"))
    for after in (None, middle):
        sql, params, _ = search._page(session, ANONYMOUS, search.ResourceFilter(), 1000, after)
        nodes = plan_nodes(session, sql, params)
        assert ("Index Only Scan", "resource_public_idx") in nodes, nodes
        assert ("Seq Scan", "resource") not in nodes, nodes
    for scan in ("indexscan", "bitmapscan", "seqscan"):
        session.execute(text(f"RESET enable_{scan}"))
    page = search.list_resources_geojson(session, ANONYMOUS, search.ResourceFilter(), 1000,
                                         middle)
    assert page.returned == 1000 and page.last is not None and page.last > middle


def _scans(node: dict[str, Any], tables: set[str], per_row: bool) -> list[tuple[str, bool]]:
    """(table, under a SubPlan: run once per outer row) of each scan of `tables` in a plan."""
    per_row = per_row or node.get("Parent Relationship") == "SubPlan"
    found = [(node["Relation Name"], per_row)] if node.get("Relation Name") in tables else []
    for child in node.get("Plans", []):
        found += _scans(child, tables, per_row)
    return found


def test_a_page_reads_each_list_once_not_once_per_row(session: Session) -> None:
    """A page's territories, outputs and surfaces: one aggregate per table over the page's ids
    (`search._page_aggregates`), no subquery run for each of its 1,000 rows."""
    territory = create_from_communes(session, TerritorySpec(slug="plan-lists", name="Lists"),
                                     ["34172"])
    synthetic.add_resources(session, territory, 5_000, seed=13)
    session.execute(text("ANALYZE"))
    lists = {"resource_territory", "resource_output", "resource_surface"}
    sql, params = search.geojson_page_sql(session, ANONYMOUS, search.ResourceFilter(), 1000,
                                          None)
    tree = session.execute(text("EXPLAIN (FORMAT JSON) " + sql), params).scalar_one()
    scans = _scans(tree[0]["Plan"], lists, False)
    assert sorted(name for name, _ in scans) == sorted(lists), scans
    assert not [name for name, per_row in scans if per_row], scans
    page = search.list_resources_geojson(session, ANONYMOUS, search.ResourceFilter(), 1000)
    assert page.returned == 1000 and '"outputs":[{"food_group"' in page.text


def test_pages_by_territory_and_kind_are_planned_once_per_connection(session: Session) -> None:
    """psycopg prepares the page's statement after a few runs; PostgreSQL must then keep its
    generic plan instead of planning every page again (~1 ms of the page's backend CPU). With
    a bound LIMIT the generic plan guessed 10 % of the rows: past ~50,000 resources it cost
    more than the custom plans and was never chosen (`search._limit_sql`), so the page's size
    is in the text."""
    territory = create_from_communes(session, TerritorySpec(slug="plan-once", name="Once"),
                                     ["34172"])
    synthetic.add_resources(session, territory, 20_000, seed=17)
    session.execute(text("ANALYZE"))
    kinds = ["producer", "shop", "food_aid", "market"]
    sql, params = search.geojson_page_sql(
        session, ANONYMOUS, search.ResourceFilter(territory="plan-once", kinds=kinds), 100, None)
    assert "LIMIT 101" in sql and "LIMIT 100" in sql and not {"limit", "shown"} & set(params)
    for i in range(16):  # 5 runs unprepared, then 5 custom plans, then the generic one
        flt = search.ResourceFilter(territory="plan-once", kinds=[kinds[i % 4]])
        assert search.list_resources_geojson(session, ANONYMOUS, flt, 100).returned > 0
    plans = session.execute(text(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE '%WITH ahead AS MATERIALIZED%'")).one()
    assert tuple(plans) == (6, 5)


def test_a_page_runs_on_the_raw_connection_with_the_same_bytes(session: Session) -> None:
    """The page's ~6 kB statement goes through `carto.db.hot_rows`, not SQLAlchemy's execute
    (whose text() and psycopg's own parse read it again on every page: ~0.27 ms of worker CPU),
    and writes the same features as SQLAlchemy's execute of the same statement."""
    from sqlalchemy import event

    territory = create_from_communes(session, TerritorySpec(slug="plan-raw", name="Raw"),
                                     ["34172"])
    synthetic.add_resources(session, territory, 300, seed=19)
    flt = search.ResourceFilter(territory="plan-raw", kinds=["producer", "shop"])
    seen: list[str] = []

    def log(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", log)
    try:
        page = search.list_resources_geojson(session, ANONYMOUS, flt, 20)
    finally:
        event.remove(engine, "before_cursor_execute", log)
    assert not [s for s in seen if "WITH ahead" in s], seen
    sql, params = search.geojson_page_sql(session, ANONYMOUS, flt, 20, None)
    row = session.execute(text(sql), params).one()
    assert (page.text, page.returned, page.last) == (row.features, row.returned, row.last)
    assert page.returned == 20 and page.last is not None
