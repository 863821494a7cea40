"""The benchmark harness: every figure beside a reference measured in the same run.

Absolute times on a shared two-core machine say little (the same code measured 2-5x apart on
two machines); the ratio of a figure to a reference measured in the same run, on the same data
and the same cores, says what the code costs. So a benchmark returns `Figure`s, each with its
reference and the bound its ratio must meet; the harness gives each benchmark a database of its
own (`terreau_bench_<name>`, created and migrated, dropped afterwards), writes the results table
of docs/benchmarks.md and appends one row per figure to bench/history.csv.

Adding a benchmark: a module in bench/ with

    from bench.harness import Context, Figure, benchmark

    @benchmark("ogc", "OGC API Features: items page vs tipg")
    def run(ctx: Context) -> list[Figure]:
        ...fill ctx.url (an empty migrated database), measure, return figures...

and its module name in `bench.MODULES`. `ctx.size(n)` scales data sizes (the fast test runs
everything tiny), `ctx.seconds(s)` HTTP durations.
"""

import csv
import datetime as dt
import math
import os
import platform
import re
import subprocess
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from carto import ROOT
from carto.backup import libpq

HISTORY = ROOT / "bench" / "history.csv"
DOCS = ROOT / "docs" / "benchmarks.md"
HISTORY_FIELDS = ["date", "commit", "machine", "measure", "value", "reference", "ratio",
                  "unit", "target", "passed"]
BEGIN = "<!-- bench:results:begin (written by `make bench`; edit outside the markers) -->"
END = "<!-- bench:results:end -->"


@dataclass(frozen=True)
class Figure:
    """One measured figure, its same-run reference, and the bound on value / reference.

    `at_least`/`at_most` bound the ratio (e.g. throughput >= 0.4x the bare endpoint, time
    <= 6x the raw statement); neither means the figure is recorded without a target."""

    measure: str  # stable key for the history, e.g. "nearby.http_rps"
    label: str  # what was measured, for people
    value: float
    reference: float
    reference_label: str
    unit: str  # of value and reference: "req/s", "ms", "s", "MB"
    at_least: float | None = None
    at_most: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.reference if self.reference else math.inf

    @property
    def target(self) -> str:
        if self.at_least is not None:
            return f">= {self.at_least:g}"
        if self.at_most is not None:
            return f"<= {self.at_most:g}"
        return ""

    @property
    def passed(self) -> bool | None:
        if self.at_least is not None:
            return self.ratio >= self.at_least
        if self.at_most is not None:
            return self.ratio <= self.at_most
        return None


@dataclass
class Context:
    """What a benchmark gets: its own empty migrated database and the run's scale."""

    name: str
    url: str  # postgresql:// URL of terreau_bench_<name>
    scale: float = 1.0
    http_seconds: float = 15.0
    log: Callable[[str], None] = print
    details: list[str] = field(default_factory=list)  # lines kept in docs under the table

    def size(self, full: int, minimum: int = 10) -> int:
        return max(minimum, int(full * self.scale))

    def seconds(self, full: float | None = None) -> int:
        return max(1, round(self.http_seconds if full is None else full * self.http_seconds / 15))


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    run: Callable[[Context], list[Figure]]


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, title: str) -> Callable[[Callable[[Context], list[Figure]]],
                                                 Callable[[Context], list[Figure]]]:
    def register(fn: Callable[[Context], list[Figure]]) -> Callable[[Context], list[Figure]]:
        REGISTRY[name] = Benchmark(name, title, fn)
        return fn
    return register


# --- databases -------------------------------------------------------------------------------

def _admin(server_url: str) -> str:
    return make_url(server_url).set(database="postgres", drivername="postgresql") \
        .render_as_string(hide_password=False)


@contextmanager
def own_database(server_url: str, name: str, keep: bool = False,
                 prefix: str = "terreau_bench_") -> Iterator[str]:
    """terreau_bench_<name> on the server of `server_url`, fresh and migrated; dropped after
    unless `keep` (then reused as it is by the next run: faster, but not 'exactly the data
    the docs describe' if a generator changed)."""
    db = f"{prefix}{name}"
    admin = _admin(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if exists and not keep:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
        if not exists or not keep:
            conn.execute(f'CREATE DATABASE "{db}"')
    url = make_url(server_url).set(database=db).render_as_string(hide_password=False)
    from carto import migrate

    migrate.upgrade(url)
    try:
        yield url
    finally:
        from carto.db import get_engine

        get_engine(url).dispose()  # DROP ... WITH (FORCE) would end them anyway
        if not keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def analyze(url: str) -> None:
    """The state autovacuum leaves freshly loaded tables in: statistics (without them the
    first plans are blind: a 5.7 ms page took 55 ms) and the visibility map, without which no
    index-only scan is chosen (a territory's link counts read every resource twice, 481 ms,
    instead of the public index, 174 ms: docs/benchmarks.md, maps)."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")



# --- the machine -----------------------------------------------------------------------------

def machine(url: str) -> dict[str, str]:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"Model name:\s+(.*)", lscpu)
    with psycopg.connect(_admin(url)) as conn:
        pg = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        row = conn.execute("SELECT default_version FROM pg_available_extensions "
                           "WHERE name = 'postgis'").fetchone()
        postgis = str(row[0]) if row else "?"
    load = os.getloadavg()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "lscpu": "; ".join(re.sub(r"\s+", " ", line.strip()) for line in lscpu.splitlines()
                           if line.split(":")[0].strip() in
                           ("Architecture", "CPU(s)", "Thread(s) per core", "Model name")),
        "python": platform.python_version(),
        "postgresql": pg.split(" ")[0],
        "postgis": postgis,
        "kernel": f"{platform.system()} {platform.release()}",
        "load": f"{load[0]:.1f}",
    }


def machine_key(m: dict[str, str]) -> str:
    """Short, CSV-friendly: '2x AMD EPYC 7B13 / PG 15.20'."""
    return f"{m['nproc']}x {m['cpu']} / PG {m['postgresql']}"


def commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "carto",
                                "api", "bench", "static", "templates"],
                               capture_output=True, text=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


# --- running and writing ---------------------------------------------------------------------

@dataclass
class Result:
    benchmark: Benchmark
    figures: list[Figure]
    seconds: float
    error: str = ""
    details: list[str] = field(default_factory=list)


def run(names: list[str], server_url: str, scale: float = 1.0, http_seconds: float = 15.0,
        keep: bool = False, log: Callable[[str], None] = print,
        prefix: str = "terreau_bench_") -> list[Result]:
    """Run the named benchmarks one after the other, each in its own database. A benchmark
    that fails is reported (its traceback in the log) and the others still run."""
    results = []
    for name in names:
        bench = REGISTRY[name]
        log(f"== {name}: {bench.title}")
        started = time.monotonic()
        details: list[str] = []
        try:
            with own_database(server_url, name, keep=keep, prefix=prefix) as url:
                ctx = Context(name, url, scale, http_seconds, log, details)
                figures = bench.run(ctx)
            error = ""
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            log(traceback.format_exc())
            figures, error = [], f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - started
        for f in figures:
            verdict = {True: "pass", False: "FAIL", None: "-"}[f.passed]
            log(f"   {f.measure}: {f.value:.4g} {f.unit} vs {f.reference:.4g} "
                f"({f.reference_label}) = {f.ratio:.2f}x {f.target} {verdict}")
        results.append(Result(bench, figures, elapsed, error, details))
    return results


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def history_rows(results: list[Result], m: dict[str, str], when: dt.datetime,
                 sha: str) -> list[dict[str, str]]:
    rows = []
    for r in results:
        for f in r.figures:
            rows.append({
                "date": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "commit": sha,
                "machine": machine_key(m), "measure": f.measure, "value": f"{f.value:.6g}",
                "reference": f"{f.reference:.6g}", "ratio": f"{f.ratio:.4g}", "unit": f.unit,
                "target": f.target,
                "passed": {True: "pass", False: "fail", None: ""}[f.passed]})
    return rows


def append_history(rows: list[dict[str, str]], path: Path = HISTORY) -> None:
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerows(rows)


def _block_marks(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def results_markdown(results: list[Result], m: dict[str, str], when: dt.datetime, sha: str,
                     command: str, scale: float) -> str:
    """One block per benchmark, each with its own run line (date, commit, machine, load):
    `write_docs` replaces the blocks of the benchmarks that ran and keeps the others', so
    `python -m bench nearby` does not erase the figures of the rest."""
    run_line = (
        f"Run {when:%Y-%m-%d %H:%M} UTC, commit `{sha}`, scale {scale:g}"
        + ("" if scale == 1 else " (reduced sizes: not comparable with the targets)") + ". "
        f"Command: `{command}`. "
        f"Machine: `nproc` = {m['nproc']}; `lscpu`: {m['lscpu']}; {m['kernel']}; "
        f"Python {m['python']}; PostgreSQL {m['postgresql']} + PostGIS {m['postgis']}; "
        f"load average {m['load']} at the end of the run.")
    blocks = []
    for r in results:
        begin, end = _block_marks(r.benchmark.name)
        lines = [begin, f"### `{r.benchmark.name}`: {r.benchmark.title}", "", run_line, "",
                 "| benchmark | figure | value | reference (same run) | ratio | target | verdict |",
                 "|---|---|---|---|---|---|---|"]
        if r.error:
            lines.append(f"| {r.benchmark.name} | **did not run**: {r.error} | | | | | FAIL |")
        for f in r.figures:
            verdict = {True: "pass", False: "**FAIL**", None: "(no target)"}[f.passed]
            lines.append(
                f"| {r.benchmark.name} | {f.label} | {_fmt(f.value)} {f.unit} | "
                f"{_fmt(f.reference)} {f.unit}: {f.reference_label} | {f.ratio:.2f}x | "
                f"{f.target} | {verdict} |")
        notes = list(r.details) + [f.note for f in r.figures if f.note]
        if notes:
            lines.append("")
            lines += [f"- {line}" for line in notes]
        lines += ["", f"Duration: {r.seconds:.0f} s.", end]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _blocks(section: str) -> dict[str, str]:
    """The per-benchmark blocks of a results section, by name (text outside them dropped:
    only an old single-table section has any)."""
    found: dict[str, str] = {}
    for match in re.finditer(r"<!-- bench:([\w-]+) -->.*?<!-- /bench:\1 -->", section, re.S):
        found[match.group(1)] = match.group(0)
    return found


def write_docs(section: str, path: Path = DOCS) -> None:
    """Put the section's benchmark blocks between the markers of docs/benchmarks.md (added at
    the top if missing), replacing those of the same benchmarks and keeping the others', in
    registry order; the prose around the markers is people's."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        old, tail = rest.split(END, 1)
    else:
        first, _, rest = text.partition("\n")
        head, old, tail = f"{first}\n\n", "", f"\n{rest}"
    blocks = _blocks(old) | _blocks(section)
    order = {name: i for i, name in enumerate(REGISTRY)}
    names = sorted(blocks, key=lambda n: (order.get(n, len(order)), n))
    body = "\n\n".join(blocks[n] for n in names)
    path.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}", encoding="utf-8")
