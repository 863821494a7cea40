"""Every operation of /openapi.json against the real app with schemathesis (issue 10 §6):
anonymous, with a contributor's and with an admin's token, a few generated requests each.

Checks: every default check of schemathesis (no 500, documented status codes, content types
and headers, response bodies against the schemas of api/responses.py, Allow on 405...),
`positive_data_acceptance` (what the OpenAPI says is valid is accepted) and
`negative_data_rejection` included, on every operation.

What a schema cannot say is taught here, each case precisely: the `format`s that name a
vocabulary or a place (`kind-codes`, `commune-codes`...: valid values are generated from the
known ones, an unknown code being a documented 400), and `DATA_DECIDES`: the rules between
parameters that OpenAPI cannot state (exactly one of two parameters, a first day before the
last), whose breach must be a 400 naming the parameter and nothing else, and the members
whose validity the data decides (an unknown link end, a territory the base does not hold),
whose 404 or 422 must name only those.

It runs in a database of its own: the admin's generated writes (kinds, tokens, resources) must
not change the demo that the other tests count."""

import csv
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
import pytest
import schemathesis
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from api.main import create_app
from carto import DATA_DIR, demo, migrate, vocab
from carto.config import DatabaseSettings
from carto.db import get_engine, transaction
from tests.apiworld import World, build

pytestmark = [pytest.mark.slow, pytest.mark.db]


# The app is built when this module is imported (schemathesis reads its /openapi.json then); the
# database it names is created and filled by the fixture below, before any request is sent.
FUZZ_URL = make_url(DatabaseSettings().database_url).set(
    database=f"terreau_fuzz_{uuid.uuid4().hex[:8]}")
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(FUZZ_URL.render_as_string(hide_password=False)))


@pytest.fixture(scope="module")
def fuzz_world(migrated: str) -> Iterator[World]:
    url = FUZZ_URL.render_as_string(hide_password=False)
    admin = FUZZ_URL.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False)
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{FUZZ_URL.database}"')
    try:
        migrate.upgrade(url)
        with transaction(url) as session:
            demo.load(session)
        yield build(url)
    finally:
        get_engine(url).dispose()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{FUZZ_URL.database}" WITH (FORCE)')


# Operations whose parameters or bodies the OpenAPI still documents looser than the domain
# checks them, each with what is left to say (the list only gets shorter).
# What no schema can say: whether the If-Match sent is still the current version. A write to
# a version that has moved on is a 412, as a state-dependent refusal (409) is: both count as
# answers to valid requests. A required If-Match left out is a 428 (RFC 6585), the status made
# for it, rather than a 400.
checks = schema.config.checks
checks.positive_data_acceptance.expected_statuses = [
    *checks.positive_data_acceptance.expected_statuses, "412"]
checks.missing_required_header.expected_statuses = [
    *checks.missing_required_header.expected_statuses, "428"]


# `format: bbox` (carto.params.BBOX_SCHEMA): its pattern says what a number is; the order of
# the sides is what the format adds, so valid boxes are generated with west <= east and
# south <= north, anywhere (beyond WGS84 too: the parser clamps).
_side = st.floats(-400, 400, allow_nan=False, allow_infinity=False)
schemathesis.openapi.format("bbox", st.tuples(_side, _side, _side, _side).map(
    lambda t: f"{min(t[0], t[2])!r},{min(t[1], t[3])!r},{max(t[0], t[2])!r},{max(t[1], t[3])!r}"))


# Formats naming a vocabulary or a place (carto.params.codes_schema, COMMUNE_CODES_SCHEMA...):
# the pattern says the shape, the format that each code is a known one; valid values are
# drawn from the known codes (the seeded kinds: an admin's generated kinds come on top).
def _codes(known: Iterable[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(sorted(known)), min_size=1, max_size=3).map(",".join)


with (DATA_DIR / "geo" / "admin" / "communes_30_34_43_48.csv").open(encoding="utf-8") as fh:
    _COMMUNES = {row["code_insee"]: row["departement"] for row in csv.DictReader(fh)}
for _name, _known in (("kind", vocab.seed_kinds()), ("food-group", vocab.food_groups()),
                      ("category", vocab.categories()), ("access", vocab.access_conditions()),
                      ("commune", _COMMUNES), ("department", set(_COMMUNES.values()))):
    schemathesis.openapi.format(f"{_name}-codes", _codes(_known))
# A resource's properties (carto.resources.properties_schema): one known kind, a territory of
# the fuzz world's (a slug the data does not hold is a 422 naming `territories`), opening
# hours the parser reads, an address email_validator takes.
schemathesis.openapi.format("kind-code", st.sampled_from(sorted(vocab.seed_kinds())))
schemathesis.openapi.format("territory", st.sampled_from(["api-a", "api-b"]))
schemathesis.openapi.format("opening-hours", st.sampled_from(
    ["Mo-Fr 09:00-17:00", "Tu,Th 14:00-18:00", "24/7", "Sa 08:00-12:00; Su off"]))


def _deliverable(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


schemathesis.openapi.format("email", st.emails().filter(_deliverable))
# /api/nearby: a commune by its INSEE code (or its name); a moment as the page sends it.
schemathesis.openapi.format("commune", st.sampled_from(sorted(_COMMUNES)))
schemathesis.openapi.format("nearby-moment", st.just("now") | st.datetimes(
    datetime(2000, 1, 1), datetime(2100, 1, 1)).map(lambda d: d.isoformat(timespec="minutes")))


def _gap_communes(query: dict[str, Any]) -> str | None:
    """GET /api/gap/communes: exactly one of departments and territory."""
    return "departments" if ("departments" in query) == ("territory" in query) else None


def _evolution(query: dict[str, Any]) -> str | None:
    """GET /api/territories/{slug}/evolution: the first day at most the last (default today)."""
    last = query.get("to") or date.today().isoformat()
    return "from" if "from" in query and query["from"] > last else None


def _nearby(query: dict[str, Any]) -> str | None:
    """GET /api/nearby: one origin, lat and lon together, or commune, or resource."""
    if ("lat" in query) != ("lon" in query):
        return "lon" if "lat" in query else "lat"
    origins = ("lat" in query) + ("commune" in query) + ("resource" in query)
    return "origin" if origins != 1 else None


# What a schema cannot state, per operation: given a request's query and body, the members
# whose refusal is the data's (or a rule's) to decide, and the statuses that refusal may take.
#  - `CROSS_RULES` (rules between parameters): for a request that breaks one, a 400 naming
#    that parameter, and nothing else;
#  - body members whose validity the data decides (a link's unknown end, a territory the base
#    does not hold, a moment already past, a perimeter's extent): a 404 or 422 to a schema-valid
#    body passes only when every field it names is one of them (a 404 naming nothing is the
#    path's identifier, which the data does not hold).
@dataclass(frozen=True)
class Decided:
    fields: frozenset[str]
    statuses: tuple[int, ...] = (404, 422)
    broken: bool = False  # a rule is broken: only that refusal is right


def _cross(rule: Callable[[dict[str, Any]], str | None]) -> Callable[..., Decided | None]:
    def decide(query: dict[str, Any], body: Any) -> Decided | None:
        field = rule(query)
        return Decided(frozenset({field}), (400,), broken=True) if field else None
    return decide


def _members(*fields: str) -> Callable[..., Decided]:
    return lambda query, body: Decided(frozenset(fields))


DATA_DECIDES: dict[str, Callable[[dict[str, Any], Any], Decided | None]] = {
    "GET /api/gap/communes": _cross(_gap_communes),
    "GET /api/territories/{slug}/evolution": _cross(_evolution),
    "GET /api/nearby": _cross(_nearby),
    "POST /api/tokens": _members("territory"),
    "POST /api/workshops": _members("territory", "ends_at"),  # it must be still to come
    "POST /api/gap/overrides": _members("territory", "department"),
    # rings closed, a valid polygon of bounded extent: carto.geo.as_multipolygon, check_extent
    "POST /api/gap": _members("geometry", "geometry.coordinates"),
    # an end that exists, is not deleted, differs from the other, shares the territory
    "POST /api/links": _members("source", "target", "territory", "workshop"),
    "PATCH /api/links/{link_id}": _members("source", "target", "territory"),
    # a known kind, commune and territory, a workshop's code; a point near its territories
    "POST /api/resources": _members("kind", "commune", "territories", "geometry", "workshop"),
    "PATCH /api/resources/{resource_id}": _members("kind", "commune", "territories",
                                                   "geometry"),
    # a file's content is the importer's to read (its format guessed when not given)
    "POST /api/imports": _members("territory", "file", "links", "format"),
}


def _named(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


@schema.parametrize()
@settings(max_examples=2, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_its_contract(case: schemathesis.Case, fuzz_world: World) -> None:
    rule = DATA_DECIDES.get(case.operation.label)
    positive = bool(case.meta and case.meta.generation.mode.is_positive)
    decided = rule(dict(case.query or {}), case.body) if rule and positive else None
    for token in (None, fuzz_world.contributor, fuzz_world.admin):  # each request, each role
        response = case.call(headers=World.auth(token) if token else {})
        refused = decided is not None and response.status_code in decided.statuses
        excluded = [schemathesis.checks.positive_data_acceptance] \
            if refused or decided and decided.broken else []
        case.validate_response(response, excluded_checks=excluded)
        if decided is not None and decided.broken:  # 401: a token a generated DELETE revoked
            assert response.status_code in (400, 401, 429), (case.operation.label,
                                                              response.text)
        if refused and not (response.status_code == 404 and case.path_parameters
                            and not _named(response)):  # the path's id: not there
            named = _named(response)
            assert named and (decided.fields & named if decided.broken
                              else named <= decided.fields), response.text


def test_the_operations_the_data_decides_exist() -> None:
    labels = {op.ok().label for op in schema.get_all_operations()}
    assert labels >= set(DATA_DECIDES)
