"""Shared bits of the benchmarks: one uvicorn worker, a bounded load generator, timing."""

import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from carto import ROOT, backup


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: "subprocess.Popen[Any]", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start") from None
            time.sleep(0.2)


# One client address sends thousands of requests a second: the rate limits (api/ratelimit.py)
# stay on, so their cost is measured, but set so high that they refuse nothing. A moving
# window keeps one entry per request of the window, so the window is one second: a client's
# list then holds what it holds in service (at most the limit, 600 a minute for nearby), where
# a minute of benchmark traffic held 40,000-90,000 entries, each request shifting them all.
UNLIMITED = {"TERREAU_RATE_NEARBY": "100000000/second", "TERREAU_RATE_GAP": "100000000/second",
             "TERREAU_RATE_GAP_CONCURRENCY": "16"}


@contextmanager
def uvicorn_server(url: str, factory: str = "bench.app:create_app",
                   env: dict[str, str] | None = None) -> Iterator[str]:
    """One uvicorn worker on loopback serving Terreau (plus the bare reference endpoints of
    bench/app.py) on database `url`; stopped at the end."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=os.environ | {"DATABASE_URL": url, "TERREAU_MAP_TILE_URL": ""}
        | UNLIMITED | (env or {}))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, proc)
        _SERVERS[base] = proc.pid
        yield base
    finally:
        _SERVERS.pop(base, None)
        stop(proc)


_SERVERS: dict[str, int] = {}  # base URL → the pid of the uvicorn worker serving it


@dataclass(frozen=True)
class Pinned:
    """Where `pin` put things: the worker's CPU, the CPU left to the load generator (give it to
    `load(..., cpus=...)`), how many PostgreSQL backends went there."""

    worker: int
    load: str
    backends: int

    def __str__(self) -> str:
        return (f"the worker alone on CPU {self.worker}, wrk and {self.backends} PostgreSQL "
                f"backends on CPU {self.load}")


def pin(base: str, url: str) -> Pinned | None:
    """The worker serving `base` alone on the first CPU this process may use, PostgreSQL's
    backends of `url`'s database (its pool, connected by then) and the load generator on the
    second; None where nothing is pinned (one CPU, no taskset, not allowed). Left to the
    scheduler, the worker shared its core with backends and wrk in some rounds and not in
    others: nearby's rounds fell in two groups (0.33-0.35 and 0.40-0.43), and six alternating
    pairs of rounds gave 628 req/s unpinned against 808 pinned (bare 1,702 and 1,597, 2026-12-03,
    docs/benchmarks.md). The endpoint and its reference are measured in the same layout."""
    pid = _SERVERS.get(base)
    cpus = sorted(os.sched_getaffinity(0))
    if pid is None or len(cpus) < 2 or not shutil.which("taskset"):
        return None
    worker, other = cpus[0], str(cpus[1])
    if subprocess.run(["taskset", "-a", "-p", "-c", str(worker), str(pid)],
                      capture_output=True).returncode != 0:
        return None
    with psycopg.connect(backup.libpq(url), autocommit=True) as conn:
        backends = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")]
    moved = sum(subprocess.run(["taskset", "-p", "-c", other, str(b)],
                               capture_output=True).returncode == 0 for b in backends)
    return Pinned(worker, other, moved)


def stop(proc: "subprocess.Popen[Any]") -> None:
    """Terminate a server we started, and be sure it is gone."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Load:
    tool: str
    requests: int
    rps: float
    non_2xx: int
    p50_ms: float | None
    p99_ms: float | None


def _ms(value: str | None) -> float | None:
    if not value:
        return None
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if not m:
        return None
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def load(base: str, paths: Sequence[str], seconds: int, connections: int = 16,
         cpus: str | None = None) -> Load:
    """Requests/s of `base` cycling through `paths` for `seconds`, from another process on the
    same cores: wrk (Debian's package, installed by scripts/bench.sh) when present, otherwise
    httpx clients in threads (slower: a lower bound, said in the `tool`). `cpus`: wrk runs
    there (taskset; `Pinned.load`)."""
    assert base.startswith("http://127.0.0.1:"), "load tests stay on this machine"
    if shutil.which("wrk"):
        return _wrk(base, paths, seconds, connections, cpus)
    return _httpx(base, paths, seconds, connections)


def _wrk(base: str, paths: Sequence[str], seconds: int, connections: int,
         cpus: str | None = None) -> Load:
    lua = ("paths = {" + ",".join(f'"{p}"' for p in paths) + "}\n" + """
i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
""")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
        script = fh.name
    try:
        out = subprocess.run(
            [*(["taskset", "-c", cpus] if cpus else []), "wrk", "-t", "1", "-c",
             str(connections), "-d", f"{seconds}s", "--latency", "-s", script, base],
            capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    finally:
        Path(script).unlink(missing_ok=True)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    if rps is None:
        raise RuntimeError(f"wrk said: {out}")
    bad = int(errors.group(1)) if errors else 0
    if socket_errors:
        bad += sum(int(g) for g in socket_errors.groups())
    return Load("wrk (1 thread)", int(total.group(1)) if total else 0, float(rps.group(1)), bad,
                _ms(lat.get("50")), _ms(lat.get("99")))


def _httpx(base: str, paths: Sequence[str], seconds: int, connections: int) -> Load:
    import httpx

    done: list[float] = []
    bad = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            i = offset
            while time.monotonic() < stop:
                started = time.perf_counter()
                status = client.get(paths[i % len(paths)]).status_code
                with lock:
                    done.append(time.perf_counter() - started)
                    bad[0] += not 200 <= status < 400
                i += connections

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - started
    return Load("httpx threads (no wrk: a lower bound)", len(done), len(done) / elapsed, bad[0],
                pct(done, 50) * 1000 if done else None, pct(done, 99) * 1000 if done else None)


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[], Any], runs: int, warmup: int = 1) -> tuple[float, float, Any]:
    """Median and p95 in ms of `runs` calls after `warmup` ones, and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), pct(timings, 95), result


def interleaved(fns: Sequence[Callable[[], Any]], runs: int, warmup: int = 1) -> list[float]:
    """Median ms of each of `fns`, called in turn (a, b, a, b...) so that the machine's load
    weighs on all of them alike: how a figure and its reference are timed."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    timings: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for i, fn in enumerate(fns):
            started = time.perf_counter()
            fn()
            timings[i].append((time.perf_counter() - started) * 1000)
    return [statistics.median(t) for t in timings]
