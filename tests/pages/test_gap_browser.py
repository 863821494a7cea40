"""The gap page in a real headless Chromium: it renders the summary, the charts and the map,
its scenario form works, and it fetches nothing outside the app and logs no console error."""

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from sqlalchemy import text

from carto import territories
from carto.db import transaction
from carto.territories import TerritorySpec
from tests.browser import browser, dashed_strokes, open_page, screenshot

SLUG = "gap-test-thau"
SOURCE = "test navigateur (supprimé après le test)"


def _outside(requests: list[str], origin: str) -> list[str]:
    host = urlparse(origin).netloc
    return [u for u in requests if urlparse(u).scheme in ("http", "https")
            and urlparse(u).netloc != host]


@pytest.fixture(scope="module")
def thau(migrated: str, demo_loaded: object) -> Iterator[str]:
    """Three communes by the Étang de Thau with a few producers and illustrative farmland,
    committed for the live server, removed afterwards."""
    with transaction(migrated) as session:
        territories.create_from_communes(
            session, TerritorySpec(slug=SLUG, name="Thau (test)", level="custom"),
            ["34108", "34333", "34159"])
        session.execute(text("""
            WITH p(name, lon, lat, grp, kg) AS (VALUES
                ('Maraîchage des Aresquiers', 3.77, 43.47, 'vegetables', 60000),
                ('Ferme de la Gardiole', 3.80, 43.49, 'eggs', 12000),
                ('Vergers de Mireval', 3.80, 43.51, 'fruits', 30000),
                ('Bergerie (hors territoire)', 3.70, 43.52, 'meat', 5000)),
            r AS (
                INSERT INTO resource (id, name, kind, geom, location_precision, provenance,
                                      source_name, created_by, updated_by)
                SELECT gen_random_uuid(), name, 'producer',
                       ST_SetSRID(ST_MakePoint(lon, lat), 4326), 'exact', 'import', :src,
                       'test', 'test' FROM p
                RETURNING id, name),
            o AS (INSERT INTO resource_output (resource_id, food_group, kg_per_year, source)
                  SELECT r.id, p.grp, p.kg, :src FROM r JOIN p USING (name))
            INSERT INTO resource_territory (resource_id, territory_id)
            SELECT r.id, t.id FROM r, territory t WHERE t.slug = :slug"""),
            {"src": SOURCE, "slug": SLUG})
        session.execute(text("""
            INSERT INTO farmland (commune_code, crop_group, hectares, year, source)
            VALUES ('34108', 'vegetables', 15, 2023, :src), ('34108', 'vines', 800, 2023, :src),
                   ('34333', 'cereals', 60, 2023, :src),
                   ('34159', 'permanent_grassland', 120, 2023, :src)"""), {"src": SOURCE})
    yield SLUG
    with transaction(migrated) as session:
        session.execute(text("DELETE FROM farmland WHERE source = :src"), {"src": SOURCE})
        session.execute(text("DELETE FROM resource WHERE source_name = :src"), {"src": SOURCE})
        session.execute(text("DELETE FROM territory WHERE slug = :slug"), {"slug": SLUG})


def test_gap_page_frontignan_in_chromium(live_server: str) -> None:
    """Runs before the Thau fixture exists (its producers would count for Frontignan)."""
    with browser() as b:
        visit = open_page(b, f"{live_server}/territories/frontignan/gap")
        text_ = visit.page.locator("#gap-summary").inner_text()
        assert text_.splitlines()[1].startswith("Production locale inconnue")
        assert "84 ha de maraîchage" in text_
        assert visit.console_errors == []
        assert _outside(visit.requests, live_server) == []
        screenshot(visit.page, "gap-frontignan")


def test_gap_page_in_chromium(live_server: str, thau: str) -> None:
    with browser() as b:
        visit = open_page(b, f"{live_server}/territories/{thau}/gap?radius_km=10")
        page = visit.page
        summary = page.locator("#gap-summary li").first.inner_text()
        assert summary.startswith("Les producteurs cartographiés couvrent")
        assert "des besoins en légumes de Thau (test)" in summary
        assert page.locator("#chart-tonnage .row").count() == 10
        assert page.locator("#gap-groups tbody tr").count() == 10
        assert page.locator("#gap-map circle.producer.counted").count() == 4  # 3 inside + 1 near
        assert page.locator("#gap-map path.commune").count() == 3
        # the catchment is a pale band with a thin solid line (dashes: the approximate position's)
        assert page.locator("#gap-map path.catchment").count() == 1
        assert dashed_strokes(page, "#gap-map") == []
        assert "tirets" not in page.locator(".gap-map .hint").inner_text()
        assert page.locator("#ratio-gross").inner_text().endswith("%")
        assert visit.console_errors == [] and visit.dialogs == []
        assert _outside(visit.requests, live_server) == []
        screenshot(page, "gap-thau")
        page.screenshot(path=str(screenshot(page, "gap-thau-full")), full_page=True)
        for part in ("chart-tonnage", "chart-land", "gap-map", "gap-groups", "method"):
            page.locator(f"#{part}").screenshot(path=str(screenshot(page, f"gap-thau-{part}")))
        page.select_option("select[name=diet]", "animal-50")
        page.select_option("select[name=radius_km]", "0")
        with page.expect_navigation():
            page.click("#scenario button[type=submit]")
        assert "diet=animal-50" in page.url
        assert page.locator("#gap-map circle.producer.counted").count() == 3
        assert page.locator("select[name=diet]").input_value() == "animal-50"
        page.emulate_media(media="print")
        assert not page.locator("#scenario").is_visible()
        assert page.locator(".scenario-print").is_visible()
        screenshot(page, "gap-thau-print")


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1024, 768), (1440, 900)])
def test_gap_page_never_scrolls_sideways(live_server: str, thau: str, width: int,
                                         height: int) -> None:
    """Issue 12: the page was 2,141 px wide on a 1,440 px desktop (the figures table) and its
    charts shrank unreadable on a phone. Wide tables and charts scroll inside their own box;
    the page itself does not, and chart text keeps a legible size."""
    with browser() as b:
        visit = open_page(b, f"{live_server}/territories/{thau}/gap?radius_km=10", width, height)
        page = visit.page
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow} px too wide at {width}"
        box = page.locator("#gap-groups").evaluate("t => t.closest('.table-scroll').clientWidth")
        assert box <= width
        label = page.locator("#chart-tonnage text").first.evaluate(
            "t => t.getBoundingClientRect().height")
        assert label >= 9, f"chart text {label} px high at {width}"
        assert visit.console_errors == []
        page.screenshot(path=str(screenshot(page, f"gap-thau-{width}")), full_page=True)
        assert dashed_strokes(page, "#gap-map") == []
        for part in ("gap-summary", "gap-charts", "gap-table", "gap-map"):
            page.locator(f".{part}").screenshot(
                path=str(screenshot(page, f"gap-thau-{width}-{part}")))
