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
DELIMITERS = (";", ",", "\t")
CHUNK = 1 << 20


@dataclass
class Table:
    """One sheet of rows: its header (as written in the file) and its rows, lazily."""

    header: list[str]
    rows: Iterator[Row]
    name: str | None = None
    header_line: int = 1


def detect_encoding(stream: IO[bytes]) -> str:
    """`utf-8-sig` when the whole stream decodes as UTF-8, else `cp1252` (what Excel on
    Windows writes). The stream is rewound."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
        encoding = "utf-8-sig"
    except UnicodeDecodeError:
        encoding = "cp1252"
    stream.seek(0)
    return encoding


def text_stream(stream: IO[bytes]) -> IO[str]:
    encoding = detect_encoding(stream)
    return io.TextIOWrapper(stream, encoding=encoding, errors="replace", newline="")


def sniff_delimiter(line: str) -> str:
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_table(stream: IO[bytes]) -> Table:
    """The header and rows of a CSV. Rows with only empty cells are skipped (their line
    numbers are kept for the others); cells past the header go under `EXTRA`."""
    fh = text_stream(stream)
    first = fh.readline()
    if not first.strip():
        raise Invalid.field("file", msg("error.import.empty_file"))
    delimiter = sniff_delimiter(first)
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    return Table(header, _csv_rows(fh, header, delimiter))


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
