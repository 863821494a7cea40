"""The gap page's forms (issue 12): an editor signed in by the cookie session uploads the farmland
CSV (the importer of `carto farmland import`, the per-commune report shown, errors next to the
field, nothing written on an error), and enters the population of a territory that has none
(Écusson) with its source. Against the real server (httpx) and in Chromium, at three sizes."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from carto import territories
from carto.db import transaction
from carto.errors import Forbidden, Invalid, Unauthenticated
from carto.territories import TerritorySpec
from carto.visibility import ANONYMOUS
from tests.browser import browser, open_page, screenshot
from tests.sessions import csrf, sign_in, token

SLUG = "gapdata-upload"
SOURCE = "Relevé test gap page (supprimé après le test)"
ECUSSON = "montpellier-centre"
GOOD = f"""commune;crop_group;hectares;year;source
34108;vegetables;40;2023;{SOURCE}
34108;permanent_grassland;120,5;2023;{SOURCE}
34301;cereals;60;2023;{SOURCE}
"""
SIZES = ((390, 844), (1024, 768), (1440, 900))


def _farmland_rows(url: str) -> int:
    with transaction(url) as session:
        return int(session.scalar(text("SELECT count(*) FROM farmland WHERE source = :s"),
                                  {"s": SOURCE}) or 0)


@pytest.fixture(scope="module")
def upload_territory(migrated: str, demo_loaded: object) -> Iterator[str]:
    """Frontignan and Sète as one territory with an editor, removed afterwards with the
    farmland the tests upload."""
    with transaction(migrated) as session:
        territories.create_from_communes(
            session, TerritorySpec(slug=SLUG, name="Frontignan et Sète (test)"),
            ["34108", "34301"])
    yield SLUG
    with transaction(migrated) as session:
        session.execute(text("DELETE FROM farmland WHERE source = :s"), {"s": SOURCE})
        session.execute(text("DELETE FROM api_token WHERE territory_id = "
                             "(SELECT id FROM territory WHERE slug = :s)"), {"s": SLUG})
        session.execute(text("DELETE FROM territory WHERE slug = :s"), {"s": SLUG})


@pytest.fixture
def ecusson(migrated: str, demo_loaded: object) -> Iterator[str]:
    """Écusson as the demo has it (population unknown), put back so after the test."""
    yield ECUSSON
    with transaction(migrated) as session:
        session.execute(text("""UPDATE territory SET population = NULL,
                                population_source = NULL, population_year = NULL
                                WHERE slug = :s"""), {"s": ECUSSON})


@contextmanager
def _signed_in(base: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers={"Accept": "text/html", "Origin": base}) as web:
        answer = web.post("/sign-in", data={"token": token, "next": "/"})
        assert answer.status_code == 303
        yield web


def test_an_editor_uploads_farmland_and_the_figures_change(
        live_server: str, migrated: str, upload_territory: str) -> None:
    editor = token(migrated, "editor", upload_territory, "Éditrice test upload")
    with _signed_in(live_server, editor) as web:
        before = web.get(f"/territories/{upload_territory}/gap")
        assert before.status_code == 200 and 'id="farmland-form"' in before.text
        assert '<dd id="ratio-gross">–</dd>' in before.text  # unknown before
        anti_csrf = csrf(before.text)
        url = f"/territories/{upload_territory}/gap/farmland"
        done = web.post(url, data={"csrf": anti_csrf},
                        files={"file": ("surfaces.csv", GOOD.encode(), "text/csv")})
        assert done.status_code == 200, done.text[-2000:]
        assert 'id="farmland-report"' in done.text and "Lignes importées : 3 " in done.text
        assert 'data-code="34108"' in done.text and "Frontignan (34108)" in done.text
        assert '<dd id="ratio-gross">–</dd>' not in done.text  # the figures include it
        assert _farmland_rows(migrated) == 3
        again = web.post(url, data={"csrf": anti_csrf},
                         files={"file": ("surfaces.csv", GOOD.encode(), "text/csv")})
        assert "ajoutées : 0, mises à jour : 0, inchangées : 3" in again.text  # idempotent
        # a wrong line: the errors next to the field, nothing written
        bad = GOOD.replace("60;2023", "beaucoup;2023") + f"34172;vegetables;3;2023;{SOURCE}\n"
        refused = web.post(url, data={"csrf": anti_csrf},
                           files={"file": ("surfaces.csv", bad.encode(), "text/csv")})
        assert refused.status_code == 422
        errors = refused.text.split('id="farmland-errors"')[1].split("</div>")[0]
        assert "ligne 4, colonne hectares" in errors and "beaucoup" in errors
        assert "ligne 5, colonne commune" in errors and "pas une commune de ce territoire" in errors
        assert _farmland_rows(migrated) == 3
        empty = web.post(url, data={"csrf": anti_csrf})
        assert empty.status_code == 422 and "choisissez un fichier" in empty.text
        forged = web.post(url, data={"csrf": "0" * 64},
                          files={"file": ("surfaces.csv", GOOD.encode(), "text/csv")})
        assert forged.status_code == 403
    other = token(migrated, "editor", "pezenas", "Éditeur autre territoire (test)")
    with _signed_in(live_server, other) as web:
        page = web.get(f"/territories/{upload_territory}/gap")
        assert 'id="farmland-form"' not in page.text
        refused = web.post(f"/territories/{upload_territory}/gap/farmland",
                           data={"csrf": csrf(page.text)},
                           files={"file": ("surfaces.csv", GOOD.encode(), "text/csv")})
        assert refused.status_code == 403
    with httpx.Client(base_url=live_server) as anonymous:
        assert 'id="farmland-form"' not in anonymous.get(
            f"/territories/{upload_territory}/gap").text


def test_set_population_is_for_the_territory_s_editors(session: object) -> None:
    from carto.visibility import Principal

    with pytest.raises(Unauthenticated):
        territories.set_population(session, ANONYMOUS, ECUSSON, 5000, "x")  # type: ignore
    elsewhere = Principal(role="editor", actor="t", territory_id=territories.id_of(
        session, "pezenas"))  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        territories.set_population(session, elsewhere, ECUSSON, 5000, "x")  # type: ignore
    editor = Principal(role="editor", actor="t", territory_id=territories.id_of(
        session, ECUSSON))  # type: ignore[arg-type]
    with pytest.raises(Invalid) as err:
        territories.set_population(session, editor, ECUSSON, "beaucoup", " ", "21")  # type: ignore
    assert [e.field for e in err.value.errors] == ["population", "population_source",
                                                   "population_year"]
    done = territories.set_population(session, editor, ECUSSON, "12 460", "INSEE, IRIS 2021",
                                      "2021")  # type: ignore
    assert (done.population, done.population_source, done.population_year) == (
        12460, "INSEE, IRIS 2021", 2021)


def test_ecusson_says_its_population_is_unknown_and_an_editor_enters_it(
        live_server: str, migrated: str, ecusson: str) -> None:
    with httpx.Client(base_url=live_server, headers={"Accept": "text/html"}) as anonymous:
        territory = anonymous.get(f"/territories/{ecusson}").text
        assert f'href="/territories/{ecusson}/population"' in territory  # not to the 409
        page = anonymous.get(f"/territories/{ecusson}/population")
        assert page.status_code == 200 and 'id="population-unknown"' in page.text
        assert 'id="population-form"' not in page.text and 'id="population-sign-in"' in page.text
        api = anonymous.get(f"/api/territories/{ecusson}/gap").json()
        assert f"/territories/{ecusson}/population" in api["detail"]
    editor = token(migrated, "editor", ecusson, "Éditrice Écusson (test)")
    with _signed_in(live_server, editor) as web:
        page = web.get(f"/territories/{ecusson}/population")
        anti_csrf = csrf(page.text)
        refused = web.post(f"/territories/{ecusson}/population",
                           data={"csrf": anti_csrf, "population": "douze", "population_source": ""})
        assert refused.status_code == 422
        assert 'id="population-error"' in refused.text
        assert 'id="population_source-error"' in refused.text
        assert 'value="douze"' in refused.text  # what was typed stays
        saved = web.post(f"/territories/{ecusson}/population",
                         data={"csrf": anti_csrf, "population": "7 300",
                               "population_source": "INSEE, recensement 2021 à l'IRIS (test)",
                               "population_year": "2021"})
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/territories/{ecusson}/gap"
        gap = web.get(f"/territories/{ecusson}/gap")
        assert gap.status_code == 200 and "7\u202f300" in gap.text
        assert web.get(f"/api/territories/{ecusson}/gap").json()["population"] == 7300


@pytest.mark.browser
def test_upload_and_population_forms_in_chromium(live_server: str, migrated: str,
                                                 upload_territory: str, ecusson: str,
                                                 tmp_path: Path) -> None:
    with transaction(migrated) as session:
        session.execute(text("DELETE FROM farmland WHERE source = :s"), {"s": SOURCE})
    editor = token(migrated, "editor", upload_territory, "Éditrice Chromium upload")
    csv_file = tmp_path / "surfaces.csv"
    csv_file.write_text(GOOD, encoding="utf-8")
    with browser() as b:
        visit = open_page(b, f"{live_server}/", 1024, 768)
        page = visit.page
        sign_in(page, live_server, editor)
        page.goto(f"{live_server}/territories/{upload_territory}/gap")
        assert page.locator("#ratio-gross").inner_text() == "–"
        page.set_input_files("#farmland-file", str(csv_file))
        page.click("#farmland-form button[type=submit]")
        page.wait_for_selector("#farmland-report")
        assert "Lignes importées : 3 " in page.locator("#farmland-report").inner_text()
        assert page.locator("#farmland-communes tbody tr").count() == 2
        assert page.locator("#ratio-gross").inner_text() != "–"  # the figures changed
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.locator("#farmland-upload").scroll_into_view_if_needed()
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"gap-farmland-upload-{width}")
        bad = tmp_path / "mauvais.csv"
        bad.write_text(GOOD.replace("60;2023", "beaucoup;2023"), encoding="utf-8")
        page.set_viewport_size({"width": 1024, "height": 768})
        page.set_input_files("#farmland-file", str(bad))
        page.click("#farmland-form button[type=submit]")
        page.wait_for_selector("#farmland-errors")
        assert "ligne 4, colonne hectares" in page.locator("#farmland-errors").inner_text()
        page.locator("#farmland-form").scroll_into_view_if_needed()
        screenshot(page, "gap-farmland-upload-error-1024")
        # the refused file's 422 is the one console line (Chromium logs every 4xx)
        assert [e for e in visit.console_errors if "422" not in e] == []

    ecusson_editor = token(migrated, "editor", ecusson, "Éditrice Chromium Écusson")
    with browser() as b:
        visit = open_page(b, f"{live_server}/territories/{ecusson}", 390, 844)
        page = visit.page
        page.click("#gap-link")
        page.wait_for_selector("#population-unknown")
        sign_in(page, live_server, ecusson_editor)
        page.goto(f"{live_server}/territories/{ecusson}/population")
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            screenshot(page, f"population-ecusson-{width}")
        page.fill("#population", "7300")
        page.fill("#population_source", "INSEE, recensement 2021 à l'IRIS (test)")
        page.click("#population-form button[type=submit]")
        page.wait_for_selector("#gap-summary")
        assert "7\u202f300" in page.locator("#gap-population").inner_text()
        assert visit.console_errors == []
