"""`carto farmland import FILE`: farmland surfaces per commune and crop group, from a CSV.

Columns: `commune` (INSEE code) or `territory` (slug, for a sub-communal territory), `crop_group`
(data/vocab/crop_groups.csv), `hectares`, `year`, `source`. Comma, semicolon or tab separated,
UTF-8 (a BOM is fine) or Windows-1252, decimal point or comma.

- **transactional**: the whole file or nothing; every error (up to 50) is reported at once, each
  naming its line and column, before anything is merged;
- **idempotent**: a row is keyed by (commune or territory, crop group, year, source); importing
  the same file again changes nothing, a corrected file updates the hectares in place;
- **streamed** (carto.io pipeline): rows are checked in batches and written with `COPY` into a
  temporary staging table, then merged into `farmland`: by one plain insert when none of their
  keys is there yet, else by one classifying statement (`_Merge`). Memory is bounded by a
  batch: a million rows go through without holding the file (docs/benchmarks.md).

Two more ways in, through the same staging table and the same merge:
- `import_for_territory`: an editor's upload on the gap page (carto.permissions.edit_territory;
  the rows must be the territory's communes or the territory itself);
- `import_rpg` (`carto farmland import-rpg FILE`): the RPG parcels (IGN/ASP, GeoPackage or zipped
  shapefile), each parcel's RPG culture group mapped to a crop group
  (data/reference/rpg_groups.csv), placed in the commune holding its representative point, and
  summed per commune and crop group for one year and source.

Every import reports per commune (lines, hectares, created / updated / unchanged).
"""

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

from psycopg.errors import UniqueViolation
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carto import ROOT, permissions, territories, vocab
from carto.errors import FieldError, Invalid
from carto.i18n import msg
from carto.io import pipeline, readers
from carto.io.pipeline import CREATED, REJECTED, UNCHANGED, UPDATED, Rejected, Report, Row
from carto.io.readers import EXTRA
from carto.numbers import decimal
from carto.visibility import Principal

REQUIRED = ("crop_group", "hectares", "year", "source")
MAX_ERRORS = 50
STAGING = "farmland_staging"
FATE = "farmland_fate"  # each staged line's fate (created, updated, unchanged)


@dataclass
class CommuneReport:
    """What one import did in one commune (or, code '', for a territory's own rows)."""

    code: str
    name: str = ""
    lines: int = 0
    hectares: float = 0.0
    counts: Counter[str] = field(default_factory=Counter)


@dataclass
class ImportReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    hectares: float = 0.0
    communes: set[str] = field(default_factory=set)
    lines: Report | None = None  # the per-row report of the pipeline
    per_commune: list[CommuneReport] = field(default_factory=list)  # by commune code
    ignored: int = 0  # RPG parcels outside every known commune


def check_header(header: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if "commune" not in header and "territory" not in header:
        missing.insert(0, "commune")
    if missing:
        raise Invalid(msg("error.farmland.missing_columns", columns=", ".join(missing)),
                      [FieldError(f"ligne 1, colonne {c}", msg("error.farmland.missing_column"))
                       for c in missing])


def _create_staging(session: Session) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {STAGING}, {FATE}"))
    session.execute(text(f"""CREATE TEMP TABLE {STAGING} (
        line integer NOT NULL, commune varchar(5), tid integer, crop text NOT NULL,
        ha numeric(12,2) NOT NULL, year smallint NOT NULL, source text NOT NULL)
        ON COMMIT DROP"""))
    session.execute(text(f"""CREATE TEMP TABLE {FATE} (
        line integer NOT NULL, commune varchar(5), crop text NOT NULL,
        ha numeric(12,2) NOT NULL, status text NOT NULL) ON COMMIT DROP"""))


def _write_rows(copy: Any, batch: list[tuple[Row, Any]]) -> None:
    for _, values in batch:
        copy.write_row(values)


LINES_PER_FETCH = 10_000
# A label in the report's CSV form (quoted when it holds a comma, a quote or a line break).
_CSV_LABEL = ("CASE WHEN label ~ '[\",\\r\\n]' THEN '\"' || replace(label, '\"', '\"\"') || '\"' "
              "ELSE coalesce(label, '') END")


def copy_lines(session: Session, report: Report, select: str,
               counts: dict[str, int] | None = None) -> None:
    """Report lines straight from the database: `select` gives (line, status, label) per row,
    written by the server in the report's own CSV form, ten thousand lines per fetched row,
    into its spool, with their counts (given, or from one aggregate) — a million-row merge is
    reported without a Python call per row."""
    if counts is None:
        counts = dict(session.execute(text(
            f"SELECT status, count(*) FROM ({select}) r GROUP BY status")).all())
    chunks = session.execute(text(f"""
        SELECT string_agg(line || ',' || status || ',' || {_CSV_LABEL} || E',,,\r\n', ''
                          ORDER BY line)
        FROM ({select}) r GROUP BY line / {LINES_PER_FETCH} ORDER BY line / {LINES_PER_FETCH}"""))
    report.add_copied((chunk for (chunk,) in chunks), counts)


class _Merge:
    """The end both importers share: the staging table merged into farmland, each row's fate
    reported (the lines in chunks of CSV text, the totals per commune by one aggregate).

    When none of the staged keys is in farmland yet — a first import, and the benchmark's
    case — the rows are inserted by one plain `INSERT … SELECT` (what a COPY into the table
    costs, without the classification or ON CONFLICT's speculative insertion), every row
    created. A key already there (or written meanwhile by a concurrent import) makes that
    insert fail on the unique index: it is rolled back to its savepoint and the general merge
    runs, one statement classifying each row (a dry run: only that) and keeping its fate."""

    totals: ImportReport
    fates: str = FATE  # each staged line's fate: the table, or all created (the fast path)

    def _merge(self, session: Session, report: Report) -> None:
        if not report.dry_run and self._insert_new(session):
            self.fates = f"(SELECT line, commune, crop, ha, '{CREATED}' AS status FROM {STAGING})"
        elif report.dry_run:
            session.execute(text(CLASSIFY + FATE_INSERT))
        else:
            session.execute(text(MERGE))
        per: dict[str, CommuneReport] = {}
        for code, name, status, n, ha in session.execute(text(f"""
                SELECT f.code, coalesce(c.name, ''), f.status, f.n, f.ha
                FROM (SELECT coalesce(commune, '') AS code, status, count(*) AS n, sum(ha) AS ha
                      FROM {self.fates} f GROUP BY 1, 2) f
                LEFT JOIN commune c ON c.code = f.code ORDER BY 1""")):
            entry = per.setdefault(code, CommuneReport(code, name))
            entry.lines += int(n)
            entry.hectares += float(ha)
            entry.counts[status] += int(n)
        self.totals.per_commune = [per[c] for c in sorted(per)]
        self.totals.hectares = round(sum(c.hectares for c in per.values()), 2)
        self.totals.communes = {c for c in per if c}

    def _insert_new(self, session: Session) -> bool:
        """Insert every staged row as a new one; False (nothing written) if a key exists."""
        try:
            with session.begin_nested():
                session.execute(text(INSERT_NEW))
        except IntegrityError as exc:
            if not isinstance(exc.orig, UniqueViolation):
                raise
            return False
        return True


class FarmlandImport(_Merge):
    """The farmland importer of the pipeline: check in Python, COPY to staging, one merge.
    `communes`/`territory_id`: the only rows allowed (an editor's upload for a territory)."""

    def __init__(self, session: Session, header: list[str], communes: set[str] | None = None,
                 territory_id: int | None = None) -> None:
        self.last = header[-1] if header else ""
        # Every known code and slug (a few thousand at most), not the file's: bounded memory.
        self.codes = set(session.scalars(text("SELECT code FROM commune")))
        self.territories: dict[str, int] = dict(
            session.execute(text("SELECT slug, id FROM territory")).all())
        self.crops = vocab.crop_groups()
        self.only_communes, self.only_territory = communes, territory_id
        _create_staging(session)
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
        if self.only_communes is not None and (
                (commune and commune not in self.only_communes)
                or (slug and self.territories[slug] != self.only_territory)):
            raise Rejected("commune" if commune else "territory",
                           msg("error.farmland.outside", value=commune or slug))
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
        # ASCII digits only: str.isdigit() also takes '²' (int() then raises) and '２０２３'
        if not (year.isascii() and year.isdigit() and 1900 <= int(year) <= 2100):
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
            _write_rows(copy, batch)

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
        self._merge(session, report)
        counts: Counter[str] = Counter()
        for entry in self.totals.per_commune:
            counts.update(entry.counts)
        copy_lines(session, report, f"SELECT line, status, NULL AS label FROM {self.fates} f",
                   dict(counts))


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
# One statement: insert the new keys, update the changed hectares, keep each line's fate.
# ON CONFLICT covers a concurrent import of the same key between the join and the insert.
FATE_INSERT = (f"INSERT INTO {FATE} (line, commune, crop, ha, status) "
               f"SELECT line, commune, crop, ha, {STATUS} FROM cls")
INSERT_NEW = f"""
    INSERT INTO farmland (commune_code, territory_id, crop_group, hectares, year, source)
    SELECT commune, tid, crop, ha, year, source FROM {STAGING}"""
MERGE = CLASSIFY + """,
    ins AS (
      INSERT INTO farmland (commune_code, territory_id, crop_group, hectares, year, source)
      SELECT commune, tid, crop, ha, year, source FROM cls WHERE fid IS NULL
      ON CONFLICT (COALESCE(commune_code, ''), COALESCE(territory_id, 0), crop_group, year,
                   source)
      DO UPDATE SET hectares = EXCLUDED.hectares),
    upd AS (
      UPDATE farmland f SET hectares = c.ha FROM cls c
      WHERE f.id = c.fid AND f.hectares <> c.ha)
    """ + FATE_INSERT


def import_stream(session: Session, stream: IO[bytes], dry_run: bool = False,
                  progress: Any = None, communes: set[str] | None = None,
                  territory_id: int | None = None, lang: str = "fr") -> ImportReport:
    """Import a farmland CSV in the caller's transaction (all or nothing)."""
    table = readers.csv_table(stream)
    check_header(table.header)
    importer = FarmlandImport(session, table.header, communes, territory_id)
    lines = pipeline.run(session, importer, table.rows, dry_run=dry_run, all_or_nothing=True,
                         max_errors=MAX_ERRORS, progress=progress, lang=lang)
    if lines.rows == 0:
        raise Invalid.field("ligne 2", msg("error.farmland.no_rows"))
    return _finish(importer.totals, lines)


def _finish(out: ImportReport, lines: Report) -> ImportReport:
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


def import_for_territory(session: Session, principal: Principal, slug: str,
                         stream: IO[bytes], lang: str = "fr") -> ImportReport:
    """An editor's farmland CSV for territory `slug` (the gap page's upload): the same
    importer, its rows restricted to the territory's communes and to the territory itself."""
    territory = territories.get(session, slug)
    permissions.edit_territory(principal, territory.id)
    communes = set(session.scalars(text(
        "SELECT commune_code FROM territory_commune WHERE territory_id = :t"),
        {"t": territory.id}))
    return import_stream(session, stream, communes=communes, territory_id=territory.id,
                         lang=lang)


# --- the RPG (Registre parcellaire graphique) ----------------------------------------------

RPG_STAGING = "rpg_staging"
RPG_GROUP_COLUMNS = ("code_group", "code_groupe")
RPG_SURFACE_COLUMNS = ("surf_parc", "surf_graph", "surface", "surf_ha")


@dataclass(frozen=True)
class RpgGroup:
    code: int
    label_fr: str
    label_en: str
    crop_group: str
    since_2015: bool


@cache
def rpg_groups() -> dict[int, RpgGroup]:
    """The official RPG culture groups (1–28) and the crop group each counts in."""
    path = ROOT / "data" / "reference" / "rpg_groups.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        groups = {int(r["code"]): RpgGroup(int(r["code"]), r["label_fr"], r["label_en"],
                                           r["crop_group"], r["since_2015"] == "yes")
                  for r in csv.DictReader(fh)}
    unknown = {g.crop_group for g in groups.values()} - set(vocab.crop_groups())
    assert not unknown, f"rpg_groups.csv names unknown crop groups: {unknown}"
    return groups


def rpg_year(path: Path, year: int | None) -> int:
    """The year given, else the one in the file's name (RPG_2-0__GPKG_LAMB93_R76_2023-01-01)."""
    if year is None:
        found = re.findall(r"(?<!\d)(19[89]\d|20\d\d)(?!\d)", path.name)
        if not found:
            raise Invalid.field("year", msg("error.farmland.rpg_year", name=path.name))
        year = int(found[-1])
    if not 1990 <= year <= 2100:
        raise Invalid.field("year", msg("error.farmland.bad_year", value=year))
    return year


def _column(header: list[str], names: tuple[str, ...]) -> str | None:
    return next((h for h in header if h.strip().lower() in names), None)


class RpgImport(_Merge):
    """RPG parcels → farmland: check each parcel (culture group, surface, a point), COPY it
    into a staging table, place the points in the communes (one spatial join on commune_gist),
    sum per commune and crop group into the farmland staging table, and merge as for a CSV."""

    def __init__(self, session: Session, header: list[str], year: int, source: str) -> None:
        group = _column(header, RPG_GROUP_COLUMNS)
        surface = _column(header, RPG_SURFACE_COLUMNS)
        missing = [c for c, found in (("CODE_GROUP", group), ("SURF_PARC", surface))
                   if found is None]
        if missing:
            raise Invalid(msg("error.farmland.rpg_columns", columns=", ".join(missing)),
                          [FieldError(f"colonne {c}", msg("error.farmland.missing_column"))
                           for c in missing])
        assert group is not None and surface is not None
        self.group, self.surface = group, surface
        self.year, self.source = year, source
        self.groups = rpg_groups()
        self.totals = ImportReport()
        _create_staging(session)
        session.execute(text(f"DROP TABLE IF EXISTS {RPG_STAGING}"))
        session.execute(text(f"""CREATE TEMP TABLE {RPG_STAGING} (
            line integer NOT NULL, grp smallint NOT NULL, crop text NOT NULL,
            ha float8 NOT NULL, x float8 NOT NULL, y float8 NOT NULL, commune varchar(5))
            ON COMMIT DROP"""))

    def check(self, row: Row) -> tuple[Any, ...]:
        v = row.values
        raw = (v.get(self.group) or "").strip()
        code = int(float(raw)) if re.fullmatch(r"\d+(\.0+)?", raw) else None
        if code not in self.groups:
            raise Rejected(self.group, msg("error.farmland.rpg_group", value=raw))
        area = v.get(self.surface) or ""
        hectares = decimal(area)
        if hectares is None or hectares != hectares or not 0 <= hectares < 1e6:
            raise Rejected(self.surface, msg("error.farmland.negative", value=area))
        lon, lat = decimal(v.get("longitude") or ""), decimal(v.get("latitude") or "")
        if lon is None or lat is None:
            raise Rejected("geometry", msg("error.farmland.rpg_geometry"))
        assert code is not None
        return (row.line, code, self.groups[code].crop_group, hectares, lon, lat)

    def stage(self, session: Session, batch: list[tuple[Row, Any]], report: Report) -> None:
        if not batch:
            return
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore
        with cursor.copy(f"COPY {RPG_STAGING} (line, grp, crop, ha, x, y) FROM STDIN") as copy:
            _write_rows(copy, batch)

    def check_all(self, session: Session, report: Report) -> None:
        """A wrong parcel makes the whole file wrong (all or nothing); then each parcel gets
        the commune holding its point, and those in no known commune are reported apart."""
        if report.counts[REJECTED]:
            pipeline.raise_rejections(report, MAX_ERRORS)
        session.execute(text(f"""
            UPDATE {RPG_STAGING} s SET commune = c.code FROM commune c
            WHERE ST_Intersects(c.geom, ST_SetSRID(ST_MakePoint(s.x, s.y), 4326))"""))
        for (line,) in session.execute(text(
                f"SELECT line FROM {RPG_STAGING} WHERE commune IS NULL ORDER BY line")):
            report.add(line, REJECTED, "", "geometry", msg("error.farmland.rpg_outside"))
            self.totals.ignored += 1
        session.execute(text(f"""
            INSERT INTO {STAGING} (line, commune, tid, crop, ha, year, source)
            SELECT min(line), commune, NULL, crop, round(sum(ha)::numeric, 2), :year, :source
            FROM {RPG_STAGING} WHERE commune IS NOT NULL GROUP BY commune, crop"""),
            {"year": self.year, "source": self.source})

    def write(self, session: Session, report: Report) -> None:
        self._merge(session, report)
        # each parcel gets the fate of its commune's crop-group row (one row each)
        copy_lines(session, report, f"""
            SELECT r.line, f.status, r.commune AS label FROM {RPG_STAGING} r
            JOIN {self.fates} f ON f.commune = r.commune AND f.crop = r.crop""")
        parcels: dict[str, int] = dict(session.execute(text(
            f"SELECT commune, count(*) FROM {RPG_STAGING} WHERE commune IS NOT NULL "
            "GROUP BY commune")).all())
        for entry in self.totals.per_commune:
            entry.lines = int(parcels.get(entry.code, 0))  # parcels, not summed rows


def import_rpg(session: Session, path: Path, year: int | None = None,
               source: str | None = None, dry_run: bool = False,
               progress: Any = None) -> ImportReport:
    """Import an RPG file (GeoPackage or zipped shapefile) in the caller's transaction."""
    year = rpg_year(path, year)
    source = (source or "").strip() or RPG_SOURCE.format(year=year)
    if len(source) > 500:
        raise Invalid.field("source", msg("error.farmland.source_too_long"))
    with readers.open_binary(path) as stream:
        head = stream.read(16)
        stream.seek(0)
        fmt = readers.guess_format(path.name, head)
        if fmt not in ("gpkg", "shp"):
            raise Invalid.field("file", msg("error.farmland.rpg_format", value=fmt))
        table = readers.gis_table(stream, fmt)
    importer = RpgImport(session, table.header, year, source)
    lines = pipeline.run(session, importer, table.rows, dry_run=dry_run, progress=progress)
    if lines.rows == 0:
        raise Invalid.field("file", msg("error.farmland.no_rows"))
    out = _finish(importer.totals, lines)
    # inserted / updated / unchanged count farmland rows (commune × crop group), not parcels
    out.inserted, out.updated, out.unchanged = (
        sum(c.counts[s] for c in out.per_commune) for s in (CREATED, UPDATED, UNCHANGED))
    return out


RPG_SOURCE = "RPG {year}, IGN/ASP (Licence Ouverte)"
