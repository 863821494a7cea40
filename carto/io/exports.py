"""A territory's data as files people open: GeoPackage, GeoJSON, XLSX, zipped CSV.

What is exported is what the principal may read (carto.search, hence carto.visibility: a
reader gets public validated rows, private persons at their commune's centre, nothing pending;
the territory's editors get everything). Layers: the territory, its resources, its links, the
links' level history, and the sources with their licences. XLSX and CSV use French headers —
the import's own column names, so an export imports back (tested: the same resources and links
re-created in an empty territory)."""

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import search, territories, vocab
from carto.i18n import t
from carto.text import SpreadsheetWriter, spreadsheet_safe
from carto.visibility import Principal, link_predicate

FORMATS = ("gpkg", "geojson", "csv", "csv-fr", "xlsx")
MEDIA = {"gpkg": "application/geopackage+sqlite3", "geojson": "application/geo+json",
         "csv": "application/zip", "csv-fr": "application/zip",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
EXTENSION = {"gpkg": "gpkg", "geojson": "geojson", "csv": "zip", "csv-fr": "zip", "xlsx": "xlsx"}
# The file's name: the territory, the day, and for the French-Excel CSV what it is for.
SUFFIX = {"csv-fr": "-excel"}

# (field in the layer, header key in the catalogue). The headers are the import's column
# labels (data/io/columns.csv) where the import reads the field.
RESOURCE_FIELDS = (
    ("identifier", "export.col.identifier"), ("name", "export.col.name"),
    ("kind", "export.col.kind"), ("kind_label", "export.col.kind_label"),
    ("description", "export.col.description"),
    ("address", "export.col.address"), ("commune_code", "export.col.insee"),
    ("commune_name", "export.col.commune"), ("lat", "export.col.lat"),
    ("lon", "export.col.lon"), ("location_precision", "export.col.precision"),
    ("precision_label", "export.col.precision_label"),
    ("same_point", "export.col.same_point"),
    ("location_note", "export.col.location_note"), ("products", "export.col.products"),
    ("products_label", "export.col.products_label"),
    ("opening_hours", "export.col.hours"), ("phone", "export.col.phone"),
    ("email", "export.col.email"), ("website", "export.col.website"),
    ("access_conditions", "export.col.access"), ("access_label", "export.col.access_label"),
    ("source_name", "export.col.source"),
    ("licence", "export.col.licence"), ("status", "export.col.status"),
    ("visibility", "export.col.visibility"), ("moderation", "export.col.moderation"),
    ("territories", "export.col.territories"), ("id", "export.col.terreau_id"),
    ("updated_at", "export.col.updated_at"))
LINK_FIELDS = (
    ("source", "export.col.link_source"), ("target", "export.col.link_target"),
    ("category", "export.col.category"), ("category_label", "export.col.category_label"),
    ("level", "export.col.level"), ("level_label", "export.col.level_label"),
    ("description", "export.col.description"), ("identifier", "export.col.identifier"),
    ("source_resource", "export.col.source_resource"),
    ("target_resource", "export.col.target_resource"), ("status", "export.col.status"),
    ("started_on", "export.col.started_on"), ("moderation", "export.col.moderation"),
    ("source_name", "export.col.source"), ("licence", "export.col.licence"),
    ("id", "export.col.terreau_id"))
HISTORY_FIELDS = (("link", "export.col.link"), ("level", "export.col.level"),
                  ("changed_on", "export.col.changed_on"), ("note", "export.col.note"))
TERRITORY_FIELDS = (("slug", "export.col.slug"), ("name", "export.col.name"),
                    ("level", "export.col.territory_level"),
                    ("population", "export.col.population"),
                    ("population_source", "export.col.population_source"),
                    ("geometry_source", "export.col.geometry_source"),
                    ("exported_at", "export.col.exported_at"))
SOURCE_FIELDS = (("layer", "export.col.layer"), ("source", "export.col.source"),
                 ("licence", "export.col.licence"), ("rows", "export.col.rows"))


@dataclass
class Export:
    territory: dict[str, Any]
    geometry: dict[str, Any]
    resources: list[dict[str, Any]]
    links: list[dict[str, Any]]
    history: list[dict[str, Any]]
    sources: list[dict[str, Any]]


def _all(fetch: Any) -> list[dict[str, Any]]:
    rows, after = fetch(None)
    out = list(rows)
    while after is not None:
        rows, after = fetch(after)
        out += rows
    return out


def _of_workshop(session: Session, table: str, workshop_id: int) -> set[str]:
    """The ids of what a workshop added (migration 0006), to keep only those."""
    return set(session.scalars(text(
        f"SELECT id::text FROM {table} WHERE workshop_id = :w"), {"w": workshop_id}))


def collect(session: Session, principal: Principal, slug: str,
            workshop_id: int | None = None, lang: str = "fr") -> Export:
    """Everything of the territory the principal may read (only what one workshop added,
    with `workshop_id`: its output, issue 14), codes with their labels in `lang` (a
    spreadsheet reader reads "Épicerie solidaire", an import reads the code)."""
    place = territories.get(session, slug)
    flt = search.ResourceFilter(territory=slug)
    raw = _all(lambda after: search.list_resources(session, principal, flt, search.MAX_LIMIT,
                                                   after))
    if workshop_id is not None:
        kept = _of_workshop(session, "resource", workshop_id)
        raw = [r for r in raw if str(r["id"]) in kept]
    resources = []
    for r in raw:
        resources.append({**r, "identifier": r.get("external_id") or str(r["id"]),
                          "products": ";".join(r.get("products") or []),
                          "access_conditions": ";".join(r.get("access_conditions") or []),
                          "territories": ";".join(r.get("territories") or []),
                          "id": str(r["id"]),
                          "updated_at": r["updated_at"].isoformat() if r.get("updated_at")
                          else None})
    _labels(session, resources, lang)
    ident = {r["id"]: r["identifier"] for r in resources}
    links_raw = _all(lambda after: search.list_links(
        session, principal, search.LinkFilter(territory=slug), search.MAX_LIMIT, after))
    if workshop_id is not None:
        kept_links = _of_workshop(session, "link", workshop_id)
        links_raw = [k for k in links_raw if str(k["id"]) in kept_links]
    links = []
    for k in links_raw:
        links.append({**k, "source": ident.get(str(k["source_id"]), str(k["source_id"])),
                      "target": ident.get(str(k["target_id"]), str(k["target_id"])),
                      "source_resource": k["source_name_"], "target_resource": k["target_name"],
                      "identifier": k.get("external_id") or str(k["id"]), "id": str(k["id"]),
                      "started_on": k["started_on"].isoformat() if k.get("started_on")
                      else None})
    visible, params = link_predicate(principal, "l", "s", "t")
    history = [dict(r) for r in session.execute(text(f"""
        SELECT coalesce(l.external_id, l.id::text) AS link, h.level, h.changed_on::text
               AS changed_on, h.note
        FROM link_level_history h JOIN link l ON l.id = h.link_id
        JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
        WHERE l.territory_id = :tid AND {visible}
          AND (CAST(:w AS integer) IS NULL OR l.workshop_id = :w)
        ORDER BY l.id, h.changed_on, h.id"""),
        params | {"tid": place.id, "w": workshop_id}).mappings()]
    geometry = json.loads(session.scalar(text(
        "SELECT ST_AsGeoJSON(geom, 6) FROM territory WHERE id = :id"), {"id": place.id}))
    territory = {"slug": place.slug, "name": place.name, "level": place.level,
                 "population": place.population, "population_source": place.population_source,
                 "geometry_source": place.geometry_source,
                 "exported_at": datetime.now(UTC).isoformat(timespec="seconds")}
    categories, levels = vocab.categories(), vocab.levels()
    for k in links:
        k["category_label"] = categories[k["category"]].label(lang) \
            if k.get("category") in categories else None
        k["level_label"] = levels[k["level"]].label(lang) if k.get("level") in levels else None
    return Export(territory, geometry, resources, links, history,
                  _sources(place, resources, links))


def _labels(session: Session, resources: list[dict[str, Any]], lang: str) -> None:
    """Labels beside the codes, and how many rows share each row's point: eleven resources
    of Pézenas placed at the commune's centre share one coordinate, and say so."""
    kinds, precisions = vocab.resource_kinds(session), vocab.precisions()
    foods, access = vocab.food_groups(), vocab.access_conditions()

    def names(codes: str, table: Any) -> str:
        return ", ".join(table[c].label(lang) if c in table else c for c in codes.split(";") if c)

    points: dict[tuple[Any, Any], int] = {}
    for r in resources:
        points[(r.get("lon"), r.get("lat"))] = points.get((r.get("lon"), r.get("lat")), 0) + 1
    for r in resources:
        kind, precision = r.get("kind"), r.get("location_precision")
        r["kind_label"] = kinds[kind].label(lang) if kind in kinds else kind
        r["precision_label"] = precisions[precision].label(lang) \
            if precision in precisions else precision
        r["same_point"] = points[(r.get("lon"), r.get("lat"))]
        r["products_label"] = names(r["products"], foods)
        r["access_label"] = names(r["access_conditions"], access)


def _sources(place: Any, resources: list[dict[str, Any]],
             links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts: dict[tuple[str, str, str], int] = {}
    for layer, rows in (("resources", resources), ("links", links)):
        for r in rows:
            k = (layer, r.get("source_name") or "—", r.get("licence") or "—")
            counts[k] = counts.get(k, 0) + 1
    out: list[dict[str, Any]] = [{"layer": "territory", "source": place.geometry_source or "—",
                                  "licence": "Licence Ouverte (Etalab)", "rows": 1},
           {"layer": "communes", "source": "IGN ADMIN EXPRESS COG, INSEE",
            "licence": "Licence Ouverte (Etalab)", "rows": None}]
    out += [{"layer": layer, "source": s, "licence": lic, "rows": n}
            for (layer, s, lic), n in sorted(counts.items())]
    return out


def _table(rows: list[dict[str, Any]], fields: tuple[tuple[str, str], ...],
           lang: str) -> tuple[list[str], list[list[Any]]]:
    header = [t(key, lang) for _, key in fields]
    return header, [[r.get(f) for f, _ in fields] for r in rows]


def _layers(data: Export, lang: str) -> list[tuple[str, tuple[list[str], list[list[Any]]]]]:
    return [
        (t("export.layer.territory", lang), _table([data.territory], TERRITORY_FIELDS, lang)),
        (t("export.layer.resources", lang), _table(data.resources, RESOURCE_FIELDS, lang)),
        (t("export.layer.links", lang), _table(data.links, LINK_FIELDS, lang)),
        (t("export.layer.history", lang), _table(data.history, HISTORY_FIELDS, lang)),
        (t("export.layer.sources", lang), _table(data.sources, SOURCE_FIELDS, lang)),
    ]


def to_xlsx(data: Export, lang: str = "fr") -> bytes:
    """One sheet per layer, French headers (the import's column names), cells neutralised."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    bold = book.add_format({"bold": True, "bg_color": "#e8f5e9"})
    for name, (header, rows) in _layers(data, lang):
        sheet = book.add_worksheet(name[:31])
        sheet.write_row(0, 0, header, bold)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row):
                sheet.write(r, c, spreadsheet_safe(value) if value is not None else None)
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, len(header) - 1, 18)
    book.close()
    return out.getvalue()


def _french_cell(value: Any) -> Any:
    """A number as French Excel reads it: a decimal comma (43,45), no thousands separator."""
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    return value


def to_csv_zip(data: Export, lang: str = "fr", french_excel: bool = False) -> bytes:
    """A zip with one CSV per layer (UTF-8 with BOM) and a SOURCES.txt. `french_excel`
    (format csv-fr): `;` between cells and decimal commas, what Excel set to French opens
    into columns with a double click; the plain CSV (`,` and points) stays for other tools."""
    out = io.BytesIO()
    options: dict[str, Any] = {"delimiter": ";"} if french_excel else {}
    cell = _french_cell if french_excel else (lambda v: v)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for (_name, (header, rows)), file in zip(_layers(data, lang), (
                "territoire", "ressources", "liens", "historique_niveaux", "sources"),
                strict=True):
            buffer = io.StringIO()
            writer = SpreadsheetWriter(buffer, lineterminator="\r\n", **options)
            writer.writerow(header)
            writer.writerows([["" if v is None else cell(v) for v in row] for row in rows])
            archive.writestr(f"{file}.csv", "\ufeff" + buffer.getvalue())
        archive.writestr("SOURCES.txt", _sources_text(data, lang))
    return out.getvalue()


def _sources_text(data: Export, lang: str) -> str:
    lines = [t("export.sources_intro", lang, territory=data.territory["name"],
               at=data.territory["exported_at"]), ""]
    lines += [f"- {s['layer']}: {s['source']} — {s['licence']}" for s in data.sources]
    return "\n".join(lines) + "\n"


def _feature(row: dict[str, Any], geometry: Any, fields: tuple[tuple[str, str], ...],
             layer: str) -> dict[str, Any]:
    return {"type": "Feature", "id": row.get("id"), "geometry": geometry,
            "properties": {"layer": layer, **{f: _plain(row.get(f)) for f, _ in fields}}}


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def to_geojson(data: Export, lang: str = "fr") -> bytes:
    """One FeatureCollection: the territory, its resources (points) and links (lines), each
    feature's `layer` saying which; the level history and the sources as members."""
    features = [_feature(data.territory, data.geometry, TERRITORY_FIELDS, "territory")]
    features += [_feature(r, {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                          RESOURCE_FIELDS, "resources") for r in data.resources]
    features += [_feature(k, json.loads(k["geometry"]), LINK_FIELDS, "links")
                 for k in data.links]
    body = {"type": "FeatureCollection", "features": features, "level_history": data.history,
            "sources": data.sources, "licence": t("export.licence_note", lang)}
    return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


def to_gpkg(data: Export, lang: str = "fr") -> bytes:
    """Layers territory, resources, links (EPSG:4326), level_history and sources (tables)."""
    import tempfile

    import geopandas
    import pandas
    import pyogrio
    from shapely.geometry import shape

    def frame(rows: list[dict[str, Any]], fields: tuple[tuple[str, str], ...],
              geoms: list[Any] | None) -> Any:
        table = pandas.DataFrame([{f: _plain(r.get(f)) for f, _ in fields} for r in rows],
                                 columns=[f for f, _ in fields])
        if geoms is None:
            return table
        return geopandas.GeoDataFrame(table, geometry=geoms, crs=4326)

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/export.gpkg"
        layers = [
            ("territory", frame([data.territory], TERRITORY_FIELDS, [shape(data.geometry)])),
            ("resources", frame(data.resources, RESOURCE_FIELDS,
                                [shape({"type": "Point", "coordinates": [r["lon"], r["lat"]]})
                                 for r in data.resources])),
            ("links", frame(data.links, LINK_FIELDS,
                            [shape(json.loads(k["geometry"])) for k in data.links])),
            ("level_history", frame(data.history, HISTORY_FIELDS, None)),
            ("sources", frame(data.sources, SOURCE_FIELDS, None)),
        ]
        for name, layer in layers:
            if isinstance(layer, geopandas.GeoDataFrame):
                layer.to_file(path, layer=name, driver="GPKG")
            else:
                pyogrio.write_dataframe(layer, path, layer=name, driver="GPKG")
        with open(path, "rb") as fh:
            return fh.read()


def export(session: Session, principal: Principal, slug: str, fmt: str,
           lang: str = "fr", workshop_id: int | None = None) -> bytes:
    from carto.errors import Invalid
    from carto.i18n import msg

    if fmt not in FORMATS:
        raise Invalid.field("format", msg("error.import.format", value=fmt,
                                          allowed=", ".join(FORMATS)))
    data = collect(session, principal, slug, workshop_id, lang)
    if fmt == "csv-fr":
        return to_csv_zip(data, lang, french_excel=True)
    writer = {"gpkg": to_gpkg, "geojson": to_geojson, "csv": to_csv_zip, "xlsx": to_xlsx}[fmt]
    return writer(data, lang)  # type: ignore[no-any-return,operator]


def file_name(slug: str, fmt: str, day: Any) -> str:
    """terreau-pezenas-2026-12-01.xlsx: the territory and the day the data is from."""
    return f"terreau-{slug}-{day.isoformat()}{SUFFIX.get(fmt, '')}.{EXTENSION[fmt]}"
