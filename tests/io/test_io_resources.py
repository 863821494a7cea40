"""Importing resources (issue 15): messy files, one line per row in the report, idempotent
re-imports, the change log, every supported format."""

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import duplicates, resources
from carto.io import readers
from carto.io import resources as importer
from carto.models import Resource

TERRITORY = "frontignan"
SOURCE = "import test"

# Semicolons, French headers with accents and odd spacing, decimal commas, an empty row, a
# swapped pair of coordinates, a commune by name and one by INSEE code, a commune that does not
# exist, an unknown kind, bad hours, and a duplicate row.
MESSY = """Nom;TYPE ; Code INSEE;Commune;Latitude;Longitude;Téléphone;Horaires d’ouverture;Produits
Épicerie solidaire du Port;Épicerie solidaire;;;43,4476;3,7551;04 67 00 00 00;Tu,Th 14:00-18:00;
Jardin des Aresquiers;shared_garden;;;3,7712;43,4501;;;Légumes, fruits
;;;;;;;;
Restos du cœur;Aide alimentaire;34108;;;;;;
Grenier de Balaruc;food_aid;;Balaruc-les-Bains;;;;;
Nulle part;food_aid;;Atlantide-sur-Mer;;;;;
Le Martien;spaceport;;Frontignan;;;;;
Horaires faux;food_aid;;Frontignan;;;;tous les jours sauf quand il pleut;
Épicerie solidaire du Port;Épicerie solidaire;;;43,4476;3,7551;04 67 00 00 00;Tu,Th 14:00-18:00;
"""


def _run(session: Session, content: bytes, name: str = "messy.csv", dry_run: bool = False,
         fmt: str | None = None) -> importer.Report:
    tables = readers.open_tables(io.BytesIO(content), name, fmt, importer.columns.any_score)
    return importer.import_tables(session, tables, TERRITORY, "test", SOURCE, dry_run).resources


def _by_line(report: importer.Report) -> dict[int, tuple[str, str | None]]:
    return {x.line: (x.status, x.field or x.reason) for x in report.lines()}


def _imported(session: Session) -> int:
    return int(session.scalar(text("SELECT count(*) FROM resource WHERE source_name = :s "
                                   "AND deleted_at IS NULL"), {"s": SOURCE}) or 0)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_a_messy_csv_gets_a_line_per_row(session: Session, encoding: str) -> None:
    content = MESSY.replace("’", "'" if encoding == "cp1252" else "’").encode(encoding)
    report = _run(session, content, dry_run=True)
    lines = {x.line: x for x in report.lines()}
    assert {n: x.status for n, x in lines.items()} == {
        2: "created", 3: "created", 5: "created", 6: "created", 7: "rejected", 8: "rejected",
        9: "rejected", 10: "rejected"}
    assert lines[7].field == "commune" and "Atlantide-sur-Mer" in (lines[7].reason or "")
    assert lines[8].field == "kind" and "spaceport" in (lines[8].reason or "")
    assert lines[9].field == "opening_hours"
    assert lines[10].reason == "doublon de la ligne 2"
    assert _imported(session) == 0  # a dry run writes nothing


def test_the_real_run_places_rows_and_a_reimport_changes_nothing(session: Session) -> None:
    first = _run(session, MESSY.encode())
    assert (first.counts["created"], first.counts["rejected"]) == (4, 4)
    rows = {r["name"]: r for r in session.execute(text(
            """SELECT name, kind, commune_code, location_precision, location_note, products,
                      ST_X(geom) AS lon, ST_Y(geom) AS lat, phone, opening_hours, provenance,
                      moderation, created_by
               FROM resource WHERE source_name = :s"""), {"s": SOURCE}).mappings()}
    port = rows["Épicerie solidaire du Port"]
    assert (port["kind"], port["location_precision"]) == ("social_grocery", "exact")
    assert (round(port["lon"], 4), round(port["lat"], 4)) == (3.7551, 43.4476)
    assert port["opening_hours"] == "Tu,Th 14:00-18:00" and port["phone"] == "04 67 00 00 00"
    assert (port["provenance"], port["moderation"]) == ("import", "validated")
    garden = rows["Jardin des Aresquiers"]  # given as latitude 3.77, longitude 43.45
    assert (round(garden["lon"], 4), round(garden["lat"], 4)) == (3.7712, 43.4501)
    assert "inversées" in garden["location_note"] and garden["products"] == ["vegetables",
                                                                             "fruits"]
    restos = rows["Restos du cœur"]  # by INSEE code: the commune's centre
    assert (restos["commune_code"], restos["location_precision"]) == ("34108", "commune")
    assert rows["Grenier de Balaruc"]["commune_code"] == "34023"
    again = _run(session, MESSY.encode())
    assert (again.counts["created"], again.counts["updated"], again.counts["unchanged"]) == \
        (0, 0, 4)
    assert _imported(session) == 4
    changed = _run(session, MESSY.replace("04 67 00 00 00", "04 67 11 11 11", 1).encode())
    assert _by_line(changed)[2] == ("updated", None)
    assert changed.counts["unchanged"] == 3


def test_the_merge_is_planned_with_the_fates_counted(session: Session) -> None:
    """The rows' fates (created, updated, unchanged) are set after the staging table's first
    ANALYZE: without statistics of their own the planner guessed their numbers and once chose a
    nested loop over the whole staging table for each resource (20 minutes for 100,000 rows,
    docs/benchmarks.md 2026-12-04). The merge is planned with them counted."""
    _run(session, MESSY.encode())
    counted = {name for (name,) in session.execute(text(
        "SELECT attname FROM pg_stats WHERE tablename = :t"), {"t": importer.STAGING})}
    assert {"fate", "id", "match_id"} <= counted


def test_a_resource_already_there_is_matched_by_name_within_100_m(session: Session) -> None:
    existing = resources.create(session, {
        "name": "Épicerie Solidaire du port", "kind": "social_grocery", "lon": 3.7552,
        "lat": 43.4477, "territories": [TERRITORY], "location_precision": "exact"}, "test")
    report = _run(session, MESSY.encode())
    assert _by_line(report)[2] == ("updated", None)
    session.refresh(existing)
    assert existing.name == "Épicerie solidaire du Port" and existing.version == 2


def test_the_change_log_holds_what_resources_snapshot_says(session: Session) -> None:
    _run(session, MESSY.encode())
    _run(session, MESSY.replace("04 67 00 00 00", "04 67 11 11 11", 1).encode())
    for resource in session.scalars(
            text("SELECT id FROM resource WHERE source_name = :s").bindparams(s=SOURCE)):
        r = session.get(Resource, resource)
        assert r is not None
        logged = session.execute(text(
            "SELECT after FROM change_log WHERE entity_id = :id ORDER BY id DESC LIMIT 1"),
            {"id": r.id}).scalar_one()
        assert logged == resources.snapshot(r)
    actions = session.execute(text(
        """SELECT action, count(*) FROM change_log c JOIN resource r ON r.id = c.entity_id
           WHERE r.source_name = :s GROUP BY 1"""), {"s": SOURCE}).all()
    assert dict(actions) == {"create": 4, "update": 1}


def test_the_sql_snapshot_of_a_merged_resource_names_the_kept_one(session: Session) -> None:
    """A bulk write that ever logged a merged row would log what `resources.snapshot` does."""
    kept, merged = (resources.create(session, {
        "name": name, "kind": "social_grocery", "lon": 3.7552, "lat": 43.4477,
        "territories": [TERRITORY], "location_precision": "exact"}, "test")
        for name in ("Épicerie gardée", "Épicerie fusionnée"))
    duplicates.merge(session, merged.id, kept.id, "test", None)
    session.flush()
    session.refresh(merged)
    pictured = session.execute(text(f"SELECT {importer.SNAPSHOT} FROM resource r "
                                    "WHERE r.id = :id"), {"id": merged.id}).scalar_one()
    assert pictured["merged_into"] == str(kept.id)
    assert pictured == resources.snapshot(merged)


def test_far_points_are_rejected(session: Session) -> None:
    content = ("name,kind,lat,lon\nLoin,food_aid,48.85,2.35\nPrès,food_aid,43.45,3.75\n").encode()
    lines = {x.line: x for x in _run(session, content, dry_run=True).lines()}
    assert lines[2].status == "rejected" and "km du territoire frontignan" in (lines[2].reason
                                                                              or "")
    assert lines[3].status == "created"


def test_an_xlsx_with_a_merged_title_row(session: Session, tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "liste.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet("Ressources")
    sheet.merge_range("A1:E1", "Ressources du territoire (atelier de mars)")
    sheet.write_row(1, 0, ["Nom", "Type", "Code INSEE", "Latitude", "Longitude"])
    sheet.write_row(2, 0, ["Épicerie solidaire du Port", "social_grocery", None, 43.4476,
                           3.7551])
    sheet.write_row(3, 0, ["Restos du cœur", "food_aid", 34108])  # a number, not text
    sheet.write_row(5, 0, ["Le Martien", "spaceport", 34108])
    book.close()
    report = importer.import_file(session, path, TERRITORY, "test", source_name=SOURCE).resources
    assert {x.line: (x.status, x.sheet) for x in report.lines()} == {
        3: ("created", "Ressources"), 4: ("created", "Ressources"), 6: ("rejected", "Ressources")}
    assert _imported(session) == 2


def test_geojson_and_geopackage(session: Session, tmp_path: Path) -> None:
    import geopandas
    from shapely.geometry import Point

    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [3.7551, 43.4476]},
         "properties": {"name": "Épicerie GeoJSON", "kind": "social_grocery", "id": "g-1"}}]}
    report = _run(session, json.dumps(collection).encode(), "points.geojson")
    assert report.counts["created"] == 1
    frame = geopandas.GeoDataFrame(
        {"nom": ["Épicerie GPKG"], "type": ["Épicerie solidaire"]},
        geometry=[Point(3.7551, 43.4476)], crs=4326).to_crs(2154)  # Lambert-93, as the IGN's
    path = tmp_path / "points.gpkg"
    frame.to_file(path, layer="ressources", driver="GPKG")
    report = importer.import_file(session, path, TERRITORY, "test",
                                  source_name=SOURCE).resources
    assert report.counts["created"] == 1
    lon, lat = session.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM resource WHERE name = "
                                    "'Épicerie GPKG'")).one()
    assert (round(lon, 4), round(lat, 4)) == (3.7551, 43.4476)
    shp = tmp_path / "points.shp.zip"
    frame.assign(nom=["Épicerie SHP"]).to_file(shp, driver="ESRI Shapefile")
    report = importer.import_file(session, shp, TERRITORY, "test", source_name=SOURCE).resources
    assert report.counts["created"] == 1


def test_missing_required_columns_are_named(session: Session) -> None:
    from carto.errors import Invalid

    with pytest.raises(Invalid) as err:
        _run(session, b"nom,commune\nA,Frontignan\n")
    assert "type" in err.value.detail or "kind" in err.value.detail


# --- the command line: commits once, progress, report file; a killed import leaves nothing ---

CLI_SOURCE = "cli import test"


@pytest.fixture
def cli_territory(migrated: str, demo_loaded: object) -> Iterator[str]:
    from carto import territories
    from carto.db import transaction

    slug = "io-cli-test"
    with transaction(migrated) as s:
        territories.create_from_communes(
            s, territories.TerritorySpec(slug=slug, name="Import test", level="custom"),
            ["34108"], replace=True)
    yield slug
    with transaction(migrated) as s:
        ids = [str(i) for i in s.scalars(text(
            "SELECT id FROM resource WHERE source_name = :s"), {"s": CLI_SOURCE})]
        s.execute(text("DELETE FROM change_log WHERE entity_id::text = ANY(:ids)"), {"ids": ids})
        s.execute(text("DELETE FROM resource WHERE source_name = :s"), {"s": CLI_SOURCE})
        s.execute(text("DELETE FROM territory WHERE slug = :s"), {"s": slug})


def _cli_count(url: str) -> int:
    from carto.db import transaction

    with transaction(url) as s:
        return int(s.scalar(text("SELECT count(*) FROM resource WHERE source_name = :s"),
                            {"s": CLI_SOURCE}) or 0)


def test_cli_import_dry_run_then_real_run_and_report(cli_territory: str, migrated: str,
                                                     tmp_path: Path) -> None:
    from openpyxl import load_workbook
    from typer.testing import CliRunner

    from carto.cli import app

    path = tmp_path / "liste.csv"
    path.write_text(MESSY, encoding="utf-8")
    runner = CliRunner()
    args = ["import", str(path), "--territory", cli_territory, "--source", CLI_SOURCE]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "9 lignes" not in dry.output and "4 créées" in dry.output and "essai" in dry.output
    assert _cli_count(migrated) == 0
    report = tmp_path / "rapport.xlsx"
    real = runner.invoke(app, [*args, "--report", str(report)])
    assert real.exit_code == 0, real.output
    assert "4 créées, 0 mises à jour, 0 inchangées, 4 rejetées" in real.output
    assert _cli_count(migrated) == 4
    sheet = load_workbook(report).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["ligne", "statut", "ressource", "colonne", "raison", "feuille"]
    assert [10, "rejetée", "Épicerie solidaire du Port", None, "doublon de la ligne 2", None] \
        in cells
    again = runner.invoke(app, args)
    assert "0 créées, 0 mises à jour, 4 inchangées" in again.output


def test_an_import_killed_half_way_leaves_nothing(cli_territory: str, migrated: str,
                                                  tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import psycopg

    path = tmp_path / "grand.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("nom,type,latitude,longitude\n")
        for i in range(60_000):
            fh.write(f"Ressource {i},food_aid,{43.40 + i * 1e-6:.6f},3.75\n")
    env = dict(os.environ, DATABASE_URL=migrated)
    proc = subprocess.Popen([sys.executable, "-m", "carto.cli", "import", str(path),
                             "--territory", cli_territory, "--source", CLI_SOURCE],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    libpq = migrated.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(libpq, autocommit=True) as conn:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # wait until it is writing its staging table
                busy = conn.execute("""SELECT pid FROM pg_stat_activity WHERE query LIKE
                    '%resource_import_staging%' AND pid <> pg_backend_pid()
                    AND datname = current_database()""").fetchall()  # a shared server
                if busy or proc.poll() is not None:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, "the import ended before it could be stopped"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                               ([p for (p,) in busy],)).fetchone()[0]:  # type: ignore[index]
                time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _cli_count(migrated) == 0


def test_links_from_a_second_sheet(session: Session, tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "reseau.xlsx"
    book = xlsxwriter.Workbook(path)
    res = book.add_worksheet("Ressources")
    res.write_row(0, 0, ["Nom", "Type", "Latitude", "Longitude", "Identifiant"])
    res.write_row(1, 0, ["Épicerie du réseau", "social_grocery", 43.4476, 3.7551, "E1"])
    res.write_row(2, 0, ["Jardin du réseau", "shared_garden", 43.4501, 3.7712, "J1"])
    lk = book.add_worksheet("Liens")
    lk.write_row(0, 0, ["Ressource 1", "Ressource 2", "Catégorie", "Niveau", "Description"])
    lk.write_row(1, 0, ["Épicerie du réseau", "J1", "Avec les producteurs et fournisseurs", 2,
                        "légumes du jardin"])
    lk.write_row(2, 0, ["Épicerie du réseau", "Nulle part", "producers_suppliers", 2])
    lk.write_row(3, 0, ["Jardin du réseau", "E1", "producers_suppliers", 3])  # same pair
    lk.write_row(4, 0, ["Jardin du réseau", "E1", "aid_associations", 9])
    book.close()
    dry = importer.import_file(session, path, TERRITORY, "test", source_name=SOURCE,
                               dry_run=True)
    assert dry.links is not None
    assert {x.line: (x.status, x.field) for x in dry.links.lines()} == {
        2: ("created", None), 3: ("rejected", "target"), 4: ("rejected", "target"),
        5: ("rejected", "level")}
    assert _imported(session) == 0
    real = importer.import_file(session, path, TERRITORY, "test", source_name=SOURCE)
    assert real.links is not None and real.links.counts["created"] == 1
    level, description = session.execute(text(
        """SELECT l.level, l.description FROM link l JOIN resource s ON s.id = l.source_id
           WHERE s.name = 'Épicerie du réseau'""")).one()
    assert (level, description) == (2, "légumes du jardin")
    again = importer.import_file(session, path, TERRITORY, "test", source_name=SOURCE)
    assert again.links is not None and again.links.counts["unchanged"] == 1
    assert again.resources.counts["unchanged"] == 2
