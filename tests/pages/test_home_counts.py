"""The home page says why seven cards sit under "Six territoires" and why the pages add up to
86 resources when the demo creates 91 (issue 12). Other tests may have committed territories
and resources of their own: the figures are read from the database, the sentences checked."""

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from carto import territories


def test_the_home_page_says_why_seven_cards_and_86_resources(client: TestClient,
                                                             session: Session) -> None:
    n = territories.totals(session)
    page = client.get("/").text
    cards = [int(v) for v in re.findall(r'<dd class="n-resources">(\d+)</dd>', page)]
    assert len(cards) >= 7 and "Six territoires" in page
    assert sum(cards) == n["on_pages"]  # what the sentence explains: the cards' sum
    assert n["hidden"] == n["total"] - n["public"] and n["shared"] >= 1 and n["hidden"] >= 6
    assert ": une commune peut avoir une page par quartier (Montpellier : 2 pages)." in page
    assert (f"Les pages additionnent {n['on_pages']} ressources publiques : {n['public']} "
            "ressources, dont ") in page
    assert f"{n['hidden']} autres ({n['total']} en tout) sont réservées aux membres" in page
    english = client.get("/?lang=en").text
    assert "a commune may have a page per neighbourhood (Montpellier: 2 pages)" in english


def test_the_demo_alone_gives_91_85_86(session: Session) -> None:
    """In the demo's territories: 91 resources, 6 for members only, one (Jardins de Cocagne)
    in Marvejols and Haut-Allier."""
    from sqlalchemy import text

    demo = ("frontignan", "vauvert", "pezenas", "montpellier-celleneuve", "montpellier-centre",
            "haut-allier", "marvejols")
    row = session.execute(text("""
        SELECT count(DISTINCT r.id) AS total,
               count(DISTINCT r.id) FILTER (WHERE r.visibility = 'public') AS public,
               count(*) FILTER (WHERE r.visibility = 'public') AS on_pages
        FROM resource r JOIN resource_territory rt ON rt.resource_id = r.id
        JOIN territory t ON t.id = rt.territory_id
        WHERE t.slug = ANY(:demo) AND r.created_by = 'demo'"""), {"demo": list(demo)}).one()
    assert tuple(row) == (91, 85, 86)
