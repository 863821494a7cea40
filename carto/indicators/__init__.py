"""Cooperation indicators: where each territory stands on the programme's ladder, how it moved,
and what to try next.

    snapshot       the territory's actors and links as they were on a day (level history,
                   change log, visibility): the one database reading everything starts from
    measures       indicators of a snapshot (kinds, category x level, share at level >= 3,
                   the network with networkx: isolated actors, components, density, bridges)
    evolution      what changed between two days, with the sentence facilitators read out
    opportunities  complementary, close, unlinked pairs, from data/reference/opportunities.csv
    tables         the same as flat tables (CSV), the network for Gephi (GEXF, GraphML) and
                   the territories side by side
"""

from carto.indicators.evolution import compare as evolution
from carto.indicators.measures import indicators
from carto.indicators.opportunities import opportunities
from carto.indicators.snapshot import Snapshot, snapshot

__all__ = ["Snapshot", "evolution", "indicators", "opportunities", "snapshot"]
