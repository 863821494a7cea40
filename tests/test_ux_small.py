"""Small things that make a newcomer doubt (issue 12): a resource's commune from its point, the
home page's counts explained."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from carto import resources, territories
from carto.cli import app


def _new(session: Session, **values: object) -> resources.Resource:
    data = {"name": "Ferme du test", "kind": "producer", "territories": ["frontignan"],
            **values}
    return resources.create(session, data, "test:ux", force=True)


def test_a_resource_created_without_a_commune_gets_the_one_holding_its_point(
        session: Session) -> None:
    assert _new(session, lon=3.7598, lat=43.45).commune_code == "34108"  # Frontignan
    given = _new(session, lon=3.7598, lat=43.45, commune="34172")  # said: kept as said
    assert given.commune_code == "34172"
    at_sea = _new(session, lon=3.9, lat=43.2)  # in the Gulf of Lion, no commune
    assert at_sea.commune_code is None


def test_the_home_page_says_why_seven_cards_and_86_resources(client: TestClient,
                                                             session: Session) -> None:
    n = territories.totals(session)
    # The demo: 91 resources, 6 for members only, one in Marvejols and Haut-Allier.
    assert (n["total"], n["public"], n["on_pages"], n["shared"], n["hidden"]) == (91, 85, 86, 1, 6)
    page = client.get("/").text
    cards = page.count('class="card"')
    assert cards == 7 and "Six territoires" in page
    assert "7 pages : une commune peut avoir une page par quartier (Montpellier : 2 pages)." in page
    assert ("Les pages additionnent 86 ressources publiques : 85 ressources, dont 1 qui figure "
            "sur plusieurs territoires et compte sur chacun.") in page
    assert "6 autres (91 en tout) sont réservées aux membres" in page
    english = client.get("/?lang=en").text
    assert "a commune may have a page per neighbourhood (Montpellier: 2 pages)" in english


def test_the_demo_log_explains_the_difference(migrated: str, demo_loaded: object) -> None:
    result = CliRunner().invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    assert ("dans la base : 91 ressources, dont 85 publiques ; les pages des territoires en "
            "additionnent 86 (1 sur plusieurs territoires") in result.output
