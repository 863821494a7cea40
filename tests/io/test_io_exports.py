"""Exports (issue 15): readers get what readers may see, editors everything; GeoPackages open
with pyogrio (layers, CRS, counts), XLSX with openpyxl; an export imports back into an empty
territory as the same resources and links."""

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from carto import links, resources, territories
from carto.db import transaction
from carto.io import exports
from carto.io import resources as importer
from carto.visibility import ANONYMOUS, EDITOR, Principal
from tests.apiworld import World

SLUG = "io-export-test"


@pytest.fixture(scope="module")
def exported(migrated: str, demo_loaded: object) -> Iterator[dict[str, str]]:
    """A territory (Sète) with a public grocery, a private person at home, a pending
    contribution, and a link between the first two."""
    with transaction(migrated) as s:
        place = territories.create_from_communes(
            s, territories.TerritorySpec(slug=SLUG, name="Export test"), ["34301"], replace=True)
        shop = resources.create(s, {"name": "=Épicerie export", "kind": "social_grocery",
                                    "lon": 3.6957, "lat": 43.4028, "territories": [SLUG],
                                    "location_precision": "exact", "phone": "04 67 00 00 00",
                                    "products": ["vegetables"]}, "test")
        home = resources.create(s, {"name": "Potager de Mme X", "kind": "producer",
                                    "lon": 3.6801, "lat": 43.3950, "territories": [SLUG],
                                    "commune": "34301", "is_private": True,
                                    "address": "3 impasse des Lilas", "phone": "06 00 00 00 00",
                                    "location_precision": "address"}, "test")
        resources.create(s, {"name": "Proposition en attente", "kind": "food_aid", "lon": 3.69,
                             "lat": 43.40, "territories": [SLUG], "location_precision": "exact"},
                         "test", moderation="pending")
        links.create(s, {"source": shop.id, "target": home.id, "category": "producers_suppliers",
                         "level": 2, "territory": SLUG, "description": "légumes"}, "test")
        ids = {"tid": str(place.id), "home": str(home.id)}
    yield ids
    with transaction(migrated) as s:
        for slug in (SLUG, SLUG + "-copy"):
            rids = [r for (r,) in s.execute(text(
                """SELECT r.id FROM resource r JOIN resource_territory rt ON rt.resource_id = r.id
                   JOIN territory t ON t.id = rt.territory_id WHERE t.slug = :s"""), {"s": slug})]
            s.execute(text("DELETE FROM link WHERE source_id = ANY(:r) OR target_id = ANY(:r)"),
                      {"r": rids})
            s.execute(text("DELETE FROM change_log WHERE entity_id = ANY(:r)"), {"r": rids})
            s.execute(text("DELETE FROM resource WHERE id = ANY(:r)"), {"r": rids})
            s.execute(text("DELETE FROM territory WHERE slug = :s"), {"s": slug})


def _editor(ids: dict[str, str]) -> Principal:
    return Principal(role=EDITOR, territory_id=int(ids["tid"]), actor="editor-test")


def test_readers_get_what_readers_see_editors_everything(exported: dict[str, str],
                                                         migrated: str) -> None:
    with transaction(migrated) as s:
        public = exports.collect(s, ANONYMOUS, SLUG)
        full = exports.collect(s, _editor(exported), SLUG)
        centre = s.execute(text("SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c "
                                "FROM commune WHERE code = '34301') x")).one()
    assert sorted(r["name"] for r in public.resources) == ["=Épicerie export",
                                                           "Potager de Mme X"]
    assert len(full.resources) == 3  # the pending contribution too
    home = next(r for r in public.resources if r["id"] == exported["home"])
    assert (home["location_precision"], home["address"], home["phone"]) == ("commune", None,
                                                                            None)
    assert (round(home["lon"], 5), round(home["lat"], 5)) == (round(centre[0], 5),
                                                              round(centre[1], 5))
    exact = next(r for r in full.resources if r["id"] == exported["home"])
    assert (exact["lon"], exact["address"]) == (pytest.approx(3.6801), "3 impasse des Lilas")
    assert len(public.links) == 1 and len(public.history) == 1


def test_a_geopackage_opens_with_its_layers_crs_and_counts(client: TestClient,
                                                           exported: dict[str, str],
                                                           tmp_path: Path) -> None:
    import pyogrio

    resp = client.get(f"/api/territories/{SLUG}/export?format=gpkg")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "export.gpkg"
    path.write_bytes(resp.content)
    layers = {name: geom for name, geom in pyogrio.list_layers(path)}
    assert layers == {"territory": "MultiPolygon", "resources": "Point", "links": "LineString",
                      "level_history": None, "sources": None}
    assert pyogrio.read_info(path, layer="resources")["crs"] == "EPSG:4326"
    assert pyogrio.read_info(path, layer="resources")["features"] == 2  # a reader's export
    assert pyogrio.read_info(path, layer="links")["features"] == 1
    sources = pyogrio.read_dataframe(path, layer="sources")
    assert "Licence Ouverte (Etalab)" in set(sources["licence"])


def test_xlsx_geojson_and_zipped_csv(client: TestClient, world: World,
                                     exported: dict[str, str]) -> None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get(
        f"/api/territories/{SLUG}/export?format=xlsx").content))
    assert book.sheetnames == ["Territoire", "Ressources", "Liens", "Historique des niveaux",
                               "Sources et licences"]
    header = [c.value for c in book["Ressources"][1]]
    assert header[:5] == ["Identifiant", "Nom", "Type", "Type (libellé)", "Description"]
    names = {row[1] for row in book["Ressources"].iter_rows(min_row=2, values_only=True)}
    assert "'=Épicerie export" in names  # neutralised: a spreadsheet shows it, never runs it
    geo = client.get(f"/api/territories/{SLUG}/export?format=geojson").json()
    assert {f["properties"]["layer"] for f in geo["features"]} == {"territory", "resources",
                                                                   "links"}
    assert geo["sources"] and geo["level_history"][0]["level"] == 2
    archive = zipfile.ZipFile(io.BytesIO(client.get(
        f"/api/territories/{SLUG}/export?format=csv").content))
    assert sorted(archive.namelist()) == ["SOURCES.txt", "historique_niveaux.csv", "liens.csv",
                                          "ressources.csv", "sources.csv", "territoire.csv"]
    assert client.get(f"/api/territories/{SLUG}/export?format=pdf").status_code == 400
    assert client.get("/api/territories/nowhere/export?format=csv").status_code == 404


def test_a_round_trip_re_creates_the_same_resources_and_links(exported: dict[str, str],
                                                              migrated: str,
                                                              tmp_path: Path) -> None:
    from carto import permissions

    admin = permissions.system("round-trip")
    with transaction(migrated) as s:
        path = tmp_path / "export.xlsx"
        path.write_bytes(exports.export(s, admin, SLUG, "xlsx"))
        territories.create_from_communes(
            s, territories.TerritorySpec(slug=SLUG + "-copy", name="Copie"), ["34301"],
            replace=True)
        result = importer.import_file(s, path, SLUG + "-copy", admin)
        assert result.resources.counts["rejected"] == 0, list(result.resources.lines())
        assert result.links is not None and result.links.counts["created"] == 1
        before = exports.collect(s, admin, SLUG)
        after = exports.collect(s, admin, SLUG + "-copy")

    def picture(data: exports.Export) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
        res = {(r["name"], r["kind"], round(r["lon"], 6), round(r["lat"], 6), r["products"],
                r["phone"], r["address"], r["location_precision"], r["commune_code"])
               for r in data.resources}
        names = {r["id"]: r["name"] for r in data.resources}
        lks = {(names[str(k["source_id"])], names[str(k["target_id"])], k["category"],
                k["level"], k["description"]) for k in data.links}
        return res, lks

    assert picture(after) == picture(before)
