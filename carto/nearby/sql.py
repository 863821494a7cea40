"""The statements of a nearby search, written by hand (plans in tests/api/test_nearby_plans.py and
bench/nearby.py); they run on the session's psycopg connection (carto.db.hot_rows)."""

from typing import Any

from sqlalchemy.orm import Session

from carto import places
from carto.nearby.bounds import Window, window
from carto.nearby.query import COUNT_CAP, NearbyQuery
from carto.search import OFFER_COLUMNS, resource_from
from carto.visibility import (
    Principal,
    concealed,
    masked_columns,
    private_person,
    reads_public_only,
    resource_predicate,
    shown_geom,
    shown_precision,
)

_O = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_OG = f"CAST({_O} AS geography)"
_BOX = "ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"


def _plane(kind: str) -> str:
    """How far east (degrees, a multiple of 360) the kind `kind` (SQL) is moved in
    resource_listed_walk_gist's key (migration 0014, the same expression)."""
    return f"(360 * CAST(hashtext({kind}) & 1023 AS float8))"


# resource_listed_walk_gist's key: each point moved onto its kind's plane.
WALK_KEY = f"point(ST_X(r.geom) + {_plane('r.kind')}, ST_Y(r.geom))"
_ON_PLANE = _plane("CAST(:kind AS text)")


def walk(principal: Principal, q: NearbyQuery) -> tuple[str, str]:
    """The KNN walk's window test and planar distance (degrees), which every walk of one search
    shares (`first_batch_sql`, `candidates_sql`, `count_sql`: later batches skip rows in the
    same order).

    A reader's search of one kind walks resource_listed_walk_gist (migration 0014): an
    index-only scan, no heap page read for the rows it passes. Its key is a PostgreSQL
    `point`, not the geometry: PostGIS's geometry distance is lossy on GiST (boxes,
    rechecked) and PostgreSQL runs no index-only scan on a lossy distance, while
    `point <-> point` on a point's own entry is exact, the same `sqrt(dx² + dy²)` in degrees.
    Each kind's points are moved east by a multiple of 360° (`_plane`: a hash of the code, so
    the kinds admins add get theirs), and the origin and the window with them: the walk of one
    kind meets that kind's entries only, and a plain point index does it in half the CPU of a
    `(kind, point)` key through btree_gist (0.50 against 0.78 ms for the walk of 40, 0.25
    against 0.51 ms for the first row). Two kinds whose hashes meet share a plane: the kind
    stays a filter, on the entry (`id, kind, opening_hours, geom` are carried), so such a walk
    is only longer. Moved by at most 368,280°, a coordinate keeps about 1e-10° of precision,
    far inside the bounds' margins (`bounds.window`: 0.01 %).

    The window stays an index condition: it ends the walk, and a walk that ends with fewer
    than `:n` rows proves the count exact. PostgreSQL estimates `point <@ box` at a constant
    0.1 % of the rows (`contsel`): on a vacuumed table the index-only walk is still the
    cheapest plan, but where the visibility map is not yet set (a bulk import before
    autovacuum has passed) a bitmap scan and a sort of the window's rows may look cheaper
    (14.7 against 1.7 ms in Montpellier), until vacuum runs: 0014 has it run after 1 % of the
    rows changed, not 20 %.

    Every other search (several kinds, editors and contributors, who see more than that index
    holds) walks the geometry indexes of migration 0012."""
    if reads_public_only(principal) and len(q.kinds) == 1:
        box = (f"box(point(:minx + {_ON_PLANE}, :miny), "
               f"point(:maxx + {_ON_PLANE}, :maxy))")
        return f"{WALK_KEY} <@ {box}", f"{WALK_KEY} <-> point(:lon + {_ON_PLANE}, :lat)"
    return f"r.geom && {_BOX}", f"r.geom <-> {_O}"


def _filters(
    principal: Principal, q: NearbyQuery, kind_index: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """The SQL side of the filters, visibility first. Rows are read only if the caller may.
    `kind_index=False` words the kind test so that the planner cannot use resource_kind_idx
    (`IS TRUE`): AND-ing a third of the table's bitmap to the few rows of a commune or two
    costs more than reading those rows. One kind is an equality, which the KNN walk takes as
    an index condition of resource_kind_geom_gist (migration 0012: GiST cannot take `ANY`),
    so it reads that kind's rows only. A reader's walk reads that kind's plane of
    resource_listed_walk_gist instead (0014, `walk`), whose predicate is the reader's
    visibility, 'active' and `_at_own_position`: the kind is the only filter, on the entry."""
    visible, params = resource_predicate(principal, "r")
    if not kind_index:
        kind = "(r.kind = ANY(:kinds)) IS TRUE"
    elif len(q.kinds) == 1:
        kind = "r.kind = :kind"
        params["kind"] = q.kinds[0]
    else:
        kind = "r.kind = ANY(:kinds)"
    where = [visible, "r.status = 'active'", kind]
    params |= {"kinds": list(q.kinds), "lon": q.origin.lon, "lat": q.origin.lat, "radius": q.radius_m}
    if q.products:
        where.append("r.products && CAST(:products AS text[])")
        params["products"] = list(q.products)
    if q.access:
        where.append("r.access_conditions && CAST(:access AS text[])")
        params["access"] = list(q.access)
    if q.territory_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM resource_territory nrt WHERE nrt.resource_id = r.id "
            "AND nrt.territory_id = :territory_id)"
        )
        params["territory_id"] = q.territory_id
    if q.origin.resource_id is not None:
        where.append("r.id <> :origin_id")
        params["origin_id"] = q.origin.resource_id
    return where, params


def _at_own_position(principal: Principal) -> str:
    """True for rows this caller sees where they are (everything but concealed private
    persons). The KNN scan needs this plain predicate rather than a test on `shown_geom`: its
    CASE and sub-query, priced per row, made the planner give up the KNN index scan.
    `test_own_position_matches_shown_geom` checks the two agree, principal by principal."""
    return f"(NOT {concealed(principal, 'r')})"


def candidates_sql(
    principal: Principal, q: NearbyQuery, open_filter: bool = False
) -> tuple[str, dict[str, Any]]:
    """Nearest-first candidates in degree order (KNN on resource_geom_gist), with their exact
    ellipsoidal distance; `:n` rows after `:skip`. With `open_filter`, only the rows whose
    hours are among `:open_hours` (see `hours_in_window_sql`)."""
    where, params = _filters(principal, q)
    if open_filter:
        where.append("r.opening_hours = ANY(CAST(:open_hours AS text[]))")
    elif q.open_at is not None:
        where.append("r.opening_hours IS NOT NULL")  # these cannot be open: skip them in SQL
    inside, pd = walk(principal, q)
    sql = f"""
        SELECT 'r' AS tag, CAST(r.id AS text) AS id, r.opening_hours AS oh,
               ST_Distance(CAST(r.geom AS geography), {_OG}) AS d,
               {pd} AS pd
        FROM resource r
        WHERE {inside} AND {" AND ".join(where)} AND {_at_own_position(principal)}
        ORDER BY {pd}
        LIMIT :n OFFSET :skip"""
    return sql, params | window(q.origin.lon, q.origin.lat, q.radius_m).params()


def hours_in_window_sql(principal: Principal, q: NearbyQuery) -> tuple[str, dict[str, Any]]:
    """The distinct opening-hours expressions of the matching rows in the window: evaluated
    once each in Python, the open ones become an SQL filter, so the KNN walk skips closed
    places instead of shipping them (at night, that is nearly all of them)."""
    where, params = _filters(principal, q)
    sql = f"""
        SELECT DISTINCT r.opening_hours AS oh FROM resource r
        WHERE r.geom && {_BOX} AND {" AND ".join(where)} AND {_at_own_position(principal)}
          AND r.opening_hours IS NOT NULL"""
    return sql, params | window(q.origin.lon, q.origin.lat, q.radius_m).params()


def count_sql(principal: Principal, q: NearbyQuery) -> tuple[str, dict[str, Any]]:
    """Rows within the radius among the `:cap` nearest, grouped by opening hours (the only
    filter SQL cannot evaluate). The exact distance is computed only where the cheap bounds
    cannot decide."""
    where, params = _filters(principal, q)
    win = window(q.origin.lon, q.origin.lat, q.radius_m)
    inside, pd = walk(principal, q)
    sql = f"""
        WITH s AS (
            SELECT r.opening_hours AS oh, {pd} AS pd,
                   CASE WHEN ({pd}) * :m_max <= :radius THEN true
                        WHEN ({pd}) * :m_min > :radius THEN false
                        ELSE ST_Distance(CAST(r.geom AS geography), {_OG}) <= :radius END AS inside
            FROM resource r
            WHERE {inside} AND {" AND ".join(where)} AND {_at_own_position(principal)}
            ORDER BY {pd}
            LIMIT :cap)
        SELECT 'c' AS tag, NULL::text AS id, oh, NULL::float8 AS d,
               count(*) FILTER (WHERE inside) AS inside, count(*) AS scanned, max(pd) AS max_pd
        FROM s GROUP BY oh"""
    return sql, params | win.params() | {"m_min": win.m_min, "m_max": win.m_max, "cap": count_cap(q)}


def count_cap(q: NearbyQuery) -> int:
    return max(COUNT_CAP, 2 * q.limit)


def first_batch_sql(
    principal: Principal, q: NearbyQuery, win: Window | None = None
) -> tuple[str, dict[str, Any]]:
    """The statement of `_first_batch_text` and its parameters; `win` is the search's window
    when the caller has it (computed once per request). The text is built once per principal
    and shape of the query: building it took ~0.03 ms of each request's CPU."""
    key = (principal, _shape(q))
    sql = _FIRST_BATCH.get(key)
    if sql is None:
        if len(_FIRST_BATCH) >= 256:  # principals carry their actor: keep the cache bounded
            _FIRST_BATCH.clear()
        sql = _FIRST_BATCH[key] = _first_batch_text(principal, q)
    _, params = _filters(principal, q)
    win = win or window(q.origin.lon, q.origin.lat, q.radius_m)
    return sql, params | win.params() | {"m_min": win.m_min, "m_max": win.m_max, "k": q.limit}


def _shape(q: NearbyQuery) -> tuple[bool, ...]:
    """What of `q`, besides the principal, the statements' text depends on (`_filters`)."""
    return (len(q.kinds) == 1, bool(q.products), bool(q.access), q.territory_id is not None,
            q.origin.resource_id is not None)


_FIRST_BATCH: dict[tuple[Principal, tuple[bool, ...]], str] = {}


def _first_batch_text(principal: Principal, q: NearbyQuery) -> str:
    """The first `:n` rows of the walk (without open_at), counted in SQL, and shipped with their
    exact distance only when they may be among the `:k` nearest or need it to be counted.

    Why it is exact: at least `:k` rows lie within `u = pd_k * m_max` metres (the k-th planar
    distance times the upper bound of metres per degree), so when `u` is within the radius the
    k nearest matches are all within `u`, and a row with `pd * m_min > u` is farther than each
    of them. Otherwise (fewer than k rows, or `u` beyond the radius) every row that may be
    within the radius is shipped. The others are only counted, by the cheap bounds of
    `count_sql` (exact distance only where the bounds cannot decide). The 'c' row gives the
    count of those, how many rows were read and the last planar distance.

    The `:k` nearest within the radius come with their details (`DETAILS`, `detailed`): when
    this batch settles the answer and no private person joins the top, the search needs no
    third statement (`_details_sql`) for them.

    The 'h' rows are `hidden_sql`'s, in the same statement: the rows shown
    away from their position within the bound `search` would give them if this batch settles
    the walk (`w`: the radius when the batch is complete or has fewer than k matches, else the
    k-th distance), the communes found by their centre in a box holding that circle (`b`,
    metres per degree at least `:m_min` inside the window). One statement per search unless a
    private person joins the top (its details: `_details_sql`). When the batch does not
    settle, `search` asks `hidden_sql` afterwards.

    `top` and `det` are MATERIALIZED: psycopg
    prepares the statement after a few runs, and the generic plan PostgreSQL then keeps joined
    an inlined `det` inside a loop over `e`, reading the k details once per row of the batch
    (tests/api/test_nearby_plans.py, the generic plan)."""
    where, _ = _filters(principal, q)
    hidden, _ = _hidden_select(
        principal, q, "ARRAY(SELECT vc.code FROM commune vc WHERE vc.centre && (SELECT box FROM b))",
        "(SELECT box FROM b)", "(SELECT bound FROM b)", many_communes=False)
    inside, pd = walk(principal, q)
    return f"""
        WITH s AS MATERIALIZED (
            SELECT r.id, r.opening_hours AS oh, r.geom, {pd} AS pd
            FROM resource r
            WHERE {inside} AND {" AND ".join(where)} AND {_at_own_position(principal)}
            ORDER BY {pd}
            LIMIT :n),
        t AS (SELECT LEAST(CAST(:radius AS float8),
                           (SELECT pd FROM s ORDER BY pd OFFSET :k - 1 LIMIT 1) * :m_max) AS u),
        e AS (SELECT s.id, s.oh, s.geom, s.pd,
                     CASE WHEN s.pd * :m_min <= t.u
                          THEN ST_Distance(CAST(s.geom AS geography), {_OG}) END AS d
              FROM s CROSS JOIN t),
        top AS MATERIALIZED (SELECT id, d FROM e WHERE d <= :radius ORDER BY d, id LIMIT :k),
        w AS MATERIALIZED (
            SELECT CASE WHEN (SELECT count(*) < :n OR max(pd) * :m_min > :radius FROM s)
                          OR (SELECT count(*) < :k FROM top)
                        THEN CAST(:radius AS float8) ELSE (SELECT max(d) FROM top) END AS bound),
        b AS MATERIALIZED (SELECT bound, ST_Expand({_O}, bound / :m_min) AS box FROM w),
        h AS MATERIALIZED ({hidden}),
        det AS MATERIALIZED ({_details_select(principal, "JOIN top ON top.id = r.id")})
        SELECT 'r' AS tag, CAST(e.id AS text), e.oh, e.d, e.pd, NULL::bigint AS inside,
               NULL::bigint AS scanned, det.id IS NOT NULL AS detailed,
               {", ".join(f"det.{c}" for c in DETAILS)}
        FROM e LEFT JOIN det ON det.id = e.id WHERE e.d IS NOT NULL
        UNION ALL
        SELECT 'h', CAST(h.id AS text), h.oh, h.d, NULL::float8, NULL::bigint, NULL::bigint,
               false{", NULL" * len(DETAILS)}
        FROM h
        UNION ALL
        SELECT 'c', NULL::text, NULL, NULL::float8, max(pd),
               count(*) FILTER (WHERE d IS NULL AND pd * :m_min <= :radius
                                AND (pd * :m_max <= :radius
                                     OR ST_Distance(CAST(geom AS geography), {_OG}) <= :radius)),
               count(*), false{", NULL" * len(DETAILS)}
        FROM e"""


def hidden_sql(
    principal: Principal, q: NearbyQuery, many_communes: bool = False
) -> tuple[str, dict[str, Any]]:
    """Rows shown away from their real position, found through their commune (`:codes`, the
    communes whose centre lies in the box `:hx0..:hy1`) or, without a commune, through the
    0.05° grid cell they are shown at; measured from the shown point only, `:bound` metres at
    most. Selection never depends on the real position beyond what the shown point tells."""
    hbox = "ST_MakeEnvelope(:hx0, :hy0, :hx1, :hy1, 4326)"
    rows, params = _hidden_select(principal, q, "CAST(:codes AS text[])", hbox, ":bound",
                                  many_communes)
    sql = f"""
        SELECT 'h' AS tag, CAST(m.id AS text) AS id, m.oh, m.d, NULL::bigint AS inside,
               NULL::bigint AS scanned, NULL::float8 AS max_pd
        FROM ({rows}) m"""
    return sql, params


def _hidden_select(principal: Principal, q: NearbyQuery, codes: str, hbox: str, bound: str,
                   many_communes: bool) -> tuple[str, dict[str, Any]]:
    """`id, oh, d` of the rows shown away from their position within `bound` metres of the
    origin (`hidden_sql`; `first_batch_sql` computes the three SQL expressions in its own
    statement): `codes` the communes whose centre is in the box `hbox`, which holds every
    point within `bound`. `OFFSET 0` keeps `g` computed once per row: inlined, the planner
    copied `shown`, with its sub-plan of the commune's centre, into each of the four tests
    (8 sub-plans started on every run; 0.06 ms of the first batch's 0.86 on the server)."""
    where, params = _filters(principal, q, kind_index=many_communes)
    shown = shown_geom(principal, "r")
    conditions = " AND ".join([*where, private_person("r")])
    sql = f"""
        SELECT m.id, m.oh, dd.d
        FROM (SELECT r.id, r.opening_hours AS oh, r.geom, ({shown}) AS g
              FROM resource r
              WHERE r.commune_code = ANY({codes}) AND {conditions}
              UNION ALL
              SELECT r.id, r.opening_hours AS oh, r.geom, ({shown}) AS g
              FROM resource r
              WHERE r.commune_code IS NULL AND r.geom && ST_Expand({hbox}, 0.05)
                AND {conditions}
              OFFSET 0) m
        CROSS JOIN LATERAL (SELECT ST_Distance(CAST(m.g AS geography), {_OG}) AS d) dd
        WHERE m.g IS DISTINCT FROM m.geom AND m.g && {hbox} AND dd.d <= {bound}"""
    return sql, params


def hidden_params(session: Session, q: NearbyQuery, bound: float) -> dict[str, Any]:
    box = window(q.origin.lon, q.origin.lat, bound)
    return {
        "bound": bound,
        "hx0": box.minx,
        "hy0": box.miny,
        "hx1": box.maxx,
        "hy1": box.maxy,
        "codes": places.communes_centred_in(session, box.minx, box.miny, box.maxx, box.maxy),
    }


MANY_COMMUNES = 8  # beyond, let the planner AND the kind index with the communes' rows


NEARBY_MASKED = ("address", "website", "phone", "email")  # of visibility.MASKED_COLUMNS


# What a feature shows of a row (search._features), as `_details_select` names them; the
# commune's name and department come from carto.places's cache (`commune_names`).
DETAILS = ("name", "kind", "description", *NEARBY_MASKED, "commune_code", "products",
           "access_conditions", "price_note", "documents_needed", "opening_hours", "illustrative",
           "location_precision", "lon", "lat", "azimuth")


def _details_select(principal: Principal, join: str = "") -> str:
    """The rows' `id` and `DETAILS`, at the shown position and masked for `principal`; `join`
    chooses the rows (first_batch_sql) or a WHERE on `r` does (`_details_sql`). No join to
    `commune`: probing it for the 20 rows was 0.11 ms of the first batch's 0.86 on the server
    (EXPLAIN ANALYZE, alternating, 11 rounds in 12 lower without it; docs/benchmarks.md)."""
    visible, _ = resource_predicate(principal, "r")
    return f"""
        SELECT r.id, r.name, r.kind, r.description, {masked_columns(principal, "r", NEARBY_MASKED)},
               r.commune_code, {OFFER_COLUMNS},
               r.illustrative, {shown_precision(principal, "r")} AS location_precision,
               ST_X(sg.g) AS lon, ST_Y(sg.g) AS lat,
               degrees(ST_Azimuth({_OG}, CAST(sg.g AS geography))) AS azimuth
        {resource_from(principal, join, commune=False)}
        WHERE {visible}"""


def _details_sql(principal: Principal) -> str:
    """The details of the rows `:ids` that the first batch did not bring."""
    return f"{_details_select(principal)} AND r.id = ANY(CAST(:ids AS uuid[]))"


