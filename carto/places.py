"""Communes and places: where a name or a code is, and the communes' centres (the point private
persons are shown at, carto.visibility)."""

import math

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.cache import DbCache

Grid = dict[tuple[int, int], list[tuple[str, float, float]]]


def _load_centres(session: Session) -> Grid:
    """Every commune's centre (commune.centre, migration 0005) on a 0.1° grid."""
    grid: Grid = {}
    for code, x, y in session.execute(text("SELECT code, ST_X(centre), ST_Y(centre) FROM commune")):
        grid.setdefault((math.floor(x * 10), math.floor(y * 10)), []).append((code, x, y))
    return grid


# Commune centres change only when the referential is reloaded (carto.referential invalidates).
CENTRES = DbCache("commune centres", _load_centres, ttl=3600.0)


def communes_centred_in(session: Session, minx: float, miny: float, maxx: float,
                        maxy: float) -> list[str]:
    """The codes of the communes whose centre lies in the box, from the cache (no query on the
    hot path of /api/nearby)."""
    grid = CENTRES.get(session)
    codes = []
    for i in range(math.floor(minx * 10), math.floor(maxx * 10) + 1):
        for j in range(math.floor(miny * 10), math.floor(maxy * 10) + 1):
            for code, x, y in grid.get((i, j), ()):
                if minx <= x <= maxx and miny <= y <= maxy:
                    codes.append(code)
    return codes
