"""The indicators as flat tables (one CSV each), the network for Gephi users (GEXF, GraphML),
and the territories side by side, the way the programme's document compares them."""

import io
from collections.abc import Mapping
from datetime import date
from typing import Any

import networkx as nx
from sqlalchemy.orm import Session

from carto import vocab
from carto.errors import FieldError, Invalid, NotFound
from carto.i18n import msg, t
from carto.indicators import measures
from carto.indicators.snapshot import Snapshot, snapshot
from carto.visibility import Principal

Table = tuple[list[str], list[dict[str, Any]]]
LEVEL_COLUMNS = [f"level_{lv}" for lv in vocab.levels()]

# The programme's six territories, in the document's order (Marvejols is part of the
# Haut-Allier work in the document, not a seventh territory).
PROGRAMME = ("frontignan", "vauvert", "pezenas", "montpellier-celleneuve", "haut-allier",
             "montpellier-centre")
MAX_COMPARED = 12


Kinds = Mapping[str, vocab.Term]  # vocab.resource_kinds(session): the table, admins' labels


def _kind(code: str, lang: str, kinds: Kinds) -> str:
    term = kinds.get(code)
    return term.label(lang) if term else code


def _levels(counts: dict[int, int]) -> dict[str, int]:
    return {f"level_{lv}": counts.get(lv, 0) for lv in vocab.levels()}


def indicator_tables(ind: dict[str, Any], snap: Snapshot, lang: str,
                     kinds: Kinds) -> dict[str, Table]:
    """Every table of the indicators page: summary, matrix, resources, kind_pairs, actors."""
    summary = [{"indicator": key, "label": t(f"indicators.scalar.{key}", lang), "value": value}
               for key, value in measures.scalars(ind).items()]
    matrix = [{"category": c, "category_label": vocab.categories()[c].label(lang),
               **_levels(row), "total": sum(row.values())}
              for c, row in ind["links"]["matrix"].items()]
    resources = [{"kind": k, "kind_label": _kind(k, lang, kinds), "count": n}
                 for k, n in ind["resources"]["by_kind"].items()]
    pairs = [{"kind_a": p["kinds"][0], "kind_a_label": _kind(p["kinds"][0], lang, kinds),
              "kind_b": p["kinds"][1], "kind_b_label": _kind(p["kinds"][1], lang, kinds),
              "total": p["total"], **_levels(p["by_level"]),
              "strong_share": round(p["strong_share"], 4)} for p in ind["kind_pairs"]]
    return {
        "summary": (["indicator", "label", "value"], summary),
        "matrix": (["category", "category_label", *LEVEL_COLUMNS, "total"], matrix),
        "resources": (["kind", "kind_label", "count"], resources),
        "kind_pairs": (["kind_a", "kind_a_label", "kind_b", "kind_b_label", "total",
                        *LEVEL_COLUMNS, "strong_share"], pairs),
        "actors": actors_table(snap, lang, kinds),
    }


def actors_table(snap: Snapshot, lang: str, kinds: Kinds) -> Table:
    """Every actor with its partners, links, strongest level, betweenness and component (0 for
    the isolated): who bridges, who is not yet part of the network."""
    g = measures.graph(snap)
    bt = measures.betweenness(g).values
    component: dict[Any, int] = {}
    for i, nodes in enumerate(sorted((c for c in nx.connected_components(g) if len(c) > 1),
                                     key=len, reverse=True), start=1):
        component |= dict.fromkeys(nodes, i)
    rows = []
    for node, data in g.nodes(data=True):
        edges = list(g.edges(node, data=True))
        rows.append({"id": str(node), "name": data["name"], "kind": data["kind"],
                     "kind_label": _kind(data["kind"], lang, kinds),
                     "partners": len(edges),
                     "links": sum(e["links"] for _, _, e in edges),
                     "max_level": max((e["level"] for _, _, e in edges), default=""),
                     "betweenness": round(bt.get(node, 0.0), 6),
                     "component": component.get(node, 0)})
    rows.sort(key=lambda r: (-r["partners"], r["name"], r["id"]))
    return (["id", "name", "kind", "kind_label", "partners", "links", "max_level", "betweenness",
             "component"], rows)


def evolution_tables(evo: dict[str, Any], lang: str) -> dict[str, Table]:
    changes = []
    for change in ("created", "ended", "moved_up", "moved_down"):
        for row in evo[change]:
            changes.append({
                "change": change, "change_label": t(f"evolution.change.{change}", lang),
                "link_id": row["id"], "category": row["category"],
                "source_id": row["source"]["id"], "source_name": row["source"]["name"],
                "target_id": row["target"]["id"], "target_name": row["target"]["name"],
                "from_level": row.get("from_level", row["level"] if change == "ended" else ""),
                "to_level": row.get("to_level", row["level"] if change == "created" else "")})
    indicators = [{"indicator": k, "label": t(f"indicators.scalar.{k}", lang), **v}
                  for k, v in evo["indicators"].items()]
    return {
        "changes": (["change", "change_label", "link_id", "category", "source_id", "source_name",
                     "target_id", "target_name", "from_level", "to_level"], changes),
        "indicators": (["indicator", "label", "from", "to", "change"], indicators),
    }


def opportunity_table(opp: dict[str, Any]) -> Table:
    rows = [{"rule": o["rule"], "rule_label": o["rule_label"], "category": o["category"],
             "distance_m": o["distance_m"], "why": o["why"],
             "a_id": o["a"]["id"], "a_name": o["a"]["name"], "a_kind": o["a"]["kind"],
             "b_id": o["b"]["id"], "b_name": o["b"]["name"], "b_kind": o["b"]["kind"]}
            for o in opp["opportunities"]]
    return (["rule", "rule_label", "category", "distance_m", "why", "a_id", "a_name", "a_kind",
             "b_id", "b_name", "b_kind"], rows)


def network_file(snap: Snapshot, fmt: str) -> bytes:
    """The network as GEXF 1.2 or GraphML, for Gephi: actors with name, kind and the position
    the principal is shown; one edge per linked pair with its strongest level."""
    g = measures.graph(snap)
    out = nx.Graph(name=f"{snap.name} — {snap.at.isoformat()}")
    for node, data in g.nodes(data=True):
        attrs = {"label": data["name"], "kind": data["kind"]}
        if data["lon"] is not None:
            attrs |= {"lon": float(data["lon"]), "lat": float(data["lat"])}
        out.add_node(str(node), **attrs)
    for a, b, data in g.edges(data=True):
        out.add_edge(str(a), str(b), level=int(data["level"]), links=int(data["links"]),
                     categories=";".join(sorted(data["categories"])),
                     weight=float(data["level"]))
    buffer = io.BytesIO()
    if fmt == "gexf":
        nx.write_gexf(out, buffer)
    elif fmt == "graphml":
        nx.write_graphml(out, buffer)
    else:
        raise Invalid.field("format", msg("error.indicators.format", allowed="gexf, graphml",
                                               value=fmt))
    return buffer.getvalue()


def parse_slugs(value: str | None) -> list[str]:
    if value is None or not value.strip():
        return list(PROGRAMME)
    slugs = [s.strip() for s in value.split(",") if s.strip()]
    if len(slugs) > MAX_COMPARED:
        raise Invalid.field("territories", msg("error.indicators.too_many", max=MAX_COMPARED))
    return list(dict.fromkeys(slugs))


def compare(session: Session, principal: Principal, slugs: list[str],
            at: date | None = None) -> dict[str, Any]:
    """The territories side by side: the scalar indicators, links by level, and per category
    how many links and the highest level reached (the document's table, category by category)."""
    columns = []
    for slug in slugs:
        try:
            snap = snapshot(session, principal, slug, at)
        except NotFound as exc:  # an unknown slug: a 404 naming the parameter, as elsewhere
            text_ = msg("error.indicators.territories_unknown", value=slug)
            raise NotFound(text_, [FieldError("territories", text_)]) from exc
        ind = measures.indicators(snap)
        highest = {c: max((lv for lv, n in row.items() if n), default=None)
                   for c, row in ind["links"]["matrix"].items()}
        columns.append({"territory": ind["territory"], "at": ind["at"],
                        "indicators": measures.scalars(ind),
                        "links_by_level": ind["links"]["by_level"],
                        "links_by_category": ind["links"]["by_category"],
                        "highest_level_by_category": highest})
    return {"at": (at or date.today()).isoformat(), "territories": columns}


def compare_table(cmp: dict[str, Any]) -> Table:
    cats = list(vocab.categories())
    rows = []
    for col in cmp["territories"]:
        rows.append({"territory": col["territory"]["slug"], "name": col["territory"]["name"],
                     **col["indicators"], **_levels(col["links_by_level"]),
                     **{f"category_{c}": col["links_by_category"][c] for c in cats},
                     **{f"highest_{c}": col["highest_level_by_category"][c] or "" for c in cats}})
    return (["territory", "name", *measures.SCALARS, *LEVEL_COLUMNS,
             *[f"category_{c}" for c in cats], *[f"highest_{c}" for c in cats]], rows)
