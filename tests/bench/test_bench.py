"""The benchmark harness end to end at tiny sizes: it runs a real benchmark in a database of
its own, drops it, appends well-formed rows to the history and rewrites only its section of the
docs. No timing is asserted (benchmarks measure; tests check that they can)."""

import csv
import math
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from bench import __main__ as cli
from bench import harness
from bench.harness import Context, Figure
from carto.config import DatabaseSettings


def _databases(prefix: str) -> list[str]:
    admin = make_url(DatabaseSettings().database_url).set(
        database="postgres", drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin) as conn:
        return [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (prefix + "%",))]


@pytest.fixture
def broken() -> object:
    @harness.benchmark("broken_for_test", "always fails")
    def run(ctx: Context) -> list[Figure]:
        raise RuntimeError("on purpose")
    yield run
    harness.REGISTRY.pop("broken_for_test")


def test_bench_runs_end_to_end_and_writes_rows(tmp_path: Path, broken: object) -> None:
    history, docs = tmp_path / "history.csv", tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nProse people wrote.\n", encoding="utf-8")
    prefix = f"terreau_test_bench_{uuid.uuid4().hex[:8]}_"
    code = cli.main(["nearby", "broken_for_test", "--scale", "0.002", "--http-seconds", "1",
                     "--history", str(history), "--docs", str(docs),
                     "--database-prefix", prefix])
    assert code == 1  # the broken benchmark is reported as failed...
    assert _databases(prefix) == []  # ...and every benchmark database is dropped

    with history.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["measure"] for r in rows] == ["nearby.server_ms", "nearby.http_rps"]
    for row in rows:
        assert set(row) == set(harness.HISTORY_FIELDS)
        assert all(row[k] for k in ("date", "commit", "machine", "value", "reference", "ratio"))
        value, reference, ratio = (float(row[k]) for k in ("value", "reference", "ratio"))
        assert value > 0 and reference > 0
        assert math.isclose(ratio, value / reference, rel_tol=1e-3)
        assert row["passed"] in ("pass", "fail") and row["target"]

    text = docs.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n") and "Prose people wrote." in text
    section = text.split(harness.BEGIN, 1)[1].split(harness.END, 1)[0]
    assert "| nearby | nearby server time, median |" in section
    assert "broken_for_test | **did not run**: RuntimeError: on purpose" in section
    assert "`nproc` = " in section and "PostgreSQL 15" in section

    # A second run of one benchmark appends rows under the same header and replaces that
    # benchmark's block only: the other benchmark's figures stay.
    result = harness.Result(harness.REGISTRY["nearby"], [Figure("nearby.http_rps", "again", 1,
                                                                2, "ref", "req/s")], 1.0)
    m = harness.machine(DatabaseSettings().database_url)
    harness.append_history(harness.history_rows([result], m, harness.dt.datetime.now(), "abc"),
                           history)
    harness.write_docs(harness.results_markdown([result], m, harness.dt.datetime.now(), "abc",
                                                "make bench", 1.0), docs)
    lines = history.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(harness.HISTORY_FIELDS) and len(lines) == 4
    again = docs.read_text(encoding="utf-8")
    assert again.count(harness.BEGIN) == 1 and again.count("<!-- bench:nearby -->") == 1
    assert "broken_for_test | **did not run**: RuntimeError: on purpose" in again
    assert "| nearby | again | 1.00 req/s |" in again and "Prose people wrote." in again
    assert "| nearby | nearby server time, median |" not in again


def test_figure_ratio_and_verdict() -> None:
    fast = Figure("x.rps", "x", 300, 1000, "bare", "req/s", at_least=0.4)
    slow = Figure("x.ms", "x", 7, 1, "raw", "ms", at_most=6)
    free = Figure("x.free", "x", 1, 2, "ref", "s")
    assert (fast.ratio, fast.passed, fast.target) == (0.3, False, ">= 0.4")
    assert (slow.ratio, slow.passed, slow.target) == (7, False, "<= 6")
    assert free.passed is None and free.target == ""
