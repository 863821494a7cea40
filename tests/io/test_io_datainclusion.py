"""data·inclusion (issue 15): every public resource as a structure, its food offer as a service,
each row valid for the data-inclusion-schema package's models; the same document imports back."""

from data_inclusion.schema.v1 import Service, Structure
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto.io import datainclusion
from carto.io import resources as importer


def test_the_export_validates_with_the_national_models(session: Session) -> None:
    body = datainclusion.export(session, "frontignan")
    public = session.scalar(text(
        """SELECT count(*) FROM resource r JOIN resource_territory rt ON rt.resource_id = r.id
           JOIN territory t ON t.id = rt.territory_id WHERE t.slug = 'frontignan'
           AND r.deleted_at IS NULL AND r.moderation = 'validated' AND r.visibility = 'public'
           AND r.status <> 'draft'"""))
    assert len(body["structures"]) == public > 0
    for structure in body["structures"]:
        Structure.model_validate(structure)
    assert body["services"], "the demo's food aid has a food service"
    for service in body["services"]:
        Service.model_validate(service)
        assert service["thematiques"] == ["equipement-et-alimentation--alimentation"]
    ids = {s["id"] for s in body["structures"]}
    assert all(s["structure_id"] in ids for s in body["services"])


def test_networks_come_from_the_crosswalk(session: Session) -> None:
    from carto import resources

    resources.create(session, {"name": "Les Restos du Cœur de Frontignan", "kind": "food_aid",
                               "lon": 3.7551, "lat": 43.4476, "territories": ["frontignan"],
                               "location_precision": "exact"}, "test")
    body = datainclusion.export(session, "frontignan")
    restos = next(s for s in body["structures"] if s["nom"].startswith("Les Restos"))
    assert restos["reseaux_porteurs"] == ["restos-du-coeur"]
    service = next(s for s in body["services"] if s["structure_id"] == restos["id"])
    assert (service["type"], service["frais"]) == ("aide-materielle", "gratuit")


def test_a_datainclusion_document_imports_into_a_territory(session: Session) -> None:
    body = datainclusion.export(session, "frontignan")
    report = importer.import_tables(session, [datainclusion.rows(body)], "vauvert", "test",
                                    "data·inclusion", dry_run=True).resources
    # Frontignan's points are ~40 km from Vauvert: within the 50 km rule
    assert report.counts["rejected"] == 0, list(report.rejections)
    assert report.counts["created"] == len(body["structures"])


def test_api_and_cli_speak_datainclusion(client: object, world: object, tmp_path: object) -> None:
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from carto.cli import app

    resp = client.get("/api/territories/frontignan/export?format=datainclusion")  # type: ignore[attr-defined]
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"structures", "services"}
    for s in body["structures"]:
        Structure.model_validate(s)
    path = Path(str(tmp_path)) / "di.json"
    out = CliRunner().invoke(app, ["export", "--territory", "frontignan", "--format",
                                   "datainclusion", "-o", str(path)])
    assert out.exit_code == 0, out.output
    assert json.loads(path.read_text(encoding="utf-8"))["structures"]
    dry = CliRunner().invoke(app, ["import", str(path), "--territory", "vauvert", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"{len(body['structures'])} créées" in dry.output
