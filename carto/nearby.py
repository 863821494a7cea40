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
"""

import math
import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import psycopg
from psycopg.rows import dict_row, namedtuple_row, tuple_row
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from carto import opening, places, territories, vocab
from carto import params as request_params
from carto.errors import FieldError, Invalid
from carto.text import fold, like_escape
from carto.validation import Collector
from carto.visibility import (
    Principal,
    concealed,
    masked_columns,
    private_person,
    resource_predicate,
    shown_geom,
    shown_precision,
)

DEFAULT_RADIUS_KM = 30.0
MAX_RADIUS_KM = 200.0
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
DEFAULT_KINDS = ("producer",)
COUNT_CAP = 100  # at least; 2 x limit when that is more
SINGLE = ("lat", "lon", "commune", "resource", "territory", "radius_km", "limit", "open_at", "lang")
REPEATABLE = ("kind", "product", "access")
PARAMETERS = SINGLE + REPEATABLE

# WGS84. Lower bounds of metres per degree (meridional radius is smallest at the equator; the
# prime-vertical radius N is never below the semi-major axis a).
_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_RAD = math.pi / 180
M_PER_DEG_LAT_MIN = _A * (1 - _E2) * _RAD  # 110,574 m
_COMMUNE_CODE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
_NAME_WITH_DEPT = re.compile(r"^(.*\S)\s*\(\s*([0-9]{2,3}|2A|2B)\s*\)$", re.IGNORECASE)
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


# ---------------------------------------------------------------------------- geometry bounds


@dataclass(frozen=True)
class Window:
    """A lon/lat box containing every point within `radius_m` of (lon, lat) on the ellipsoid,
    and bounds of metres per planar degree valid inside it."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    m_min: float  # any geodesic inside the box is >= m_min * its planar length in degrees
    m_max: float  # ... and <= m_max * the planar distance between its ends

    def params(self) -> dict[str, float]:
        return {"minx": self.minx, "miny": self.miny, "maxx": self.maxx, "maxy": self.maxy}


def window(lon: float, lat: float, radius_m: float) -> Window:
    """Why it is a proof: a point of the shortest path to a target within R is itself within R
    of the origin, so its latitude differs by at most R / m_lat_min; along the path, length >=
    m_min x (planar length) >= m_min x (planar distance of the ends)."""
    dlat = radius_m / M_PER_DEG_LAT_MIN * 1.0001 + 1e-9
    lat_lo, lat_hi = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    far = max(abs(lat_lo), abs(lat_hi))
    near = 0.0 if lat_lo <= 0 <= lat_hi else min(abs(lat_lo), abs(lat_hi))
    m_lon_min = _A * math.cos(far * _RAD) * _RAD
    if m_lon_min <= 1.0 or radius_m / m_lon_min >= 180:
        minx, maxx = -180.0, 180.0
    else:
        dlon = radius_m / m_lon_min * 1.0001 + 1e-9
        minx, maxx = max(-180.0, lon - dlon), min(180.0, lon + dlon)
    m_min = min(M_PER_DEG_LAT_MIN, max(m_lon_min, 0.0)) * 0.9999
    sin2 = math.sin(far * _RAD) ** 2
    m_lat_max = _A * (1 - _E2) / (1 - _E2 * sin2) ** 1.5 * _RAD
    m_lon_max = _A / math.sqrt(1 - _E2 * math.sin(near * _RAD) ** 2) * math.cos(near * _RAD) * _RAD
    return Window(minx, lat_lo, maxx, lat_hi, m_min, max(m_lat_max, m_lon_max) * 1.0001)


def bearing(azimuth_deg: float | None) -> str | None:
    """Eight-point compass direction of an azimuth (0 = north, clockwise)."""
    if azimuth_deg is None or not math.isfinite(azimuth_deg):
        return None
    return _COMPASS[int(((azimuth_deg % 360) + 22.5) // 45) % 8]


def round_distance(metres: float) -> int:
    """Distances are shown to 10 m: more would be false precision for most locations."""
    return int(round(metres / 10.0) * 10)


# ---------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class Origin:
    type: str  # "point", "commune" or "resource"
    lon: float
    lat: float
    label: str
    code: str | None = None
    department: str | None = None
    resource_id: uuid.UUID | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "label": self.label,
            "lon": round(self.lon, 6),
            "lat": round(self.lat, 6),
        }
        if self.code:
            out["code"] = self.code
        if self.department:
            out["department"] = self.department
        if self.resource_id:
            out["id"] = str(self.resource_id)
        return out


@dataclass(frozen=True)
class NearbyQuery:
    origin: Origin
    kinds: tuple[str, ...] = DEFAULT_KINDS
    products: tuple[str, ...] = ()
    access: tuple[str, ...] = ()
    territory: str | None = None
    territory_id: int | None = None
    radius_m: float = DEFAULT_RADIUS_KM * 1000
    limit: int = DEFAULT_LIMIT
    open_at: datetime | None = None  # aware, Europe/Paris
    lang: str = "fr"

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": list(self.kinds),
            "product": list(self.products),
            "access": list(self.access),
            "territory": self.territory,
            "radius_km": self.radius_m / 1000,
            "limit": self.limit,
            "open_at": self.open_at.isoformat() if self.open_at else None,
        }


@dataclass
class NearbyResult:
    query: NearbyQuery
    features: list[dict[str, Any]]
    matched: int
    matched_exact: bool
    without_hours: int | None  # with open_at: matches within the radius that give no hours
    without_hours_exact: bool
    moment: datetime  # the time opening statuses refer to
    stats: dict[str, int] = field(default_factory=dict)  # batches and rows read (bench)

    def as_geojson(self) -> dict[str, Any]:
        return {
            "type": "FeatureCollection",
            "features": self.features,
            "origin": self.query.origin.as_json(),
            "query": self.query.as_json(),
            "matched": self.matched,
            "matched_exact": self.matched_exact,
            "returned": len(self.features),
            "without_hours": self.without_hours,
            "without_hours_exact": self.without_hours_exact if self.without_hours is not None else None,
            "opening_reference": self.moment.isoformat(timespec="minutes"),
        }


class Ambiguous(Invalid):
    """A commune name several communes bear; `candidates` lets a client offer the choice."""

    def __init__(self, detail: str, errors: list[FieldError], candidates: list[dict[str, Any]]):
        super().__init__(detail, errors, {"candidates": candidates})


# ---------------------------------------------------------------------------- parsing


def _number(raw: str, name: str, errors: Collector) -> float | None:
    try:
        return request_params.number(raw, name)
    except Invalid as exc:
        errors.errors.extend(exc.errors)
        return None


def _codes(raws: Sequence[str], allowed: Collection[str], name: str,
           errors: Collector) -> tuple[str, ...]:
    """Repeatable parameters: `kind=a&kind=b` or `kind=a,b` (carto.params.codes)."""
    return tuple(request_params.codes(raws, allowed, name, errors.errors))


def parse_moment(raw: str, name: str = "open_at") -> datetime:
    """ISO 8601 date and time; without an offset it is Paris time. `now` is accepted."""
    value = raw.strip()
    if value.lower() == "now":
        return datetime.now(opening.TIMEZONE)
    if len(value) < 11 or value[10] not in "T ":
        raise Invalid.field(name, f"date et heure ISO 8601 attendues (ex. 2025-07-15T10:30), pas {raw!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid.field(name, f"date et heure illisibles : {raw!r}") from exc
    return opening.local(moment)


def parse(session: Session, principal: Principal, params: Mapping[str, Sequence[str]]) -> NearbyQuery:
    """Check every parameter (each error names its parameter), then resolve the origin."""
    errors = Collector()
    for name, values in params.items():
        if any("\x00" in v for v in values):
            raise Invalid.field(name, "caractère nul interdit")
    for name in params:
        if name not in PARAMETERS:
            errors.add(name, f"paramètre inconnu (attendus : {', '.join(PARAMETERS)})")
    one: dict[str, str] = {}
    for name in SINGLE:
        values = list(params.get(name, []))
        if len(values) > 1:
            errors.add(name, "ce paramètre ne peut être donné qu'une fois")
        elif values:
            one[name] = values[0]

    lat = _number(one["lat"], "lat", errors) if "lat" in one else None
    lon = _number(one["lon"], "lon", errors) if "lon" in one else None
    if lat is not None and not -90 <= lat <= 90:
        errors.add("lat", f"latitude hors de [-90, 90] : {lat}")
    if lon is not None and not -180 <= lon <= 180:
        errors.add("lon", f"longitude hors de [-180, 180] : {lon}")
    if ("lat" in one) != ("lon" in one):
        missing = "lon" if "lat" in one else "lat"
        errors.add(missing, "lat et lon vont ensemble : donnez les deux")
    given = [
        n
        for n, present in (
            ("lat & lon", "lat" in one or "lon" in one),
            ("commune", "commune" in one),
            ("resource", "resource" in one),
        )
        if present
    ]
    if not given:
        errors.add("origin", "une origine est nécessaire : lat & lon, commune ou resource")
    elif len(given) > 1:
        errors.add(
            "origin",
            f"une seule origine à la fois : lat & lon, commune ou resource (données : {', '.join(given)})",
        )

    radius_km = DEFAULT_RADIUS_KM
    if "radius_km" in one:
        value = _number(one["radius_km"], "radius_km", errors)
        if value is not None and not 0 < value <= MAX_RADIUS_KM:
            errors.add("radius_km", f"rayon en km, plus de 0 et au plus {MAX_RADIUS_KM:g} : {value:g}")
        elif value is not None:
            radius_km = value
    limit = DEFAULT_LIMIT
    if "limit" in one:
        try:  # clamped to MAX_LIMIT (carto.params.limit)
            limit = request_params.limit(one["limit"], DEFAULT_LIMIT, MAX_LIMIT)
        except Invalid as exc:
            errors.errors.extend(exc.errors)
    open_at = None
    if "open_at" in one:
        try:
            open_at = parse_moment(one["open_at"])
        except Invalid as exc:
            errors.errors.extend(exc.errors)

    kinds: tuple[str, ...] = DEFAULT_KINDS
    if "kind" in params:
        requested = {c.strip() for raw in params["kind"] for c in raw.split(",")}
        kinds = _codes(params["kind"], vocab.resource_kinds(session, requested), "kind", errors)
    products = _codes(params.get("product", []), vocab.food_groups(), "product", errors)
    access = _codes(params.get("access", []), vocab.access_conditions(), "access", errors)
    territory_id = None
    if "territory" in one:
        territory_id = territories.id_of(session, one["territory"].strip())
        if territory_id is None:
            errors.add("territory", f"territoire inconnu : {one['territory']!r}")
    errors.raise_if_any()

    if "commune" in one:
        origin = commune_origin(session, one["commune"])
    elif "resource" in one:
        origin = resource_origin(session, principal, one["resource"])
    else:
        assert lon is not None and lat is not None
        origin = point_origin(lon, lat)
    return NearbyQuery(
        origin=origin,
        kinds=kinds,
        products=products,
        access=access,
        territory=one.get("territory", "").strip() or None,
        territory_id=territory_id,
        radius_m=radius_km * 1000,
        limit=limit,
        open_at=open_at,
        lang="en" if one.get("lang") == "en" else "fr",
    )


# ---------------------------------------------------------------------------- origins

_COMMUNE_SQL = """
    SELECT code, name, department, ST_X(p) AS lon, ST_Y(p) AS lat
    FROM (SELECT code, name, department, population, ST_PointOnSurface(geom) AS p
          FROM commune WHERE {where}) c
    ORDER BY department, name, code"""


def commune_origin(session: Session, value: str) -> Origin:
    """An INSEE code, or a name matched without accents or case ("pezenas" = "Pézenas"); a name
    several communes bear is an error listing them, and "Name (34)" picks the department."""
    raw = value.strip()
    if not raw:
        raise Invalid.field("commune", "nom ou code INSEE de commune attendu")
    if _COMMUNE_CODE.match(raw.upper()):
        rows = (
            session.execute(text(_COMMUNE_SQL.format(where="code = :code")), {"code": raw.upper()})
            .mappings()
            .all()
        )
        if not rows:
            raise Invalid.field("commune", f"code INSEE inconnu : {raw!r}")
    else:
        name, department = raw, None
        m = _NAME_WITH_DEPT.match(raw)
        if m:
            name, department = m.group(1), m.group(2).upper().zfill(2)
        where = "name_key = :key" + (" AND department = :dep" if department else "")
        rows = (
            session.execute(text(_COMMUNE_SQL.format(where=where)), {"key": fold(name), "dep": department})
            .mappings()
            .all()
        )
        if not rows:
            hint = similar_communes(session, name)
            more = f" ; vouliez-vous dire : {', '.join(hint)} ?" if hint else ""
            raise Invalid.field("commune", f"commune inconnue : {raw!r}{more}")
    if len(rows) > 1:
        candidates = [
            {
                "code": r["code"],
                "name": r["name"],
                "department": r["department"],
                "label": f"{r['name']} ({r['department']})",
            }
            for r in rows
        ]
        listed = ", ".join(f"{c['name']} ({c['department']}, code {c['code']})" for c in candidates)
        message = (
            f"plusieurs communes s'appellent « {rows[0]['name']} » : {listed} ; "
            "précisez le code INSEE ou le département, ex. « Nom (34) »"
        )
        raise Ambiguous(f"commune: {message}", [FieldError("commune", message)], candidates)
    row = rows[0]
    return Origin(
        "commune",
        float(row["lon"]),
        float(row["lat"]),
        f"{row['name']} ({row['department']})",
        code=row["code"],
        department=row["department"],
    )


def similar_communes(session: Session, name: str, limit: int = 4) -> list[str]:
    key = fold(name)
    if len(key) < 3:
        return []
    rows = session.execute(
        text("""
        SELECT name, department FROM commune WHERE name_key LIKE :p
        ORDER BY population DESC NULLS LAST, name LIMIT :n"""),
        {"p": like_escape(key[:4]) + "%", "n": limit},
    ).all()
    return [f"{n} ({d})" for n, d in rows]


def resource_origin(session: Session, principal: Principal, value: str) -> Origin:
    """A resource the caller may see, at the position the caller may see."""
    try:
        rid = uuid.UUID(value.strip())
    except ValueError as exc:
        raise Invalid.field("resource", f"identifiant de ressource (UUID) attendu, pas {value!r}") from exc
    visible, params = resource_predicate(principal, "r")
    row = (
        session.execute(
            text(f"""
        SELECT r.name, ST_X(sg.g) AS lon, ST_Y(sg.g) AS lat
        FROM resource r CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg
        WHERE r.id = :id AND {visible}"""),
            params | {"id": rid},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise Invalid.field("resource", f"ressource inconnue : {value!r}")
    return Origin("resource", float(row["lon"]), float(row["lat"]), row["name"], resource_id=rid)


def point_origin(lon: float, lat: float) -> Origin:
    """A point as given. (Which commune it falls in is not looked up: the point-in-polygon test
    on a commune's full boundary cost a fifth of a request.)"""
    return Origin("point", lon, lat, f"{lat:.5f}, {lon:.5f}")


# ---------------------------------------------------------------------------- SQL

_O = "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)"
_OG = f"CAST({_O} AS geography)"
_BOX = "ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)"


def _filters(
    principal: Principal, q: NearbyQuery, kind_index: bool = True
) -> tuple[list[str], dict[str, Any]]:
    """The SQL side of the filters, visibility first. Rows are read only if the caller may.
    `kind_index=False` words the kind test so that the planner cannot use resource_kind_idx
    (`IS TRUE`): AND-ing a third of the table's bitmap to the few rows of a commune or two
    costs more than reading those rows."""
    visible, params = resource_predicate(principal, "r")
    kind = "r.kind = ANY(:kinds)" if kind_index else "(r.kind = ANY(:kinds)) IS TRUE"
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
    sql = f"""
        SELECT 'r' AS tag, r.id, r.opening_hours AS oh,
               ST_Distance(CAST(r.geom AS geography), {_OG}) AS d,
               r.geom <-> {_O} AS pd
        FROM resource r
        WHERE r.geom && {_BOX} AND {" AND ".join(where)} AND {_at_own_position(principal)}
        ORDER BY r.geom <-> {_O}
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
    sql = f"""
        WITH s AS (
            SELECT r.opening_hours AS oh, r.geom <-> {_O} AS pd,
                   CASE WHEN (r.geom <-> {_O}) * :m_max <= :radius THEN true
                        WHEN (r.geom <-> {_O}) * :m_min > :radius THEN false
                        ELSE ST_Distance(CAST(r.geom AS geography), {_OG}) <= :radius END AS inside
            FROM resource r
            WHERE r.geom && {_BOX} AND {" AND ".join(where)} AND {_at_own_position(principal)}
            ORDER BY r.geom <-> {_O}
            LIMIT :cap)
        SELECT 'c' AS tag, NULL::uuid AS id, oh, NULL::float8 AS d,
               count(*) FILTER (WHERE inside) AS inside, count(*) AS scanned, max(pd) AS max_pd
        FROM s GROUP BY oh"""
    return sql, params | win.params() | {"m_min": win.m_min, "m_max": win.m_max, "cap": count_cap(q)}


def count_cap(q: NearbyQuery) -> int:
    return max(COUNT_CAP, 2 * q.limit)


def first_batch_sql(principal: Principal, q: NearbyQuery) -> tuple[str, dict[str, Any]]:
    """The first `:n` rows of the walk (without open_at), counted in SQL, and shipped with their
    exact distance only when they may be among the `:k` nearest or need it to be counted.

    Why it is exact: at least `:k` rows lie within `u = pd_k * m_max` metres (the k-th planar
    distance times the upper bound of metres per degree), so when `u` is within the radius the
    k nearest matches are all within `u`, and a row with `pd * m_min > u` is farther than each
    of them. Otherwise (fewer than k rows, or `u` beyond the radius) every row that may be
    within the radius is shipped. The others are only counted, by the cheap bounds of
    `count_sql` (exact distance only where the bounds cannot decide). The 'c' row gives the
    count of those, how many rows were read and the last planar distance."""
    where, params = _filters(principal, q)
    win = window(q.origin.lon, q.origin.lat, q.radius_m)
    sql = f"""
        WITH s AS MATERIALIZED (
            SELECT r.id, r.opening_hours AS oh, r.geom, r.geom <-> {_O} AS pd
            FROM resource r
            WHERE r.geom && {_BOX} AND {" AND ".join(where)} AND {_at_own_position(principal)}
            ORDER BY r.geom <-> {_O}
            LIMIT :n),
        t AS (SELECT LEAST(CAST(:radius AS float8),
                           (SELECT pd FROM s ORDER BY pd OFFSET :k - 1 LIMIT 1) * :m_max) AS u),
        e AS (SELECT s.id, s.oh, s.geom, s.pd,
                     CASE WHEN s.pd * :m_min <= t.u
                          THEN ST_Distance(CAST(s.geom AS geography), {_OG}) END AS d
              FROM s CROSS JOIN t)
        SELECT 'r' AS tag, id, oh, d, pd, NULL::bigint AS inside, NULL::bigint AS scanned
        FROM e WHERE d IS NOT NULL
        UNION ALL
        SELECT 'c', NULL::uuid, NULL, NULL::float8, max(pd),
               count(*) FILTER (WHERE d IS NULL AND pd * :m_min <= :radius
                                AND (pd * :m_max <= :radius
                                     OR ST_Distance(CAST(geom AS geography), {_OG}) <= :radius)),
               count(*)
        FROM e"""
    return sql, params | win.params() | {"m_min": win.m_min, "m_max": win.m_max, "k": q.limit}


def hidden_sql(
    principal: Principal, q: NearbyQuery, many_communes: bool = False
) -> tuple[str, dict[str, Any]]:
    """Rows shown away from their real position, found through their commune (`:codes`, the
    communes whose centre lies in the box `:hx0..:hy1`) or, without a commune, through the
    0.05° grid cell they are shown at; measured from the shown point only, `:bound` metres at
    most. Selection never depends on the real position beyond what the shown point tells."""
    where, params = _filters(principal, q, kind_index=many_communes)
    shown = shown_geom(principal, "r")
    conditions = " AND ".join([*where, private_person("r")])
    hbox = "ST_MakeEnvelope(:hx0, :hy0, :hx1, :hy1, 4326)"
    sql = f"""
        SELECT 'h' AS tag, m.id, m.oh, dd.d, NULL::bigint AS inside, NULL::bigint AS scanned,
               NULL::float8 AS max_pd
        FROM (SELECT r.id, r.opening_hours AS oh, r.geom, ({shown}) AS g
              FROM resource r
              WHERE r.commune_code = ANY(CAST(:codes AS text[])) AND {conditions}
              UNION ALL
              SELECT r.id, r.opening_hours AS oh, r.geom, ({shown}) AS g
              FROM resource r
              WHERE r.commune_code IS NULL AND r.geom && ST_Expand({hbox}, 0.05)
                AND {conditions}) m
        CROSS JOIN LATERAL (SELECT ST_Distance(CAST(m.g AS geography), {_OG}) AS d) dd
        WHERE m.g IS DISTINCT FROM m.geom AND m.g && {hbox} AND dd.d <= :bound"""
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


def _details_sql(principal: Principal) -> str:
    visible, _ = resource_predicate(principal, "r")

    return f"""
        SELECT r.id, r.name, r.kind, r.description, {masked_columns(principal, "r", NEARBY_MASKED)},
               r.commune_code, c.name AS commune_name, c.department, r.products,
               r.access_conditions, r.price_note, r.documents_needed, r.opening_hours,
               r.illustrative, {shown_precision(principal, "r")} AS location_precision,
               ST_X(sg.g) AS lon, ST_Y(sg.g) AS lat,
               degrees(ST_Azimuth({_OG}, CAST(sg.g AS geography))) AS azimuth
        FROM resource r
        LEFT JOIN commune c ON c.code = r.commune_code
        CROSS JOIN LATERAL (SELECT {shown_geom(principal, "r")} AS g) sg
        WHERE r.id = ANY(:ids) AND {visible}"""


# ---------------------------------------------------------------------------- search

_PSYCOPG = PGDialect_psycopg()


@lru_cache(maxsize=256)
def _pyformat(sql: str) -> str:
    """The statement as psycopg takes it, compiled by SQLAlchemy itself (`:name` → `%(name)s`,
    `%` doubled, the `\\:` escape of a literal colon honoured), once per statement text."""
    return str(text(sql).compile(dialect=_PSYCOPG))


def _rows(session: Session, sql: str, params: Mapping[str, Any], rows: Any = namedtuple_row) -> list[Any]:
    """Run a hot statement on the session's psycopg connection (same transaction): SQLAlchemy's
    execute and result layers cost about as much Python time as the statement itself here.
    psycopg prepares a statement on the server after a few executions of the same text.
    On an async engine's session (run through `run_sync`, api.routers.nearby) the connection is
    an AsyncConnection: the statement is awaited through SQLAlchemy's greenlet bridge."""
    conn = session.connection().connection.driver_connection
    assert conn is not None
    if isinstance(conn, psycopg.AsyncConnection):
        found: list[Any] = await_only(_async_rows(conn, _pyformat(sql), params, rows))
        return found
    with conn.cursor(row_factory=rows) as cur:
        cur.execute(_pyformat(sql), params)
        return cur.fetchall()


async def _async_rows(
    conn: psycopg.AsyncConnection[Any], sql: str, params: Mapping[str, Any], rows: Any
) -> list[Any]:
    async with conn.cursor(row_factory=rows) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


class _Hit(NamedTuple):
    id: uuid.UUID
    d: float
    oh: str | None


def _keeper(q: NearbyQuery) -> Callable[[str | None], bool]:
    if q.open_at is None:
        return lambda oh: True
    moment = q.open_at
    cache: dict[str | None, bool] = {}

    def keep(oh: str | None) -> bool:
        if oh not in cache:
            cache[oh] = opening.is_open(oh, moment) is True
        return cache[oh]

    return keep


def search(
    session: Session, principal: Principal, q: NearbyQuery, now: datetime | None = None
) -> NearbyResult:
    """The `q.limit` nearest matching resources within the radius, and how many matched."""
    win = window(q.origin.lon, q.origin.lat, q.radius_m)
    keep = _keeper(q)
    stats = {"batches": 0, "read": 0}
    # 1. Exact-position rows, nearest first, until no unread row can enter the top k. The
    # first batch is count_cap(q) rows: the same read counts the matches within the radius.
    # With open_at, a first batch is filtered in Python; if it does not settle the answer
    # (most places closed, e.g. at night), the open expressions are listed once and the walk
    # restarts with them as an SQL filter, so closed places are skipped in the index scan.
    sql, params = candidates_sql(principal, q)
    hits: list[_Hit] = []
    far = 0  # matches of the first batch too far for the top k, counted in SQL (first_batch_sql)
    first = count_cap(q) if q.open_at is None else max(2 * q.limit + 8, 32)
    n, skip = first, 0
    radius = q.radius_m
    while True:
        if skip == 0 and q.open_at is None:
            fsql, fparams = first_batch_sql(principal, q)
            rows = _rows(session, fsql, fparams | {"n": n}, tuple_row)
            tally = next(r for r in rows if r[0] == "c")
            rows = [r for r in rows if r[0] == "r"]
            far, read, last_pd = tally[5], tally[6], tally[4]
        else:
            rows = _rows(session, sql, params | {"n": n, "skip": skip}, tuple_row)
            read, last_pd = len(rows), rows[-1][4] if rows else None
        stats["batches"] += 1
        stats["read"] += read
        hits.extend(_Hit(r[1], r[3], r[2]) for r in rows if r[3] <= radius and keep(r[2]))
        hits.sort(key=lambda h: (h.d, h.id))
        if read < n:
            complete = True  # the window is exhausted: every match within the radius was read
            break
        bound = float(last_pd) * win.m_min  # no unread row is nearer than this
        complete = bound > q.radius_m
        if complete or (len(hits) >= q.limit and hits[q.limit - 1].d <= bound):
            break
        if q.open_at is not None and "open_hours" not in params:
            hsql, hparams = hours_in_window_sql(principal, q)
            open_hours = [oh for (oh,) in _rows(session, hsql, hparams, tuple_row) if keep(oh)]
            if not open_hours:
                complete = True  # nothing in the window is open then
                break
            sql, params = candidates_sql(principal, q, open_filter=True)
            params["open_hours"] = open_hours
            hits, n, skip = [], first, 0
            continue
        skip += n
        n *= 4
    top = hits[: q.limit]

    # 2. How many matched within the radius (the nearest count_cap rows), and without hours;
    # 3. rows shown away from their position (private persons), read through their commune.
    # One round trip for both; the second hidden query runs only when the count proves exact
    # while the first one looked no further than the k-th distance.
    bound = q.radius_m if complete or len(top) < q.limit else top[-1].d
    count_needed = q.open_at is not None  # otherwise step 1 counted (up to count_cap rows)
    hidden = hidden_params(session, q, bound)
    sql, params = hidden_sql(principal, q, len(hidden["codes"]) > MANY_COMMUNES)
    params |= hidden
    if count_needed:
        csql, cparams = count_sql(principal, q)
        sql, params = f"{csql}\n UNION ALL {sql}", cparams | params
    rows = _rows(session, sql, params)
    matched, exact = len(hits) + far, complete
    without_hours: int | None = 0 if q.open_at is not None else None
    hours_exact = True
    if count_needed:
        counted = scanned = 0
        max_pd = 0.0
        for row in rows:
            if row.tag != "c":
                continue
            scanned += row.scanned
            max_pd = max(max_pd, float(row.max_pd))
            if q.open_at is not None and opening.is_open(row.oh, q.open_at) is None:
                without_hours = (without_hours or 0) + row.inside
            elif keep(row.oh):
                counted += row.inside
        hours_exact = scanned < count_cap(q) or max_pd * win.m_min > q.radius_m
        if not complete:
            matched, exact = max(counted, len(hits)), hours_exact
    if exact and bound < q.radius_m:
        hidden = hidden_params(session, q, q.radius_m)
        sql, params = hidden_sql(principal, q, len(hidden["codes"]) > MANY_COMMUNES)
        rows = _rows(session, sql, params | hidden)
    for row in rows:
        if row.tag != "h":
            continue
        if q.open_at is not None and opening.is_open(row.oh, q.open_at) is None:
            without_hours = (without_hours or 0) + 1
        elif keep(row.oh):
            matched += 1
            top.append(_Hit(row.id, float(row.d), row.oh))
    top.sort(key=lambda h: (h.d, h.id))
    top = top[: q.limit]

    moment = q.open_at or opening.local(now or datetime.now(opening.TIMEZONE))
    features = _features(session, principal, q, top, moment)
    return NearbyResult(q, features, matched, exact, without_hours, hours_exact and exact, moment, stats)


def _features(
    session: Session, principal: Principal, q: NearbyQuery, top: list[_Hit], moment: datetime
) -> list[dict[str, Any]]:
    if not top:
        return []
    _, params = resource_predicate(principal, "r")
    ids = [h.id for h in top]
    params |= {"ids": ids, "lon": q.origin.lon, "lat": q.origin.lat}
    details = _rows(session, _details_sql(principal), params, dict_row)
    rows = {r["id"]: r for r in details}
    kinds = vocab.resource_kinds(session)
    foods = vocab.food_groups()
    access = vocab.access_conditions()
    lang = q.lang
    features = []
    for hit in top:
        r = rows.get(hit.id)
        if r is None:  # changed meanwhile
            continue
        kind = kinds.get(r["kind"])
        hours = r["opening_hours"]
        state = opening.status(hours, moment, lang)
        nxt, closes = state.next_opening, state.closes_at
        props = {
            "id": str(r["id"]),
            "name": r["name"],
            "kind": r["kind"],
            "kind_label": kind.label(lang) if kind else r["kind"],
            "distance_m": round_distance(hit.d),
            "bearing": bearing(r["azimuth"]) if hit.d >= 5 else None,
            "description": r["description"],
            "address": r["address"],  # NULL where concealed (visibility.masked_columns)
            "commune": r["commune_code"],
            "commune_name": r["commune_name"],
            "department": r["department"],
            "location_precision": r["location_precision"],
            "products": list(r["products"] or []),
            "product_labels": [foods[p].label(lang) if p in foods else p for p in r["products"] or []],
            "access_conditions": list(r["access_conditions"] or []),
            "access_labels": [
                access[a].label(lang) if a in access else a for a in r["access_conditions"] or []
            ],
            "price_note": r["price_note"],
            "documents_needed": r["documents_needed"],
            "opening_hours": hours,
            "open": state.open,
            "opening_status": state.text,
            "next_opening": nxt.isoformat(timespec="minutes") if nxt else None,
            "closes_at": closes.isoformat(timespec="minutes") if closes else None,
            "phone": r["phone"],
            "email": r["email"],
            "website": r["website"],
            "illustrative": r["illustrative"],
        }
        features.append(
            {
                "type": "Feature",
                "id": str(r["id"]),
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(float(r["lon"]), 6), round(float(r["lat"]), 6)],
                },
                "properties": props,
            }
        )
    return features


# ---------------------------------------------------------------------------- suggestions


def suggest(
    session: Session, principal: Principal, q: str, limit: int = 8, lang: str = "fr"
) -> list[dict[str, Any]]:
    """Communes, territories and resources (visible to the caller) whose name contains `q`,
    for the page's autocomplete: communes by name or code prefix, best known first."""
    raw = q.strip()
    if len(raw) < 2:
        raise Invalid.field("q", "au moins 2 caractères")
    if len(raw) > 100:
        raise Invalid.field("q", "100 caractères au plus")
    key = fold(raw)
    out: list[dict[str, Any]] = []
    if raw.isdigit() or _COMMUNE_CODE.match(raw.upper()):
        communes = session.execute(
            text("""
            SELECT code, name, department FROM commune WHERE code LIKE :p
            ORDER BY code LIMIT :n"""),
            {"p": like_escape(raw.upper()) + "%", "n": limit},
        ).all()
    else:
        communes = session.execute(
            text("""
            SELECT code, name, department FROM commune
            WHERE name_key LIKE :p OR name_key LIKE :w
            ORDER BY name_key = :k DESC, name_key LIKE :p DESC, population DESC NULLS LAST, name
            LIMIT :n"""),
            {"p": like_escape(key) + "%", "w": "% " + like_escape(key) + "%", "k": key, "n": limit},
        ).all()
    homonyms = {n for n, c in _count(communes).items() if c > 1}
    for code, name, dept in communes:
        out.append(
            {
                "type": "commune",
                "code": code,
                "name": name,
                "department": dept,
                "label": f"{name} ({dept})",
                "homonym": name in homonyms,
            }
        )
    if len(key) >= 3:
        places = (
            session.execute(
                text("""
            SELECT slug, name, level, ST_X(p) AS lon, ST_Y(p) AS lat
            FROM (SELECT slug, name, level, ST_PointOnSurface(geom) AS p FROM territory
                  WHERE terreau_fold(name) LIKE '%' || terreau_fold(:q) || '%'
                  ORDER BY name LIMIT 4) t"""),
                {"q": like_escape(raw)},
            )
            .mappings()
            .all()
        )
        for p in places:
            out.append(
                {
                    "type": "territory",
                    "slug": p["slug"],
                    "name": p["name"],
                    "label": p["name"],
                    "level": p["level"],
                    "lon": round(float(p["lon"]), 6),
                    "lat": round(float(p["lat"]), 6),
                }
            )
        visible, params = resource_predicate(principal, "r")
        rows = (
            session.execute(
                text(f"""
            SELECT r.id, r.name, r.kind, c.name AS commune_name FROM resource r
            LEFT JOIN commune c ON c.code = r.commune_code
            WHERE r.search_text LIKE '%' || terreau_fold(:q) || '%'
              AND terreau_fold(r.name) LIKE '%' || terreau_fold(:q) || '%'
              AND {visible}
            ORDER BY terreau_fold(r.name) LIKE terreau_fold(:q) || '%' DESC, r.name, r.id
            LIMIT :n"""),
                params | {"q": like_escape(raw), "n": limit},
            )
            .mappings()
            .all()
        )
        kinds = vocab.resource_kinds(session)
        for r in rows:
            kind = kinds.get(r["kind"])
            out.append(
                {
                    "type": "resource",
                    "id": str(r["id"]),
                    "name": r["name"],
                    "kind": r["kind"],
                    "kind_label": kind.label(lang) if kind else r["kind"],
                    "commune_name": r["commune_name"],
                    "label": r["name"],
                }
            )
    return out


def _count(rows: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, name, _ in rows:
        counts[name] = counts.get(name, 0) + 1
    return counts
