"""Benchmark of "find what is nearby" (issue 5): server time of the domain call, then HTTP
throughput of one uvicorn worker.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5433/terreau_bench \\
        python -m bench.nearby --resources 100000 --queries 2000 --http-seconds 20

1. Makes sure the territory `bench-occitanie` (the four departments) holds `--resources`
   synthetic resources (bench/synthetic.py; only the missing ones are added), then ANALYZE.
2. Times `nearby.parse` + `nearby.search` in-process for random origins spread over the four
   departments (default query: producers, 30 km, 20 results), and a few variants.
3. Starts one uvicorn worker on 127.0.0.1 and loads it from a second process for a bounded
   time with `wrk` (Debian package) cycling through the same origins; without wrk, a bounded
   loop of httpx clients in threads.

Refuses the shared dev database `terreau`: use a database of its own.
"""

import argparse
import gc
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import synthetic
from carto import nearby
from carto.config import DatabaseSettings
from carto.db import session_factory, transaction
from carto.visibility import ANONYMOUS

SLUG = "bench-occitanie"
DEPARTMENTS = ["30", "34", "43", "48"]


def ensure_data(url: str, wanted: int) -> int:
    with transaction(url) as session:
        territory = synthetic.ensure_territory(session, SLUG, DEPARTMENTS)
        have = (
            session.scalar(
                text("""
            SELECT count(*) FROM resource_territory rt JOIN resource r ON r.id = rt.resource_id
            WHERE rt.territory_id = :t AND r.source_name = :s"""),
                {"t": territory.id, "s": synthetic.SOURCE},
            )
            or 0
        )
        if have < wanted:
            synthetic.add_resources(session, territory, wanted - have, seed=42 + have)
    with transaction(url) as session:
        session.execute(text("ANALYZE resource"))
        session.execute(text("ANALYZE resource_territory"))
        return int(session.scalar(text("SELECT count(*) FROM resource")) or 0)


def origins(url: str, n: int, seed: int = 7) -> list[tuple[float, float]]:
    with transaction(url) as session:
        rows = session.execute(
            text("""
            SELECT ST_X(g), ST_Y(g) FROM (
                SELECT (ST_Dump(ST_GeneratePoints(geom, :n, :seed))).geom AS g
                FROM territory WHERE slug = :slug) p"""),
            {"n": n, "seed": seed, "slug": SLUG},
        ).all()
    return [(float(x), float(y)) for x, y in rows]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def time_domain(
    url: str, points: list[tuple[float, float]], extra: dict[str, list[str]], count: int
) -> dict[str, float]:
    session = session_factory(url)()
    timings: list[float] = []
    matched: list[int] = []
    read: list[int] = []  # index rows the KNN walk read (NearbyResult.stats)
    try:
        for i in range(count + 50):
            lon, lat = points[i % len(points)]
            params = {"lat": [f"{lat:.6f}"], "lon": [f"{lon:.6f}"]} | extra
            started = time.perf_counter()
            q = nearby.parse(session, ANONYMOUS, params)
            result = nearby.search(session, ANONYMOUS, q)
            elapsed = (time.perf_counter() - started) * 1000
            session.rollback()
            if i >= 50:  # warm-up: connection, prepared statements, caches
                timings.append(elapsed)
                matched.append(result.matched)
                read.append(result.stats["read"])
    finally:
        session.close()
    return {
        "n": len(timings),
        "median": statistics.median(timings),
        "p95": pct(timings, 95),
        "p99": pct(timings, 99),
        "max": max(timings),
        "matched_median": statistics.median(matched),
        "read_median": statistics.median(read),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, DATABASE_URL=url)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("uvicorn did not start")


def paths(points: list[tuple[float, float]]) -> list[str]:
    return [f"/api/nearby?lat={lat:.5f}&lon={lon:.5f}" for lon, lat in points]


def run_wrk(port: int, urls: list[str], seconds: int, connections: int) -> dict[str, Any]:
    lua = (
        "paths = {"
        + ",".join(f'"{u}"' for u in urls)
        + "}\n"
        + """
i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
        script = fh.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--latency",
                "-s",
                script,
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        ).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+([\d.]+\w+)", out, re.M))
    return {
        "tool": "wrk (1 thread)",
        "rps": rps,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "p50": lat.get("50"),
        "p90": lat.get("90"),
        "p99": lat.get("99"),
        "raw": out,
    }


def run_httpx(
    port: int, urls: list[str], seconds: int, connections: int, max_requests: int = 200_000
) -> dict[str, Any]:
    """Fallback: bounded threads of keep-alive clients (slower than wrk: a lower bound)."""
    import httpx

    done: list[float] = []
    bad = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            i = offset
            while time.monotonic() < stop and len(done) < max_requests:
                started = time.perf_counter()
                status = client.get(urls[i % len(urls)]).status_code
                with lock:
                    done.append(time.perf_counter() - started)
                    bad[0] += status != 200
                i += connections

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - started
    return {
        "tool": "httpx threads",
        "rps": len(done) / elapsed,
        "non_2xx": bad[0],
        "p50": f"{pct(done, 50) * 1000:.1f}ms",
        "p90": f"{pct(done, 90) * 1000:.1f}ms",
        "p99": f"{pct(done, 99) * 1000:.1f}ms",
        "raw": "",
    }


def machine() -> str:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s+(.*)", cpu)
    return (
        f"{os.cpu_count()} CPUs ({model.group(1).strip() if model else platform.processor()}),"
        f" Python {platform.python_version()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DatabaseSettings().database_url)
    parser.add_argument("--resources", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--http-seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    url = args.database_url
    if make_url(url).database == "terreau":
        sys.exit(
            "refusing the shared dev database `terreau`: create one for benchmarks, e.g. "
            "terreau_bench, and run `DATABASE_URL=... carto db upgrade` first"
        )
    total = ensure_data(url, args.resources)
    points = origins(url, 2000)
    gc.collect()
    gc.freeze()  # as the app does at start-up (api/main.py): no ~100 ms full collections
    with transaction(url) as session:
        pg = session.scalar(text("SHOW server_version"))
        postgis = session.scalar(text("SELECT postgis_lib_version()"))
    print(f"machine: {machine()}; PostgreSQL {pg}, PostGIS {postgis}")
    print(f"database: {make_url(url).database}, {total} resources ({args.resources} synthetic in {SLUG})\n")

    variants: list[tuple[str, dict[str, list[str]], int]] = [
        ("default: producers, 30 km, 20 results", {}, args.queries),
        (
            "food aid + groceries, open now",
            {"kind": ["food_aid", "social_grocery"], "open_at": ["now"]},
            args.queries // 4,
        ),
        ("producers of eggs, 100 km", {"product": ["eggs"], "radius_km": ["100"]}, args.queries // 4),
        (
            "all kinds, 10 km, 200 results",
            {
                "kind": [
                    ",".join(
                        nearby.DEFAULT_KINDS
                        + ("food_aid", "social_grocery", "shared_garden", "market", "shop")
                    )
                ],
                "radius_km": ["10"],
                "limit": ["200"],
            },
            args.queries // 4,
        ),
    ]
    print("| query | n | median ms | p95 ms | p99 ms | max ms | median matched | median rows read |")
    print("|---|---|---|---|---|---|---|---|")
    for label, extra, count in variants:
        r = time_domain(url, points, extra, count)
        print(
            f"| {label} | {r['n']} | {r['median']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | "
            f"{r['max']:.1f} | {r['matched_median']:.0f} | {r['read_median']:.0f} |"
        )
    if args.skip_http:
        return
    port = free_port()
    server = start_server(url, port)
    try:
        urls = paths(points[:1000])
        if shutil.which("wrk"):
            h = run_wrk(port, urls, args.http_seconds, args.connections)
        else:
            h = run_httpx(port, urls, args.http_seconds, args.connections)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(
        f"\nHTTP, one uvicorn worker, {args.connections} connections, {args.http_seconds} s, "
        f"{h['tool']}: {h['rps']:.0f} req/s; latency p50 {h['p50']}, p90 {h['p90']}, "
        f"p99 {h['p99']}; non-2xx: {h['non_2xx']}"
    )


if __name__ == "__main__":
    main()
