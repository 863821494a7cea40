"""The field's formats (issue 15): an Overpass result (overpass turbo's GeoJSON, Overpass
JSON), a GoGoCarto elements.json, data·inclusion's structures.csv — each through the one
resource pipeline, with the expected line per row; a re-import changes nothing."""

import io
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import vocab
from carto.io import gogocarto, osm, readers
from carto.io import resources as importer
from tests.apiworld import World
from tests.io.test_io_resources import cli_territory  # noqa: F401 - a fixture

TERRITORY = "frontignan"

# As overpass turbo exports it (Export → GeoJSON): `@id` and the tags in the properties, ways
# as polygons. A food bank, a community garden (a way), a farm shop, a market, a café (no
# kind for it), a private garden (leisure=garden alone is not shared) and a nameless food bank.
OSM_GEOJSON = {
    "type": "FeatureCollection",
    "generator": "overpass-turbo",
    "copyright": "The data included in this document is from www.openstreetmap.org. "
                 "The data is made available under ODbL.",
    "features": [
        {"type": "Feature", "id": "node/1101",
         "properties": {"@id": "node/1101", "amenity": "social_facility",
                        "social_facility": "food_bank", "name": "Banque alimentaire OSM",
                        "opening_hours": "Tu,Th 14:00-17:00", "phone": "+33 4 67 00 00 01",
                        "addr:housenumber": "3", "addr:street": "Rue du Port",
                        "addr:postcode": "34110", "addr:city": "Frontignan"},
         "geometry": {"type": "Point", "coordinates": [3.7551, 43.4466]}},
        {"type": "Feature", "id": "way/2202",
         "properties": {"@id": "way/2202", "leisure": "garden", "garden:type": "community",
                        "name": "Jardin partagé OSM"},
         "geometry": {"type": "Polygon", "coordinates": [[
             [3.7601, 43.4501], [3.7611, 43.4501], [3.7611, 43.4509], [3.7601, 43.4509],
             [3.7601, 43.4501]]]}},
        {"type": "Feature", "id": "node/1103",
         "properties": {"@id": "node/1103", "shop": "farm", "name": "Ferme OSM",
                        "website": "https://ferme.example;https://autre.example"},
         "geometry": {"type": "Point", "coordinates": [3.7402, 43.4551]}},
        {"type": "Feature", "id": "node/1104",
         "properties": {"@id": "node/1104", "amenity": "marketplace", "name": "Marché OSM",
                        "opening_hours": "Sa 08:00-13:00"},
         "geometry": {"type": "Point", "coordinates": [3.7563, 43.4479]}},
        {"type": "Feature", "id": "node/1105",
         "properties": {"@id": "node/1105", "amenity": "cafe", "name": "Café OSM"},
         "geometry": {"type": "Point", "coordinates": [3.7570, 43.4480]}},
        {"type": "Feature", "id": "way/2206",
         "properties": {"@id": "way/2206", "leisure": "garden", "name": "Jardin privé OSM"},
         "geometry": {"type": "Polygon", "coordinates": [[
             [3.7501, 43.4401], [3.7511, 43.4401], [3.7511, 43.4409], [3.7501, 43.4401]]]}},
        {"type": "Feature", "id": "node/1107",
         "properties": {"@id": "node/1107", "amenity": "food_sharing"},
         "geometry": {"type": "Point", "coordinates": [3.7580, 43.4490]}},
    ]}

# Overpass JSON (`[out:json]; ... out center;` for the garden, `out body; >; out skel;` for
# the market hall): nodes with lat/lon, a way with a centre, a way by its node references
# (placed at their mean), a relation without any geometry, untagged nodes.
OVERPASS_JSON = {
    "version": 0.6, "generator": "Overpass API 0.7.62",
    "osm3s": {"copyright": "The data included in this document is from www.openstreetmap.org. "
                           "The data is made available under ODbL."},
    "elements": [
        {"type": "node", "id": 3301, "lat": 43.4466, "lon": 3.7551,
         "tags": {"amenity": "food_sharing", "name": "Frigo solidaire OSM",
                  "opening_hours": "24/7"}},
        {"type": "way", "id": 4402, "center": {"lat": 43.4505, "lon": 3.7606},
         "nodes": [1, 2, 3, 1],
         "tags": {"leisure": "garden", "garden:type": "community", "name": "Jardin OSM"}},
        {"type": "way", "id": 4403, "nodes": [9001, 9002, 9003, 9001],
         "tags": {"amenity": "marketplace", "name": "Halle OSM"}},
        {"type": "relation", "id": 5504, "members": [],
         "tags": {"type": "multipolygon", "shop": "farm", "name": "Ferme sans lieu OSM"}},
        {"type": "node", "id": 9001, "lat": 43.4470, "lon": 3.7560},
        {"type": "node", "id": 9002, "lat": 43.4472, "lon": 3.7564},
        {"type": "node", "id": 9003, "lat": 43.4474, "lon": 3.7560},
    ]}

# GoGoCarto's /api/elements.json (ontology gogofull): categories by name or as objects,
# openHours by day, an address; a category that is a Terreau kind's label; an unknown one.
GOGOCARTO = {
    "licence": "https://opendatacommons.org/licenses/odbl/summary/",
    "ontology": "gogofull",
    "data": [
        {"id": "aB12", "name": "Épicerie solidaire GoGo",
         "geo": {"latitude": 43.4466, "longitude": 3.7551},
         "address": {"streetAddress": "5 rue de la Paix", "addressLocality": "Frontignan",
                     "postalCode": "34110", "addressCountry": "FR"},
         "categoriesFull": [{"id": 12, "name": "Épicerie solidaire", "index": 0}],
         "categories": ["Épicerie solidaire"],
         "openHours": {"Mo": "09:00-12:00, 14:00-18:00", "Tu": "09:00-12:00, 14:00-18:00",
                       "We": "09:00-12:00, 14:00-18:00", "Sa": "9h-12h"},
         "telephone": "04 67 00 00 02", "email": "epicerie@example.org",
         "website": "https://epicerie.example.org", "description": "Épicerie à prix solidaires"},
        {"id": "cD34", "name": "AMAP GoGo", "geo": {"latitude": 43.4501, "longitude": 3.7602},
         "categories": ["Alimentation", "AMAP"], "openHours": {"Th": "18:00-19:30"}},
        {"id": "eF56", "name": "Producteur GoGo", "geo": {"latitude": 43.4551,
                                                           "longitude": 3.7402},
         "categories": ["Producer"]},
        {"id": "gH78", "name": "Bibliothèque GoGo", "geo": {"latitude": 43.4480,
                                                             "longitude": 3.7570},
         "categories": ["Culture", "Bibliothèque"]},
        {"id": "iJ90", "name": "Jardin sans coordonnées GoGo",
         "address": {"addressLocality": "Frontignan", "postalCode": "34110"},
         "categories": ["Jardin partagé"]},
    ]}

# data·inclusion's published structures.csv (the schema's field names as the header; lists as
# the export writes them): the network says the kind when there are no services.
DATAINCLUSION_CSV = ",".join((
    "source", "id", "nom", "date_maj", "description", "lien_source", "siret", "commune",
    "code_postal", "code_insee", "adresse", "complement_adresse", "longitude", "latitude",
    "telephone", "courriel", "site_web", "horaires_accueil", "accessibilite_lieu",
    "reseaux_porteurs")) + """
dora,di-1,Banque alimentaire de l'Hérault (antenne),2025-06-01,Collecte et distribution,,,\
Frontignan,34110,34108,1 quai du Port,,3.7551,43.4466,0467000003,,,"Mo-Fr 09:00-12:00",,\
"[""banques-alimentaires""]"
dora,di-2,Secours populaire Frontignan,2025-06-01,,,,Frontignan,34110,34108,,,,,,,,,,secours-populaire
dora,di-3,Association des habitants,2025-05-01,,,,Frontignan,34110,34108,2 rue Haute,,3.7563,43.4479,,,,,,
dora,di-4,Structure à Atlantide,2025-05-01,,,,Atlantide-sur-Mer,99999,,,,,,,,,,,
"""


def _tables(content: bytes, name: str, fmt: str | None = None) -> list[readers.Table]:
    return readers.open_tables(io.BytesIO(content), name, fmt, importer.columns.any_score)


def _run(session: Session, content: bytes, name: str, fmt: str | None = None,
         dry_run: bool = False) -> importer.Report:
    return importer.import_tables(session, _tables(content, name, fmt), TERRITORY, "test",
                                  name, dry_run).resources


def _lines(report: importer.Report) -> dict[int, tuple[str, str, str | None]]:
    return {x.line: (x.status, x.label, x.reason) for x in report.lines()}


def _rows(session: Session, source: str) -> dict[str, dict[str, object]]:
    return {r["external_id"]: dict(r) for r in session.execute(text(
        """SELECT external_id, name, kind, opening_hours, phone, website, address, licence,
                  source_name, location_precision, commune_code,
                  round(ST_X(geom)::numeric, 4)::float AS lon,
                  round(ST_Y(geom)::numeric, 4)::float AS lat
           FROM resource WHERE source_name = :s AND deleted_at IS NULL"""),
        {"s": source}).mappings()}


def test_an_overpass_turbo_geojson_imports_with_its_tags_ids_and_licence(
        session: Session) -> None:
    content = json.dumps(OSM_GEOJSON).encode()
    assert readers.json_format(OSM_GEOJSON) == "osm"  # detected: a .geojson of OSM ids
    report = _run(session, content, "export.geojson")
    assert _lines(report) == {
        1: ("created", "Banque alimentaire OSM", None),
        2: ("created", "Jardin partagé OSM", None),
        3: ("created", "Ferme OSM", None),
        4: ("created", "Marché OSM", None),
        5: ("rejected", "Café OSM", "aucun type Terreau pour ces étiquettes OpenStreetMap : "
                                    "amenity=cafe (voir data/io/osm_crosswalk.csv)"),
        6: ("rejected", "Jardin privé OSM", "aucun type Terreau pour ces étiquettes "
                                            "OpenStreetMap : leisure=garden (voir "
                                            "data/io/osm_crosswalk.csv)"),
        7: ("rejected", "node/1107", "le nom est obligatoire"),  # labelled by its OSM id
    }
    rows = _rows(session, osm.SOURCE)
    bank = rows["node/1101"]
    assert (bank["kind"], bank["opening_hours"], bank["phone"]) == (
        "food_aid", "Tu,Th 14:00-17:00", "+33 4 67 00 00 01")
    assert bank["address"] == "3 Rue du Port, 34110 Frontignan"
    assert (bank["licence"], bank["source_name"], bank["location_precision"]) == (
        osm.LICENCE, "OpenStreetMap", "exact")
    assert rows["way/2202"]["kind"] == "shared_garden"  # placed inside its polygon
    assert 3.7601 < rows["way/2202"]["lon"] < 3.7611  # type: ignore[operator]
    assert rows["node/1103"]["website"] == "https://ferme.example"  # the first of a;b
    assert rows["node/1104"]["kind"] == "market"
    again = _run(session, content, "export.geojson")
    assert (again.counts["unchanged"], again.counts["created"], again.counts["updated"],
            again.counts["rejected"]) == (4, 0, 0, 3)
    # a tag edited in OpenStreetMap updates the same resource (its OSM id)
    OSM_GEOJSON_EDITED = json.loads(content)
    OSM_GEOJSON_EDITED["features"][0]["properties"]["opening_hours"] = "Tu 14:00-17:00"
    edited = _run(session, json.dumps(OSM_GEOJSON_EDITED).encode(), "export.geojson")
    assert _lines(edited)[1] == ("updated", "Banque alimentaire OSM", None)


def test_overpass_json_places_ways_by_their_centre_or_their_nodes(session: Session) -> None:
    content = json.dumps(OVERPASS_JSON).encode()
    report = _run(session, content, "interpreter.json", dry_run=True)
    assert {n: x[:2] for n, x in _lines(report).items()} == {
        1: ("created", "Frigo solidaire OSM"), 2: ("created", "Jardin OSM"),
        3: ("created", "Halle OSM"), 4: ("rejected", "Ferme sans lieu OSM")}
    assert "ni coordonnées ni commune" in (_lines(report)[4][2] or "")
    rows = {r.values["external_id"]: r.values
            for r in _tables(content, "x.json", "osm")[0].rows}
    assert (rows["way/4402"]["lon"], rows["way/4402"]["lat"]) == ("3.7606", "43.4505")
    assert round(float(rows["way/4403"]["lon"]), 4) == 3.7561  # mean of its three nodes
    assert set(rows) == {"node/3301", "way/4402", "way/4403", "relation/5504"}
    report = _run(session, content, "interpreter.json", fmt="osm")
    assert report.counts["created"] == 3
    assert _run(session, content, "interpreter.json").counts["unchanged"] == 3


def test_gogocarto_elements_import_with_categories_and_hours(session: Session) -> None:
    content = json.dumps(GOGOCARTO).encode()
    assert readers.json_format(GOGOCARTO) == "gogocarto"
    report = _run(session, content, "elements.json")
    assert _lines(report) == {
        1: ("created", "Épicerie solidaire GoGo", None),
        2: ("created", "AMAP GoGo", None),
        3: ("created", "Producteur GoGo", None),  # "Producer": a kind's own label
        4: ("rejected", "Bibliothèque GoGo", "aucune catégorie GoGoCarto ne correspond à un "
                                             "type : Culture, Bibliothèque (voir "
                                             "data/io/gogocarto_categories.csv)"),
        5: ("created", "Jardin sans coordonnées GoGo", None),
    }
    rows = _rows(session, gogocarto.SOURCE)
    grocery = rows["aB12"]
    assert grocery["kind"] == "social_grocery"
    assert grocery["opening_hours"] == "Mo-We 09:00-12:00,14:00-18:00; Sa 09:00-12:00"
    assert grocery["address"] == "5 rue de la Paix, 34110 Frontignan"
    assert grocery["licence"] == GOGOCARTO["licence"]
    assert (rows["cD34"]["kind"], rows["cD34"]["opening_hours"]) == ("purchasing_group",
                                                                     "Th 18:00-19:30")
    assert rows["eF56"]["kind"] == "producer"
    garden = rows["iJ90"]  # no coordinates: its locality places it
    assert (garden["kind"], garden["commune_code"], garden["location_precision"]) == (
        "shared_garden", "34108", "commune")
    assert _run(session, content, "elements.json").counts["unchanged"] == 4


def test_gogocarto_hours_in_osm_syntax() -> None:
    assert gogocarto.opening_hours({"Mo": "08:30-12:30", "Tu": "08:30-12:30",
                                    "Th": "08:30-12:30"}) == "Mo-Tu 08:30-12:30; Th 08:30-12:30"
    # consecutive days only are grouped
    assert gogocarto.opening_hours({"Fr": "9h30 à 12h & 14h-18h"}) == \
        "Fr 09:30-12:00,14:00-18:00"
    assert gogocarto.opening_hours({"Sa": "le matin"}) == "Sa le matin"  # the check names it
    assert gogocarto.opening_hours(None) == ""


def test_datainclusion_structures_csv_through_the_same_crosswalk(session: Session) -> None:
    content = DATAINCLUSION_CSV.encode()
    (table,) = _tables(content, "structures.csv")  # detected by its header
    assert table.header == _tables(content, "x.csv", "datainclusion")[0].header
    report = _run(session, content, "structures.csv")
    assert _lines(report) == {
        2: ("created", "Banque alimentaire de l'Hérault (antenne)", None),
        3: ("created", "Secours populaire Frontignan", None),
        4: ("created", "Association des habitants", None),
        5: ("rejected", "Structure à Atlantide", "commune introuvable : 'Atlantide-sur-Mer'"),
    }
    rows = _rows(session, "dora")
    assert (rows["di-1"]["kind"], rows["di-1"]["opening_hours"]) == ("food_aid",
                                                                     "Mo-Fr 09:00-12:00")
    assert (rows["di-2"]["kind"], rows["di-2"]["location_precision"]) == ("food_aid", "commune")
    assert rows["di-3"]["kind"] == "association"
    assert _run(session, content, "structures.csv").counts["unchanged"] == 3


def test_every_crosswalk_names_known_kinds(session: Session) -> None:
    known = set(vocab.resource_kinds(session))
    assert {kind for _, kind in osm.crosswalk()} <= known
    assert set(gogocarto.crosswalk().values()) <= known
    from carto.io import datainclusion

    assert set(datainclusion.network_kinds().values()) <= known
    assert set(datainclusion.network_kinds()) <= {n for _, n in datainclusion.networks()}


def test_the_api_detects_or_is_told_the_format(client: TestClient, world: World) -> None:
    sete = json.loads(json.dumps(GOGOCARTO).replace("43.4", "43.40").replace("3.75", "3.69")
                      .replace("3.76", "3.69").replace("3.74", "3.69"))
    for name, fmt in (("elements.json", None), ("export.txt", "gogocarto")):
        resp = client.post("/api/imports", params={"territory": "api-a", "dry_run": "true",
                                                   **({"format": fmt} if fmt else {})},
                           files={"file": (name, json.dumps(sete).encode(), "application/json")},
                           headers=World.auth(world.editor))
        assert resp.status_code == 200, resp.text
        counts = resp.json()["resources"]["counts"]
        assert (counts["created"], counts["rejected"]) == (4, 1), resp.json()
    page = client.get("/territories/api-a/import")
    assert '<option value="osm">' in page.text and '<option value="gogocarto">' in page.text


def test_the_cli_imports_an_overpass_result(cli_territory: str, migrated: str,  # noqa: F811
                                            tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from carto.cli import app

    path = tmp_path / "export.geojson"
    path.write_text(json.dumps(OSM_GEOJSON), encoding="utf-8")
    out = CliRunner().invoke(app, ["import", str(path), "--territory", cli_territory,
                                   "--format", "osm", "--dry-run"])
    assert out.exit_code == 0, out.output
    assert "7 lignes : 4 créées, 0 mises à jour, 0 inchangées, 3 rejetées" in out.output


def test_the_record_page_shows_the_odbl_provenance(client: TestClient, world: World,
                                                   migrated: str) -> None:
    from carto.db import transaction

    bank = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "node/77001",
         "properties": {"@id": "node/77001", "amenity": "social_facility",
                        "social_facility": "food_bank", "name": "Banque alimentaire (osm page)"},
         "geometry": {"type": "Point", "coordinates": [3.6957, 43.4028]}}]}
    resp = client.post("/api/imports", params={"territory": "api-a", "dry_run": "false"},
                       files={"file": ("export.geojson", json.dumps(bank).encode(),
                                       "application/geo+json")},
                       headers=World.auth(world.editor))
    assert resp.status_code == 201, resp.text
    with transaction(migrated) as s:
        rid = s.scalar(text("SELECT id FROM resource WHERE external_id = 'node/77001'"))
    try:
        page = client.get(f"/resources/{rid}")
        assert page.status_code == 200
        assert "OpenStreetMap" in page.text and "ODbL 1.0 — © OpenStreetMap contributors" \
            in page.text
    finally:
        with transaction(migrated) as s:
            s.execute(text("DELETE FROM change_log WHERE entity_id = :id"), {"id": rid})
            s.execute(text("DELETE FROM resource WHERE id = :id"), {"id": rid})


def test_the_import_page_posts_the_chosen_format(live_server: str, world: World) -> None:
    """The page's form (session cookie) passes its format choice to the same import: a
    GoGoCarto export under a name that says nothing is read as GoGoCarto when chosen."""
    import re

    import httpx

    sete = json.dumps(GOGOCARTO).replace("43.4", "43.40").replace("3.75", "3.69") \
        .replace("3.76", "3.69").replace("3.74", "3.69").encode()
    with httpx.Client(base_url=live_server) as web:
        assert web.post("/sign-in", data={"token": world.editor, "next": "/"},
                        headers={"Origin": live_server}).status_code == 303
        page = web.get("/territories/api-a/import")
        assert '<option value="gogocarto">' in page.text
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
        files = {"file": ("export.txt", sete), "links": ("", b"")}
        for fmt, status in (("gogocarto", 200), ("", 422)):  # a .txt is a CSV unless told
            resp = web.post("/territories/api-a/import", files=files,
                            data={"csrf": csrf, "dry_run": "1", "format": fmt},
                            headers={"Origin": live_server, "Accept": "application/json"})
            assert resp.status_code == status, resp.text
        assert resp.status_code == 422
        chosen = web.post("/territories/api-a/import", files=files,
                          data={"csrf": csrf, "dry_run": "1", "format": "gogocarto"},
                          headers={"Origin": live_server, "Accept": "application/json"})
        assert chosen.json()["resources"]["counts"]["created"] == 4
