"""The `carto` command: thin wrappers that parse, call carto.*, print, and exit non-zero on error."""

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from carto import demo, territories, tokens
from carto.config import app_settings, database_settings
from carto.db import session_factory, transaction
from carto.errors import CartoError
from carto.geo import unwrap_feature
from carto.i18n import DEFAULT_LANG, LANGS, Message, msg, render, t

LOCAL_URL = "http://127.0.0.1:8000"  # `carto serve`'s address, when TERREAU_PUBLIC_URL is unset

app = typer.Typer(help="Terreau: food-solidarity resources and cooperation, mapped.",
                  no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="The programme's demo territories.", no_args_is_help=True)
territory_app = typer.Typer(help="Territories.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")
app.add_typer(territory_app, name="territory")
app.add_typer(token_app, name="token")


def cli_lang(requested: str | None = None) -> str:
    """The language the command speaks: `--lang`, else TERREAU_LANG, else the locale's (LANG,
    e.g. en_GB.UTF-8), else French. A value that is neither fr nor en is passed over."""
    for value in (requested, os.environ.get("TERREAU_LANG"), os.environ.get("LANG")):
        code = (value or "").split(".")[0].split("_")[0].split("-")[0].lower()
        if code in LANGS:
            return code
    return DEFAULT_LANG


_RUN = {"lang": DEFAULT_LANG}  # this run's language, set once by the callback below


@app.callback()
def _main(lang: Annotated[str | None, typer.Option(
        help="fr or en (default: TERREAU_LANG, then LANG, then fr).")] = None) -> None:
    _RUN["lang"] = cli_lang(lang)


def _say(key: str, /, **values: object) -> str:
    """A catalogue sentence in this run's language."""
    return t(key, _RUN["lang"], **values)


def _echo(key: str, /, **values: object) -> None:
    typer.echo(_say(key, **values))


def _fail(message: Message | str) -> None:
    typer.secho(_say("cli.error", message=render(message, _RUN["lang"])), fg=typer.colors.RED,
                err=True)
    raise typer.Exit(code=1)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except CartoError as exc:
        _fail(exc.detail_in(_RUN["lang"]))
    except OperationalError as exc:
        url = database_settings().database_url
        _fail(msg("cli.db_unreachable", where=url.rsplit("@", 1)[-1], reason=str(exc.orig)))


@contextmanager
def _unit(dry_run: bool) -> Iterator[Session]:
    """A transaction, committed at the end unless this is a dry run (then rolled back)."""
    if not dry_run:
        with transaction() as session:
            yield session
        return
    session = session_factory()()
    try:
        session.begin()
        yield session
    finally:
        session.rollback()
        session.close()


def _step(key: str, /, **values: object) -> None:
    typer.echo(f"→ {_say(key, **values)}")


def _dry_run_note(dry_run: bool) -> str:
    return " " + _say("cli.dry_run") if dry_run else ""


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations, then load vocabularies and the communes of depts 30, 34, 43, 48."""
    from carto import migrate

    with _errors():
        _step("cli.step.upgrade")
        migrate.upgrade()
        _echo("cli.upgraded")


@demo_app.command("load")
def demo_load() -> None:
    """Load (or refresh) the six territories, their actors and cooperation links."""
    with _errors(), transaction() as session:
        _step("cli.step.territories")
        report = demo.LoadReport()
        report.territories = demo.load_territories(session)
        _step("cli.step.resources", count=report.territories)
        demo.load_resources(session, report)
        _step("cli.step.links")
        demo.load_links(session, report)
        _step("cli.step.context")
        report.context_features = demo.load_context_layers(session)
    for kind in ("resource", "link"):
        _echo(f"cli.demo.{kind}s", created=report.created[kind], updated=report.updated[kind],
              unchanged=report.unchanged[kind])
    _echo("cli.demo.context", count=report.context_features)
    with transaction() as session:
        n = territories.totals(session)
    # The pages count differently (issue 12): say why, next to the number created.
    _echo("cli.demo.totals", **n)


@app.command()
def backup(file: Annotated[Path, typer.Argument(help="Where to write the dump.")]) -> None:
    """Save the whole database (schema and data, pg_dump custom format) to FILE."""
    from carto import backup as backups

    with _errors():
        backups.backup(database_settings().database_url, file)
    _echo("cli.backup.written", file=file, revision=backups.dump_revision(file))


@app.command()
def restore(file: Annotated[Path, typer.Argument(help="A dump made by `carto backup`.")]) -> None:
    """Restore FILE into the database DATABASE_URL names, which must be empty or missing;
    a dump from a newer schema is refused, an older one migrated to the current schema."""
    from carto import backup as backups

    with _errors():
        revision = backups.restore(database_settings().database_url, file)
    _echo("cli.restore.done", file=file, revision=revision)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn workers.")] = 1,
) -> None:
    """Serve the web app and API."""
    import uvicorn

    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers)


@territory_app.command("create")
def territory_create(
    slug: Annotated[str, typer.Option(help="Identifier in URLs, e.g. sete.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    communes: Annotated[str | None, typer.Option(help="INSEE codes, comma-separated.")] = None,
    geojson: Annotated[Path | None, typer.Option(help="A GeoJSON (Multi)Polygon file.")] = None,
    level: Annotated[str, typer.Option(help="commune, intercommunality, neighbourhood, custom")]
    = "custom",
    population: Annotated[int | None, typer.Option(help="Hand-entered population.")] = None,
    population_source: Annotated[str | None, typer.Option(help="Where it comes from.")] = None,
    replace: Annotated[bool, typer.Option(help="Replace an existing territory.")] = False,
) -> None:
    """Create a territory from a list of communes or from a polygon."""
    if (communes is None) == (geojson is None):
        _fail(msg("cli.territory.communes_or_geojson"))
    spec = territories.TerritorySpec(slug=slug, name=name, level=level, population=population,
                                     population_source=population_source)
    with _errors(), transaction() as session:
        if communes is not None:
            territory = territories.create_from_communes(
                session, spec, communes.split(","), replace=replace)
        else:
            assert geojson is not None
            territory = territories.create_from_polygon(
                session, spec, _read_geometry(geojson), replace=replace)
        population = territory.population
        shown = _say("cli.territory.no_population") if population is None else str(population)
        _echo("cli.territory.created", slug=territory.slug, name=territory.name,
              population=shown)


def _read_geometry(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _fail(msg("cli.territory.bad_geojson", path=str(path), reason=str(exc)))
    return unwrap_feature(data)[0]


@territory_app.command("list")
def territory_list() -> None:
    """List territories with their counts."""
    with _errors(), transaction() as session:
        for row in territories.summaries(session):
            _echo("cli.territory.row", slug=row["slug"], name=row["name"],
                  resources=row["resources"], links=row["links"])


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="contributor, editor or admin.")],
    territory: Annotated[str | None, typer.Option(help="Territory slug (not for admin).")] = None,
    name: Annotated[str, typer.Option(help="Who holds it, for the record.")] = "",
    link: Annotated[bool, typer.Option(help="Print the browser sign-in link (TERREAU_PUBLIC_URL) "
                                            "instead of the bare token.")] = False,
) -> None:
    """Create an API token; the token (or with --link its sign-in link) is printed alone on the
    last line."""
    with _errors(), transaction() as session:
        new = tokens.create(session, role, territory, name)
    _echo("cli.token.created", id=new.id, role=new.role,
          territory=new.territory or _say("cli.token.all_territories"))
    typer.echo(tokens.sign_in_link(app_settings().public_url or LOCAL_URL, new.token) if link else new.token)


# --- Gap analysis (issue 6): `carto gap`, `carto farmland import`, `carto coefficients` -------

farmland_app = typer.Typer(help="Farmland surfaces per commune and crop group (gap analysis).",
                           no_args_is_help=True)
coefficients_app = typer.Typer(help="Gap-analysis coefficients and their overrides.",
                               no_args_is_help=True)
app.add_typer(farmland_app, name="farmland")
app.add_typer(coefficients_app, name="coefficients")


@app.command("gap")
def gap_command(
    slug: Annotated[str | None, typer.Argument(help="Territory slug, e.g. frontignan.")] = None,
    communes: Annotated[str | None, typer.Option(help="Or INSEE codes, comma-separated.")] = None,
    radius_km: Annotated[float, typer.Option(help="Count producers within this radius (km).")]
    = 0.0,
    diet: Annotated[str, typer.Option(help="current, animal-25 or animal-50.")] = "current",
    organic_share: Annotated[float, typer.Option(help="Share farmed organically, 0..1.")] = 0.0,
    relocalised_share: Annotated[float, typer.Option(help="Share of consumption to relocalise, "
                                                          "0..1.")] = 1.0,
    waste_reduction: Annotated[float, typer.Option(help="Share of the 18 % waste avoided, 0..1.")]
    = 0.0,
    sources: Annotated[bool, typer.Option("--sources", help="List every coefficient.")] = False,
    output: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    lang: Annotated[str | None, typer.Option(help="fr or en (default: the command's).")] = None,
) -> None:
    """How far local production is from the territory's food needs, per food group."""
    from carto import gap
    from carto.gap import report

    if (slug is None) == (communes is None):
        _fail(msg("cli.gap.slug_or_communes"))
    if output not in ("table", "json", "csv"):
        _fail(msg("cli.gap.format", value=output))
    lang = lang or _RUN["lang"]
    with _errors(), transaction() as session:
        sc = gap.scenario(radius_km, diet, organic_share, relocalised_share, waste_reduction)
        per = (gap.territory_perimeter(session, slug) if slug is not None
               else gap.communes_perimeter(session, (communes or "").split(",")))
        analysis = gap.analyse(session, per, sc)
        if output == "json":
            body = gap.as_dict(analysis, lang) | report.summary_dict(analysis, lang)
            typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        elif output == "csv":
            typer.echo(gap.to_csv(analysis, lang), nl=False)
        else:
            typer.echo(report.report_text(analysis, lang, with_sources=sources))


@farmland_app.command("import")
def farmland_import(
    file: Annotated[Path, typer.Argument(help="CSV: commune (or territory), crop_group, hectares, "
                                              "year, source.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; write nothing.")]
    = False,
) -> None:
    """Import farmland surfaces: all lines or none; importing the same file again changes
    nothing."""
    from carto import farmland
    from carto.errors import Invalid

    with _errors():
        try:
            with _unit(dry_run) as session:
                report = farmland.import_file(session, file, dry_run=dry_run)
        except Invalid as exc:
            if len(exc.errors) > 10:  # the message lists the first ten; show them all
                _print_field_errors(exc)
            raise
    typer.echo(_say("cli.farmland.done", rows=report.rows, inserted=report.inserted,
                    updated=report.updated, unchanged=report.unchanged,
                    communes=len(report.communes), hectares=report.hectares)
               + _dry_run_note(dry_run))
    _print_communes(report)


def _print_communes(report: Any) -> None:
    """The per-commune report of a farmland import (carto.farmland.CommuneReport)."""
    for c in report.per_commune:
        _echo("cli.farmland.commune", code=c.code or "—", name=c.name, lines=c.lines,
              hectares=c.hectares, created=c.counts["created"], updated=c.counts["updated"],
              unchanged=c.counts["unchanged"])


@farmland_app.command("import-rpg")
def farmland_import_rpg(
    file: Annotated[Path, typer.Argument(help="RPG parcels (IGN/ASP): GeoPackage or zipped "
                                              "shapefile with CODE_GROUP and SURF_PARC.")],
    year: Annotated[int | None, typer.Option(help="The RPG's year (else read in the file name).")]
    = None,
    source: Annotated[str | None, typer.Option(help="Source cited (default: RPG YEAR, IGN/ASP "
                                                    "(Licence Ouverte)).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; write nothing.")]
    = False,
) -> None:
    """Import the RPG farmland: each parcel's culture group mapped to a crop group, placed in
    its commune, summed per commune and crop group; one transaction, a report per commune."""
    from carto import farmland

    with _errors(), _unit(dry_run) as session:
        report = farmland.import_rpg(session, file, year, source, dry_run=dry_run)
    typer.echo(_say("cli.farmland.rpg_done", rows=report.rows, communes=len(report.communes),
                    hectares=report.hectares, inserted=report.inserted,
                    updated=report.updated, unchanged=report.unchanged)
               + (" " + _say("cli.farmland.rpg_ignored", count=report.ignored)
                  if report.ignored else "")
               + _dry_run_note(dry_run))
    _print_communes(report)


def _print_field_errors(exc: CartoError) -> None:
    for err in exc.errors:
        typer.secho("  " + _say("cli.field_error", field=err.field,
                                message=err.text(_RUN["lang"])), fg=typer.colors.RED, err=True)


@coefficients_app.command("list")
def coefficients_list(
    territory: Annotated[str | None, typer.Option(help="Territory slug: its values in force.")]
    = None,
    diet: Annotated[str, typer.Option(help="Also show this diet's indices.")] = "current",
) -> None:
    """The coefficients in force, with their sources; overridden values are flagged."""
    from carto import gap

    with _errors(), transaction() as session:
        gap.scenario(diet=diet)  # checks the diet
        coefs = gap.coefficients_in_force(session, territory)
        for c in coefs.used(diet):
            flag = ("  " + _say("cli.coefficients.overridden", override=c.override,
                                default=c.default)) if c.overridden else ""
            typer.echo(f"{c.parameter:<20} {c.product:<18} {c.value:>10g}  [{c.mark}] {c.source}"
                       f" ({c.year or _say('cli.coefficients.no_year')}){flag}")
        for o in gap.list_overrides(session):
            _echo("cli.override.row", id=o.id, parameter=o.parameter, product=o.product,
                  value=o.value, scope=o.scope_label, source=o.source)


@coefficients_app.command("set")
def coefficients_set(
    parameter: Annotated[str, typer.Argument(help="consumption_kg, yield_t_ha, organic_ratio or "
                                                  "waste_share.")],
    product: Annotated[str, typer.Argument(help="Product code (see `carto coefficients list`), "
                                                "* for waste_share.")],
    value: Annotated[float, typer.Argument(help="The new value.")],
    source: Annotated[str, typer.Option(help="Where the value comes from (required).")],
    year: Annotated[int | None, typer.Option(help="Year of the value.")] = None,
    territory: Annotated[str | None, typer.Option(help="Only for this territory.")] = None,
    department: Annotated[str | None, typer.Option(help="Only for this department's "
                                                        "perimeters, e.g. 34.")] = None,
) -> None:
    """Override a coefficient (for all territories unless --territory or --department)."""
    from carto import gap

    with _errors(), transaction() as session:
        tid = territories.get(session, territory).id if territory else None
        new_id = gap.set_override(session, parameter, product, value, source, "cli", year, tid,
                                  department)
        _echo("cli.override.created", id=new_id,
              scope=gap.get_override(session, new_id).scope_label)


@coefficients_app.command("unset")
def coefficients_unset(override_id: Annotated[int, typer.Argument(help="Override id.")]) -> None:
    """Remove an override: the reference value applies again."""
    from carto import gap

    with _errors(), transaction() as session:
        gap.delete_override(session, override_id)
        _echo("cli.override.removed", id=override_id)


# --- Imports and exports (issue 15): `carto import`, `carto export` ---------------------------


@app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV, XLSX, ODS, GeoJSON, GeoPackage, zipped "
                                              "shapefile, data·inclusion (JSON or CSV), "
                                              "OpenStreetMap (Overpass) or GoGoCarto.")],
    territory: Annotated[str, typer.Option(help="Territory slug the resources belong to.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would happen; write "
                                                            "nothing.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, xlsx, ods, geojson, gpkg, "
                                                             "shp, datainclusion, osm (an "
                                                             "Overpass result) or gogocarto "
                                                             "(elements.json); guessed")]
    = None,
    report: Annotated[Path | None, typer.Option(help="Write the per-row report here (.csv or "
                                                     ".xlsx).")] = None,
    source: Annotated[str | None, typer.Option(help="Source name recorded on each resource "
                                                    "(default: the file's name).")] = None,
    links: Annotated[Path | None, typer.Option(help="Links in another file (two resources, a "
                                                    "category, a level).")] = None,
) -> None:
    """Import resources into a territory: one transaction, idempotent (same external id, or
    same name within 100 m, updates instead of duplicating)."""
    from carto.io import reports
    from carto.io import resources as importer

    bar: Any = None

    def tables_read(tables: list[Any]) -> None:
        nonlocal bar
        total = next((t.total for t in tables if t.total), None)
        bar = typer.progressbar(length=total or 0, label=_say("cli.import.lines"),
                                file=sys.stderr)
        bar.__enter__()

    with _errors():
        try:
            with _unit(dry_run) as session:
                result = importer.import_file(
                    session, file, territory, "cli", fmt=fmt, dry_run=dry_run, lang=_RUN["lang"],
                    source_name=source, on_tables=tables_read, links_path=links,
                    progress=lambda n: bar.update(n) if bar is not None else None)
        finally:
            if bar is not None:
                bar.__exit__(None, None, None)
    for part in (result.resources, result.links):
        for line in part.rejections[:20] if part is not None else ():
            typer.secho("  " + _say("cli.import.rejected", line=line.line, label=line.label,
                                    reason=line.reason), fg=typer.colors.YELLOW, err=True)
    if report is not None:
        reports.save(result.resources, report, links=result.links)
    typer.echo(result.summary() + _dry_run_note(dry_run))



@app.command("export")
def export_command(
    territory: Annotated[str, typer.Option(help="Territory slug.")],
    fmt: Annotated[str, typer.Option("--format", help="gpkg, geojson, csv (zip), xlsx or "
                                                      "datainclusion (JSON).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    public: Annotated[bool, typer.Option("--public", help="Only what readers may see (private "
                                                          "persons at their commune, nothing "
                                                          "pending).")] = False,
) -> None:
    """Export a territory: resources, links, level history, sources and licences."""
    from carto import permissions
    from carto.io import exports
    from carto.visibility import ANONYMOUS

    principal = ANONYMOUS if public else permissions.system("cli")
    with _errors(), transaction() as session:
        if fmt == "datainclusion":  # public resources only, validated by the schema's models
            from carto.io import datainclusion

            output.write_text(json.dumps(datainclusion.export(session, territory),
                                         ensure_ascii=False, indent=1), encoding="utf-8")
        else:
            output.write_bytes(exports.export(session, principal, territory, fmt))
    _echo("cli.export.written", file=output)


if __name__ == "__main__":  # python -m carto.cli (the tests run it in a child process)
    app()
