"""Readers: a file (path or binary stream) → its header and numbered rows, streamed.

CSV: UTF-8 (with or without BOM) or Windows-1252, detected by decoding the whole stream once
(a cheap pass that keeps nothing); delimiter comma, semicolon or tab, detected on the header
line. Spreadsheets, GeoJSON and GIS files are read by the functions below it."""

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from carto.errors import Invalid
from carto.i18n import msg
from carto.io.pipeline import Row

EXTRA = "__extra__"  # the cells past the last column
# A reader that translates a row of another vocabulary (OSM tags, GoGoCarto categories) says
# which texts may name its kind, tried in order by the importer when it gives none, and the
# (field, reason) of the rejection when none does.
KIND_CANDIDATES = "__kind_candidates__"
KIND_UNKNOWN = "__kind_unknown__"
DELIMITERS = (";", ",", "\t")
CHUNK = 1 << 20


@dataclass
class Table:
    """One sheet of rows: its header (as written in the file) and its rows, lazily."""

    header: list[str]
    rows: Iterator[Row]
    name: str | None = None
    header_line: int = 1
    total: int | None = None  # how many rows, about (for a progress bar)


def detect_encoding(stream: IO[bytes]) -> tuple[str, int]:
    """(`utf-8-sig` when the whole stream decodes as UTF-8, else `cp1252` — what Excel on
    Windows writes —, the number of line breaks). The stream is rewound."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    encoding, lines = "utf-8-sig", 0
    while chunk := stream.read(CHUNK):
        lines += chunk.count(b"\n")
        if encoding == "utf-8-sig":
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                encoding = "cp1252"
    if encoding == "utf-8-sig":
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            encoding = "cp1252"
    stream.seek(0)
    return encoding, lines


def text_stream(stream: IO[bytes]) -> tuple[IO[str], int]:
    encoding, lines = detect_encoding(stream)
    return io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline=""), lines


def sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_table(stream: IO[bytes]) -> Table:
    """The header and rows of a CSV. Rows with only empty cells are skipped (their line
    numbers are kept for the others); cells past the header go under `EXTRA`."""
    fh, lines = text_stream(stream)
    first = fh.readline()
    if not first.strip():
        raise Invalid.field("file", msg("error.import.empty_file"))
    delimiter = sniff_delimiter(first)
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    return Table(header, _csv_rows(fh, header, delimiter), total=max(lines - 1, 0))


def _csv_rows(fh: IO[str], header: list[str], delimiter: str) -> Iterator[Row]:
    reader = csv.reader(fh, delimiter=delimiter)
    width = len(header)
    strip = str.strip
    for cells in reader:
        if not "".join(cells).strip():
            continue
        if len(cells) < width:  # a short row: the missing cells are empty
            cells += [""] * (width - len(cells))
        values: dict[str, Any] = dict(zip(header, map(strip, cells), strict=False))
        if len(cells) > width:
            values[EXTRA] = cells[width:]
        yield Row(reader.line_num + 1, values)  # + 1: the header was read before the reader


def open_binary(path: Any) -> IO[bytes]:
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller's with-block closes it
    except OSError as exc:
        raise Invalid.field("file", msg("error.import.unreadable", path=str(path),
                                        reason=exc.strerror)) from exc


# --- Spreadsheets, GeoJSON, GIS files ---------------------------------------------------------

FORMATS = ("csv", "xlsx", "ods", "geojson", "gpkg", "shp", "datainclusion", "osm", "gogocarto")
HEADER_SEARCH = 10  # a title row (often merged cells) may sit above the header


def guess_format(filename: str, head: bytes) -> str:
    name = filename.lower()
    for ext, fmt in ((".csv", "csv"), (".tsv", "csv"), (".txt", "csv"), (".xlsx", "xlsx"),
                     (".xlsm", "xlsx"), (".xls", "xlsx"), (".ods", "ods"), (".geojson", "geojson"),
                     (".json", "geojson"), (".gpkg", "gpkg"), (".zip", "shp"), (".shp", "shp")):
        if name.endswith(ext):
            return fmt
    if head.startswith(b"PK"):
        return "xlsx"
    if head.startswith(b"SQLite format 3"):
        return "gpkg"
    if head.lstrip()[:1] in (b"{", b"["):
        return "geojson"
    return "csv"


_NEUTRALISED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


def unneutralised(value: str) -> str:
    """A cell that an export neutralised (carto.text.spreadsheet_safe: an apostrophe before a
    formula's first character) read back as the text it was."""
    return value[1:] if value.startswith(_NEUTRALISED) else value


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person typed: 34108.0 → "34108", dates in ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value).strip()


def _find_header(rows: list[list[str]], score: Any) -> int:
    """The index of the header: the first of the top rows naming the most known columns."""
    best, best_score = 0, 0
    for i, cells in enumerate(rows[:HEADER_SEARCH]):
        s = score(cells) if score else 0
        if s > best_score:
            best, best_score = i, s
    return best


def _grid_table(grid: list[list[Any]], name: str | None, score: Any) -> Table | None:
    texts = [[cell_text(c) for c in row] for row in grid[:HEADER_SEARCH]]
    if not any(any(c for c in row) for row in texts):
        return None
    at = _find_header(texts, score)
    header = texts[at]
    width = len(header)

    def rows() -> Iterator[Row]:
        for i, raw in enumerate(grid[at + 1:], start=at + 2):
            cells = [cell_text(c) for c in raw]
            if not any(cells):
                continue
            cells += [""] * (width - len(cells))
            values: dict[str, Any] = dict(zip(header, cells, strict=False))
            if any(cells[width:]):
                values[EXTRA] = cells[width:]
            yield Row(i, values, name)

    return Table(header, rows(), name, at + 1, len(grid) - at - 1)


def spreadsheet_tables(stream: IO[bytes], score: Any = None) -> list[Table]:
    """Every non-empty sheet of an XLSX, XLS or ODS workbook (python-calamine reads them all);
    line numbers are the spreadsheet's row numbers."""
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(stream)  # type: ignore[arg-type]
    except Exception as exc:  # calamine's errors carry no useful type
        raise Invalid.field("file", msg("error.import.bad_spreadsheet", reason=str(exc))) from exc
    tables = []
    for name in book.sheet_names:
        grid = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
        table = _grid_table(grid, name, score)
        if table is not None:
            tables.append(table)
    return tables


def _point(geometry: Any) -> tuple[float, float] | None:
    from shapely.geometry import shape

    if not geometry:
        return None
    if geometry.get("type") == "Point":
        lon, lat = geometry["coordinates"][:2]
        return float(lon), float(lat)
    try:
        p = shape(geometry).representative_point()
    except Exception:
        return None
    return p.x, p.y


def feature_rows(features: Iterator[dict[str, Any]] | list[dict[str, Any]],
                 name: str | None = None) -> Iterator[Row]:
    """GeoJSON features → rows: their properties (lists joined by ';') plus `longitude` and
    `latitude` of the point (a representative point for lines and areas). Line n is feature n."""
    for i, feature in enumerate(features, start=1):
        if not isinstance(feature, dict):
            continue
        values: dict[str, Any] = {}
        for k, v in (feature.get("properties") or {}).items():
            values[str(k)] = ";".join(map(cell_text, v)) if isinstance(v, list) else v \
                if isinstance(v, dict) else cell_text(v)
        if feature.get("id") is not None and "id" not in values:
            values["id"] = cell_text(feature["id"])
        point = _point(feature.get("geometry"))
        if point is not None:
            values["longitude"], values["latitude"] = repr(point[0]), repr(point[1])
        yield Row(i, values, name)


def _json(stream: IO[bytes]) -> Any:
    import json

    try:
        return json.load(stream)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid.field("file", msg("error.import.bad_json", reason=str(exc))) from exc


def json_format(data: Any) -> str:
    """Which JSON this is: a data·inclusion document, an Overpass result (Overpass JSON, or
    GeoJSON with OSM ids), a GoGoCarto elements.json, else plain GeoJSON."""
    from carto.io import gogocarto, osm

    if isinstance(data, dict) and isinstance(data.get("structures"), list):
        return "datainclusion"
    if osm.looks_like_overpass(data) or osm.looks_like_geojson(data):
        return "osm"
    if gogocarto.looks_like(data):
        return "gogocarto"
    return "geojson"


def json_table(stream: IO[bytes], fmt: str | None = None) -> Table:
    """A JSON file as the format says, or (`geojson`, guessed from a name) as it reads."""
    from carto.io import datainclusion, gogocarto, osm

    data = _json(stream)
    if fmt in (None, "geojson"):
        fmt = json_format(data)
    if fmt == "osm":
        return osm.table(data)  # type: ignore[no-any-return]
    if fmt == "gogocarto":
        return gogocarto.table(data)  # type: ignore[no-any-return]
    if fmt == "datainclusion":
        return datainclusion.rows(data)
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise Invalid.field("file", msg("error.import.not_geojson"))
    header = sorted({k for f in features[:100] if isinstance(f, dict)
                     for k in (f.get("properties") or {})} | {"longitude", "latitude"})
    return Table(header, feature_rows(features), total=len(features))


def gis_table(stream: IO[bytes], fmt: str) -> Table:
    """A GeoPackage or a zipped shapefile (pyogrio/GDAL), reprojected to WGS 84."""
    import tempfile

    import pyogrio

    suffix = ".gpkg" if fmt == "gpkg" else ".zip"
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        while chunk := stream.read(CHUNK):
            tmp.write(chunk)
        tmp.flush()
        try:
            frame = pyogrio.read_dataframe(tmp.name)
        except Exception as exc:  # GDAL's messages say what is wrong with the file
            raise Invalid.field("file", msg("error.import.bad_gis", reason=str(exc))) from exc
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    points = frame.geometry.representative_point()
    columns = [c for c in frame.columns if c != frame.geometry.name]

    def rows() -> Iterator[Row]:
        for i, (record, point) in enumerate(zip(frame[columns].itertuples(index=False),
                                                points, strict=True), start=1):
            values: dict[str, Any] = {c: cell_text(v) for c, v in zip(columns, record,
                                                                       strict=True)}
            if point is not None and not point.is_empty:
                values["longitude"], values["latitude"] = repr(point.x), repr(point.y)
            yield Row(i, values)

    return Table([*columns, "longitude", "latitude"], rows(), total=len(frame))


def open_tables(stream: IO[bytes], filename: str = "", fmt: str | None = None,
                score: Any = None) -> list[Table]:
    """The tables of a file of any supported format (sheets of a workbook, else one)."""
    head = stream.read(16)
    stream.seek(0)
    fmt = fmt or guess_format(filename, head)
    if fmt not in FORMATS:
        raise Invalid.field("format", msg("error.import.format", value=fmt,
                                          allowed=", ".join(FORMATS)))
    if fmt in ("xlsx", "ods"):
        return spreadsheet_tables(stream, score)
    if fmt in ("geojson", "osm", "gogocarto") or (
            fmt == "datainclusion" and head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")):
        return [json_table(stream, fmt)]
    if fmt in ("gpkg", "shp"):
        return [gis_table(stream, fmt)]
    from carto.io import datainclusion

    table = csv_table(stream)
    if fmt == "datainclusion" or datainclusion.is_structures_header(table.header):
        return [datainclusion.csv_rows(table)]  # the published structures.csv
    return [table]
