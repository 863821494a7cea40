"""The gap analysis over HTTP and in the terminal: JSON, CSV, custom perimeters, errors as
problem+json, the page, overrides with tokens, and `carto gap`."""

import csv
import io
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from carto import tokens
from carto.cli import app
from carto.db import transaction

runner = CliRunner()
GROUPS = ["vegetables", "fruits", "potatoes", "cereals", "pulses", "oils", "sugar", "dairy",
          "eggs", "meat"]
FIELDS = {"group", "demand_t", "land_needed_ha", "supply_producers_t", "supply_farmland_t",
          "coverage", "shortfall_t", "land_to_close_ha"}


def test_territory_gap_json(client: TestClient) -> None:
    response = client.get("/api/territories/frontignan/gap")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["population"] == 24136 and "INSEE" in body["population_source"]
    assert body["scenario"] == {"radius_km": 0.0, "diet": "current", "organic_share": 0.0,
                                "relocalised_share": 1.0, "waste_reduction": 0.0}
    assert [g["group"] for g in body["groups"]] == GROUPS
    assert all(set(g) >= FIELDS for g in body["groups"])
    veg = body["groups"][0]
    assert veg["demand_t"] == round(24136 * 97.3 / 1000, 3)
    # the demo's producers declare no output yet: coverage unknown (null), not a measured 0
    assert veg["coverage"] is None and veg["shortfall_t"] is None
    assert veg["land_to_close_ha"] is None and body["totals"]["coverage_capped"] is None
    assert veg["farmland_ha"] is None and body["known"] == {"producers": False,
                                                             "farmland": False}
    assert {"demand_t", "land_needed_ha", "farmland_ha", "land_ratio_gross",
            "land_ratio_capped"} <= set(body["totals"])
    assert body["totals"]["land_ratio_gross"] is None  # no farmland imported: unknown, not 0
    assert body["sources"] and all(s["source"] and s["mark"] for s in body["sources"])
    assert body["overridden"] == []
    assert "théorique" in body["caveat"]
    assert {o["group"] for o in body["out_of_scope"]} == {"fish", "beverages"}
    assert body["producers"]["counted"] == 0 and body["producers"]["mapped_without_output"] >= 1
    # no producer declares anything: the coverage is unknown, said first, not "0 %"
    assert body["summary"][0].startswith("Production locale inconnue")
    assert "besoins de Frontignan" in body["summary"][0]


def test_scenario_parameters_are_echoed_and_applied(client: TestClient) -> None:
    url = "/api/territories/frontignan/gap"
    base = client.get(url).json()
    half = client.get(url, params={"diet": "animal-50", "organic_share": 0.5,
                                   "relocalised_share": 0.5, "waste_reduction": 0.5,
                                   "radius_km": 30}).json()
    assert half["scenario"] == {"radius_km": 30.0, "diet": "animal-50", "organic_share": 0.5,
                                "relocalised_share": 0.5, "waste_reduction": 0.5}
    meat = [g for g in half["groups"] if g["group"] == "meat"][0]
    assert meat["land_needed_ha"] < base["groups"][-1]["land_needed_ha"]
    assert any(s["parameter"] == "diet_index:animal-50" for s in half["sources"])


def test_no_population_is_a_409_saying_what_to_enter(client: TestClient) -> None:
    response = client.get("/api/territories/montpellier-centre/gap")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["errors"][0]["field"] == "population"
    assert "population" in body["detail"] and "source" in body["detail"]
    assert "/territories/montpellier-centre/population" in body["detail"]  # the way, named
    assert client.get("/api/territories/atlantis/gap").status_code == 404


@pytest.mark.parametrize(("query", "field"), [
    ({"radius_km": -5}, "radius_km"), ({"radius_km": "loin"}, "radius_km"),
    ({"organic_share": 1.5}, "organic_share"), ({"relocalised_share": -1}, "relocalised_share"),
    ({"waste_reduction": 3}, "waste_reduction"), ({"diet": "paleo"}, "diet"),
    ({"format": "xml"}, "format"), ({"radius_km": "nan"}, "radius_km"),
])
def test_bad_parameters_are_problems_naming_the_parameter(client: TestClient,
                                                          query: dict[str, object],
                                                          field: str) -> None:
    response = client.get("/api/territories/frontignan/gap", params=query)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field


def test_csv_format(client: TestClient) -> None:
    response = client.get("/api/territories/haut-allier/gap",
                          params={"format": "csv", "diet": "animal-25"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    table = rows[:rows.index([])]
    assert table[0][:4] == ["group", "label", "demand_t", "land_needed_ha"]
    assert [r[0] for r in table[1:]] == [*GROUPS, "total"]
    json_body = client.get("/api/territories/haut-allier/gap", params={"diet": "animal-25"}).json()
    assert float(table[1][2]) == json_body["groups"][0]["demand_t"]
    notes = {r[0]: r for r in rows if r}
    assert notes["population"][1] == str(json_body["population"])
    assert notes["scenario.diet"][1] == "animal-25" and "théorique" in notes["caveat"][2]
    assert any(r[:2] == ["consumption_kg", "vegetables"] and "FAOSTAT" in r[4] for r in rows)


def test_custom_perimeters(client: TestClient) -> None:
    response = client.get("/api/gap", params={"communes": "34108,34301"})
    assert response.status_code == 200
    body = response.json()
    assert body["perimeter"]["kind"] == "communes"
    assert body["perimeter"]["communes"] == ["34108", "34301"]
    bad = client.get("/api/gap", params={"communes": "34108,99999"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "communes"
    assert client.get("/api/gap").status_code in (400, 422)
    square = {"type": "Feature", "properties": {"name": "Carré", "population": 800,
                                                "population_source": "comptage en atelier"},
              "geometry": {"type": "Polygon", "coordinates": [[[3.74, 43.44], [3.76, 43.44],
                                                               [3.76, 43.46], [3.74, 43.46],
                                                               [3.74, 43.44]]]}}
    drawn = client.post("/api/gap", json=square, params={"radius_km": 10})
    assert drawn.status_code == 200, drawn.text
    assert drawn.json()["population"] == 800 and drawn.json()["perimeter"]["name"] == "Carré"
    estimated = client.post("/api/gap", json=square["geometry"])
    assert estimated.status_code == 200 and "prorata" in estimated.json()["population_source"]
    csv_body = client.post("/api/gap?format=csv", json=square)
    assert csv_body.status_code == 200 and csv_body.text.startswith("group,")
    bowtie = {"type": "Polygon", "coordinates": [[[3, 43], [4, 44], [4, 43], [3, 44], [3, 43]]]}
    bad = client.post("/api/gap", json=bowtie)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "geometry"


def test_commune_coverage_for_choropleths(client: TestClient, migrated: str) -> None:
    with transaction(migrated) as session:
        n = session.scalar(text("SELECT count(*) FROM commune WHERE department = '48'"))
    response = client.get("/api/gap/communes", params={"departments": "48"})
    assert response.status_code == 200
    rows = response.json()["communes"]
    assert len(rows) == n and {"code", "population", "coverage_capped"} <= set(rows[0])
    # unknown is null, not 0 %: no declaring producer → no coverage; no farmland → no ratio
    for row in rows:
        assert (row["coverage_capped"] is None) == (not row["known"]["producers"]
                                                    or not row["population"])
        assert (row["land_ratio_gross"] is None) == (not row["known"]["farmland"]
                                                     or not row["population"])
    assert any(not row["known"]["producers"] and row["population"] for row in rows)
    haut_allier = client.get("/api/gap/communes", params={"territory": "haut-allier"}).json()
    assert len(haut_allier["communes"]) == 10
    assert client.get("/api/gap/communes").status_code == 400
    # per-commune coverage needs the territory's communes, not its own population (Écusson
    # has none: its gap is a 409, its communes' coverage is not)
    assert client.get("/api/territories/montpellier-centre/gap").status_code == 409
    centre = client.get("/api/gap/communes", params={"territory": "montpellier-centre"})
    assert centre.status_code == 200 and [c["code"] for c in centre.json()["communes"]] == ["34172"]


@pytest.fixture
def admin_token(migrated: str, demo_loaded: object) -> Iterator[str]:
    with transaction(migrated) as session:
        new = tokens.create(session, "admin", None, "gap test")
    yield new.token
    with transaction(migrated) as session:
        session.execute(text("DELETE FROM gap_override WHERE created_by LIKE 'token:%gap test'"))
        session.execute(text("UPDATE api_token SET revoked_at = now() WHERE id = :id"),
                        {"id": new.id})


def test_overrides_need_a_token_and_show_in_the_output(client: TestClient,
                                                       admin_token: str) -> None:
    payload = {"territory": "pezenas", "parameter": "yield_t_ha", "product": "vegetables",
               "value": 21.5, "source": "Chambre d'agriculture de l'Hérault", "year": 2023}
    assert client.post("/api/gap/overrides", json=payload).status_code == 401
    auth = {"Authorization": f"Bearer {admin_token}"}
    created = client.post("/api/gap/overrides", json=payload, headers=auth)
    assert created.status_code == 201, created.text
    override = created.json()
    assert override["scope"] == "territoire pezenas"
    body = client.get("/api/territories/pezenas/gap").json()
    assert body["overridden"] == [body["overridden"][0]]
    assert body["overridden"][0]["value"] == 21.5 and body["overridden"][0]["default"] == 28.0
    veg = body["groups"][0]
    assert veg["land_needed_ha"] == round(veg["demand_t"] / 21.5, 2)
    page = client.get("/territories/pezenas/gap").text
    assert "Valeurs remplacées pour ce territoire" in page and "21,5 au lieu de 28" in page
    listed = client.get("/api/gap/overrides", params={"territory": "pezenas"}).json()
    assert [o["id"] for o in listed] == [override["id"]]
    bad = client.post("/api/gap/overrides", headers=auth, json=payload | {"value": -3})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "value"
    assert client.delete(f"/api/gap/overrides/{override['id']}").status_code == 401
    assert client.delete(f"/api/gap/overrides/{override['id']}", headers=auth).status_code == 204
    assert client.get("/api/territories/pezenas/gap").json()["overridden"] == []


def test_the_page_in_french_with_the_plain_words_summary(client: TestClient) -> None:
    response = client.get("/territories/frontignan/gap")
    assert response.status_code == 200
    html = response.text
    assert '<html lang="fr">' in html
    assert "Production locale inconnue" in html and "(ce n&#39;est pas 0 %)" in html
    assert "2\u202f300 t de légumes sur 84 ha de maraîchage" in html
    assert "couvrent 0\u202f%" not in html and "il faudrait environ" not in html
    summary = html.split('id="gap-summary"')[1].split("</section>")[0]
    assert "carto " not in summary  # no command for a reader to run
    assert 'id="chart-tonnage"' in html and 'id="chart-land"' in html and 'id="gap-map"' in html
    assert "CRATer" in html and "PARCEL" in html and "FAOSTAT" in html
    assert "couverture théorique" in html
    assert "@media print" not in html and "/static/css/gap.css" in html
    assert "https://" not in html.split("<footer")[0].split("<main>")[1].replace(
        "https://terreau.example", "")  # nothing fetched from elsewhere
    english = client.get("/territories/frontignan/gap?lang=en").text
    assert "Local production unknown" in english and "of Frontignan&#39;s needs" in english
    multi = client.get("/territories/haut-allier/gap", params={"radius_km": 30})
    assert multi.status_code == 200 and multi.text.count('class="commune"') == 10
    assert 'id="choropleth-legend"' in multi.text


def test_the_page_explains_a_missing_population(client: TestClient) -> None:
    response = client.get("/territories/montpellier-centre/gap")
    assert response.status_code == 409
    assert "Population à saisir" in response.text and "--population" not in response.text
    assert 'href="/territories/montpellier-centre/population"' in response.text
    bad = client.get("/territories/frontignan/gap?organic_share=2",
                     headers={"accept": "text/html"})
    assert bad.status_code == 400 and "organic_share" in bad.text


def test_territory_page_links_to_the_gap(client: TestClient) -> None:
    html = client.get("/territories/vauvert").text
    assert 'href="/territories/vauvert/gap"' in html


def test_cli_gap_prints_a_table(migrated: str, demo_loaded: object) -> None:
    result = runner.invoke(app, ["gap", "frontignan", "--radius-km", "30", "--diet", "animal-50"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Frontignan" in out and "Légumes" in out and "Viande" in out
    assert "−50 % de produits animaux" in out and "théorique" in out
    assert "Aucune valeur de référence n'est remplacée" in out
    sources = runner.invoke(app, ["gap", "--communes", "34108,34301", "--sources"])
    assert sources.exit_code == 0 and "FAOSTAT" in sources.output
    as_csv = runner.invoke(app, ["gap", "vauvert", "--format", "csv"])
    assert as_csv.exit_code == 0 and as_csv.output.startswith("group,label")
    missing = runner.invoke(app, ["gap", "montpellier-centre"])
    assert missing.exit_code == 1 and "population" in missing.output
    bad = runner.invoke(app, ["gap", "frontignan", "--organic-share", "2"])
    assert bad.exit_code == 1 and "organic_share" in bad.output


def test_cli_coefficients_set_list_unset(migrated: str, demo_loaded: object) -> None:
    listed = runner.invoke(app, ["coefficients", "list"])
    assert listed.exit_code == 0 and "FAOSTAT" in listed.output
    made = runner.invoke(app, ["coefficients", "set", "consumption_kg", "vegetables", "120",
                               "--source", "Enquête test", "--territory", "marvejols"])
    assert made.exit_code == 0, made.output
    override_id = int(made.output.split("#")[1].split()[0])
    try:
        shown = runner.invoke(app, ["coefficients", "list", "--territory", "marvejols"])
        assert "remplacée : territoire marvejols, au lieu de 97.3" in shown.output
        gap_out = runner.invoke(app, ["gap", "marvejols"]).output
        assert "Consommation (kg/pers./an) Légumes frais : 120 au lieu de 97,3" in gap_out
        bad = runner.invoke(app, ["coefficients", "set", "yield_t_ha", "bananas", "3",
                                  "--source", "x"])
        assert bad.exit_code == 1 and "produit inconnu" in bad.output
    finally:
        gone = runner.invoke(app, ["coefficients", "unset", str(override_id)])
    assert gone.exit_code == 0
    assert runner.invoke(app, ["coefficients", "unset", str(override_id)]).exit_code == 1


def test_commune_coverage_caveat_follows_the_language(client: TestClient) -> None:
    """One caveat, from the catalogue the page uses, in the language asked for."""
    from carto.i18n import t

    fr = client.get("/api/gap/communes", params={"departments": "48"}).json()["caveat"]
    en = client.get("/api/gap/communes", params={"departments": "48", "lang": "en"}).json()["caveat"]
    assert fr.lower() == t("gap.caveat", "fr").lower() and "théorique" in fr
    assert en.lower() == t("gap.caveat", "en").lower() and en.startswith("This is a theoretical")


def test_gap_page_computes_the_catchment_once(client: TestClient) -> None:
    """The page needs the catchment for the supply and for its map: one buffer, not two."""
    from typing import Any

    from sqlalchemy import event

    engine = client.app.state.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "SELECT ST_AsEWKB(g) FROM catchment" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", spy)
    try:
        assert client.get("/territories/frontignan/gap").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert len(seen) == 1


def test_the_page_tells_measured_zero_from_unknown(client: TestClient) -> None:
    """Issue 12: with no producer declaring anything and no farmland imported, the table says
    « inconnue » and « – » where it said 0 % and 0,0; the French agrees in number and puts the
    article before a name; coefficients carry a decimal comma."""
    html = client.get("/territories/haut-allier/gap").text
    rows = html.split('<table id="gap-groups">')[1].split("</table>")[0]
    assert rows.count('class="unknown"') == 2 * 10 + 2  # producers' t and coverage, + totals
    assert "0\u202f%" not in rows
    assert "besoins de la CC du Haut Allier Margeride" in html
    assert "1 producteur cartographié dans le territoire n&#39;a encore" in html
    assert "et 1 cartographié sans volume déclaré" in html
    sources = html.split('<table id="gap-sources"')[1].split("</table>")[0]
    assert ">97,3<" in sources and ">97.3<" not in sources
    assert 'class="table-scroll"' in html


def test_measured_zero_still_reads_as_zero(client: TestClient) -> None:
    """When producers do declare (here one, of fruit only), vegetables are a measured 0 %."""
    with transaction(client.app.state.database_url) as session:  # type: ignore[attr-defined]
        rid = session.scalar(text("""
            SELECT r.id FROM resource r JOIN resource_territory rt ON rt.resource_id = r.id
            JOIN territory t ON t.id = rt.territory_id
            WHERE t.slug = 'marvejols' AND r.kind IN ('producer', 'shared_garden')
              AND r.status = 'active' ORDER BY r.id LIMIT 1"""))
        session.execute(text("""INSERT INTO resource_output (resource_id, food_group, kg_per_year,
                                year, source) VALUES (:r, 'fruits', 2000, 2024, 'test zéro')"""),
                        {"r": rid})
    try:
        html = client.get("/territories/marvejols/gap").text
        assert "Production locale inconnue" not in html
        assert "Les producteurs cartographiés couvrent 0\u202f% des besoins en légumes de " \
               "Marvejols" in html
        assert "1 producteur cartographié dans le territoire déclare une production" in html
    finally:
        with transaction(client.app.state.database_url) as session:  # type: ignore[attr-defined]
            session.execute(text("DELETE FROM resource_output WHERE source = 'test zéro'"))
