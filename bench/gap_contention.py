"""Issue 10 §5 benchmark: a cheap read while eight clients hammer the most expensive endpoint.

Eight threads POST the largest drawn perimeter the bounds allow (10,000 km² around Montpellier,
`radius_km` 200: every producer of the four departments is in the catchment) to one uvicorn
worker as fast as it answers; a ninth reads one resource (`GET /api/resources/{id}`) in a loop.
The p95 of that read is the figure (target under 100 ms), next to the same read with no load
(the reference measured in the same run). Rate limits are off for the run (eight distinct
attackers, not one address that the per-client limit would stop at its 31st request): what
holds the read is the bound on each analysis and the cap on analyses at once
(TERREAU_RATE_GAP_CONCURRENCY). `--no-cap` runs the same load with the cap raised to 8, to see
what the cap buys.

    python -m bench gap_contention        # in make bench: the figure beside its idle reference
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/terreau python -m bench.gap_contention

Loopback only, bounded in time (`--seconds` per phase). Data: bench.gap's (30,000 synthetic
producers with outputs, farmland for every commune); standalone, in terreau_bench_gap, kept.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import httpx

from bench import common, harness
from bench import gap as gap_bench
from bench.harness import Context, Figure, benchmark
from carto import ROOT
from carto.config import DatabaseSettings

CLIENTS = 8
TARGET_P95_MS = 100.0
TIMEOUT_S = 60.0  # a request without an answer by then counts as status 0
# 100 km × 100 km around Montpellier: at the area bound (TERREAU_GAP_MAX_AREA_KM2, 10,000 km²)
# once the cosine of 43.6° is applied to the width (98 km × 99 km, about 9,750 km²).
X0, Y0, DX, DY = 3.25, 43.15, 1.22, 0.89
BIG = {"type": "Feature", "properties": {"name": "bench"},
       "geometry": {"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + DX, Y0],
                                                        [X0 + DX, Y0 + DY], [X0, Y0 + DY],
                                                        [X0, Y0]]]}}


@dataclass
class Phase:
    name: str
    reads_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    analyses_ms: list[float] = field(default_factory=list)

    def pct(self, q: float) -> float:
        ordered = sorted(self.reads_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


@contextmanager
def server(url: str, concurrency: int) -> Iterator[str]:
    """One uvicorn worker with rate limits off and `concurrency` analyses at once; killed if
    it has not stopped 10 s after being asked (analyses still running)."""
    port = common.free_port()
    env = os.environ | {"DATABASE_URL": url, "TERREAU_RATE_ENABLED": "false",
                        "TERREAU_RATE_GAP_CONCURRENCY": str(concurrency),
                        "TERREAU_RATE_GAP_WAIT_S": "10"}  # the default
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def resource_id(url: str) -> str:
    from sqlalchemy import text

    from carto.db import transaction

    with transaction(url) as session:
        return str(session.scalar(text("SELECT id FROM resource ORDER BY id LIMIT 1")))


def measure(base: str, rid: str, seconds: float, name: str, hammer: bool) -> Phase:
    """Reads for `seconds` (after one second of warm-up), with or without the eight clients."""
    assert base.startswith("http://127.0.0.1:"), "load stays on this machine"
    phase = Phase(name)
    stop = threading.Event()
    start = threading.Barrier(CLIENTS + 1 if hammer else 1)

    def attacker() -> None:
        with httpx.Client(base_url=base, timeout=TIMEOUT_S) as c:
            start.wait()
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    r = c.post("/api/gap", params={"radius_km": 200}, json=BIG)
                except httpx.TimeoutException:
                    phase.statuses[0] += 1  # no answer within TIMEOUT_S
                    continue
                phase.statuses[r.status_code] += 1
                if r.status_code == 200:
                    phase.analyses_ms.append((time.perf_counter() - t0) * 1000)

    threads = [threading.Thread(target=attacker) for _ in range(CLIENTS if hammer else 0)]
    for t in threads:
        t.start()
    with httpx.Client(base_url=base, timeout=TIMEOUT_S) as c:
        start.wait()
        warm_until = time.monotonic() + 1.0
        end = warm_until + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            with suppress(httpx.TimeoutException):  # then it counts as TIMEOUT_S
                c.get(f"/api/resources/{rid}").raise_for_status()
            if time.monotonic() > warm_until:
                phase.reads_ms.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.01)  # a reader, not a second load generator
    stop.set()
    for t in threads:
        t.join()
    return phase


def report(phases: list[Phase], url: str) -> None:
    print(f"machine: {harness.machine_key(harness.machine(url))}")
    for p in phases:
        line = (f"{p.name}: GET /api/resources/{{id}} n={len(p.reads_ms)} "
                f"median {statistics.median(p.reads_ms):.1f} ms, p95 {p.pct(0.95):.1f} ms, "
                f"max {max(p.reads_ms):.1f} ms")
        if p.statuses:
            done = p.analyses_ms
            line += (f"; POST /api/gap statuses {dict(p.statuses)}, analysis median "
                     f"{statistics.median(done):.0f} ms" if done else "")
        print(line)
    loaded = phases[1]
    verdict = "meets" if loaded.pct(0.95) < TARGET_P95_MS else "misses"
    print(f"p95 under load {loaded.pct(0.95):.1f} ms {verdict} the target of "
          f"{TARGET_P95_MS:g} ms (idle: {phases[0].pct(0.95):.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per phase (at most 120)")
    parser.add_argument("--no-cap", action="store_true",
                        help="also run the load with 8 analyses at once allowed")
    args = parser.parse_args()
    seconds = min(args.seconds, 120.0)
    with harness.own_database(DatabaseSettings().database_url, "gap", keep=True) as url:
        gap_bench.fill(url, 10_000, 20_000)
        contend(url, seconds, args.no_cap)


def contend(url: str, seconds: float, no_cap: bool) -> None:
    rid = resource_id(url)
    phases = []
    with server(url, 2) as base:  # the default of TERREAU_RATE_GAP_CONCURRENCY
        phases.append(measure(base, rid, seconds, "idle", hammer=False))
        phases.append(measure(base, rid, seconds, "8 clients on POST /api/gap", hammer=True))
    if no_cap:
        with server(url, CLIENTS) as base:
            phases.append(measure(base, rid, seconds, "same, cap raised to 8", hammer=True))
    report(phases, url)


@benchmark("gap_contention", "a cheap read while 8 clients hammer POST /api/gap (issue 10 §5)")
def run(ctx: Context) -> list[Figure]:
    gap_bench.fill(ctx.url, ctx.size(10_000), ctx.size(20_000))
    rid = resource_id(ctx.url)
    seconds = ctx.seconds(10)
    with server(ctx.url, 2) as base:  # the default of TERREAU_RATE_GAP_CONCURRENCY
        idle = measure(base, rid, seconds, "idle", hammer=False)
        loaded = measure(base, rid, seconds, "8 clients", hammer=True)
    ctx.details.append(
        f"{seconds} s per phase; p95 under load {loaded.pct(0.95):.1f} ms against the absolute "
        f"target of {TARGET_P95_MS:g} ms; POST /api/gap statuses {dict(loaded.statuses)}.")
    return [Figure("gap_contention.read_p95_ms",
                   "p95 of `GET /api/resources/{id}` while 8 clients POST /api/gap (cap 2)",
                   loaded.pct(0.95), idle.pct(0.95), "the same read, no load, same worker",
                   "ms")]


if __name__ == "__main__":
    main()
