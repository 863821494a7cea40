"""`carto demo load` says why the territory pages count fewer resources than it created."""

from typer.testing import CliRunner

from carto import territories
from carto.cli import app
from carto.db import transaction


def test_the_demo_log_explains_the_difference(migrated: str, demo_loaded: object) -> None:
    result = CliRunner().invoke(app, ["demo", "load"])
    assert result.exit_code == 0, result.output
    with transaction(migrated) as session:
        n = territories.totals(session)  # the demo's 91, and what other tests committed
    assert (f"dans la base : {n['total']} ressources, dont {n['public']} publiques ; les pages "
            f"des territoires en additionnent {n['on_pages']} ({n['shared']} sur plusieurs "
            f"territoires, comptées sur chacun ; {n['hidden']} réservées aux membres ou en "
            "attente de validation, non comptées)") in result.output
