"""Imports (issue 18): the farmland importer against `COPY` into the same table with the same
indexes, and its memory against the same importer on a tenth of the file.

Data: a CSV of 1,000,000 farmland rows (`commune,crop_group,hectares,year,source`: the 1,100
communes of 30, 34, 43, 48 x 7 crop groups x 36 years x 4 sources), written to a temporary
file; the database holds the communes only.

- time: `carto farmland import FILE` (the CLI command, run in-process in a child Python whose
  start-up is not counted, committed), into the empty `farmland` table; the reference is
  psycopg's `COPY farmland (...) FROM STDIN` of the same file into the same empty table (same
  indexes, constraints and foreign keys), committed. The table is emptied (TRUNCATE) before
  each; two alternating rounds, medians. Target: <= 2x.
- memory: the importer's peak resident memory above what the child held before the import,
  on the whole file, against the same on a tenth of it. Bounded by a batch, it does not grow
  with the file. Target: <= 2x.

    python -m bench imports
"""

import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench.harness import Context, Figure, analyze, benchmark
from bench.synthetic import SOURCE
from carto import ROOT

CROPS = ["cereals", "vegetables", "orchards", "vines", "permanent_grassland", "fodder", "fallow"]
COLUMNS = ("commune_code", "crop_group", "hectares", "year", "source")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def write_csv(url: str, path: Path, rows: int) -> int:
    with psycopg.connect(_libpq(url)) as conn:
        codes = [r[0] for r in conn.execute("SELECT code FROM commune ORDER BY code")]
    written = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["commune", "crop_group", "hectares", "year", "source"])
        for k in range(1 + rows // (len(codes) * len(CROPS) * 36)):
            for year in range(1990, 2026):
                for code in codes:
                    for crop in CROPS:
                        if written == rows:
                            return written
                        ha = (written * 7919) % 500000 / 100
                        out.writerow([code, crop, f"{ha:.2f}", year, f"{SOURCE} {k + 1}"])
                        written += 1
    return written


def empty(url: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        conn.execute("TRUNCATE farmland")


def copy_reference(url: str, path: Path) -> float:
    """Seconds to COPY the file into farmland and commit."""
    started = time.perf_counter()
    with psycopg.connect(_libpq(url)) as conn, path.open("rb") as fh:
        fh.readline()  # the header
        with conn.cursor().copy(
                f"COPY farmland ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
    return time.perf_counter() - started


def importer(url: str, path: Path) -> tuple[float, float]:
    """Seconds and peak MB above the start, of `carto farmland import` in a child process."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.imports", "--child", "farmland", str(path)],
        cwd=ROOT, env=os.environ | {"DATABASE_URL": url}, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"farmland import failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["peak_mb"])


def _child(kind: str, path: str) -> None:
    """Runs in the child: the CLI command in-process, timed; memory from /proc and getrusage."""
    from carto.cli import app

    def rss_mb() -> float:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    before = rss_mb()
    started = time.perf_counter()
    app([kind, "import", path], standalone_mode=False)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": max(0.0, peak - before)}))


@benchmark("imports", "farmland import vs COPY (issue 18)")
def run(ctx: Context) -> list[Figure]:
    rows = ctx.size(1_000_000, minimum=100)
    with tempfile.TemporaryDirectory() as tmp:
        whole, tenth = Path(tmp) / "farmland.csv", Path(tmp) / "farmland-tenth.csv"
        written = write_csv(ctx.url, whole, rows)
        write_csv(ctx.url, tenth, rows // 10)
        ctx.log(f"   {written} farmland rows ({whole.stat().st_size / 2**20:.0f} MB)")
        analyze(ctx.url)
        ours, ref, peaks = [], [], []
        for _ in range(2):
            empty(ctx.url)
            ref.append(copy_reference(ctx.url, whole))
            empty(ctx.url)
            seconds, peak = importer(ctx.url, whole)
            ours.append(seconds)
            peaks.append(peak)
        empty(ctx.url)
        _, small_peak = importer(ctx.url, tenth)
        empty(ctx.url)
    ctx.details.append(f"{written:,} rows; two alternating rounds, medians; peak memory above "
                       f"the child's start: {max(peaks):.0f} MB (whole file), "
                       f"{small_peak:.0f} MB (a tenth).")
    return [
        Figure("imports.farmland_s", f"`carto farmland import` of {written:,} rows",
               statistics.median(ours), statistics.median(ref),
               "`COPY` into the same table, same indexes", "s", at_most=2),
        Figure("imports.farmland_mb", "farmland import, peak memory above start",
               max(peaks), max(small_peak, 1.0), "same importer, a tenth of the file", "MB",
               at_most=2),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3])
