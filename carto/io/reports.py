"""An import's per-row report as a file people open: CSV or XLSX, cells spreadsheet-safe."""

import io
from pathlib import Path
from typing import Any

from carto.i18n import t
from carto.io.pipeline import Report
from carto.text import SpreadsheetWriter, spreadsheet_safe

HEADER = ("import.report.line", "import.report.status", "import.report.label",
          "import.report.field", "import.report.reason", "import.report.sheet")


def rows(report: Report, lang: str = "fr") -> Any:
    yield [t(k, lang) for k in HEADER]
    for x in report.lines():
        yield [x.line, t(f"import.status.{x.status}", lang), x.label, x.field or "",
               x.reason or "", x.sheet or ""]


def to_csv(report: Report, lang: str = "fr") -> bytes:
    out = io.StringIO()
    SpreadsheetWriter(out).writerows(rows(report, lang))
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM: Excel reads it as UTF-8


def to_xlsx(report: Report, lang: str = "fr", links: Report | None = None) -> bytes:
    """One sheet for the resources, a second for the links when there were."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True,
                                     "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    for name, part in (("import.report.sheet_name", report),
                       ("import.report.links_sheet_name", links)):
        if part is None:
            continue
        sheet = book.add_worksheet(t(name, lang)[:31])
        for r, cells in enumerate(rows(part, lang)):
            for c, value in enumerate(cells):
                sheet.write(r, c, spreadsheet_safe(value), bold if r == 0 else None)
        sheet.set_column(2, 2, 30)
        sheet.set_column(4, 4, 60)
    book.close()
    return out.getvalue()


def save(report: Report, path: Path, lang: str = "fr", links: Report | None = None) -> None:
    data = to_xlsx(report, lang, links) if path.suffix.lower() == ".xlsx" \
        else to_csv(report, lang)
    path.write_bytes(data)
