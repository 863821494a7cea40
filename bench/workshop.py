"""Workshops under load (issue 14): five workshops of twenty participants adding resources and
cooperation links, with replays, while a hundred readers load maps and nearby results, all on
loopback against one uvicorn worker.

Data: the territory `bench-workshops` (the 152 communes of Lozère) with 5,000 synthetic
resources (bench/synthetic.py), ANALYZEd; five open workshops in it.

- 100 participants (httpx clients in threads) join by code, then for the duration add a
  resource (70 %) or a link between two of their workshop's additions (30 %), each with a
  client UUID, one second of thought between writes on average; one write in five is sent
  again with the same id and body (an answer lost on the hall's network), which must answer
  the same status and create nothing;
- 100 readers alternate the territory map's features for a random view
  (`/territories/{slug}/map/features.json`) and `/api/nearby` around a random point, half a
  second apart on average;
- the reference: `/_bench/bare-sync` (no database, the worker's thread pool, like the writes)
  probed by one more client throughout the same run, its p95 beside the writes' p95.

Afterwards the database must hold exactly the acknowledged writes: every acknowledged id once,
nothing else added by a workshop, one "create" change-log row each. A mismatch fails the
benchmark (an exception, reported as "did not run").

    python -m bench workshop             # two minutes
    python -m bench workshop --scale 0.01 --http-seconds 1   # the harness's test: seconds
"""

import random
import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg
from sqlalchemy import text

from bench import app as bench_app
from bench import common, synthetic
from bench.harness import Context, Figure, _libpq, analyze, benchmark
from carto import tokens
from carto.db import transaction
from carto.models import ApiToken
from carto.workshops import sessions

SLUG = "bench-workshops"
DEPARTMENTS = ["48"]
WORKSHOPS, PARTICIPANTS, READERS = 5, 20, 100
REPLAY_SHARE = 0.2
THINK_S = 1.0  # participants: mean pause between two writes
READ_THINK_S = 0.5
RETRIES = 5
KINDS = ("shared_garden", "food_aid", "producer", "social_grocery")
CATEGORIES = ("aid_associations", "producers_suppliers")


@dataclass
class Tally:
    """What the clients saw, kept per thread then merged."""

    write_ms: list[float] = field(default_factory=list)
    replay_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    probe_ms: list[float] = field(default_factory=list)
    acked: dict[str, set[str]] = field(default_factory=lambda: {"resource": set(), "link": set()})
    # sent, never answered after RETRIES attempts: may or may not be in the database
    unanswered: dict[str, set[str]] = field(
        default_factory=lambda: {"resource": set(), "link": set()})
    failures: list[str] = field(default_factory=list)
    replay_mismatch: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def prepare(url: str, resources: int) -> tuple[list[str], list[tuple[float, float]]]:
    """The territory, its resources, five workshops (their codes) and random points in it."""
    with transaction(url) as session:
        territory = synthetic.fill_territory(session, SLUG, DEPARTMENTS, resources)
        made = tokens.create(session, "editor", SLUG, "bench facilitator")
        row = session.get(ApiToken, made.id)
        assert row is not None
        facilitator = tokens.principal(row)
        codes = [sessions.create(session, {
            "territory": SLUG, "title": f"Atelier de charge {i + 1}", "date": "2026-12-05",
            "ends_at": "2099-12-31T18:00:00+01:00"}, facilitator).code for i in range(WORKSHOPS)]
        points = session.execute(text("""
            SELECT ST_X(g), ST_Y(g) FROM (
                SELECT (ST_Dump(ST_GeneratePoints(geom, 2000, 11))).geom AS g
                FROM territory WHERE id = :t) p"""), {"t": territory.id}).all()
    analyze(url)
    return codes, [(float(x), float(y)) for x, y in points]


def send(client: httpx.Client, path: str, body: dict[str, object], auth: dict[str, str],
         tally: Tally, kind: str, new_id: str, rnd: random.Random) -> httpx.Response | None:
    """Post until answered, as the outbox does: a timeout or a 5xx is sent again with the same
    id and body (the server answers a replay with the row it has). The first attempt's time is
    the write's latency; an id never answered is counted apart."""
    for attempt in range(RETRIES):
        started = time.perf_counter()
        try:
            answer = client.post(path, json=body, headers=auth)
        except httpx.HTTPError as exc:
            with tally.lock:
                tally.failures.append(f"{path} {type(exc).__name__}")
                tally.unanswered[kind].add(new_id)
            time.sleep(rnd.uniform(0.5, 2.0))
            continue
        took = (time.perf_counter() - started) * 1000
        with tally.lock:
            if attempt == 0:
                tally.write_ms.append(took)
            if answer.status_code >= 500:
                tally.failures.append(f"{path} {answer.status_code}")
                tally.unanswered[kind].add(new_id)
            elif answer.status_code == 201:
                tally.acked[kind].add(new_id)
                tally.unanswered[kind].discard(new_id)
            elif answer.status_code != 409:  # a link already declared: refused, fine
                tally.failures.append(f"{path} {answer.status_code}")
        if answer.status_code >= 500:
            time.sleep(rnd.uniform(0.5, 2.0))
            continue
        return answer
    return None


def participant(base: str, code: str, name: str, points: list[tuple[float, float]],
                stop: float, tally: Tally, seed: int) -> None:
    rnd = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as client:
        joined = None
        for _ in range(RETRIES):
            try:
                joined = client.post(f"/api/workshops/{code}/join", json={"pseudonym": name})
            except httpx.HTTPError:
                continue
            if joined.status_code == 201:
                break
        if joined is None or joined.status_code != 201:
            with tally.lock:
                tally.failures.append(f"join {joined.status_code if joined else 'timeout'}")
            return
        auth = {"Authorization": f"Bearer {joined.json()['token']}"}
        mine: list[str] = []  # this workshop's additions this client knows of (its own)
        while time.monotonic() < stop:
            time.sleep(rnd.expovariate(1 / THINK_S))
            link = len(mine) >= 2 and rnd.random() < 0.3
            new_id = str(uuid.uuid4())
            if link:
                source, target = rnd.sample(mine, 2)
                path, body = "/api/links", {"id": new_id, "source": source, "target": target,
                                            "category": rnd.choice(CATEGORIES),
                                            "level": rnd.randint(1, 5), "territory": SLUG}
            else:
                lon, lat = rnd.choice(points)
                path, body = "/api/resources", {
                    "type": "Feature", "id": new_id,
                    "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                    "properties": {"name": f"Ajout {name} {len(mine)}", "kind": rnd.choice(KINDS),
                                   "territories": [SLUG], "location_precision": "approximate"}}
            kind = "link" if link else "resource"
            answer = send(client, path, body, auth, tally, kind, new_id, rnd)
            if answer is None:
                continue
            if answer.status_code == 201 and not link:
                mine.append(new_id)
            if answer.status_code == 201 and rnd.random() < REPLAY_SHARE:
                started = time.perf_counter()
                try:
                    again = client.post(path, json=body, headers=auth)
                except httpx.HTTPError:
                    continue  # its answer lost too: the row is acknowledged already
                with tally.lock:
                    tally.replay_ms.append((time.perf_counter() - started) * 1000)
                    if again.status_code != 201 or again.json().get("id") != new_id:
                        tally.replay_mismatch += 1


def reader(base: str, points: list[tuple[float, float]], stop: float, tally: Tally,
           seed: int) -> None:
    rnd = random.Random(seed)
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < stop:
            time.sleep(rnd.expovariate(1 / READ_THINK_S))
            lon, lat = rnd.choice(points)
            if rnd.random() < 0.5:
                d = 0.03
                path = (f"/territories/{SLUG}/map/features.json?bbox={lon - d:.5f},"
                        f"{lat - d:.5f},{lon + d:.5f},{lat + d:.5f}&zoom=13")
            else:
                path = f"/api/nearby?lat={lat:.5f}&lon={lon:.5f}&kind=food_aid"
            started = time.perf_counter()
            try:
                status = client.get(path).status_code
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.failures.append(f"read {type(exc).__name__}")
                continue
            with tally.lock:
                tally.read_ms.append((time.perf_counter() - started) * 1000)
                if status != 200:
                    tally.failures.append(f"read {status}")


def probe(base: str, stop: float, tally: Tally) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < stop:
            time.sleep(0.2)
            started = time.perf_counter()
            try:
                client.get(bench_app.BARE_SYNC)
            except httpx.HTTPError:
                continue
            with tally.lock:
                tally.probe_ms.append((time.perf_counter() - started) * 1000)


def check_database(url: str, tally: Tally) -> dict[str, int]:
    """Exactly the acknowledged writes: each id once, nothing else, one create entry each."""
    out: dict[str, int] = {}
    with psycopg.connect(_libpq(url)) as conn:
        for table in ("resource", "link"):
            ids = {str(r[0]) for r in conn.execute(
                f"SELECT id FROM {table} WHERE workshop_id IS NOT NULL")}
            creates = conn.execute(
                f"""SELECT count(*) FROM change_log c WHERE c.action = 'create'
                    AND c.entity_type = %s AND c.entity_id IN (
                        SELECT id FROM {table} WHERE workshop_id IS NOT NULL)""",
                (table,)).fetchone()[0]  # type: ignore[index]
            acked, unanswered = tally.acked[table], tally.unanswered[table]
            if not acked <= ids or not ids <= acked | unanswered or creates != len(ids):
                raise RuntimeError(
                    f"{table}: {len(acked)} acknowledged, {len(ids)} in the database "
                    f"({len(acked - ids)} lost, {len(ids - acked)} unacknowledged), "
                    f"{creates} create entries")
            out[table] = len(ids & acked)
            out[f"{table}_unanswered_kept"] = len(ids - acked)
    return out


@benchmark("workshop", "five workshops of twenty participants writing while 100 readers read "
                       "(issue 14)")
def run(ctx: Context) -> list[Figure]:
    resources = ctx.size(5_000, minimum=200)
    ctx.log(f"   filling {resources} synthetic resources, {WORKSHOPS} workshops")
    codes, points = prepare(ctx.url, resources)
    seconds = ctx.seconds(120)
    participants = max(2, round(PARTICIPANTS * min(1.0, ctx.scale * 50)))
    readers = max(2, round(READERS * min(1.0, ctx.scale * 50)))
    tally = Tally()
    env = {"TERREAU_RATE_WORKSHOP_JOIN": "100000/minute",
           "TERREAU_RATE_WORKSHOP_VOTE": "100000/minute"}
    with common.uvicorn_server(ctx.url, env=env) as base:
        httpx.get(f"{base}{bench_app.BARE_SYNC}", timeout=30)
        stop = time.monotonic() + seconds
        threads = [threading.Thread(target=participant, args=(
            base, code, f"P{w}-{k}", points, stop, tally, 1000 * w + k))
            for w, code in enumerate(codes) for k in range(participants)]
        threads += [threading.Thread(target=reader, args=(base, points, stop, tally, 7 + i))
                    for i in range(readers)]
        threads.append(threading.Thread(target=probe, args=(base, stop, tally)))
        ctx.log(f"   {len(codes) * participants} participants, {readers} readers, {seconds} s")
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    counts = check_database(ctx.url, tally)
    writes_p95 = common.pct(tally.write_ms, 95) if tally.write_ms else 0.0
    reads_p95 = common.pct(tally.read_ms, 95) if tally.read_ms else 0.0
    probe_p95 = common.pct(tally.probe_ms, 95) if tally.probe_ms else 1.0
    replay_p95 = common.pct(tally.replay_ms, 95) if tally.replay_ms else 0.0
    failures = len(tally.failures)
    ctx.details.append(
        f"{len(codes)} workshops × {participants} participants and {readers} readers for "
        f"{seconds} s, httpx clients in threads on the same cores as the server (one uvicorn "
        f"worker): {len(tally.write_ms):,} writes (p50 {statistics.median(tally.write_ms or [0]):.0f}"
        f" ms, p95 {writes_p95:.0f} ms; target < 300 ms: "
        f"{'met' if writes_p95 < 300 else '**not met**'}), {len(tally.replay_ms):,} replays "
        f"(p95 {replay_p95:.0f} ms, {tally.replay_mismatch} answered differently), "
        f"{len(tally.read_ms):,} reads (p95 {reads_p95:.0f} ms), bare-sync probe p95 "
        f"{probe_p95:.0f} ms; afterwards {counts['resource']:,} resources and {counts['link']:,}"
        f" links in the database: every acknowledged write once, none lost, none duplicated "
        f"({counts['resource_unanswered_kept'] + counts['link_unanswered_kept']} more whose "
        f"answers never came back after {RETRIES} tries); "
        f"{failures} failed requests{': ' + ', '.join(sorted(set(tally.failures))[:5]) if failures else ''}.")
    if tally.replay_mismatch:
        raise RuntimeError(f"{tally.replay_mismatch} replays were not answered with the row")
    return [
        Figure("workshop.write_p95_ms", "workshop writes (resources, links), p95", writes_p95,
               probe_p95, "bare sync endpoint probed during the same load, p95", "ms",
               note="absolute target: < 300 ms"),
        Figure("workshop.read_p95_ms", "readers' map views and nearby, p95", reads_p95,
               probe_p95, "bare sync endpoint probed during the same load, p95", "ms"),
        Figure("workshop.kept_rows", "rows in the database per acknowledged write",
               float(counts["resource"] + counts["link"]),
               float(len(tally.acked["resource"]) + len(tally.acked["link"])),
               "acknowledged writes", "rows", at_least=1.0),
    ]
