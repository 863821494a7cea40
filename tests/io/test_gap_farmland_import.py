"""`carto farmland import FILE`: all or nothing, idempotent, errors naming line and column."""

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from carto import ROOT, farmland
from carto.cli import app
from carto.db import transaction
from carto.errors import Invalid

runner = CliRunner()
GOOD = """commune,crop_group,hectares,year,source
34108,vegetables,12.5,2023,RPG 2023 (test)
34108,vines,800,2023,RPG 2023 (test)
34301,orchards,"3,25",2023,RPG 2023 (test)
"""


def _count(session: Session, source: str = "RPG 2023 (test)") -> int:
    return int(session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                              {"s": source}) or 0)


def test_import_is_idempotent_and_updates_in_place(session: Session) -> None:
    first = farmland.import_text(session, GOOD)
    assert (first.rows, first.inserted, first.updated, first.unchanged) == (3, 3, 0, 0)
    assert first.communes == {"34108", "34301"}
    again = farmland.import_text(session, GOOD)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    corrected = farmland.import_text(session, GOOD.replace("12.5", "13"))
    assert (corrected.inserted, corrected.updated, corrected.unchanged) == (0, 1, 2)
    assert _count(session) == 3
    assert session.scalar(text("""SELECT hectares FROM farmland WHERE commune_code = '34301'
                                  AND source = 'RPG 2023 (test)'""")) == pytest.approx(3.25)


def test_semicolons_bom_and_territory_rows(session: Session) -> None:
    content = ("\ufeffterritory;crop_group;hectares;year;source\n"
               "montpellier-celleneuve;vegetables;1,5;2024;relevé atelier (test)\n")
    report = farmland.import_text(session, content)
    assert report.inserted == 1 and report.communes == set()
    tid = session.scalar(text("SELECT id FROM territory WHERE slug = 'montpellier-celleneuve'"))
    assert session.scalar(text("SELECT hectares FROM farmland WHERE territory_id = :t"),
                          {"t": tid}) == pytest.approx(1.5)


def test_errors_name_line_and_column_and_nothing_is_written(session: Session) -> None:
    bad = GOOD + """99999,vegetables,1,2023,x
34108,bananas,1,2023,x
34108,cereals,-4,2023,x
34108,cereals,beaucoup,2023,x
34108,cereals,4,23,x
34108,cereals,4,2023,
34108,vegetables,12.5,2023,RPG 2023 (test)
"""
    with pytest.raises(Invalid) as err:
        farmland.import_text(session, bad)
    fields = [(e.field, e.text()) for e in err.value.errors]
    assert fields[0][0] == "ligne 5, colonne commune" and "99999" in fields[0][1]
    assert [f for f, _ in fields[1:]] == [
        "ligne 6, colonne crop_group", "ligne 7, colonne hectares", "ligne 8, colonne hectares",
        "ligne 9, colonne year", "ligne 10, colonne source", "ligne 11, colonne crop_group"]
    assert "doublon de la ligne 2" in fields[-1][1]
    assert "rien n'a été importé" in err.value.detail
    assert _count(session) == 0
    with pytest.raises(Invalid) as err:
        farmland.import_text(session, "commune,crop_group,hectares\n34108,cereals,3\n")
    assert [e.field for e in err.value.errors] == ["ligne 1, colonne year",
                                                   "ligne 1, colonne source"]


def test_cli_import_commits_once_and_reports(migrated: str, demo_loaded: object,
                                             tmp_path: Path) -> None:
    source = "CLI import test - removed after"
    path = tmp_path / "farmland.csv"
    path.write_text(GOOD.replace("RPG 2023 (test)", source), encoding="utf-8")
    try:
        result = runner.invoke(app, ["farmland", "import", str(path)])
        assert result.exit_code == 0, result.output
        assert "3 lignes : 3 ajoutées, 0 mises à jour, 0 inchangées" in result.output
        again = runner.invoke(app, ["farmland", "import", str(path)])
        assert "0 ajoutées, 0 mises à jour, 3 inchangées" in again.output
        path.write_text(GOOD + "34108,nope,1,2023,x\n", encoding="utf-8")
        failed = runner.invoke(app, ["farmland", "import", str(path)])
        assert failed.exit_code == 1 and "ligne 5, colonne crop_group" in failed.output
        missing = runner.invoke(app, ["farmland", "import", str(tmp_path / "absent.csv")])
        assert missing.exit_code == 1 and "illisible" in missing.output
        with transaction(migrated) as session:
            assert _count(session, source) == 3 and _count(session) == 0
    finally:
        with transaction(migrated) as session:
            session.execute(text("DELETE FROM farmland WHERE source = :s"), {"s": source})


def test_the_illustrative_example_parses_and_says_it_is_invented(session: Session) -> None:
    path = ROOT / "data" / "reference" / "examples" / "farmland_illustratif.csv"
    report = farmland.import_file(session, path, dry_run=True)
    assert report.rows and report.inserted == report.rows
    assert report.lines is not None and {x.status for x in report.lines.lines()} == {"created"}
    assert session.scalar(text("SELECT count(*) FROM farmland WHERE source LIKE 'ILLUSTRATIF%'")) \
        == 0  # a dry run writes nothing
    with path.open(encoding="utf-8", newline="") as fh:
        assert all(r["source"].startswith("ILLUSTRATIF") for r in csv.DictReader(fh))
    assert session.scalar(text("SELECT count(*) FROM farmland WHERE source LIKE 'ILLUSTRATIF%'")) \
        == 0  # not loaded by default


def test_every_rejection_reason_names_its_column(session: Session) -> None:
    """The reasons the other tests do not reach, each naming its line and column."""
    long_source = "x" * 501
    bad = ("commune,territory,crop_group,hectares,year,source\n"
           "34108,,vines,1,2023,ok,surplus\n"                       # 2: a cell too many
           "34108,montpellier-celleneuve,vines,1,2023,ok\n"         # 3: both
           ",,vines,1,2023,ok\n"                                    # 4: neither
           ",nowhere,vines,1,2023,ok\n"                             # 5: unknown territory
           f"34108,,vines,1,2023,{long_source}\n")                  # 6: source too long
    with pytest.raises(Invalid) as err:
        farmland.import_text(session, bad)
    got = [(e.field, e.text()) for e in err.value.errors]
    assert [f for f, _ in got] == [
        "ligne 2, colonne source", "ligne 3, colonne commune", "ligne 4, colonne commune",
        "ligne 5, colonne territory", "ligne 6, colonne source"]
    assert "1 cellule(s) de trop" in got[0][1] and "pas les deux" in got[1][1]
    assert "code INSEE manquant" in got[2][1] and "'nowhere'" in got[3][1]
    assert "500 caractères" in got[4][1]
    tid = session.scalar(text("SELECT id FROM territory WHERE slug = 'montpellier-celleneuve'"))
    with pytest.raises(Invalid) as err:  # an editor's upload for a territory: its rows only
        farmland.import_stream(session, io.BytesIO(
            b"commune,crop_group,hectares,year,source\n30001,vines,1,2023,ok\n"),
            communes={"34172"}, territory_id=tid)
    assert [(e.field, e.text()) for e in err.value.errors] == [
        ("ligne 2, colonne commune",
         "« 30001 » n'est pas une commune de ce territoire (ni le territoire lui-même)")]
    assert _count(session, "ok") == 0


@pytest.mark.parametrize("year", ["²", "２０２３"])
def test_a_year_not_in_ascii_digits_is_a_rejection_naming_the_year(session: Session,
                                                                    year: str) -> None:
    """'²' passed str.isdigit() and then made int() raise (a crash, not a report); full-width
    digits were taken as a year."""
    with pytest.raises(Invalid) as err:
        farmland.import_text(session, "commune,crop_group,hectares,year,source\n"
                                      f"34108,vines,1,{year},ok\n")
    assert [e.field for e in err.value.errors] == ["ligne 2, colonne year"]
    assert _count(session, "ok") == 0
