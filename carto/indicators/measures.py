"""The indicators of one snapshot: where a territory stands on the ladder.

The network is a simple undirected graph of actors: two actors joined by several links (of
different categories) are one edge carrying the strongest level, so degrees count partners and
density counts pairs. Betweenness is weighted by level: a strong link is a short one (length
1/level), so a bridge is an actor on the strongest paths between groups. It is computed by
igraph (Brandes' algorithm in C; networkx's pure-Python one took ~0.2 s per source actor on a
10,000-actor network, 35 times igraph's): exact up to EXACT_BETWEENNESS_LIMIT connected actors,
above that estimated from BETWEENNESS_SAMPLES source actors drawn with a fixed seed (Brandes and
Pich's sampling, scaled by n/k), which keeps a 10,000-actor territory within the 2 s budget; the
answer says which. Normalised as networkx does: by the (n-1)(n-2)/2 pairs of the other actors.
"""

import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

import igraph
import networkx as nx

from carto import vocab
from carto.indicators.snapshot import Snapshot

TOP = 10  # bridges and most connected actors listed
EXACT_BETWEENNESS_LIMIT = 1500
BETWEENNESS_SAMPLES = 32
STRONG_LEVEL = 3  # "Mutualisation de moyens" and above


def graph(snap: Snapshot) -> nx.Graph:
    """Actors as nodes keyed by their id as text (name, kind, position), one edge per linked
    pair with its strongest level, the number of links and their categories. Text keys, not
    UUIDs: a UUID hashes in Python code, and a 20,000-link network hashes its keys ~700,000
    times (a third of the indicators' time)."""
    g = nx.Graph()
    g.add_nodes_from((str(a.id), {"name": a.name, "kind": a.kind, "lon": a.lon, "lat": a.lat})
                     for a in snap.actors.values())
    adj = g.adj
    for link in snap.links.values():
        a, b = str(link.source), str(link.target)
        data = adj[a].get(b)
        if data is not None:
            data["level"] = max(data["level"], link.level)
            data["links"] += 1
            data["categories"].add(link.category)
        else:
            g.add_edge(a, b, level=link.level, links=1, categories={link.category})
    for _, _, data in g.edges(data=True):
        data["length"] = 1.0 / data["level"]
    return g


@dataclass(frozen=True)
class Betweenness:
    values: dict[Any, float]
    method: str  # "exact" or "sampled"
    samples: int | None


def betweenness(g: nx.Graph) -> Betweenness:
    linked = sorted(n for n, d in g.degree() if d > 0)
    n = len(linked)
    if n == 0:
        return Betweenness({}, "exact", None)
    index = {node: i for i, node in enumerate(linked)}
    edges = list(g.edges(data="length"))
    h = igraph.Graph(n=n, edges=[(index[a], index[b]) for a, b, _ in edges])
    weights = [float(length) for _, _, length in edges]
    pairs = (n - 1) * (n - 2) / 2 if n > 2 else 1.0
    if n <= EXACT_BETWEENNESS_LIMIT:
        raw, method, samples, scale = h.betweenness(weights=weights), "exact", None, 1.0
    else:
        sources = random.Random(0).sample(range(n), BETWEENNESS_SAMPLES)
        raw = h.betweenness(weights=weights, sources=sources)
        method, samples, scale = "sampled", BETWEENNESS_SAMPLES, n / BETWEENNESS_SAMPLES
    return Betweenness({node: raw[i] * scale / pairs for node, i in index.items()}, method,
                       samples)


def _actor(g: nx.Graph, node: Any) -> dict[str, Any]:
    data = g.nodes[node]
    return {"id": node, "name": data["name"], "kind": data["kind"]}


def matrix(snap: Snapshot) -> dict[str, dict[int, int]]:
    """Links by category x level, every category and level present (zeros included)."""
    out = {c: dict.fromkeys(vocab.levels(), 0) for c in vocab.categories()}
    for link in snap.links.values():
        out.setdefault(link.category, dict.fromkeys(vocab.levels(), 0))[link.level] += 1
    return out


def kind_pairs(snap: Snapshot) -> list[dict[str, Any]]:
    """Links between kinds of actors (producer - food aid, public body - association...): how
    many, at which levels; the most frequent pair first."""
    counts: dict[tuple[str, str], Counter[int]] = {}
    for link in snap.links.values():
        a, b = sorted((snap.actors[link.source].kind, snap.actors[link.target].kind))
        counts.setdefault((a, b), Counter())[link.level] += 1
    rows = [{"kinds": [a, b], "total": sum(c.values()),
             "by_level": {lv: c.get(lv, 0) for lv in vocab.levels()},
             "strong_share": sum(n for lv, n in c.items() if lv >= STRONG_LEVEL) / sum(c.values())}
            for (a, b), c in counts.items()]
    return sorted(rows, key=lambda r: (-r["total"], r["kinds"]))


def indicators(snap: Snapshot) -> dict[str, Any]:
    """Every indicator of the snapshot, as plain data (JSON-able once ids are strings)."""
    g = graph(snap)
    levels = Counter(link.level for link in snap.links.values())
    categories = Counter(link.category for link in snap.links.values())
    n_links = len(snap.links)
    strong = sum(n for lv, n in levels.items() if lv >= STRONG_LEVEL)
    kinds = Counter(a.kind for a in snap.actors.values())
    isolated = sorted((n for n, d in g.degree() if d == 0),
                      key=lambda n: (g.nodes[n]["name"], n))
    components = sorted((c for c in nx.connected_components(g) if len(c) > 1),
                        key=len, reverse=True)
    bt = betweenness(g)
    bridges = sorted(((n, v) for n, v in bt.values.items() if v > 0),
                     key=lambda nv: (-nv[1], g.nodes[nv[0]]["name"], nv[0]))[:TOP]
    degree = sorted(((n, d) for n, d in g.degree() if d > 0),
                    key=lambda nd: (-nd[1], g.nodes[nd[0]]["name"], nd[0]))[:TOP]
    n_actors = g.number_of_nodes()
    return {
        "territory": {"slug": snap.slug, "name": snap.name},
        "at": snap.at.isoformat(),
        "resources": {"total": len(snap.actors),
                      "by_kind": {k: kinds[k] for k in sorted(kinds)}},
        "links": {
            "total": n_links,
            "by_level": {lv: levels.get(lv, 0) for lv in vocab.levels()},
            "by_category": {c: categories.get(c, 0) for c in vocab.categories()},
            "matrix": matrix(snap),
            "strong": strong,
            "strong_share": strong / n_links if n_links else None,
        },
        "network": {
            "actors": n_actors,
            "connected": n_actors - len(isolated),
            "isolated": len(isolated),
            "isolated_actors": [_actor(g, n) for n in isolated],
            "components": len(components),
            "component_sizes": [len(c) for c in components],
            "pairs": g.number_of_edges(),
            "density": nx.density(g) if n_actors > 1 else 0.0,
            "betweenness": {"method": bt.method, "samples": bt.samples,
                            "weight": "1/level"},
            "bridges": [_actor(g, n) | {"betweenness": round(v, 6)} for n, v in bridges],
            "most_connected": [_actor(g, n) | {"degree": d, "links": _links_of(g, n)}
                               for n, d in degree],
        },
        "kind_pairs": kind_pairs(snap),
    }


def _links_of(g: nx.Graph, node: Any) -> int:
    return int(sum(data["links"] for _, _, data in g.edges(node, data=True)))


# The scalar indicators the evolution compares and /compare sets side by side.
SCALARS = ("resources", "links", "strong", "strong_share", "actors", "connected", "isolated",
           "components", "density")


def scalars(ind: dict[str, Any]) -> dict[str, float | int | None]:
    net, lk = ind["network"], ind["links"]
    return {"resources": ind["resources"]["total"], "links": lk["total"], "strong": lk["strong"],
            "strong_share": lk["strong_share"], "actors": net["actors"],
            "connected": net["connected"], "isolated": net["isolated"],
            "components": net["components"], "density": net["density"]}
