"""Imports (issue 18): the farmland and resource importers against `COPY` into the same table
with the same indexes, and their memory against the same importer on a tenth of the file.

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
- `resource_import`: 100,000 resources (French headers, ';') spread over Hérault, each with its
  identifier: `carto import FILE --territory` (staging COPY, checks, the merge, the territory
  rows and a change-log row per resource) against psycopg's `COPY resource (...)` of the same
  rows; memory as above.

    python -m bench imports
    python -m bench resource_import
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
from sqlalchemy import text

from bench.harness import Context, Figure, analyze, benchmark
from bench.synthetic import SOURCE
from carto import ROOT
from carto.backup import libpq

CROPS = ["cereals", "vegetables", "orchards", "vines", "permanent_grassland", "fodder", "fallow"]
COLUMNS = ("commune_code", "crop_group", "hectares", "year", "source")



def write_csv(url: str, path: Path, rows: int) -> int:
    with psycopg.connect(libpq(url)) as conn:
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
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("TRUNCATE farmland")


def copy_reference(url: str, path: Path) -> float:
    """Seconds to COPY the file into farmland and commit."""
    started = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn, path.open("rb") as fh:
        fh.readline()  # the header
        with conn.cursor().copy(
                f"COPY farmland ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
    return time.perf_counter() - started


def importer(url: str, path: Path, *args: str) -> tuple[float, float]:
    """Seconds and peak MB above the start, of `carto <args> FILE` in a child process
    (`farmland import` by default)."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.imports", "--child", *(args or ("farmland", "import")),
         str(path)],
        cwd=ROOT, env=os.environ | {"DATABASE_URL": url}, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"import failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return float(result["seconds"]), float(result["peak_mb"])


def _child(argv: list[str]) -> None:
    """Runs in the child: the CLI command in-process, timed; memory from /proc and getrusage.
    `argv`: the command's words, the file last (moved after the command for `carto import`)."""
    from carto.cli import app

    def rss_mb() -> float:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    before = rss_mb()
    started = time.perf_counter()
    code = app(argv, standalone_mode=False)  # an exit code, not an exit, in this mode
    if isinstance(code, int) and code:
        sys.exit(code)  # a failed import is no figure (it once reported a cancelled one)
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


RESOURCE_SLUG = "bench-import"
KINDS = ["producer", "food_aid", "social_grocery", "shop", "shared_garden", "market"]


def write_resources_csv(url: str, path: Path, rows: int) -> int:
    """Resources with the French headers people use (data/io/columns.csv), spread over the
    communes of Hérault, each with its own identifier."""
    with psycopg.connect(libpq(url)) as conn:
        points = conn.execute("""
            SELECT ST_X(g), ST_Y(g) FROM (SELECT (ST_Dump(ST_GeneratePoints(ST_Union(geom),
                   %s, 11))).geom AS g FROM commune WHERE department = '34') p""",
                              (rows,)).fetchall()
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh, delimiter=";", lineterminator="\n")
        out.writerow(["identifiant", "nom", "type", "latitude", "longitude", "description"])
        for n, (x, y) in enumerate(points, start=1):
            out.writerow([f"BENCH-{n}", f"Ressource synthétique #{n}", KINDS[n % len(KINDS)],
                          f"{y:.6f}", f"{x:.6f}", "Donnée synthétique importée (mesure)."])
    return len(points)


def copy_resources(url: str, path: Path) -> float:
    """Seconds to COPY the same rows into resource (same indexes and constraints), committed."""
    import uuid

    started = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn, path.open(encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter=";")
        next(reader)
        with conn.cursor().copy(
                "COPY resource (id, external_id, name, kind, geom, location_precision, "
                "description, provenance, source_name, created_by, updated_by) FROM STDIN") as cp:
            for ext, name, kind, lat, lon, description in reader:
                cp.write_row((uuid.uuid4(), ext, name, kind, f"SRID=4326;POINT({lon} {lat})",
                              "exact", description, "import", "copy", "bench", "bench"))
        conn.commit()
    return time.perf_counter() - started


def empty_resources(url: str) -> None:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("TRUNCATE resource CASCADE")


@benchmark("resource_import", "resource import vs COPY (issue 18)")
def run_resources(ctx: Context) -> list[Figure]:
    from carto import territories
    from carto.db import transaction
    from carto.territories import TerritorySpec

    rows = ctx.size(100_000, minimum=100)
    with transaction(ctx.url) as session:
        codes = [c for (c,) in session.execute(
            text("SELECT code FROM commune WHERE department = '34'"))]
        territories.create_from_communes(session, TerritorySpec(
            slug=RESOURCE_SLUG, name="Import synthétique (Hérault)",
            description="Données synthétiques pour les mesures de performance."), codes)
    with tempfile.TemporaryDirectory() as tmp:
        path, tenth = Path(tmp) / "ressources.csv", Path(tmp) / "ressources-dixieme.csv"
        written = write_resources_csv(ctx.url, path, rows)
        write_resources_csv(ctx.url, tenth, max(rows // 10, 10))
        analyze(ctx.url)
        ours, ref, peaks = [], [], []
        for _ in range(2):
            empty_resources(ctx.url)
            ref.append(copy_resources(ctx.url, path))
            empty_resources(ctx.url)
            seconds, peak = importer(ctx.url, path, "import", "--territory", RESOURCE_SLUG)
            ours.append(seconds)
            peaks.append(peak)
            with psycopg.connect(libpq(ctx.url)) as conn:
                imported = conn.execute("SELECT count(*) FROM resource").fetchone()
            if not imported or imported[0] != written:  # a figure of rejected rows is no figure
                raise RuntimeError(f"the importer wrote {imported} of {written} rows")
        empty_resources(ctx.url)
        _, small_peak = importer(ctx.url, tenth, "import", "--territory", RESOURCE_SLUG)
        empty_resources(ctx.url)
    ctx.details.append(f"{written:,} resources (CSV with French headers, ';'); two alternating "
                       "rounds into an emptied table, medians; peak memory above the child's "
                       f"start: {max(peaks):.0f} MB (whole file), {small_peak:.0f} MB (a tenth).")
    return [Figure("imports.resources_s", f"`carto import FILE --territory` of {written:,} rows",
                   statistics.median(ours), statistics.median(ref),
                   "`COPY` into resource, same indexes", "s", at_most=2),
            Figure("imports.resources_mb", "resource import, peak memory above start",
                   max(peaks), max(small_peak, 1.0), "same importer, a tenth of the file", "MB",
                   at_most=2)]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        words = sys.argv[2:]
        if words[0] == "import":  # carto import FILE --territory SLUG
            words = ["import", words[-1], *words[1:-1]]
        _child(words)
