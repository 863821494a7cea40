"""The import template: the columns an import reads, with a sheet explaining each one and the
vocabularies (kinds, products, access conditions, link categories and levels)."""

import io
from typing import Any

from carto import vocab
from carto.i18n import t
from carto.io import columns
from carto.text import SpreadsheetWriter, spreadsheet_safe


def _label(column: columns.Column, lang: str) -> str:
    return column.label_en if lang == "en" else column.label_fr


def to_csv(lang: str = "fr") -> bytes:
    """The resource columns and one example row, UTF-8 with a BOM, semicolons (as a French
    spreadsheet writes them)."""
    out = io.StringIO()
    writer = SpreadsheetWriter(out, delimiter=";")
    cols = columns.columns()
    writer.writerow([_label(c, lang) for c in cols])
    writer.writerow([c.example for c in cols])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(kinds: dict[str, vocab.Term], lang: str = "fr") -> bytes:
    """`kinds`: the kind table's (carto.vocab.resource_kinds), which admins edit."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False})
    bold = book.add_format({"bold": True, "bg_color": "#e8f5e9"})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})

    def sheet(name: str, header: list[str], rows: list[list[Any]], widths: list[int]) -> None:
        ws = book.add_worksheet(t(name, lang)[:31])
        ws.write_row(0, 0, header, bold)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                ws.write(r, c, spreadsheet_safe(value), wrap)
        for c, width in enumerate(widths):
            ws.set_column(c, c, width)
        ws.freeze_panes(1, 0)

    res, lk = columns.columns(), columns.columns("link_columns")
    sheet("import.template.resources", [_label(c, lang) for c in res], [[c.example for c in res]],
          [22] * len(res))
    sheet("import.template.links", [_label(c, lang) for c in lk], [[c.example for c in lk]],
          [26] * len(lk))
    explain = [[t("import.template.sheet_resources", lang), _label(c, lang), " | ".join(
        c.aliases), c.help_en if lang == "en" else c.help_fr, c.example] for c in res]
    explain += [[t("import.template.sheet_links", lang), _label(c, lang), " | ".join(c.aliases),
                 c.help_en if lang == "en" else c.help_fr, c.example] for c in lk]
    sheet("import.template.columns", [t(f"import.template.{k}", lang) for k in (
        "sheet", "column", "also_read", "meaning", "example")], explain, [14, 22, 40, 70, 28])
    code, label = t("import.template.code", lang), t("import.template.label", lang)
    sheet("import.template.kinds", [code, label], [[k.code, k.label(lang)]
                                                   for k in kinds.values()], [20, 40])
    for name, terms in (("import.template.products", vocab.food_groups()),
                        ("import.template.access", vocab.access_conditions()),
                        ("import.template.categories", vocab.categories())):
        sheet(name, [code, label], [[x.code, x.label(lang)] for x in terms.values()], [26, 60])
    sheet("import.template.levels", [code, label],
          [[n, x.label(lang)] for n, x in vocab.levels().items()], [8, 70])
    book.close()
    return out.getvalue()
