"""The `carto` command."""

import json
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from carto import tokens
from carto.cli import app
from carto.db import transaction

runner = CliRunner()


def test_token_create_prints_the_token_last_and_stores_a_hash(migrated: str,
                                                               demo_loaded: object) -> None:
    result = runner.invoke(app, ["token", "create", "--role", "editor",
                                 "--territory", "pezenas"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("terreau_") and len(token) > 30
    with transaction(migrated) as session:
        row = tokens.lookup(session, token)
        assert row is not None and row.role == "editor" and row.territory.slug == "pezenas"
        stored = session.scalars(text("SELECT token_hash FROM api_token")).all()
        assert token not in stored


def test_errors_exit_non_zero_with_a_message(migrated: str, demo_loaded: object) -> None:
    result = runner.invoke(app, ["token", "create", "--role", "editor"])
    assert result.exit_code == 1
    assert "territoire" in result.output
    result = runner.invoke(app, ["token", "create", "--role", "wizard", "--territory", "vauvert"])
    assert result.exit_code == 1 and "role" in result.output


def test_territory_create_from_communes_and_geojson(migrated: str, demo_loaded: object,
                                                    tmp_path: Path) -> None:
    result = runner.invoke(app, ["territory", "create", "--slug", "cli-gignac", "--name",
                                 "Gignac (CLI)", "--communes", "34114"])
    assert result.exit_code == 0, result.output
    square = {"type": "Feature", "properties": {}, "geometry": {
        "type": "Polygon",
        "coordinates": [[[3.5, 43.4], [3.6, 43.4], [3.6, 43.5], [3.5, 43.5], [3.5, 43.4]]]}}
    path = tmp_path / "square.geojson"
    path.write_text(json.dumps(square))
    result = runner.invoke(app, ["territory", "create", "--slug", "cli-square", "--name",
                                 "Carré", "--geojson", str(path)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(app, ["territory", "create", "--slug", "cli-square", "--name",
                                "Carré", "--geojson", str(path)])
    assert again.exit_code == 1 and "existe déjà" in again.output
    with transaction(migrated) as session:
        session.execute(text("DELETE FROM territory WHERE slug LIKE 'cli-%'"))


def test_the_command_speaks_french_or_english_from_the_catalogue(migrated: str,
                                                                 demo_loaded: object) -> None:
    """Issue 11, Messages: the CLI's own sentences and the domain's errors come from the
    catalogue; French by default, English with --lang en, TERREAU_LANG or an English locale."""
    args = ["territory", "create", "--slug", "cli-x", "--name", "X"]
    french = runner.invoke(app, args, env={"TERREAU_LANG": None, "LANG": "C.UTF-8"})
    assert french.exit_code == 1
    assert "Erreur : donnez soit --communes, soit --geojson" in french.output
    for how in ({"args": ["--lang", "en"], "env": {}},
                {"args": [], "env": {"TERREAU_LANG": "en"}},
                {"args": [], "env": {"TERREAU_LANG": None, "LANG": "en_GB.UTF-8"}}):
        english = runner.invoke(app, [*how["args"], *args], env=how["env"])
        assert english.exit_code == 1
        assert "Error: give either --communes or --geojson" in english.output, how
    unknown = runner.invoke(app, ["--lang", "en", "token", "create", "--role", "editor",
                                  "--territory", "nowhere"])
    assert unknown.exit_code == 1 and "Error: " in unknown.output
    assert "inconnu" not in unknown.output  # the domain's message, in English too
