"""bench/workshop.py runs end to end at a tiny size (no timing asserted): participants join and
write with replays while readers read, and the database holds exactly the acknowledged writes
(the benchmark fails otherwise)."""

import csv
import uuid
from pathlib import Path

from bench import __main__ as cli


def test_workshop_benchmark_runs(tmp_path: Path, migrated: str) -> None:
    history, docs = tmp_path / "history.csv", tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n", encoding="utf-8")
    prefix = f"terreau_test_bench_{uuid.uuid4().hex[:8]}_"
    code = cli.main(["workshop", "--scale", "0.002", "--http-seconds", "1",
                     "--history", str(history), "--docs", str(docs),
                     "--database-prefix", prefix])
    assert code == 0, docs.read_text(encoding="utf-8")
    with history.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["measure"] for r in rows] == [
        "workshop.write_p95_ms", "workshop.read_p95_ms", "workshop.write_p95_target",
        "workshop.overload_write_p95_ms", "workshop.overload_read_p95_ms", "workshop.kept_rows"]
    assert rows[2]["reference"] == "300" and rows[2]["target"] == "<= 1"
    kept = rows[-1]
    assert float(kept["value"]) == float(kept["reference"])  # every acknowledged write kept
    text = docs.read_text(encoding="utf-8")
    assert "none lost, none duplicated" in text
    assert "**workshop pace**" in text and "**overload pace**" in text
