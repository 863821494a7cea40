"""The network laid out on the server (networkx's spring layout, a fixed seed so the drawing
does not move between visits), as coordinates a page draws as SVG: no graph library in the
browser, nothing from a CDN. A large network is drawn by its most connected actors only, and
the drawing says so."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from carto import vocab
from carto.indicators import measures
from carto.indicators.snapshot import Snapshot

MAX_DRAWN = 250  # actors drawn; above it, the most connected ones
WIDTH, HEIGHT, MARGIN = 1000, 640, 40


@dataclass
class Drawing:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    drawn: int
    connected: int
    width: int = WIDTH
    height: int = HEIGHT


def drawing(snap: Snapshot, kinds: Mapping[str, vocab.Term]) -> Drawing:
    """`kinds`: vocab.resource_kinds(session), for the colours."""
    g = measures.graph(snap)
    linked = [n for n, d in g.degree() if d > 0]
    if len(linked) > MAX_DRAWN:
        keep = sorted(linked, key=lambda n: (-g.degree(n), str(n)))[:MAX_DRAWN]
    else:
        keep = linked
    sub = g.subgraph(keep)
    if sub.number_of_nodes() == 0:
        return Drawing([], [], 0, 0)
    pos = nx.spring_layout(sub, seed=7, weight="level", iterations=80)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)

    def scale(v: float, lo: float, hi: float, size: int) -> float:
        return round(MARGIN + (v - lo) / ((hi - lo) or 1) * (size - 2 * MARGIN), 1) if hi > lo \
            else size / 2

    levels = vocab.levels()
    nodes = []
    for node in sub.nodes:
        data = sub.nodes[node]
        kind = kinds.get(data["kind"])
        nodes.append({"id": str(node), "name": data["name"], "kind": data["kind"],
                      "color": kind.extra.get("color", "#555") if kind else "#555",
                      "x": scale(pos[node][0], x0, x1, WIDTH),
                      "y": scale(pos[node][1], y0, y1, HEIGHT),
                      "r": min(6 + 2 * sub.degree(node), 18)})
    at = {n["id"]: n for n in nodes}
    edges = []
    for a, b, data in sub.edges(data=True):
        level = int(data["level"])
        edges.append({"a": str(a), "b": str(b), "level": level,
                      "x1": at[str(a)]["x"], "y1": at[str(a)]["y"],
                      "x2": at[str(b)]["x"], "y2": at[str(b)]["y"],
                      "color": levels[level].extra.get("color", "#999"),
                      "width": 1 + level * 0.8})
    edges.sort(key=lambda e: e["level"])  # strongest drawn last, on top
    return Drawing(nodes, edges, len(nodes), len(linked))
