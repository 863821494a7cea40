"""Each territory page offers "Télécharger les données" (issue 12): XLSX, CSV for French Excel,
the plain CSV, GeoJSON and GeoPackage, from the one exporter (carto.io.exports)."""

import re
from datetime import date

from fastapi.testclient import TestClient


def test_the_territory_page_links_every_download(client: TestClient) -> None:
    page = client.get("/territories/vauvert").text
    assert "Télécharger les données" in page
    links = dict(re.findall(r'<a download href="([^"]+)" data-format="([^"]+)"', page))
    assert sorted(links.values()) == ["csv", "csv-fr", "geojson", "gpkg", "xlsx"]
    for href in links:
        answer = client.get(href.replace("&amp;", "&"))
        assert answer.status_code == 200, href
        assert f'filename="terreau-vauvert-{date.today()}' in answer.headers["content-disposition"]
    english = client.get("/territories/vauvert?lang=en").text
    assert "Download the data" in english and "format=xlsx&amp;lang=en" in english
