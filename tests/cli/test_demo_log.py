"""`carto demo load` says why the territory pages count fewer resources than it created."""

from typer.testing import CliRunner

from carto.cli import app


def test_the_demo_log_explains_the_difference(migrated: str, demo_loaded: object) -> None:
    result = CliRunner().invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    assert ("dans la base : 91 ressources, dont 85 publiques ; les pages des territoires en "
            "additionnent 86 (1 sur plusieurs territoires") in result.output
