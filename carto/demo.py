"""Loads the programme's territories, actors and cooperations from data/demo/, idempotently.

Ids are derived from the rows' keys (UUID v5), so a second load finds every row it made and
changes nothing unless the files changed; a changed row is updated through the same code path
as an edit, with its change-log entry. Resources and links go through the `carto.io` pipeline
(read → check → write, a report line per row), like every importer.
"""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import DATA_DIR, cache, links, resources, territories
from carto.errors import Invalid
from carto.geo import as_multipolygon
from carto.i18n import msg
from carto.io import pipeline, readers
from carto.io.pipeline import Rejected, Report, Row
from carto.models import Link, Resource

DEMO_DIR = DATA_DIR / "demo"
NAMESPACE = uuid.UUID("7d0c6f5e-4b53-4d7a-9a56-2f1c3b1e7a10")
ACTOR = "demo"
DOCUMENT = "Synthèse du 2e Groupe de Recherche et de Production, 18 novembre 2019 (LERIS – INPACT)"
DOCUMENT_DATE = date(2019, 11, 18)


def resource_id(key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"resource:{key}")


def link_id(key: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"link:{key}")


@dataclass
class LoadReport:
    territories: int = 0
    created: dict[str, int] = field(default_factory=lambda: {"resource": 0, "link": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"resource": 0, "link": 0})
    unchanged: dict[str, int] = field(default_factory=lambda: {"resource": 0, "link": 0})
    context_features: int = 0


def _read_csv(path: Path) -> list[dict[str, str]]:
    with readers.open_binary(path) as stream:
        return [row.values for row in readers.csv_table(stream).rows]


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def _bool(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes", "oui")


def _feature_geometry(path: Path, filter_expr: str) -> dict[str, Any]:
    key, _, wanted = filter_expr.partition("=")
    with path.open(encoding="utf-8") as fh:
        collection = json.load(fh)
    for feature in collection["features"]:
        if str(feature["properties"].get(key)) == wanted:
            return dict(feature["geometry"])
    raise Invalid.field("geometry_filter", msg("error.demo.no_feature", filter=filter_expr,
                                                      file=path.name))


def load_territories(session: Session, directory: Path = DEMO_DIR) -> int:
    rows = _read_csv(directory / "territories.csv")
    for row in rows:
        spec = territories.TerritorySpec(
            slug=row["slug"],
            name=row["name"],
            level=row["level"],
            description=row["description"] or None,
            population=int(row["population"]) if row["population"] else None,
            population_source=row["population_source"] or None,
            population_year=int(row["population_year"]) if row["population_year"] else None,
            geometry_source=row["geometry_source"] or None,
        )
        if row["geometry_file"]:
            geometry = _feature_geometry(DATA_DIR / row["geometry_file"], row["geometry_filter"])
            as_multipolygon(geometry)
            territories.create_from_polygon(session, spec, geometry, replace=True)
        else:
            territories.create_from_communes(session, spec, _split(row["communes"]), replace=True)
    return len(rows)


def resource_payload(row: dict[str, str]) -> dict[str, Any]:
    description = row["description"].strip()
    if row.get("quote"):
        description += f"\n\nSource : « {row['quote'].strip()} »"
    return {
        "name": row["name"],
        "kind": row["kind"],
        "description": description,
        "commune": row["commune"] or None,
        "lon": float(row["lon"]),
        "lat": float(row["lat"]),
        "location_precision": row["precision"],
        "location_note": row["location_source"] or None,
        "products": _split(row.get("products", "")),
        "access_conditions": _split(row.get("access", "")),
        "visibility": row.get("visibility") or "public",
        "illustrative": _bool(row.get("illustrative", "false")),
        "territories": _split(row["territories"]),
        "provenance": "demo",
        "source_name": DOCUMENT,
        "external_id": row["key"],
    }


def link_payload(row: dict[str, str]) -> dict[str, Any]:
    return {
        "source": resource_id(row["source"]),
        "target": resource_id(row["target"]),
        "category": row["category"],
        "level": int(row["level"]),
        "stakes": _split(row.get("stakes", "")),
        "description": row["description"],
        "directed": _bool(row.get("directed", "false")),
        "status": row.get("status") or "active",
        "territory": row["territory"],
        "provenance": "demo",
        "source_name": DOCUMENT,
        "external_id": row["key"],
        "started_on": row.get("started_on") or None,
    }


class _DemoImport:
    """The demo's resources or links as a `carto.io` pipeline: each checked row is created or
    updated through the same code path as an edit (with its change-log entry)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def check(self, row: Row) -> dict[str, Any]:
        try:
            return resource_payload(row.values) if self.kind == "resource" \
                else link_payload(row.values)
        except (KeyError, ValueError) as exc:
            raise Rejected(None, msg("error.demo.unreadable_row", reason=str(exc))) from exc

    def stage(self, session: Session, batch: list[tuple[Row, Any]], report: Report) -> None:
        for row, payload in batch:
            key = row.values["key"]
            if self.kind == "resource":
                status = _upsert_resource(session, key, payload)
            else:
                status = _upsert_link(session, key, payload, row.values.get("level_note"))
            report.add(row.line, status, key)

    def check_all(self, session: Session, report: Report) -> None:
        pass

    def write(self, session: Session, report: Report) -> None:
        pass


def _status(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    if before is None:
        return pipeline.CREATED
    return pipeline.UPDATED if before != after else pipeline.UNCHANGED


def _upsert_resource(session: Session, key: str, payload: dict[str, Any]) -> str:
    rid = resource_id(key)
    existing = session.get(Resource, rid)
    if existing is None:
        return _status(None, resources.snapshot(
            resources.create(session, payload, ACTOR, resource_id=rid)))
    before = resources.snapshot(existing)
    resources.update(session, rid, payload, ACTOR, None)
    return _status(before, resources.snapshot(existing))


def _upsert_link(session: Session, key: str, payload: dict[str, Any],
                 level_note: str | None) -> str:
    lid = link_id(key)
    existing = session.get(Link, lid)
    if existing is None:
        payload["level_note"] = level_note or None
        return _status(None, links.snapshot(
            links.create(session, payload, ACTOR, link_id=lid, level_on=DOCUMENT_DATE)))
    before = links.snapshot(existing)
    links.update(session, lid, payload, ACTOR, None)
    return _status(before, links.snapshot(existing))


def _load(session: Session, report: LoadReport, kind: str, path: Path) -> Report:
    with readers.open_binary(path) as stream:
        lines = pipeline.run(session, _DemoImport(kind), readers.csv_table(stream).rows,
                             all_or_nothing=True)
    report.created[kind] += lines.counts[pipeline.CREATED]
    report.updated[kind] += lines.counts[pipeline.UPDATED]
    report.unchanged[kind] += lines.counts[pipeline.UNCHANGED]
    return lines


def load_resources(session: Session, report: LoadReport, directory: Path = DEMO_DIR) -> Report:
    return _load(session, report, "resource", directory / "resources.csv")


def load_links(session: Session, report: LoadReport, directory: Path = DEMO_DIR) -> Report:
    return _load(session, report, "link", directory / "links.csv")


def _context_rows(directory: Path) -> Iterator[dict[str, Any]]:
    for layer in _read_csv(directory / "context_layers.csv"):
        key, _, values = layer["filter"].partition("=")
        wanted = set(values.split("|")) if key else set()
        with (DATA_DIR / layer["file"]).open(encoding="utf-8") as fh:
            collection = json.load(fh)
        for i, feature in enumerate(collection["features"]):
            props = feature["properties"]
            if key and props.get(key) not in wanted:
                continue
            lon, lat = feature["geometry"]["coordinates"][:2]
            ident = props.get("id") or f"osm-{props.get('osm_type')}-{props.get('osm_id') or i}"
            yield {
                "id": f"{layer['layer']}:{ident}",
                "layer": layer["layer"],
                "name": props.get("nom") or props.get("name"),
                "category": props.get("sous_categorie") or props.get("categorie")
                or props.get("shop"),
                "properties": json.dumps({k: v for k, v in props.items() if v is not None}),
                "source": layer["source"],
                "licence": layer["licence"],
                "lon": lon,
                "lat": lat,
            }


def load_context_layers(session: Session, directory: Path = DEMO_DIR) -> int:
    rows = list(_context_rows(directory))
    cache.edited(session)  # the maps' context layers
    session.execute(
        text(
            """INSERT INTO context_feature (id, layer, name, category, properties, source,
                                            licence, geom)
               VALUES (:id, :layer, :name, :category, CAST(:properties AS jsonb), :source,
                       :licence, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
               ON CONFLICT (id) DO UPDATE SET layer = EXCLUDED.layer, name = EXCLUDED.name,
                 category = EXCLUDED.category, properties = EXCLUDED.properties,
                 source = EXCLUDED.source, licence = EXCLUDED.licence, geom = EXCLUDED.geom
               WHERE (context_feature.name, context_feature.properties, context_feature.licence)
                     IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.properties, EXCLUDED.licence)"""
        ),
        rows,
    )
    return len(rows)


def load(session: Session, directory: Path = DEMO_DIR) -> LoadReport:
    report = LoadReport()
    report.territories = load_territories(session, directory)
    load_resources(session, report, directory)
    load_links(session, report, directory)
    report.context_features = load_context_layers(session, directory)
    return report
