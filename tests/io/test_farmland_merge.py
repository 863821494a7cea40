"""The farmland merge: new keys by one plain insert, else (a key already there, or written by a
concurrent import) the classifying merge, rolled back to its savepoint first; the report's
lines written by the server in chunks of CSV text."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from carto import farmland
from carto.db import transaction
from carto.io import pipeline

SOURCE = "farmland merge test"
ROWS = "".join(f"34108,{g},{n + 1}.5,2021,{SOURCE}\n"
               for n, g in enumerate(("cereals", "vines", "fodder", "fallow")))
HEADER = "commune,crop_group,hectares,year,source\n"


def _statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def log(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", log)


@pytest.fixture
def statements(session: Session) -> Iterator[list[str]]:
    yield from _statements(session)


def _merged(statements: list[str]) -> bool:
    return any(s.startswith("WITH cls AS") for s in statements)


def test_new_keys_are_inserted_without_the_classifying_merge(
        session: Session, statements: list[str]) -> None:
    report = farmland.import_text(session, HEADER + ROWS)
    assert (report.rows, report.inserted, report.updated, report.unchanged) == (4, 4, 0, 0)
    assert report.per_commune[0].code == "34108" and report.per_commune[0].lines == 4
    assert report.hectares == pytest.approx(1.5 + 2.5 + 3.5 + 4.5)
    assert not _merged(statements)
    assert any(s.startswith("INSERT INTO farmland") and "ON CONFLICT" not in s
               for s in statements)


def test_a_key_already_there_rolls_the_insert_back_and_merges(
        session: Session, statements: list[str]) -> None:
    farmland.import_text(session, HEADER + ROWS.splitlines(keepends=True)[-1])
    statements.clear()
    # the new rows come first: the plain insert wrote them before failing on the last one
    report = farmland.import_text(session, HEADER + ROWS.replace("4.5", "9"))
    assert (report.inserted, report.updated, report.unchanged) == (3, 1, 0)
    assert _merged(statements)
    assert session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                          {"s": SOURCE}) == 4
    assert report.lines is not None
    assert [(x.line, x.status) for x in report.lines.lines()] == [
        (2, "created"), (3, "created"), (4, "created"), (5, "updated")]


def test_a_dry_run_of_new_keys_classifies_and_writes_nothing(session: Session) -> None:
    report = farmland.import_text(session, HEADER + ROWS, dry_run=True)
    assert report.inserted == 4
    assert session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                          {"s": SOURCE}) == 0


def test_report_lines_from_the_database_keep_labels_that_need_quoting(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(farmland, "LINES_PER_FETCH", 2)  # several chunks
    labels = ["plain", "a, comma", 'a "quote"', "two\nlines", "cr\rhere", "", None]
    values = ", ".join(
        f"({n}, 'created', {'NULL' if label is None else quote(label)})"
        for n, label in enumerate(labels, start=2))
    report = pipeline.Report()
    farmland.copy_lines(session, report, f"SELECT * FROM (VALUES {values}) v(line, status, label)")
    assert [(x.line, x.status, x.label) for x in report.lines()] == [
        (n, "created", label or "") for n, label in enumerate(labels, start=2)]
    assert report.counts == {"created": len(labels)}


def quote(value: str) -> str:
    return "E'" + value.replace("\\", "\\\\").replace("'", "''").replace(
        "\n", "\\n").replace("\r", "\\r") + "'"


def test_concurrent_imports_of_the_same_keys_both_commit_once(migrated: str) -> None:
    """The second import's plain insert waits on the first one's keys, fails on them once it
    commits, and merges them instead: unchanged, nothing twice."""
    source = "farmland concurrent merge test"
    content = HEADER + ROWS.replace(SOURCE, source)
    first_wrote, reports = threading.Event(), {}
    second_started = threading.Event()

    def first() -> None:
        with transaction(migrated) as session:
            reports["first"] = farmland.import_text(session, content)
            first_wrote.set()
            second_started.wait(10)
            threading.Event().wait(0.5)  # let the second one block on these keys

    def second() -> None:
        first_wrote.wait(10)
        with transaction(migrated) as session:
            second_started.set()
            reports["second"] = farmland.import_text(session, content)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert reports["first"].inserted == 4
        assert (reports["second"].inserted, reports["second"].unchanged) == (0, 4)
        with transaction(migrated) as session:
            assert session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                                  {"s": source}) == 4
    finally:
        with transaction(migrated) as session:
            session.execute(text("DELETE FROM farmland WHERE source = :s"), {"s": source})
