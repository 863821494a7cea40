"""Gap analysis over HTTP: JSON or CSV for a territory, a list of communes or a drawn polygon;
per-commune coverage for choropleths; coefficient overrides; and the page for workshops.

Validation and computation live in the `carto.gap` package; this module parses, authorises, serialises."""

from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api import forms
from api import session as web
from api.auth import PrincipalDep
from api.deps import LangDep, SessionDep
from api.ratelimit import gap_rate
from api.schemas import NAME_PATTERN
from api.templating import context, templates
from carto import farmland, gap, params, permissions, territories, vocab
from carto.config import gap_settings, rate_limit_settings
from carto.errors import Conflict, Invalid
from carto.gap import charts, report
from carto.geo import perimeter_schema, unwrap_feature
from carto.i18n import msg, t
from carto.visibility import ANONYMOUS

router = APIRouter(tags=["gap analysis"], dependencies=[forms.STORABLE])

LIMITS, RATES = gap_settings(), rate_limit_settings()
BOUNDS = (
    f"Bounded work (settings `TERREAU_GAP_*`, a 400/422 naming the field beyond): a drawn "
    f"polygon of at most {LIMITS.max_area_km2:g} km² (geodesic), {LIMITS.max_span_km:g} km "
    f"across and {LIMITS.max_vertices} vertices, with closed rings; `radius_km` at most "
    f"{LIMITS.max_radius_km:g}; at most {LIMITS.max_communes} communes. Rate limited "
    f"(`TERREAU_RATE_GAP`, default {RATES.gap} per client address, or per token): past it, "
    f"429 with Retry-After; at most {RATES.gap_concurrency} analyses at once per process, the "
    f"others wait up to {RATES.gap_wait_s:g} s, then 503 with Retry-After.")
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
COSTLY: dict[str, Any] = {
    "description": BOUNDS,
    "dependencies": [Depends(gap_rate, scope="function")],
    "responses": {429: {"description": "Too many analyses from this client (Retry-After)",
                        **PROBLEM},
                  503: {"description": "Too many analyses at once (Retry-After)", **PROBLEM}},
}

ANALYSIS: dict[str, Any] = COSTLY | {"responses": COSTLY["responses"] | {
    200: {"description": "The analysis; null figures are unknown, not zero (its schema: "
                         "api.responses.GapOut)"},
    409: {"description": "The perimeter's population is unknown: the problem names the way to "
                         "enter it (for a territory, its page /territories/{slug}/population)",
          "content": {"application/problem+json": {
              "schema": {"$ref": "#/components/schemas/Problem"}}}}}}

SCENARIO = gap.parameter_schemas()  # the bounds gap.scenario checks, for the OpenAPI
RadiusQ = Annotated[float | None, Query(description="Catchment radius around the perimeter (km, "
                                                    "0 = producers inside only, at most "
                                                    f"{LIMITS.max_radius_km:g})",
                                        json_schema_extra=SCENARIO["radius_km"])]
DietQ = Annotated[str | None, Query(description="current, animal-25 or animal-50 (PARCEL)",
                                    json_schema_extra=SCENARIO["diet"])]
OrganicQ = Annotated[float | None, Query(description="Share of production farmed organically, "
                                                     "0..1 (0 = current practice)",
                                         json_schema_extra=SCENARIO["organic_share"])]
RelocalisedQ = Annotated[float | None, Query(description="Share of consumption to produce "
                                                         "locally, 0..1 (default 1)",
                                             json_schema_extra=SCENARIO["relocalised_share"])]
WasteQ = Annotated[float | None, Query(description="Share of the 18 % waste avoided, 0..1",
                                       json_schema_extra=SCENARIO["waste_reduction"])]
FORMATS = ("json", "csv")
FormatQ = Annotated[str, Query(description="json (default) or csv",
                               json_schema_extra=params.one_of(FORMATS))]


def _respond(analysis: gap.Analysis, fmt: str, lang: str, filename: str) -> Response:
    if fmt == "csv":
        return Response(gap.to_csv(analysis, lang), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    body = gap.as_dict(analysis, lang) | report.summary_dict(analysis, lang)
    return JSONResponse(body)


@router.get("/api/territories/{slug}/gap",
            summary="Gap between local production and the territory's needs, per food group",
            **ANALYSIS)
def territory_gap(slug: str, session: SessionDep, principal: PrincipalDep, lang: LangDep,
                  radius_km: RadiusQ = None, diet: DietQ = None, organic_share: OrganicQ = None,
                  relocalised_share: RelocalisedQ = None, waste_reduction: WasteQ = None,
                  format: FormatQ = "json") -> Response:
    fmt = params.choice(format, FORMATS, "format")
    sc = gap.scenario(radius_km, diet, organic_share, relocalised_share, waste_reduction)
    analysis = gap.analyse(session, gap.territory_perimeter(session, slug), sc, principal)
    return _respond(analysis, fmt, lang, f"ecart-{slug}")


@router.get("/api/gap", summary="Gap analysis of a custom perimeter made of whole communes",
            **ANALYSIS)
def communes_gap(session: SessionDep, principal: PrincipalDep, lang: LangDep,
                 communes: Annotated[str, Query(
                     description="INSEE commune codes, comma-separated; an unknown one is a 400 "
                                 "naming the parameter",
                     json_schema_extra=params.COMMUNE_CODES_SCHEMA)],
                 radius_km: RadiusQ = None, diet: DietQ = None, organic_share: OrganicQ = None,
                 relocalised_share: RelocalisedQ = None, waste_reduction: WasteQ = None,
                 format: FormatQ = "json") -> Response:
    fmt = params.choice(format, FORMATS, "format")
    sc = gap.scenario(radius_km, diet, organic_share, relocalised_share, waste_reduction)
    per = gap.communes_perimeter(session, params.commune_codes(communes, "communes"))
    return _respond(gap.analyse(session, per, sc, principal), fmt, lang, "ecart-communes")


@router.post("/api/gap", summary="Gap analysis of a drawn perimeter (GeoJSON polygon)",
             **ANALYSIS)
def polygon_gap(session: SessionDep, principal: PrincipalDep, lang: LangDep,
                body: Annotated[Any, Body(
                    description="GeoJSON Polygon or MultiPolygon, a Feature of one or a "
                                "FeatureCollection of that one Feature; its properties may give "
                                "name, population and population_source (with a population)",
                    json_schema_extra=perimeter_schema(gap.PERIMETER_PROPERTIES))],
                radius_km: RadiusQ = None, diet: DietQ = None, organic_share: OrganicQ = None,
                relocalised_share: RelocalisedQ = None, waste_reduction: WasteQ = None,
                format: FormatQ = "json") -> Response:
    fmt = params.choice(format, FORMATS, "format")
    sc = gap.scenario(radius_km, diet, organic_share, relocalised_share, waste_reduction)
    geometry, props = unwrap_feature(body)
    per = gap.polygon_perimeter(session, geometry, props.get("name"), props.get("population"),
                                props.get("population_source"))
    return _respond(gap.analyse(session, per, sc, principal), fmt, lang, "ecart-perimetre")


# Exactly one of `departments` and `territory`: a rule between two parameters, which OpenAPI
# cannot state; both or neither is a 400 naming `departments` (tests/api/test_schemathesis.py
# expects that 400 for those requests only).
ONE_OF_TWO = ("Exactly one of `departments` and `territory` (both or neither: a 400 naming "
              "`departments`). ")


@router.get("/api/gap/communes",
            summary="Coverage of every commune of some departments or of a territory "
                    "(for choropleths)", **(COSTLY | {"description": ONE_OF_TWO + BOUNDS}))
def communes_coverage(session: SessionDep, principal: PrincipalDep, lang: LangDep,
                      departments: Annotated[str | None, Query(
                          description="department codes, comma-separated (e.g. 30,34,43,48); "
                                      "without a commune known: a 400 naming the parameter",
                          json_schema_extra=params.DEPARTMENT_CODES_SCHEMA)] = None,
                      territory: Annotated[str | None, Query(
                          description="territory slug (unknown: 404)")] = None,
                      diet: DietQ = None, organic_share: OrganicQ = None,
                      relocalised_share: RelocalisedQ = None, waste_reduction: WasteQ = None,
                      ) -> JSONResponse:
    sc = gap.scenario(0, diet, organic_share, relocalised_share, waste_reduction)
    if (departments is None) == (territory is None):
        raise Invalid.field("departments", msg("error.gap.departments_or_territory"))
    if departments is not None:
        codes = gap.department_communes(session, params.department_codes(departments))
    else:
        assert territory is not None
        codes = gap.territory_area(session, territory).communes
    rows = gap.commune_coverage(session, codes, sc, principal)
    return JSONResponse({"scenario": sc.as_dict(), "communes": rows,
                         "metric": "coverage_capped = Σ_g min(1, producers_g / demand_g) · "
                                   "land_needed_g / Σ land_needed_g (producers located in the "
                                   "commune); land ratios from the commune's farmland",
                         "caveat": gap.caveat(lang)})


@router.get("/api/gap/coefficients",
            summary="The coefficients in force (with a territory's overrides), with sources")
def coefficients(session: SessionDep,
                 territory: Annotated[str | None, Query(description="territory slug")] = None,
                 diet: DietQ = None) -> JSONResponse:
    sc = gap.scenario(diet=diet)
    coefs = gap.coefficients_in_force(session, territory)
    return JSONResponse({"coefficients": [c.as_dict() for c in coefs.used(sc.diet)],
                         "overridden": [c.as_dict() for c in coefs.overridden()]})


@router.get("/api/gap/overrides", summary="Coefficient overrides")
def list_overrides(session: SessionDep,
                   territory: Annotated[str | None, Query()] = None) -> JSONResponse:
    return JSONResponse([o.as_dict() for o in gap.list_overrides(session, territory)])


class OverrideIn(BaseModel):
    """One coefficient replaced, with its source: one shape per parameter (its products, the
    bounds of its value: carto.gap.override_shapes). A territory (its editors) or a department
    (admins), not both; neither: every territory (admins). An unknown member is a 422 naming it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"territory": "pezenas", "parameter": "yield_t_ha", "product": "vegetables",
                    "value": 21.5, "source": "Chambre d'agriculture de l'Hérault", "year": 2023},
        "oneOf": cast(list[JsonValue], gap.override_shapes()),
        "not": {"required": ["territory", "department"], "properties": {
            "territory": {"type": "string", "minLength": 1},
            "department": {"type": "string", "minLength": 1}}}})
    parameter: str = Field(description="consumption_kg, yield_t_ha, organic_ratio or waste_share",
                           json_schema_extra={"enum": list(gap.PARAMETERS)})
    product: str | None = Field(None, description="a product code; `*` (or none) for waste_share")
    value: float = Field(strict=True, description="the number replacing the reference value")
    source: str = Field(description="where the value comes from (required)",
                        json_schema_extra={"pattern": NAME_PATTERN})
    year: int | None = Field(None, ge=1900, le=2100, strict=True)
    territory: str | None = Field(None, description="slug (editor of it; unknown: 404); none: "
                                                    "all (admin)")
    department: str | None = Field(None, description="a department code (admin) holding "
                                                     "communes", json_schema_extra={
        "pattern": rf"^(?:{params.DEPARTMENT_CODE_PATTERN})?$"})


@router.post("/api/gap/overrides", status_code=201,
             summary="Override a coefficient for a territory (editor) or a department or all "
                     "territories (admin)")
def create_override(session: SessionDep, principal: PrincipalDep, body: OverrideIn
                    ) -> JSONResponse:
    territory_id = territories.get(session, body.territory, "territory").id \
        if body.territory else None
    permissions.edit_override(principal, territory_id)
    new_id = gap.set_override(session, body.parameter, body.product or gap.GLOBAL_PRODUCT,
                              body.value, body.source, principal.actor, body.year, territory_id,
                              body.department)
    return JSONResponse(gap.get_override(session, new_id).as_dict(), status_code=201)


@router.delete("/api/gap/overrides/{override_id}", status_code=204,
               summary="Remove an override (back to the reference value)")
def delete_override(override_id: int, session: SessionDep, principal: PrincipalDep) -> Response:
    override = gap.get_override(session, override_id)
    permissions.edit_override(principal, override.territory_id)
    gap.delete_override(session, override_id)
    return Response(status_code=204)


# --- the page -------------------------------------------------------------------------------

RADII = (0, 10, 30, 50, 80)
SHARES = (0, 0.1, 0.25, 0.5, 0.75, 1)


@router.get("/territories/{slug}/gap", response_class=HTMLResponse, include_in_schema=False,
            dependencies=COSTLY["dependencies"])
def gap_page(request: Request, slug: str, session: SessionDep, lang: LangDep,
             principal: web.PagePrincipalDep,
             radius_km: RadiusQ = None, diet: DietQ = None, organic_share: OrganicQ = None,
             relocalised_share: RelocalisedQ = None, waste_reduction: WasteQ = None
             ) -> HTMLResponse:
    sc = gap.scenario(radius_km, diet, organic_share, relocalised_share, waste_reduction)
    return _gap_page(request, session, lang, principal, slug, sc)


def _gap_page(request: Request, session: SessionDep, lang: str, principal: Any, slug: str,
              sc: gap.Scenario, upload: Any = None, upload_errors: list[str] | None = None,
              status: int = 200) -> HTMLResponse:
    coefs = gap.load_coefficients()
    base = {"slug": slug, "scenario": sc, "radii": sorted({*RADII, sc.radius_km}),
            "shares": SHARES, "diets": coefs.diet_codes, "coefs": coefs}
    try:
        per = gap.territory_perimeter(session, slug)
    except Conflict as exc:
        return templates.TemplateResponse(
            request, "gap.html", context(lang, missing=exc.detail_in(lang),
                                         name=territories.get(session, slug).name, **base),
            status_code=409)
    analysis = gap.analyse(session, per, sc, ANONYMOUS)
    layers = gap.map_layers(session, per, sc.radius_km)
    coverage = None
    known = {"producers": analysis.producers.counted > 0,
             "farmland": analysis.farmland.scope != "none"}
    legend = None
    if len(per.communes) > 1 and known["producers"]:
        coverage = {r["code"]: r["coverage_capped"]
                    for r in gap.commune_coverage(session, per.communes, sc)}
        legend = charts.coverage_legend(lang)
    elif len(per.communes) > 1:  # nothing declared anywhere: each commune unknown, not "0 %"
        coverage = dict.fromkeys(per.communes)
        legend = charts.unknown_legend(lang)
    query = "&".join(f"{k}={v}" for k, v in sc.as_dict().items())
    may_edit = per.territory_id is not None and permissions.edits(principal, {per.territory_id})
    return templates.TemplateResponse(request, "gap.html", context(
        lang, a=analysis, name=per.name, summary=report.summary(analysis, lang),
        overridden=report.overridden_lines(analysis, lang),
        chart_tonnage=charts.tonnage_chart(analysis.gap, lang, known["producers"],
                                           known["farmland"]),
        chart_land=charts.land_chart(analysis.gap, lang, known["producers"]),
        map_svg=charts.catchment_map(layers, coverage, sc.radius_km, lang),
        legend=legend, may_edit=may_edit, upload=upload, upload_errors=upload_errors or [],
        crop_groups=vocab.crop_groups(),
        n_points=len(layers["producers"]), query=query, fmt=report,
        caveat=t("gap.caveat", lang), **base), status_code=status)


@router.post("/territories/{slug}/gap/farmland", response_class=HTMLResponse,
             include_in_schema=False)
def gap_farmland_upload(request: Request, slug: str, session: SessionDep, lang: LangDep,
                        principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
                        file: Annotated[UploadFile | None, File()] = None) -> HTMLResponse:
    """An editor's farmland CSV for this territory (the importer of `carto farmland import`,
    all or nothing): the page again, with its figures recomputed and the per-commune report,
    or the errors next to the file field (nothing written)."""
    web.check_post(request, csrf)
    sc = gap.scenario()
    if file is None or not file.filename:
        return _gap_page(request, session, lang, principal, slug, sc,
                         upload_errors=[msg("error.farmland.no_file").render(lang)], status=422)
    try:
        with session.begin_nested():  # a refused file leaves nothing behind
            result = farmland.import_for_territory(session, principal, slug, file.file, lang)
    except Invalid as exc:
        errors = [f"{e.field} : {e.text(lang)}" for e in exc.errors] or [exc.detail_in(lang)]
        if exc.message is not None and exc.errors:
            errors.insert(0, exc.detail_in(lang).split(" : ")[0])
        return _gap_page(request, session, lang, principal, slug, sc, upload_errors=errors,
                         status=422)
    return _gap_page(request, session, lang, principal, slug, sc, upload=result)


# --- a territory's population, entered by its editors (issue 12) ---------------------------

def _population_page(request: Request, session: SessionDep, lang: str, principal: Any,
                     slug: str, errors: dict[str, str] | None = None,
                     typed: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    territory = territories.get(session, slug)
    return templates.TemplateResponse(request, "population.html", context(
        lang, territory=territory, may_edit=permissions.edits(principal, {territory.id}),
        errors=errors or {}, typed=typed or {}), status_code=status)


@router.get("/territories/{slug}/population", response_class=HTMLResponse,
            include_in_schema=False)
def population_page(request: Request, slug: str, session: SessionDep, lang: LangDep,
                    principal: web.PagePrincipalDep) -> HTMLResponse:
    """Says whether the population is known; its editors get the form to enter it."""
    return _population_page(request, session, lang, principal, slug)


@router.post("/territories/{slug}/population", response_class=HTMLResponse,
             include_in_schema=False)
def population_post(request: Request, slug: str, session: SessionDep, lang: LangDep,
                    principal: web.PagePrincipalDep, csrf: Annotated[str, Form()] = "",
                    population: Annotated[str, Form()] = "",
                    population_source: Annotated[str, Form()] = "",
                    population_year: Annotated[str, Form()] = "") -> Response:
    web.check_post(request, csrf)
    typed = {"population": population, "population_source": population_source,
             "population_year": population_year}
    try:
        territories.set_population(session, principal, slug, population, population_source,
                                   population_year)
    except Invalid as exc:
        errors = {e.field: e.text(lang) for e in exc.errors}
        return _population_page(request, session, lang, principal, slug, errors, typed, 422)
    suffix = "?lang=en" if lang == "en" else ""
    return RedirectResponse(f"/territories/{slug}/gap{suffix}", status_code=303)
