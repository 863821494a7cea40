"""Data from the territory pages (issue 12): the spreadsheet with French headers and labels,
the CSV for French Excel (UTF-8 BOM, `;`, decimal commas) beside the plain one, GeoJSON; file
names with the territory and the day; sources and licences inside; each row says its location
precision and how many rows share its point."""

import csv
import io
import zipfile
from datetime import date

from fastapi.testclient import TestClient


def _get(client: TestClient, fmt: str) -> tuple[bytes, str]:
    r = client.get(f"/api/territories/pezenas/export?format={fmt}")
    assert r.status_code == 200, r.text
    return r.content, r.headers["content-disposition"]


def test_csv_for_french_excel(client: TestClient) -> None:
    body, disposition = _get(client, "csv-fr")
    assert disposition == f'attachment; filename="terreau-pezenas-{date.today()}-excel.zip"'
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert "SOURCES.txt" in archive.namelist() and "sources.csv" in archive.namelist()
    raw = archive.read("ressources.csv").decode("utf-8")
    assert raw.startswith("\ufeffIdentifiant;Nom;Type;Type (libellé);")
    rows = list(csv.DictReader(io.StringIO(raw[1:]), delimiter=";"))
    centre = [r for r in rows if r["Ressources au même point"] == "11"]
    # Eleven public resources of Pézenas at the commune's centre: one coordinate, said so.
    assert len(centre) == 11 and {r["Précision"] for r in centre} == {"commune", "approximate"}
    assert {r["Précision (libellé)"] for r in centre} == {"Placé au centre de la commune",
                                                         "Position approximative"}
    assert centre[0]["Latitude"] == "43,462135" and centre[0]["Longitude"] == "3,418276"
    assert {r["Type (libellé)"] for r in rows} >= {"Aide alimentaire"}
    links = list(csv.DictReader(io.StringIO(archive.read("liens.csv").decode("utf-8-sig")),
                                delimiter=";"))
    assert links and all(r["Niveau (libellé)"] and r["Catégorie (libellé)"] for r in links)
    # The plain CSV stays as it was: commas between cells, points in numbers.
    plain, name = _get(client, "csv")
    assert name.endswith(f'terreau-pezenas-{date.today()}.zip"')
    text = zipfile.ZipFile(io.BytesIO(plain)).read("ressources.csv").decode("utf-8")
    assert text.startswith("\ufeffIdentifiant,Nom,Type,") and "43.462135" in text


def test_xlsx_and_geojson_carry_labels_and_precision(client: TestClient) -> None:
    from openpyxl import load_workbook

    body, disposition = _get(client, "xlsx")
    assert disposition.endswith(f'terreau-pezenas-{date.today()}.xlsx"')
    book = load_workbook(io.BytesIO(body))
    sheet = book["Ressources"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, row, strict=True))
            for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert {r["Type (libellé)"] for r in rows} >= {"Aide alimentaire"}
    assert isinstance(rows[0]["Latitude"], float)  # a number, shown in the reader's format
    assert "Sources et licences" in book.sheetnames
    english = load_workbook(io.BytesIO(client.get(
        "/api/territories/pezenas/export?format=xlsx&lang=en").content))
    assert "Kind (label)" in [c.value for c in english["Resources"][1]]
    body, disposition = _get(client, "geojson")
    assert disposition.endswith(f'terreau-pezenas-{date.today()}.geojson"')
    import json

    features = [f for f in json.loads(body)["features"] if f["properties"]["layer"] == "resources"]
    centre = [f["properties"] for f in features
              if f["properties"]["location_precision"] == "commune"]
    assert centre and centre[0]["same_point"] == 11
    assert centre[0]["precision_label"] == "Placé au centre de la commune"
    assert json.loads(body)["sources"]
