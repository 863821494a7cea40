"""POST /api/imports (editors): a file of resources (and links) into a territory — a dry run
answers the per-row report, a real run writes it in the request's one transaction. The
template to fill in, and the page /territories/{slug}/import that drives both with the
session cookie (its own form post, api.session.check_post; the API stays Bearer-only)."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from api import forms
from api import session as web
from api.auth import PrincipalDep
from api.deps import LangDep, SessionDep
from api.session import PagePrincipalDep
from api.templating import context, templates
from carto import territories, vocab
from carto.errors import FieldError, Invalid
from carto.i18n import t
from carto.io import columns, readers, reports, template
from carto.io import resources as importer
from carto.io.pipeline import STATUSES, Report
from carto.visibility import Principal

router = APIRouter(tags=["imports"], dependencies=[forms.STORABLE])
SHOWN_LINES = 2_000  # lines in the JSON answer; the downloadable report has them all
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMAT_PATTERN = "^(?:" + "|".join(readers.FORMATS) + ")?$"  # what readers.open_tables reads


def _lines(report: Report | None) -> dict[str, Any] | None:
    if report is None:
        return None
    lines: list[dict[str, Any]] = []
    for x in report.lines():
        if len(lines) >= SHOWN_LINES:
            break
        lines.append({"line": x.line, "status": x.status, "label": x.label, "field": x.field,
                      "reason": x.reason, "sheet": x.sheet})
    return {"counts": {s: report.counts[s] for s in ("created", "updated", "unchanged",
                                                      "rejected")},
            "rows": report.rows, "lines": lines, "truncated": report.rows > len(lines)}


@router.post("/api/imports", summary="Import resources (and links) from a file into a territory "
             "(editors): CSV, XLSX, ODS, GeoJSON, GeoPackage, zipped shapefile, data·inclusion, "
             "OpenStreetMap (Overpass), GoGoCarto")
def post_import(
    session: SessionDep,
    principal: PrincipalDep,
    lang: LangDep,
    file: Annotated[UploadFile, File(description="the resources (a second sheet may hold links)")],
    territory: Annotated[str, Query(description="territory slug")],
    links: Annotated[UploadFile | None, File(description="links, in another file")] = None,
    dry_run: Annotated[bool, Query(description="report only; write nothing")] = True,
    format: Annotated[str | None, Query(description="csv, xlsx, ods, geojson, gpkg, shp, "
                                                    "datainclusion, osm (an Overpass result) or "
                                                    "gogocarto (elements.json); empty or none: "
                                                    "guessed from the name and the content",
                                        pattern=FORMAT_PATTERN)] = None,
    report: Annotated[str | None, Query(pattern="^(csv|xlsx)$",
                                        description="answer the per-row report as a file")]
    = None,
) -> Response:
    return _run(session, principal, lang, territory, file, links, dry_run, format, report)


def _run(session: Session, principal: Principal, lang: str, territory: str, file: UploadFile,
         links: UploadFile | None, dry_run: bool, format: str | None,
         report: str | None) -> Response:
    """One import, for the API (Bearer) and the page (the session cookie): the same rules."""
    result = _imported(session, principal, lang, territory, file, links, dry_run, format)
    if report == "csv":
        return Response(reports.to_csv(result.resources, lang), media_type="text/csv; "
                        "charset=utf-8", headers=_attachment("rapport-import.csv"))
    if report == "xlsx":
        return Response(reports.to_xlsx(result.resources, lang, result.links), media_type=XLSX,
                        headers=_attachment("rapport-import.xlsx"))
    return JSONResponse(_answer(result, territory, dry_run), status_code=200 if dry_run else 201)


def _answer(result: Any, territory: str, dry_run: bool) -> dict[str, Any]:
    return {"territory": territory, "dry_run": dry_run, "resources": _lines(result.resources),
            "links": _lines(result.links)}


def _imported(session: Session, principal: Principal, lang: str, territory: str,
              file: UploadFile, links: UploadFile | None, dry_run: bool,
              format: str | None) -> Any:
    territories.get(session, territory, "territory")  # a 404 before reading the file
    tables = readers.open_tables(file.file, file.filename or "", format, columns.any_score)
    link_tables = None
    if links is not None:
        try:
            link_tables = readers.open_tables(links.file, links.filename or "", None,
                                              columns.any_score)
        except Invalid as exc:  # the reader names its file "file": here it is the links'
            raise Invalid(None, [FieldError("links" if e.field == "file" else e.field,
                                            e.message) for e in exc.errors]) from exc
    source = file.filename or "import"
    if dry_run:
        with session.begin_nested() as savepoint:  # everything it staged goes away
            result = importer.import_tables(session, tables, territory, principal, source,
                                            True, lang, link_tables=link_tables)
            savepoint.rollback()
    else:
        result = importer.import_tables(session, tables, territory, principal, source,
                                        False, lang, link_tables=link_tables)
    return result


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/api/imports/template", summary="The import template (XLSX with a sheet "
            "explaining each column, or CSV)")
def get_template(session: SessionDep, lang: LangDep,
                 format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "xlsx") -> Response:
    if format == "csv":
        return Response(template.to_csv(lang), media_type="text/csv; charset=utf-8",
                        headers=_attachment("modele-import-terreau.csv"))
    return Response(template.to_xlsx(vocab.resource_kinds(session), lang), media_type=XLSX,
                    headers=_attachment("modele-import-terreau.xlsx"))


def _import_page(request: Request, session: Session, lang: str, slug: str,
                 answer: dict[str, Any] | None = None) -> HTMLResponse:
    place = territories.get(session, slug)
    texts = {k: t(f"import.page.{k}", lang) for k in ("checking", "checked", "importing",
                                                      "done", "failed")}
    texts |= {s: t(f"import.count.{s}", lang) for s in STATUSES}
    texts |= {f"status_{s}": t(f"import.status.{s}", lang) for s in STATUSES}
    texts["links"] = t("import.report.links_sheet_name", lang)
    return templates.TemplateResponse(request, "import.html", context(
        lang, territory={"slug": place.slug, "name": place.name}, texts=texts, answer=answer,
        formats=readers.FORMATS),
        status_code=200 if answer is None or answer["dry_run"] else 201)


@router.get("/territories/{slug}/import", response_class=HTMLResponse, include_in_schema=False)
def import_page(request: Request, slug: str, session: SessionDep, lang: LangDep) -> Response:
    return _import_page(request, session, lang, slug)


@router.post("/territories/{slug}/import", include_in_schema=False)
def import_from_page(
    request: Request, slug: str, session: SessionDep, lang: LangDep,
    principal: PagePrincipalDep, file: Annotated[UploadFile, File()],
    links: Annotated[UploadFile | None, File()] = None, csrf: Annotated[str, Form()] = "",
    dry_run: Annotated[str, Form()] = "1", report: Annotated[str, Form()] = "",
    format: Annotated[str, Form()] = "",
) -> Response:
    """The page's form, signed in with the session cookie (no token pasted): the same import
    as POST /api/imports. Its script asks for JSON (or the report file); without a script the
    report comes back as the page."""
    web.check_post(request, csrf)
    if links is not None and not links.filename:
        links = None  # the optional file input, left empty
    trial = dry_run != "0"
    wanted = report if report in ("csv", "xlsx") else None
    if wanted or "application/json" in request.headers.get("accept", ""):
        return _run(session, principal, lang, slug, file, links, trial, format or None, wanted)
    result = _imported(session, principal, lang, slug, file, links, trial, format or None)
    return _import_page(request, session, lang, slug, _answer(result, slug, trial))
