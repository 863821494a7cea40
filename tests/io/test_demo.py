"""The demo: the programme's territories, actors and cooperation, loaded idempotently."""

import csv
from collections import Counter

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import demo
from carto.db import transaction

DEMO_TERRITORIES = ["frontignan", "vauvert", "pezenas", "montpellier-celleneuve",
                    "montpellier-centre", "haut-allier", "marvejols"]


def _rows(name: str) -> list[dict[str, str]]:
    with (demo.DEMO_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _counts(session: Session) -> dict[str, int]:
    return {
        table: session.scalar(text(f"SELECT count(*) FROM {table}"))
        for table in ("territory", "resource", "resource_territory", "link",
                      "link_level_history", "change_log", "context_feature", "commune")
    }


def test_the_seven_territories_are_there_with_real_boundaries(session: Session) -> None:
    rows = session.execute(text(
        """SELECT slug, ST_IsValid(geom) AS valid, ST_Area(geom::geography) / 1e6 AS km2,
                  population, population_source FROM territory ORDER BY slug""")).mappings().all()
    by_slug = {r["slug"]: r for r in rows}
    assert set(DEMO_TERRITORIES) <= set(by_slug)
    assert all(by_slug[s]["valid"] for s in DEMO_TERRITORIES)
    # areas as published in territoires_programme.geojson (EPSG:2154), within 2 %
    for slug, km2 in [("frontignan", 39.832), ("vauvert", 110.533),
                      ("montpellier-celleneuve", 0.832), ("haut-allier", 283.242)]:
        assert abs(by_slug[slug]["km2"] - km2) / km2 < 0.02, slug
    assert by_slug["frontignan"]["population"] == 24136
    # the sum of its 10 communes' populations (communes_30_34_43_48.csv); the EPCI membership
    # file of the same package says 5,167: its per-commune figures are of another vintage.
    assert by_slug["haut-allier"]["population"] == 5145
    assert by_slug["montpellier-celleneuve"]["population"] == 1420
    assert "QP034004" in by_slug["montpellier-celleneuve"]["population_source"]
    assert by_slug["montpellier-centre"]["population"] is None


def test_every_actor_of_the_files_is_loaded_in_its_territories(session: Session) -> None:
    expected: Counter[tuple[str, str]] = Counter()
    for row in _rows("resources.csv"):
        for slug in row["territories"].split(";"):
            expected[(slug.strip(), row["kind"])] += 1
    loaded = Counter({
        (slug, kind): n for slug, kind, n in session.execute(text(
            """SELECT t.slug, r.kind, count(*) FROM resource r
               JOIN resource_territory rt ON rt.resource_id = r.id
               JOIN territory t ON t.id = rt.territory_id
               WHERE r.provenance = 'demo' GROUP BY 1, 2"""))
    })
    assert loaded == expected
    assert sum(1 for _ in _rows("resources.csv")) >= 60
    for slug in DEMO_TERRITORIES:
        assert any(s == slug for s, _ in loaded), f"no actor in {slug}"


def test_cooperation_links_cover_the_ladder_and_categories(session: Session) -> None:
    categories = set(session.scalars(text(
        "SELECT DISTINCT category FROM link WHERE provenance = 'demo'")))
    assert categories == {"aid_associations", "territorial_structures", "public_associations",
                          "residents_volunteers", "producers_suppliers",
                          "social_workers_volunteers"}
    levels = set(session.scalars(text(
        "SELECT DISTINCT level FROM link WHERE provenance = 'demo'")))
    assert len(levels) >= 4
    assert session.scalar(text("SELECT count(*) FROM link WHERE provenance = 'demo'")) == len(
        _rows("links.csv"))
    orphans = session.scalar(text(
        """SELECT count(*) FROM link l LEFT JOIN resource s ON s.id = l.source_id
           LEFT JOIN resource t ON t.id = l.target_id WHERE s.id IS NULL OR t.id IS NULL"""))
    assert orphans == 0
    # each link's level is dated by the document in its level history
    missing = session.scalar(text(
        """SELECT count(*) FROM link l WHERE l.provenance = 'demo' AND NOT EXISTS (
             SELECT 1 FROM link_level_history h WHERE h.link_id = l.id AND h.level = l.level
               AND h.changed_on = DATE '2019-11-18')"""))
    assert missing == 0


def test_descriptions_quote_the_document(session: Session) -> None:
    seed_words = session.scalars(text(
        "SELECT description FROM link WHERE provenance = 'demo' "
        "AND description NOT LIKE '%«%»%'")).all()
    assert seed_words == []


def test_locations_say_how_precise_they_are(session: Session) -> None:
    precisions = Counter(session.scalars(text(
        "SELECT location_precision FROM resource WHERE provenance = 'demo'")))
    assert precisions["commune"] + precisions["neighbourhood"] > 0
    unexplained = session.scalar(text(
        """SELECT count(*) FROM resource WHERE location_precision IN ('commune', 'neighbourhood')
           AND coalesce(location_note, '') = ''"""))
    assert unexplained == 0


def test_context_layers_keep_their_licences(session: Session) -> None:
    rows = dict(session.execute(text(
        "SELECT layer, min(licence) FROM context_feature GROUP BY layer")).all())
    assert set(rows) == {"markets", "gardens", "community_centres", "osm_food_shops"}
    assert rows["osm_food_shops"] == "ODbL 1.0"
    assert session.scalar(text(
        "SELECT count(*) FROM context_feature WHERE layer = 'osm_food_shops'")) == 351


def test_a_second_load_changes_no_count_and_no_id(demo_loaded: demo.LoadReport,
                                                   migrated: str) -> None:
    assert demo_loaded.created["resource"] == len(_rows("resources.csv"))
    with transaction(migrated) as s:
        before = _counts(s)
        ids = set(s.scalars(text("SELECT id::text FROM resource UNION ALL "
                                 "SELECT id::text FROM link")))
        territory_ids = dict(s.execute(text("SELECT slug, id FROM territory")).all())
    with transaction(migrated) as s:
        report = demo.load(s)
    assert report.created == {"resource": 0, "link": 0}
    assert report.updated == {"resource": 0, "link": 0}
    with transaction(migrated) as s:
        assert _counts(s) == before
        assert set(s.scalars(text("SELECT id::text FROM resource UNION ALL "
                                  "SELECT id::text FROM link"))) == ids
        assert dict(s.execute(text("SELECT slug, id FROM territory")).all()) == territory_ids


def test_a_neighbourhood_belongs_to_its_commune_only(session: Session) -> None:
    communes = session.scalars(text(
        """SELECT tc.commune_code FROM territory_commune tc JOIN territory t ON t.id = tc.territory_id
           WHERE t.slug = 'montpellier-celleneuve'""")).all()
    assert communes == ["34172"]
