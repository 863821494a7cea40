"""Find what is nearby: the resources nearest to a point, a commune or a resource.

How the query stays fast *and* geodesically right
-------------------------------------------------
PostGIS's KNN operator (`ORDER BY geom <-> origin`) walks the GiST index on `resource.geom`
nearest-first, but in planar degrees: at 43.6° N a degree of longitude is 81 km and a degree of
latitude 111 km, so degree order is not distance order. We therefore

1. read candidates in degree order from the index (`r.geom && window ORDER BY r.geom <-> o`),
   computing each one's exact distance on the WGS84 ellipsoid (`ST_Distance` on geography);
2. stop as soon as no unread row can beat the current k-th: every unread row is at least `pd`
   degrees away, hence at least `pd * m_min` metres, where `m_min` is a proven lower bound of
   metres per degree over the search window (`Window.m_min`). Otherwise read 4x more and repeat.
3. The radius is applied to the exact distance; the `window` is a lon/lat box that contains the
   whole geodesic circle, so the index scan ends at the radius.

A reader's walk of one kind is an index-only scan of one point index in which each kind has its
own plane (`sql.walk`, migration 0014): the same planar order, no heap page read for the rows it
passes.

Filters that SQL can evaluate (kind, product, access, territory, visibility) are in the index
scan's WHERE, so the KNN walk skips non-matching rows and LIMIT counts only matching ones.
`open_at` needs the `opening_hours` library: a first batch is filtered in Python; when that does
not settle the answer (at night), the window's distinct hours strings are evaluated once each
and the open ones become an SQL filter of the walk, so the nearest *open* places are found.

Counting "how many matched within the radius" exactly costs a read of every row in the circle
(thousands at 100k resources); like any paged API we count the first `count_cap(q)` rows of the
same walk (COUNT_CAP, or twice the limit), and say when the figure is a lower bound
(`matched_exact = false`).

Privacy: rows shown away from their stored position (private persons, shown at their commune's
centre, see `carto.visibility.shown_geom`) are never selected, ordered or filtered by their real
position: they are found through the communes whose centre is near (`resource_commune_idx`) and
measured from the shown point, so varying the origin or the radius reveals nothing more than
the commune centre.

The package: `bounds` (the window and its metres-per-degree bounds), `query` (parameters,
origins, result), `sql` (the statements and how they run), `search` (the walk). Communes and
the autocomplete are `carto.places`.
"""

from carto.db import hot_rows as _rows
from carto.nearby.bounds import M_PER_DEG_LAT_MIN, Window, bearing, round_distance, window
from carto.nearby.query import (
    COUNT_CAP,
    DEFAULT_KINDS,
    DEFAULT_LIMIT,
    DEFAULT_RADIUS_KM,
    MAX_LIMIT,
    MAX_RADIUS_KM,
    PARAMETERS,
    NearbyQuery,
    NearbyResult,
    Origin,
    commune_origin,
    parse,
    parse_moment,
    point_origin,
    resource_origin,
)
from carto.nearby.search import search
from carto.nearby.sql import (
    MANY_COMMUNES,
    _at_own_position,
    candidates_sql,
    count_cap,
    count_sql,
    first_batch_sql,
    hidden_params,
    hidden_sql,
    hours_in_window_sql,
)

__all__ = [
    "COUNT_CAP", "DEFAULT_KINDS", "DEFAULT_LIMIT", "DEFAULT_RADIUS_KM", "MANY_COMMUNES",
    "MAX_LIMIT", "MAX_RADIUS_KM", "M_PER_DEG_LAT_MIN", "PARAMETERS", "NearbyQuery",
    "NearbyResult", "Origin", "Window", "_at_own_position", "_rows", "bearing", "candidates_sql",
    "commune_origin", "count_cap", "count_sql", "first_batch_sql", "hidden_params", "hidden_sql",
    "hours_in_window_sql", "parse", "parse_moment", "point_origin", "resource_origin",
    "round_distance", "search", "window",
]
