"""The home page says why seven cards sit under "Six territoires" and why the pages add up to
86 resources when the demo creates 91 (issue 12)."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from carto import territories


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
