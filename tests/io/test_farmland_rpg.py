"""`carto farmland import-rpg FILE` (issue 15): RPG parcels (IGN/ASP, Lambert-93, GeoPackage or
zipped shapefile) → hectares per commune and crop group, with year and source, one transaction,
a report per commune. The files are small RPG-shaped ones generated here with geopandas."""

import csv
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from carto import ROOT, farmland, vocab
from carto.cli import app
from carto.db import transaction
from carto.errors import Invalid

runner = CliRunner()
FRONTIGNAN, SETE = (3.754, 43.448), (3.697, 43.403)
SEA = (3.80, 43.30)  # in the Gulf of Lion: in no commune
# (lon, lat, CODE_GROUP, SURF_PARC)
PARCELS = [
    (*FRONTIGNAN, 1, 2.5), (FRONTIGNAN[0] + 0.003, FRONTIGNAN[1], 3, 1.25),  # cereals: 3.75
    (FRONTIGNAN[0], FRONTIGNAN[1] + 0.002, 25, 0.8),  # vegetables
    (FRONTIGNAN[0] - 0.002, FRONTIGNAN[1], 21, 12.0),  # vines
    (*SETE, 18, 4.0), (SETE[0] + 0.002, SETE[1], 18, 1.5),  # permanent grassland: 5.5
    (*SETE, 11, 0.7),  # set-aside → fallow
    (*SEA, 16, 9.0),
]


def write_rpg(path: Path, parcels: list[tuple[float, float, int, float]] = PARCELS,
              driver: str = "GPKG") -> Path:
    """Parcels as squares of about 60 m in Lambert-93, with the RPG's columns."""
    points = gpd.GeoSeries([Point(x, y) for x, y, _, _ in parcels], crs=4326).to_crs(2154)
    frame = gpd.GeoDataFrame({
        "ID_PARCEL": [str(1000 + i) for i in range(len(parcels))],
        "SURF_PARC": [s for _, _, _, s in parcels],
        "CODE_CULTU": ["XXX"] * len(parcels),
        "CODE_GROUP": [str(g) for _, _, g, _ in parcels],
    }, geometry=points.buffer(30, cap_style="square"), crs=2154)
    if driver == "GPKG":
        frame.to_file(path, driver="GPKG", layer="PARCELLES_GRAPHIQUES")
        return path
    folder = path.parent / "shp"
    folder.mkdir()
    frame.to_file(folder / "PARCELLES_GRAPHIQUES.shp")
    with zipfile.ZipFile(path, "w") as z:
        for part in folder.iterdir():
            z.write(part, part.name)
    return path


def _hectares(session: Session, source: str) -> dict[tuple[str, str], float]:
    return {(c, g): float(h) for c, g, h in session.execute(text(
        "SELECT commune_code, crop_group, hectares FROM farmland WHERE source = :s"),
        {"s": source})}


def test_the_group_list_is_the_official_one_and_maps_to_crop_groups() -> None:
    groups = farmland.rpg_groups()
    assert sorted(groups) == list(range(1, 29))
    assert {g.crop_group for g in groups.values()} <= set(vocab.crop_groups())
    assert groups[25].label_fr == "Légumes ou fleurs" and groups[25].crop_group == "vegetables"
    assert groups[17].crop_group == "summer_pasture" and groups[21].crop_group == "vines"
    with (ROOT / "data" / "reference" / "rpg_groups.csv").open(encoding="utf-8") as fh:
        assert all(r["label_fr"] and r["label_en"] for r in csv.DictReader(fh))


def test_parcels_are_summed_per_commune_and_crop_group(session: Session, tmp_path: Path) -> None:
    path = write_rpg(tmp_path / "rpg.gpkg")
    dry = farmland.import_rpg(session, path, 2023, "RPG test", dry_run=True)
    assert _hectares(session, "RPG test") == {}  # a dry run writes nothing
    assert dry.inserted == 5 and dry.ignored == 1
    report = farmland.import_rpg(session, path, 2023, "RPG test")
    assert _hectares(session, "RPG test") == {
        ("34108", "cereals"): 3.75, ("34108", "vegetables"): 0.8, ("34108", "vines"): 12.0,
        ("34301", "permanent_grassland"): 5.5, ("34301", "fallow"): 0.7}
    assert session.scalar(text("SELECT DISTINCT year FROM farmland WHERE source = 'RPG test'")) \
        == 2023
    assert (report.rows, report.inserted, report.ignored) == (8, 5, 1)
    by_code = {c.code: c for c in report.per_commune}
    assert set(by_code) == {"34108", "34301"} and by_code["34108"].name == "Frontignan"
    assert by_code["34108"].lines == 4 and by_code["34108"].hectares == pytest.approx(16.55)
    assert by_code["34301"].lines == 3 and by_code["34301"].counts["created"] == 2
    assert report.lines is not None
    fates = {x.line: (x.status, x.reason) for x in report.lines.lines()}
    assert fates[1][0] == "created" and fates[8][0] == "rejected"
    assert "hors des communes" in (fates[8][1] or "")
    again = farmland.import_rpg(session, path, 2023, "RPG test")  # idempotent
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    bigger = [*PARCELS[:-1], (SETE[0] - 0.002, SETE[1], 18, 2.0)]
    changed = farmland.import_rpg(session, write_rpg(tmp_path / "rpg2.gpkg", bigger), 2023,
                                  "RPG test")
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 4)
    assert _hectares(session, "RPG test")[("34301", "permanent_grassland")] == 7.5


def test_a_wrong_parcel_writes_nothing(session: Session, tmp_path: Path) -> None:
    path = write_rpg(tmp_path / "rpg.gpkg", [*PARCELS[:2], (*SETE, 99, 1.0), (*SETE, 18, -2.0)])
    with pytest.raises(Invalid) as err:
        farmland.import_rpg(session, path, 2023, "RPG test")
    assert [e.field for e in err.value.errors] == ["ligne 3, colonne CODE_GROUP",
                                                   "ligne 4, colonne SURF_PARC"]
    assert _hectares(session, "RPG test") == {}
    without_year = tmp_path / "parcelles.gpkg"
    path.rename(without_year)
    with pytest.raises(Invalid) as err:
        farmland.import_rpg(session, without_year)
    assert err.value.errors[0].field == "year"


def test_cli_imports_a_zipped_shapefile_with_the_year_of_its_name(
        migrated: str, demo_loaded: object, tmp_path: Path) -> None:
    path = write_rpg(tmp_path / "RPG_2-0__SHP_LAMB93_R76_2022-01-01.zip", driver="ESRI Shapefile")
    source = "RPG 2022, IGN/ASP (Licence Ouverte)"
    try:
        result = runner.invoke(app, ["farmland", "import-rpg", str(path)])
        assert result.exit_code == 0, result.output
        assert "8 parcelles : 2 communes, 22.75 ha" in result.output
        assert "1 parcelles hors des communes connues" in result.output
        assert "34108 Frontignan" in result.output and "34301 Sète" in result.output
        with transaction(migrated) as session:
            assert len(_hectares(session, source)) == 5
            assert session.scalar(text("SELECT DISTINCT year FROM farmland WHERE source = :s"),
                                  {"s": source}) == 2022
        again = runner.invoke(app, ["farmland", "import-rpg", str(path)])
        assert "0 ajoutées, 0 mises à jour, 5 inchangées" in again.output
    finally:
        with transaction(migrated) as session:
            session.execute(text("DELETE FROM farmland WHERE source = :s"), {"s": source})
