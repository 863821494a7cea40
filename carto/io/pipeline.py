"""The import pipeline: read → check → write in batches, with one report line per row."""

import csv
import io
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from carto.errors import FieldError, Invalid
from carto.i18n import Message, msg, t
from carto.text import SpreadsheetWriter

CREATED, UPDATED, UNCHANGED, REJECTED = "created", "updated", "unchanged", "rejected"
STATUSES = (CREATED, UPDATED, UNCHANGED, REJECTED)
BATCH = 5_000
KEPT_REJECTIONS = 1_000  # rejected lines kept in memory for messages; all are in the spool


@dataclass(slots=True)
class Row:
    """One data row of a file: its line (1 is the header in a CSV), its cells by column."""

    line: int
    values: dict[str, Any]
    sheet: str | None = None


@dataclass(frozen=True)
class Line:
    line: int
    status: str
    label: str = ""
    field: str | None = None
    reason: str | None = None
    sheet: str | None = None


class Rejected(Exception):  # noqa: N818 - a row's fate, not a programming error
    """Raised by `check`: the row is not written, for this reason (naming its field)."""

    def __init__(self, field: str | None, reason: "Message | str") -> None:
        super().__init__(str(reason))
        self.field = field
        self.reason = reason


@dataclass
class Report:
    """What an import did (or, in a dry run, would do), one line per row.

    The counts live in memory; the lines are spooled to a temporary file (in memory up to
    1 MB, then on disk), so a million-row import keeps a full report without holding it."""

    counts: Counter[str] = field(default_factory=Counter)
    rejections: list[Line] = field(default_factory=list)
    dry_run: bool = False
    lang: str = "fr"  # reasons are put into words in this language as they are reported
    _spool: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=1 << 20, mode="w+", newline="",
            encoding="utf-8")
        self._writer = csv.writer(self._spool)

    def add(self, line: int, status: str, label: str = "", field: str | None = None,
            reason: "Message | str | None" = None, sheet: str | None = None) -> None:
        if isinstance(reason, Message):
            reason = reason.render(self.lang)
        self.counts[status] += 1
        self._writer.writerow((line, status, label, field or "", reason or "", sheet or ""))
        if status == REJECTED and len(self.rejections) < KEPT_REJECTIONS:
            self.rejections.append(Line(line, status, label, field, reason, sheet))

    def add_fates(self, lines: Iterable[tuple[int, str, str, str | None]]) -> None:
        """`add` for many rows that were not rejected: (line, status, label, sheet) each."""
        counts, write = self.counts, self._writer.writerow
        for line, status, label, sheet in lines:
            counts[status] += 1
            write((line, status, label, "", "", sheet or ""))

    def add_copied(self, chunks: Iterable[str], counts: dict[str, int]) -> None:
        """Lines the database wrote itself, many per chunk, in the spool's own CSV form
        (line, status, label, field, reason, sheet), and their counts by status. For lines
        that are not rejections (those are kept in memory too, through `add`)."""
        assert not counts.get(REJECTED)
        for chunk in chunks:
            self._spool.write(chunk)
        self.counts.update(counts)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> Iterator[Line]:
        """Every line, in the order they were reported."""
        self._spool.flush()
        position = self._spool.tell()
        self._spool.seek(0)
        try:
            for line, status, label, fld, reason, sheet in csv.reader(self._spool):
                yield Line(int(line), status, label, fld or None, reason or None, sheet or None)
        finally:
            self._spool.seek(position)

    def field_errors(self, limit: int = 50) -> list[FieldError]:
        """The rejections as `ligne N, colonne C` errors (for an all-or-nothing import)."""
        return [FieldError(_where(x), x.reason or "") for x in sorted(
            self.rejections, key=lambda x: x.line)[:limit]]

    def summary(self) -> str:
        c = self.counts
        return t("import.summary", self.lang, rows=self.rows, created=c[CREATED],
                 updated=c[UPDATED], unchanged=c[UNCHANGED], rejected=c[REJECTED])

    def close(self) -> None:
        self._spool.close()


def _where(x: Line) -> str:
    sheet = f"feuille {x.sheet}, " if x.sheet else ""
    return f"{sheet}ligne {x.line}, colonne {x.field}" if x.field else f"{sheet}ligne {x.line}"


class Importer(Protocol):
    """One kind of import. `check` is pure (no database write); `stage` and `write` write in
    the caller's transaction."""

    def check(self, row: Row) -> Any:
        """The values to write for this row, or raise `Rejected`."""

    def stage(self, session: Session, batch: list[tuple[Row, Any]], report: Report) -> None:
        """Write (or stage) a batch of checked rows; report them if their fate is known."""

    def check_all(self, session: Session, report: Report) -> None:
        """Checks that need the whole file once every batch is staged (duplicates)."""

    def write(self, session: Session, report: Report) -> None:
        """The final write (a merge), or in a dry run what it would do; reports each row."""


def batches(rows: Iterable[Row], size: int = BATCH) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def run(session: Session, importer: Importer, rows: Iterable[Row], *, batch: int = BATCH,
        dry_run: bool = False, all_or_nothing: bool = False, max_errors: int = 50,
        progress: Callable[[int], None] | None = None, lang: str = "fr") -> Report:
    """Drive an import. `all_or_nothing`: any rejected row raises `Invalid` listing them (the
    caller's transaction then rolls back); otherwise rejected rows are reported and skipped.
    `dry_run` is passed to the report: importers skip their final write on it."""
    report = Report(dry_run=dry_run, lang=lang)
    for chunk in batches(rows, batch):
        checked: list[tuple[Row, Any]] = []
        for row in chunk:
            try:
                checked.append((row, importer.check(row)))
            except Rejected as exc:
                report.add(row.line, REJECTED, _label(row), exc.field, exc.reason, row.sheet)
        if all_or_nothing and report.counts[REJECTED] >= max_errors:
            break
        importer.stage(session, checked, report)
        if progress is not None:
            progress(len(chunk))
    importer.check_all(session, report)
    if all_or_nothing and report.counts[REJECTED]:
        raise_rejections(report, max_errors)
    importer.write(session, report)
    return report


def raise_rejections(report: Report, max_errors: int = 50) -> None:
    errors = report.field_errors(max_errors)
    shown = "; ".join(f"{e.field} : {e.text()}" for e in errors[:10])
    raise Invalid(msg("error.import.nothing_written", count=len(errors), shown=shown), errors)


def _label(row: Row) -> str:
    for key in ("name", "nom", "key", "commune", "external_id"):
        value = row.values.get(key)
        if value:
            return str(value)[:80]
    return ""


def report_csv(report: Report) -> str:
    """The report as CSV text (line, status, label, field, reason): the labels are the file's
    own names, so its cells go through the spreadsheet-safe writer like every export."""
    out = io.StringIO()
    writer = SpreadsheetWriter(out)
    writer.writerow(("ligne", "statut", "libellé", "colonne", "raison", "feuille"))
    for x in report.lines():
        writer.writerow((x.line, x.status, x.label, x.field or "", x.reason or "", x.sheet or ""))
    return out.getvalue()
