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
    rows, nxt = search.list_resources_geojson(session, ANONYMOUS, flt, 100)
    assert len(rows) == 100 and nxt is not None
