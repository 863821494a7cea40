"""bench/indicators.py runs end to end at a tiny size (no timing asserted): its four figures
reach the history, each beside its same-run reference."""

import csv
import uuid
from pathlib import Path

from bench import __main__ as cli


def test_indicators_benchmark_runs(tmp_path: Path, migrated: str) -> None:
    history, docs = tmp_path / "history.csv", tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n", encoding="utf-8")
    prefix = f"terreau_test_bench_{uuid.uuid4().hex[:8]}_"
    code = cli.main(["indicators", "--scale", "0.002", "--history", str(history),
                     "--docs", str(docs), "--database-prefix", prefix])
    assert code == 0
    with history.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["measure"] for r in rows] == ["indicators.today_ms", "indicators.past_ms",
                                            "indicators.snapshot_ms", "indicators.measures_ms"]
    assert all(float(r["value"]) > 0 and float(r["reference"]) > 0 for r in rows)
    assert "GET indicators (today, JSON)" in docs.read_text(encoding="utf-8")
