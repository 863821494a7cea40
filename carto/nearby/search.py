"""The nearest matching resources: the KNN walk, the count, the private persons read through
their commune, then the features."""

import operator
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from psycopg.rows import dict_row, tuple_row
from sqlalchemy.orm import Session

from carto import opening, places, vocab
from carto.db import hot_rows as _rows
from carto.nearby.bounds import bearing, round_distance, window
from carto.nearby.query import NearbyQuery, NearbyResult
from carto.nearby.sql import (
    DETAILS,
    MANY_COMMUNES,
    _details_sql,
    candidates_sql,
    count_cap,
    count_sql,
    first_batch_sql,
    hidden_params,
    hidden_sql,
    hours_in_window_sql,
)
from carto.visibility import (
    Principal,
    resource_predicate,
)


class _Hit(NamedTuple):
    id: str  # as text: SQL writes it (CAST(id AS text)), cheaper than a UUID made and printed
    d: float
    oh: str | None


# The walk makes a hit of each row of a batch (~40): built as a tuple and ordered by
# (d, id) in C, without a Python call per row (~6 us of the ~16 per request).
_new_hit = tuple.__new__
_NEAREST = operator.itemgetter(1, 0)


class _Shown(NamedTuple):
    """A row shown away from its position, as `hidden_sql` names its columns."""
    tag: str
    id: str
    oh: str | None
    d: float


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
    # Without open_at the walk's later batches are rare: their statement is built when needed.
    sql, params = candidates_sql(principal, q) if q.open_at is not None else ("", {})
    hits: list[_Hit] = []
    far = 0  # matches of the first batch too far for the top k, counted in SQL (first_batch_sql)
    details: dict[str, Any] = {}  # rows of the first batch's top k, ready for _features
    shown_away: list[Any] | None = None  # the first batch's 'h' rows (first_batch_sql)
    first = count_cap(q) if q.open_at is None else max(2 * q.limit + 8, 32)
    n, skip = first, 0
    radius = q.radius_m
    while True:
        if skip == 0 and q.open_at is None:
            fsql, fparams = first_batch_sql(principal, q, win)
            rows = _rows(session, fsql, fparams | {"n": n}, tuple_row)
            tally = next(r for r in rows if r[0] == "c")
            shown_away = [r for r in rows if r[0] == "h"]
            details = {r[1]: r for r in rows if r[_DETAILED]}
            rows = [r for r in rows if r[0] == "r"]
            far, read, last_pd = tally[5], tally[6], tally[4]
        else:
            if not sql:
                sql, params = candidates_sql(principal, q)
            rows = _rows(session, sql, params | {"n": n, "skip": skip}, tuple_row)
            read, last_pd = len(rows), rows[-1][4] if rows else None
        stats["batches"] += 1
        stats["read"] += read
        fit = [_new_hit(_Hit, (r[1], r[3], r[2])) for r in rows if r[3] <= radius]
        hits.extend(fit if q.open_at is None else [h for h in fit if keep(h.oh)])
        hits.sort(key=_NEAREST)
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
    # When the first batch settled the walk (no open_at), it counted and also brought the rows
    # shown away within this same bound (first_batch_sql computes it from the same rows): no
    # second statement. Otherwise one round trip for both; the second hidden query runs only
    # when the count proves exact while the first one looked no further than the k-th distance.
    bound = q.radius_m if complete or len(top) < q.limit else top[-1].d
    count_needed = q.open_at is not None  # otherwise step 1 counted (up to count_cap rows)
    if shown_away is not None and stats["batches"] == 1:
        rows = [_Shown("h", r[1], r[2], r[3]) for r in shown_away if r[3] <= bound]
    else:
        hidden = hidden_params(session, q, bound)
        sql, params = hidden_sql(principal, q, len(hidden["codes"]) > MANY_COMMUNES)
        params |= hidden
        if count_needed:
            csql, cparams = count_sql(principal, q)
            sql, params = f"{csql}\n UNION ALL {sql}", cparams | params
        rows = _rows(session, sql, params)
    matched, exact = len(hits) + far, complete
    without_hours: int | None = 0 if q.open_at is not None else None
    closed: int | None = 0 if q.open_at is not None else None  # give hours, closed then
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
            else:
                closed = (closed or 0) + row.inside
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
        else:
            closed = (closed or 0) + 1
    top.sort(key=_NEAREST)
    top = top[: q.limit]

    moment = q.open_at or opening.local(now or datetime.now(opening.TIMEZONE))
    features = _features(session, principal, q, top, moment, details)
    return NearbyResult(q, features, matched, exact, without_hours, hours_exact and exact, moment,
                        stats, closed)


# first_batch_sql's columns: tag, id, oh, d, pd, inside, scanned, detailed, then DETAILS
_DETAILED = 7
_NO_COMMUNE = (None, None)  # a resource without a commune, or one the referential lacks


def _features(
    session: Session, principal: Principal, q: NearbyQuery, top: list[_Hit], moment: datetime,
    known: dict[str, Any],
) -> list[dict[str, Any]]:
    """`known`: the first batch's rows that carry their details; the others (private persons,
    rows of later batches) are read by `_details_sql`. Rows stay tuples in `DETAILS` order and
    each opening expression's status is rendered once per request: this loop was the largest
    share of a request's Python time after the statement."""
    if not top:
        return []
    start = _DETAILED + 1
    # Each id is looked up once (ids are text: a str hashes in C, once, and keeps its hash).
    rows: list[tuple[Any, ...] | None] = [
        row[start:] if (row := known.get(h.id)) is not None else None for h in top]
    missing = [h.id for h, row in zip(top, rows, strict=True) if row is None]
    if missing:
        _, params = resource_predicate(principal, "r")
        params |= {"ids": missing, "lon": q.origin.lon, "lat": q.origin.lat}
        read = {str(r["id"]): tuple(r[c] for c in DETAILS)
                for r in _rows(session, _details_sql(principal), params, dict_row)}
        rows = [read.get(h.id) if row is None else row for h, row in zip(top, rows, strict=True)]
    kinds = vocab.resource_kinds(session)
    communes = places.commune_names(session)
    lang = q.lang
    food_label = vocab.labels(vocab.food_groups, lang)
    access_label = vocab.labels(vocab.access_conditions, lang)
    shown: dict[str | None, tuple[bool | None, str, str | None, str | None]] = {}
    features = []
    for hit, r in zip(top, rows, strict=True):
        if r is None:  # changed meanwhile
            continue
        (name, kind_code, description, address, website, phone, email, commune_code,
         products, access_conditions, price_note, documents_needed, hours, illustrative,
         precision, lon, lat, azimuth) = r
        commune_name, department = communes.get(commune_code, _NO_COMMUNE)
        rid = hit.id
        kind = kinds.get(kind_code)
        if hours not in shown:
            state = opening.status(hours, moment, lang)
            nxt, closes = state.next_opening, state.closes_at
            shown[hours] = (state.open, state.text,
                            nxt.isoformat(timespec="minutes") if nxt else None,
                            closes.isoformat(timespec="minutes") if closes else None)
        is_open, status_text, next_opening, closes_at = shown[hours]
        products = products or []
        access_conditions = access_conditions or []
        props = {
            "id": rid,
            "name": name,
            "kind": kind_code,
            "kind_label": kind.label(lang) if kind else kind_code,
            "distance_m": round_distance(hit.d),
            # Placed at a commune's or neighbourhood's centre: the distance is to that centre.
            "distance_approximate": precision in vocab.APPROXIMATE_PRECISIONS,
            "bearing": bearing(azimuth) if hit.d >= 5 else None,
            "description": description,
            "address": address,  # NULL where concealed (visibility.masked_columns)
            "commune": commune_code,
            "commune_name": commune_name,
            "department": department,
            "location_precision": precision,
            "products": list(products),
            "product_labels": list(map(food_label.get, products, products)),  # no frame per row
            "access_conditions": list(access_conditions),
            "access_labels": list(map(access_label.get, access_conditions, access_conditions)),
            "price_note": price_note,
            "documents_needed": documents_needed,
            "opening_hours": hours,
            "open": is_open,
            "opening_status": status_text,
            "next_opening": next_opening,
            "closes_at": closes_at,
            "phone": phone,
            "email": email,
            "website": website,
            "illustrative": illustrative,
        }
        features.append(
            {
                "type": "Feature",
                "id": rid,
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(lon, 6), round(lat, 6)],  # float8: floats already
                },
                "properties": props,
            }
        )
    return features
