"""`carto farmland import FILE`: farmland surfaces per commune and crop group, from a CSV.

Columns: `commune` (INSEE code) or `territory` (slug, for a sub-communal territory), `crop_group`
(data/vocab/crop_groups.csv), `hectares`, `year`, `source`. Comma, semicolon or tab separated,
UTF-8 (a BOM is fine) or Windows-1252, decimal point or comma.

- **transactional**: the whole file or nothing; every error (up to 50) is reported at once, each
  naming its line and column, before anything is merged;
- **idempotent**: a row is keyed by (commune or territory, crop group, year, source); importing
  the same file again changes nothing, a corrected file updates the hectares in place;
- **streamed** (carto.io pipeline): rows are checked in batches and written with `COPY` into a
  temporary staging table, then merged into `farmland` in one statement. Memory is bounded by a
  batch: a million rows go through without holding the file (docs/benchmarks.md).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import vocab
from carto.errors import FieldError, Invalid
from carto.i18n import msg
from carto.io import pipeline, readers
from carto.io.pipeline import CREATED, REJECTED, UNCHANGED, UPDATED, Rejected, Report, Row
from carto.io.readers import EXTRA
from carto.numbers import decimal

REQUIRED = ("crop_group", "hectares", "year", "source")
MAX_ERRORS = 50
STAGING = "farmland_staging"


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    hectares: float = 0.0
    communes: set[str] = field(default_factory=set)
    lines: Report | None = None  # the per-row report of the pipeline


def check_header(header: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if "commune" not in header and "territory" not in header:
        missing.insert(0, "commune")
    if missing:
        raise Invalid(msg("error.farmland.missing_columns", columns=", ".join(missing)),
                      [FieldError(f"ligne 1, colonne {c}", msg("error.farmland.missing_column"))
                       for c in missing])


class FarmlandImport:
    """The farmland importer of the pipeline: check in Python, COPY to staging, one merge."""

    def __init__(self, session: Session, header: list[str]) -> None:
        self.last = header[-1] if header else ""
        # Every known code and slug (a few thousand at most), not the file's: bounded memory.
        self.codes = set(session.scalars(text("SELECT code FROM commune")))
        self.territories: dict[str, int] = dict(
            session.execute(text("SELECT slug, id FROM territory")).all())
        self.crops = vocab.crop_groups()
        session.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
        session.execute(text(f"""CREATE TEMP TABLE {STAGING} (
            line integer NOT NULL, commune varchar(5), tid integer, crop text NOT NULL,
            ha numeric(12,2) NOT NULL, year smallint NOT NULL, source text NOT NULL)
            ON COMMIT DROP"""))
        self.totals = ImportReport()

    def check(self, row: Row) -> tuple[Any, ...]:
        v = row.values
        if v.get(EXTRA):
            raise Rejected(self.last, msg("error.farmland.extra_cells", count=len(v[EXTRA])))
        commune, slug = v.get("commune") or "", v.get("territory") or ""
        if bool(commune) == bool(slug):
            raise Rejected("commune", msg("error.farmland.commune_or_territory") if commune
                           else msg("error.farmland.no_commune"))
        if commune and commune not in self.codes:
            raise Rejected("commune", msg("error.farmland.unknown_commune", value=commune))
        if slug and slug not in self.territories:
            raise Rejected("territory", msg("error.farmland.unknown_territory", value=slug))
        crop = v.get("crop_group") or ""
        if crop not in self.crops:
            raise Rejected("crop_group", msg("error.farmland.unknown_crop", value=crop,
                                             allowed=", ".join(self.crops)))
        raw = v.get("hectares") or ""
        hectares = decimal(raw)
        if hectares is None:
            raise Rejected("hectares", msg("error.farmland.bad_number", value=raw))
        if not 0 <= hectares < 1e8:
            raise Rejected("hectares", msg("error.farmland.negative", value=raw))
        year = v.get("year") or ""
        if not (year.isdigit() and 1900 <= int(year) <= 2100):
            raise Rejected("year", msg("error.farmland.bad_year", value=year))
        source = v.get("source") or ""
        if not source:
            raise Rejected("source", msg("error.farmland.no_source"))
        if len(source) > 500:
            raise Rejected("source", msg("error.farmland.source_too_long"))
        # hectares rounded to 2 decimals by the staging column (numeric(12,2)), as in farmland
        return (row.line, commune or None, self.territories.get(slug), crop, hectares,
                int(year), source)

    def stage(self, session: Session, batch: list[tuple[Row, Any]], report: Report) -> None:
        if not batch:
            return
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore
        with cursor.copy(f"COPY {STAGING} (line, commune, tid, crop, ha, year, source) "
                         "FROM STDIN") as copy:
            for _, values in batch:
                copy.write_row(values)

    def check_all(self, session: Session, report: Report) -> None:
        # Duplicates of the file's own key: every later line names the first one.
        # Counting per key first (a hash aggregate) keeps the common case, no duplicate, cheap.
        for line, first in session.execute(text(f"""
                WITH d AS (
                  SELECT coalesce(commune, '') AS c, coalesce(tid, 0) AS t, crop, year, source,
                         min(line) AS first
                  FROM {STAGING} GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1 LIMIT :n)
                SELECT s.line, d.first FROM {STAGING} s JOIN d
                  ON coalesce(s.commune, '') = d.c AND coalesce(s.tid, 0) = d.t
                 AND s.crop = d.crop AND s.year = d.year AND s.source = d.source
                WHERE s.line <> d.first ORDER BY 1 LIMIT :n"""), {"n": MAX_ERRORS}):
            report.add(line, REJECTED, "", "crop_group",
                       msg("error.farmland.duplicate", line=first))

    def write(self, session: Session, report: Report) -> None:
        totals = session.execute(text(f"""SELECT coalesce(sum(ha), 0), array_remove(
            array_agg(DISTINCT commune), NULL) FROM {STAGING}""")).one()
        self.totals.hectares, self.totals.communes = float(totals[0]), set(totals[1])
        if report.dry_run:
            self._report(session, report, CLASSIFY + f"SELECT line, {STATUS} FROM cls")
        else:
            self._report(session, report, MERGE)

    def _report(self, session: Session, report: Report, sql: str) -> None:
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore
        for line, status in cursor.stream(sql, size=pipeline.BATCH):
            report.add(line, status)


# The staging rows, each with the farmland row of the same key if there is one (the join is
# on the unique index's expressions, so the index serves it).
CLASSIFY = f"""
    WITH cls AS (
      SELECT s.*, f.id AS fid, f.hectares AS old
      FROM {STAGING} s LEFT JOIN farmland f
        ON COALESCE(f.commune_code, '') = COALESCE(s.commune, '')
       AND COALESCE(f.territory_id, 0) = COALESCE(s.tid, 0)
       AND f.crop_group = s.crop AND f.year = s.year AND f.source = s.source)
"""
STATUS = (f"CASE WHEN fid IS NULL THEN '{CREATED}' WHEN old = ha THEN '{UNCHANGED}' "
          f"ELSE '{UPDATED}' END")
# One statement: insert the new keys, update the changed hectares, answer each line's fate.
# ON CONFLICT covers a concurrent import of the same key between the join and the insert.
MERGE = CLASSIFY + f""",
    ins AS (
      INSERT INTO farmland (commune_code, territory_id, crop_group, hectares, year, source)
      SELECT commune, tid, crop, ha, year, source FROM cls WHERE fid IS NULL
      ON CONFLICT (COALESCE(commune_code, ''), COALESCE(territory_id, 0), crop_group, year,
                   source)
      DO UPDATE SET hectares = EXCLUDED.hectares),
    upd AS (
      UPDATE farmland f SET hectares = c.ha FROM cls c
      WHERE f.id = c.fid AND f.hectares <> c.ha)
    SELECT line, {STATUS} FROM cls"""


def import_stream(session: Session, stream: IO[bytes], dry_run: bool = False,
                  progress: Any = None) -> ImportReport:
    """Import a farmland CSV in the caller's transaction (all or nothing)."""
    table = readers.csv_table(stream)
    check_header(table.header)
    importer = FarmlandImport(session, table.header)
    lines = pipeline.run(session, importer, table.rows, dry_run=dry_run, all_or_nothing=True,
                         max_errors=MAX_ERRORS, progress=progress)
    if lines.rows == 0:
        raise Invalid.field("ligne 2", msg("error.farmland.no_rows"))
    out = importer.totals
    out.rows, out.lines = lines.rows, lines
    out.inserted, out.updated, out.unchanged = (lines.counts[CREATED], lines.counts[UPDATED],
                                                lines.counts[UNCHANGED])
    return out


def import_text(session: Session, content: str, dry_run: bool = False) -> ImportReport:
    import io

    return import_stream(session, io.BytesIO(content.encode("utf-8")), dry_run)


def import_file(session: Session, path: Path, dry_run: bool = False,
                progress: Any = None) -> ImportReport:
    with readers.open_binary(path) as stream:
        return import_stream(session, stream, dry_run, progress)
