"""A territory's resources and links as a given principal may see them (pages, maps)."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.visibility import ANONYMOUS, Principal, link_predicate, resource_predicate, shown_precision


def territory_resources(
    session: Session, territory_id: int, principal: Principal = ANONYMOUS
) -> list[dict[str, Any]]:
    visible, params = resource_predicate(principal, "r")
    sql = f"""
        SELECT r.id, r.name, r.kind, r.description, r.commune_code, c.name AS commune_name,
               r.products, r.illustrative, {shown_precision(principal, "r")} AS location_precision
        FROM resource r
        JOIN resource_territory rt ON rt.resource_id = r.id
        LEFT JOIN commune c ON c.code = r.commune_code
        WHERE rt.territory_id = :territory_id AND {visible}
        ORDER BY r.kind, r.name, r.id"""
    rows = session.execute(text(sql), params | {"territory_id": territory_id}).mappings()
    return [dict(r) for r in rows]


def territory_links(
    session: Session, territory_id: int, principal: Principal = ANONYMOUS
) -> list[dict[str, Any]]:
    visible, params = link_predicate(principal, "l", "s", "t")
    sql = f"""
        SELECT l.id, l.category, l.level, l.description, l.stakes, l.directed,
               s.id AS source_id, s.name AS source_name, s.kind AS source_kind,
               t.id AS target_id, t.name AS target_name, t.kind AS target_kind
        FROM link l
        JOIN resource s ON s.id = l.source_id
        JOIN resource t ON t.id = l.target_id
        WHERE l.territory_id = :territory_id AND {visible}
        ORDER BY l.category, l.level DESC, s.name, t.name"""
    rows = session.execute(text(sql), params | {"territory_id": territory_id}).mappings()
    return [dict(r) for r in rows]
