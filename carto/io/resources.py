"""Import resources from a spreadsheet, a CSV, a GeoJSON or a GIS file into a territory.

Each row is checked in Python (columns matched in French or English, decimal commas, swapped
coordinates, the commune by name or INSEE code, kinds and products by code or label, hours,
phone, e-mail, site), staged with `COPY`, then classified in SQL against the territory's
resources: **updated** or **unchanged** when a resource has the same external id, or the same
name within 100 m; **created** otherwise; **rejected** with its reason. A real run writes
everything in the caller's transaction (one transaction: all rows or none on a crash) with a
change-log row per created or updated resource; importing the same file again changes nothing.

The bulk write is SQL because 100,000 rows must import in seconds (docs/benchmarks.md): the
change-log picture of a resource is `SNAPSHOT`, the SQL twin of `carto.resources.snapshot`
(tests/io/test_io_resources.py holds them equal).
"""

import re
from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import lifecycle, permissions, territories, validation, vocab
from carto.i18n import Message, msg, t
from carto.io import columns, pipeline
from carto.io.columns import key
from carto.io.pipeline import CREATED, REJECTED, UNCHANGED, UPDATED, Rejected, Report, Row
from carto.io.readers import KIND_CANDIDATES, KIND_UNKNOWN, Table, unneutralised
from carto.numbers import decimal
from carto.visibility import EDITOR, Principal

STAGING = "resource_import_staging"
MAX_DISTANCE_M = 50_000
SAME_PLACE_M = 100
# Metropolitan France and Corsica, generously: what "unambiguous" means for swapped coordinates.
FRANCE = (-5.5, 41.0, 10.0, 51.5)
# The columns an import may set, in the order of the staging table (after `line`).
WRITTEN = ("name", "kind", "description", "address", "commune_code", "location_precision",
           "location_note", "products", "access_conditions", "opening_hours", "phone", "email",
           "website", "external_id", "source_name", "licence")
# which file fields fill which resource columns (a field absent from the file leaves them)
FIELD_COLUMNS = {"name": ("name",), "kind": ("kind",), "description": ("description",),
                 "address": ("address",), "products": ("products",),
                 "access_conditions": ("access_conditions",),
                 "opening_hours": ("opening_hours",), "phone": ("phone",), "email": ("email",),
                 "website": ("website",), "external_id": ("external_id",),
                 "source_name": ("source_name",), "licence": ("licence",)}
LOCATION_FIELDS = ("lat", "lon", "commune", "insee")


def _in_france(lon: float, lat: float) -> bool:
    return FRANCE[0] <= lon <= FRANCE[2] and FRANCE[1] <= lat <= FRANCE[3]


def place(lat: float, lon: float) -> tuple[float, float, bool]:
    """(lon, lat, swapped): the columns swapped are detected when that is unambiguous — the
    point as given is not a valid position or is outside France, and swapped it is in France."""
    if not _in_france(lon, lat) and _in_france(lat, lon):
        return lat, lon, True
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Rejected("latitude", msg("error.import.coordinates_range", lat=lat, lon=lon))
    return lon, lat, False


_LIST_SPLIT = re.compile(r"[;,|/]")


@dataclass
class Plan:
    """The header of a sheet read as fields, and which optional fields the file carries."""

    mapping: dict[str, str]

    @property
    def fields(self) -> set[str]:
        return set(self.mapping.values())


def plan(table: Table) -> Plan:
    mapping = columns.match(table.header)
    fields = set(mapping.values())
    missing = [f for f in ("name", "kind") if f not in fields]
    if missing:
        from carto.errors import Invalid

        raise Invalid.field(f"ligne {table.header_line}", msg(
            "error.import.missing_columns", columns=", ".join(missing),
            found=", ".join(h for h in table.header if h) or "—"))
    if not fields & set(LOCATION_FIELDS):
        from carto.errors import Invalid

        raise Invalid.field(f"ligne {table.header_line}", msg("error.import.no_location"))
    return Plan(mapping)


class ResourceImport:
    """The resource importer of the `carto.io` pipeline."""

    def __init__(self, session: Session, territory_slug: str, plan: Plan,
                 actor: Principal | str, source_name: str, lang: str = "fr") -> None:
        self.territory = territories.get(session, territory_slug)
        # an import writes in one territory, as its editors do (carto.permissions)
        self.principal = permissions.as_principal(actor)
        permissions.require(self.principal, EDITOR, {self.territory.id})
        self.moderation = permissions.moderation_for(self.principal)
        self.plan, self.actor, self.source_name, self.lang = (plan, self.principal.actor,
                                                              source_name, lang)
        self.kinds = _labels(vocab.resource_kinds(session))
        self.products = _labels(vocab.food_groups())
        self.access = _labels(vocab.access_conditions())
        self.precisions = set(vocab.precisions())
        self.communes: dict[str, tuple[str, float, float]] = {}
        self.commune_names: dict[str, list[str]] = {}
        for code, name, lon, lat in session.execute(text(
                "SELECT code, name, ST_X(c), ST_Y(c) FROM (SELECT code, name, "
                "ST_PointOnSurface(geom) AS c FROM commune) x")):
            self.communes[code] = (name, lon, lat)
            self.commune_names.setdefault(key(name), []).append(code)
        self.fields = plan.fields
        # the territory simplified and widened by 0.3° (under 35 km at these latitudes, so
        # surely within 50 km): a point inside it is near, tested a batch at a time in Python
        # (shapely, prepared); the others are measured in SQL (check_all)
        self._near = shapely.from_wkb(session.scalar(text(
            "SELECT ST_AsBinary(ST_Buffer(ST_SimplifyPreserveTopology(geom, 0.01), 0.3)) "
            "FROM territory WHERE id = :tid"), {"tid": self.territory.id}))
        shapely.prepare(self._near)
        self._mapping = tuple(plan.mapping.items())
        self._seen: dict[tuple[str, str], tuple[Any, list[Any]]] = {}
        session.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
        session.execute(text(f"""CREATE TEMP TABLE {STAGING} (
            line integer NOT NULL, sheet text, name text NOT NULL, kind text NOT NULL,
            description text, address text, commune_code varchar(5),
            location_precision text NOT NULL, location_note text, products text[],
            access_conditions text[], opening_hours text, phone text, email text, website text,
            external_id text, source_name text, licence text, lon float8 NOT NULL,
            lat float8 NOT NULL, near boolean NOT NULL,
            id uuid NOT NULL DEFAULT gen_random_uuid(), match_id uuid,
            fate text NOT NULL DEFAULT '{CREATED}') ON COMMIT DROP"""))

    # --- check: one row, in Python ------------------------------------------------------------

    def _say(self, message: Message | str) -> str:
        return message.render(self.lang) if isinstance(message, Message) else message

    def check(self, row: Row) -> tuple[Any, ...]:
        v: dict[str, str] = {}
        values = row.values
        for cell, fld in self._mapping:
            value = values.get(cell)
            if isinstance(value, str):
                value = value.strip()
                v[fld] = unneutralised(value) if value[:1] == "'" else value
            else:
                v[fld] = "" if value is None else str(value)
        errors = validation.Collector()
        name = validation.name(v.get("name") or None, errors)
        if errors.errors:
            raise Rejected("name", errors.errors[0].message)
        assert name is not None
        raw_kind = v.get("kind", "")
        kind = self.kinds.get(key(raw_kind)) if raw_kind else None
        if kind is None:
            kind = self._translated_kind(row, raw_kind)
        commune = self._commune(v.get("insee", ""), v.get("commune", ""))
        lon, lat, precision, note = self._position(v, commune)
        given = v.get("location_precision", "")
        if given:
            if given not in self.precisions:
                raise Rejected("location_precision", msg("error.import.unknown_code",
                                                         value=given))
            precision = given
        note = v.get("location_note") or note
        raw = v.get("products")
        products = self._codes(raw, self.products, "products") if raw else []
        raw = v.get("access_conditions")
        access = self._codes(raw, self.access, "access_conditions") if raw else []
        hours = self._checked(validation.opening_hours_text, v.get("opening_hours"),
                              "opening_hours", errors)
        phone = self._checked(validation.phone, v.get("phone"), "phone", errors)
        email = self._checked(validation.email, v.get("email"), "email", errors)
        website = self._checked(validation.url, v.get("website"), "website", errors)
        description = validation.optional_text(v.get("description") or None, errors,
                                               "description", 10_000)
        address = validation.optional_text(v.get("address") or None, errors, "address", 500)
        external_id = validation.optional_text(v.get("external_id") or None, errors,
                                               "external_id", 200)
        source = validation.optional_text(v.get("source_name") or None, errors, "source_name",
                                          200) or self.source_name
        licence = validation.optional_text(v.get("licence") or None, errors, "licence", 200)
        if errors.errors:
            first = errors.errors[0]
            raise Rejected(first.field, first.message)
        return (row.line, row.sheet, name, kind, description, address, commune,
                precision, note, products, access, hours, phone, email, website,
                external_id, source, licence, lon, lat)

    def _translated_kind(self, row: Row, raw_kind: str) -> str:
        """The kind of a row a reader translated (OSM, GoGoCarto): its first candidate that
        names a kind, else the reader's reason (or the unknown kind)."""
        for candidate in row.values.get(KIND_CANDIDATES) or ():
            kind = self.kinds.get(key(candidate))
            if kind is not None:
                return kind
        unknown = row.values.get(KIND_UNKNOWN)
        if unknown is not None:
            raise Rejected(*unknown)
        raise Rejected("kind", msg("error.import.unknown_kind", value=raw_kind))

    def _checked(self, check: Any, raw: str | None, field: str,
                 errors: validation.Collector) -> str | None:
        """`check(raw)`, remembered: the same hours or e-mail repeat down a file, and parsing
        opening hours is the costliest check of a row."""
        if not raw:
            return None
        found = self._seen.get((field, raw))
        if found is None:
            mine = validation.Collector()
            found = (check(raw, mine), mine.errors)
            if len(self._seen) < 100_000:
                self._seen[(field, raw)] = found
        errors.errors.extend(found[1])
        return found[0]  # type: ignore[no-any-return]

    def _commune(self, insee: str, commune: str) -> str | None:
        for raw in (insee, commune):
            if not raw:
                continue
            code = raw.zfill(5) if raw.isdigit() and len(raw) in (4, 5) else raw.upper()
            if code in self.communes:
                return code
            codes = self.commune_names.get(key(raw), [])
            if len(codes) == 1:
                return codes[0]
            if len(codes) > 1:
                raise Rejected("commune", msg("error.import.ambiguous_commune", value=raw,
                                              codes=", ".join(codes)))
            raise Rejected("insee" if raw is insee else "commune",
                           msg("error.import.unknown_commune", value=raw))
        return None

    def _position(self, v: dict[str, str], commune: str | None
                  ) -> tuple[float, float, str, str | None]:
        """(lon, lat, precision, note): the coordinates given (swapped back when that is
        unambiguous), else the commune's centre with precision `commune`."""
        raw_lat, raw_lon = v.get("lat", ""), v.get("lon", "")
        if raw_lat or raw_lon:
            lat, lon = decimal(raw_lat), decimal(raw_lon)
            if lat is None or lon is None:
                bad = "latitude" if lat is None else "longitude"
                raise Rejected(bad, msg("error.import.bad_number",
                                        value=raw_lat if lat is None else raw_lon))
            x, y, swapped = place(lat, lon)
            note = msg("import.note.swapped").render(self.lang) if swapped else None
            return x, y, "address" if v.get("address") else "exact", note
        if commune is None:
            raise Rejected("commune", msg("error.import.no_position"))
        _, x, y = self.communes[commune]
        return x, y, "commune", msg("import.note.commune_centre").render(self.lang)

    def _codes(self, raw: str, known: dict[str, str], field: str) -> list[str]:
        out: list[str] = []
        for part in _LIST_SPLIT.split(raw) if raw else ():
            part = part.strip()
            if not part:
                continue
            code = known.get(key(part))
            if code is None:
                raise Rejected(field, msg("error.import.unknown_code", value=part))
            if code not in out:
                out.append(code)
        return out

    # --- stage: COPY each checked batch --------------------------------------------------------

    def stage(self, session: Session, batch: list[tuple[Row, Any]], report: Report) -> None:
        if not batch:
            return
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore
        near = shapely.contains_xy(self._near, [v[-2] for _, v in batch],
                                   [v[-1] for _, v in batch]).tolist()
        with cursor.copy(f"COPY {STAGING} (line, sheet, {', '.join(WRITTEN)}, lon, lat, near) "
                         "FROM STDIN") as copy:
            copy.set_types(["int4", "text", "text", "text", "text", "text", "varchar", "text",
                            "text", "text[]", "text[]", "text", "text", "text", "text", "text",
                            "text", "text", "float8", "float8", "bool"])
            for (_, values), inside in zip(batch, near, strict=True):
                copy.write_row((*values, inside))

    # --- check_all: what needs the whole file ------------------------------------------------

    def check_all(self, session: Session, report: Report) -> None:
        session.execute(text(f"ANALYZE {STAGING} (external_id, name, lon, lat, line)"))
        rejected: list[tuple[int, str | None, str, Message]] = []
        # far from the territory: the points `stage` did not find near, a planar test first
        # (0.45° is under 50 km both ways at these latitudes), the geodesic distance only for
        # the rows it does not clear
        for line, sheet, name, km in session.execute(text(f"""
                SELECT s.line, s.sheet, s.name, ST_Distance(t.geom::geography,
                       ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography) / 1000 AS km
                FROM {STAGING} s, territory t
                WHERE t.id = :tid AND NOT s.near
                  AND NOT ST_DWithin(t.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), 0.45)
                  AND NOT ST_DWithin(t.geom::geography,
                          ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography, :far)"""),
                {"tid": self.territory.id, "far": MAX_DISTANCE_M}):
            rejected.append((line, sheet, name, msg("error.import.far", km=round(km),
                                                     territory=self.territory.slug)))
        # the same resource twice in the file: same external id, or same name within 100 m
        # (two equality joins the planner can hash, not one OR it would loop over)
        for line, sheet, name, first in session.execute(text(f"""
                SELECT line, sheet, name, min(first) FROM (
                  SELECT b.line, b.sheet, b.name, a.line AS first
                  FROM {STAGING} a JOIN {STAGING} b
                    ON a.external_id = b.external_id AND a.line < b.line
                  UNION ALL
                  SELECT b.line, b.sheet, b.name, a.line
                  FROM {STAGING} a JOIN {STAGING} b
                    ON terreau_fold(a.name) = terreau_fold(b.name) AND a.line < b.line
                   AND a.external_id IS NULL AND b.external_id IS NULL
                   AND ST_DWithin(ST_SetSRID(ST_MakePoint(a.lon, a.lat), 4326)::geography,
                                  ST_SetSRID(ST_MakePoint(b.lon, b.lat), 4326)::geography,
                                  :near)) d
                GROUP BY line, sheet, name"""), {"near": SAME_PLACE_M}):
            rejected.append((line, sheet, name, msg("error.import.duplicate", line=first)))
        if rejected:
            for line, sheet, name, why in sorted(rejected, key=lambda r: r[0]):
                report.add(line, REJECTED, name, None, self._say(why), sheet)
            session.execute(text(f"DELETE FROM {STAGING} WHERE line = ANY(:lines)"),
                            {"lines": [r[0] for r in rejected]})

    # --- write: classify, then (unless dry run) merge ------------------------------------------

    def write(self, session: Session, report: Report) -> None:
        self._classify(session)
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore
        report.add_fates(cursor.stream(
            f"SELECT line, fate, name, sheet FROM {STAGING} ORDER BY line", size=pipeline.BATCH))
        if not report.dry_run:
            self._merge(session)

    def _changed_columns(self) -> list[str]:
        cols = [c for f in self.fields for c in FIELD_COLUMNS.get(f, ())]
        if self.fields & {*LOCATION_FIELDS, "location_precision", "location_note"}:
            cols += ["commune_code", "location_precision", "location_note"]
        cols.append("source_name")
        return sorted(set(cols))

    def _classify(self, session: Session) -> None:
        # The territory's resource with the same external id, else the same name within 100 m.
        params = {"tid": self.territory.id, "near": SAME_PLACE_M}
        session.execute(text(f"""
            UPDATE {STAGING} s SET match_id = r.id FROM resource r
            JOIN resource_territory rt ON rt.resource_id = r.id AND rt.territory_id = :tid
            WHERE s.external_id IS NOT NULL AND r.external_id = s.external_id
              AND r.deleted_at IS NULL"""), params)
        session.execute(text(f"""
            UPDATE {STAGING} s SET match_id = m.id FROM (
              SELECT DISTINCT ON (s2.line) s2.line, r.id FROM {STAGING} s2
              JOIN resource r ON terreau_fold(r.name) = terreau_fold(s2.name)
               AND r.deleted_at IS NULL
               AND ST_DWithin(r.geom::geography,
                              ST_SetSRID(ST_MakePoint(s2.lon, s2.lat), 4326)::geography, :near)
              JOIN resource_territory rt ON rt.resource_id = r.id AND rt.territory_id = :tid
              WHERE s2.match_id IS NULL
              ORDER BY s2.line, r.geom::geography <-> ST_SetSRID(ST_MakePoint(s2.lon, s2.lat),
                                                                4326)::geography) m
            WHERE s.line = m.line"""), params)
        same = " AND ".join(f"r.{c} IS NOT DISTINCT FROM s.{c}" for c in self._changed_columns())
        # rows matching nothing stay `created` with their new id (the staging defaults): only
        # the matched ones are rewritten
        session.execute(text(f"""
            UPDATE {STAGING} s SET fate = CASE
              WHEN {same} AND ST_Equals(r.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                THEN '{UNCHANGED}' ELSE '{UPDATED}' END, id = r.id
            FROM resource r WHERE r.id = s.match_id"""))
        # The fates and ids are new since check_all's ANALYZE: without their statistics the
        # planner guessed how many rows each fate has (0.5 %), and once chose, for the rows to
        # update (none, in an import into an empty table), a nested loop that scanned the
        # whole staging table for each resource: 100,000 x 100,000 rows, 20 minutes
        # (docs/benchmarks.md, 2026-12-04). Counted, each fate's rows are planned for.
        session.execute(text(f"ANALYZE {STAGING} (fate, id, match_id)"))

    def _merge(self, session: Session) -> None:
        actor = {"actor": self.actor, "tid": self.territory.id, "moderation": self.moderation}
        cols = ", ".join(WRITTEN)
        session.execute(text(f"""
            INSERT INTO resource (id, {cols}, geom, moderation, provenance, created_by,
                                  updated_by, version, visibility, is_private, status,
                                  illustrative, price_note, documents_needed)
            SELECT id, {', '.join(f's.{c}' for c in WRITTEN)},
                   ST_SetSRID(ST_MakePoint(lon, lat), 4326), :moderation, 'import', :actor,
                   :actor, 1, 'public', false, 'active', false, NULL, NULL
            FROM {STAGING} s WHERE fate = '{CREATED}'"""), actor)
        session.execute(text(f"""
            INSERT INTO resource_territory (resource_id, territory_id)
            SELECT id, :tid FROM {STAGING} WHERE fate = '{CREATED}'"""), actor)
        lifecycle.created_in_bulk(
            session, "resource", f"SELECT id FROM {STAGING} WHERE fate = '{CREATED}'",
            NEW_SNAPSHOT, self.actor, {"slug": self.territory.slug})
        changed = self._changed_columns()
        lifecycle.changed_in_bulk(
            session, "resource", f"SELECT id FROM {STAGING} WHERE fate = '{UPDATED}'",
            ", ".join(f"{c} = s.{c}" for c in changed)
            + ", geom = ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)",
            f"{STAGING} s WHERE s.id = r.id", SNAPSHOT, self.actor, {})


def _labels(terms: dict[str, Any]) -> dict[str, str]:
    return {key(v): code for code, term in terms.items()
            for v in (code, term.label_fr, term.label_en)}


# carto.resources.snapshot, in SQL, for `resource AS r` (tests/io/test_io_resources.py).
SNAPSHOT = """jsonb_build_object(
    'name', r.name, 'kind', r.kind, 'description', r.description, 'address', r.address,
    'commune', r.commune_code, 'lon', ST_X(r.geom), 'lat', ST_Y(r.geom),
    'location_precision', r.location_precision, 'location_note', r.location_note,
    'products', to_jsonb(coalesce(r.products, '{}')),
    'access_conditions', to_jsonb(coalesce(r.access_conditions, '{}')),
    'price_note', r.price_note, 'documents_needed', r.documents_needed,
    'opening_hours', r.opening_hours, 'website', r.website, 'phone', r.phone,
    'email', r.email, 'visibility', r.visibility, 'is_private', r.is_private,
    'status', r.status, 'illustrative', r.illustrative, 'moderation', r.moderation,
    'provenance', r.provenance, 'source_name', r.source_name, 'external_id', r.external_id,
    'licence', r.licence,
    'territories', (SELECT coalesce(jsonb_agg(t.slug ORDER BY t.slug), '[]'::jsonb)
                    FROM resource_territory rt JOIN territory t ON t.id = rt.territory_id
                    WHERE rt.resource_id = r.id),
    'outputs', (SELECT coalesce(jsonb_agg(jsonb_build_object('food_group', o.food_group,
                  'kg_per_year', o.kg_per_year::float8, 'year', o.year, 'source', o.source)
                  ORDER BY o.food_group), '[]'::jsonb)
                FROM resource_output o WHERE o.resource_id = r.id),
    'surfaces', (SELECT coalesce(jsonb_agg(jsonb_build_object('crop_group', s2.crop_group,
                  'hectares', s2.hectares::float8, 'year', s2.year, 'source', s2.source)
                  ORDER BY s2.crop_group), '[]'::jsonb)
                 FROM resource_surface s2 WHERE s2.resource_id = r.id),
    'version', r.version, 'deleted', r.deleted_at IS NOT NULL)
    || CASE WHEN r.merged_into IS NULL THEN '{}'::jsonb
            ELSE jsonb_build_object('merged_into', r.merged_into::text) END"""


@dataclass
class ImportResult:
    """What an import did: a report for the resources, one for the links when there were."""

    resources: Report
    links: Report | None = None

    def summary(self) -> str:
        out = self.resources.summary()
        if self.links is not None:
            out += t("import.summary_links", self.resources.lang, links=self.links.summary())
        return out


def import_tables(session: Session, tables: list[Table], territory: str,
                  actor: Principal | str,
                  source_name: str, dry_run: bool = False, lang: str = "fr",
                  progress: Any = None, link_tables: list[Table] | None = None) -> ImportResult:
    """Import the first sheet that has resource columns, then the links of a sheet (or of
    `link_tables`, another file) naming two resources and a category."""
    from carto.errors import Invalid
    from carto.io import links

    sheets = [t for t in tables if columns.score(t.header) >= 2 and not links.is_link_table(t)]
    link_sheets = [t for t in [*tables, *(link_tables or [])] if links.is_link_table(t)]
    if not sheets and not link_sheets:
        raise Invalid.field("ligne 1", msg("error.import.missing_columns", columns="name, kind",
                                           found=", ".join(tables[0].header) if tables else "—"))
    result = ImportResult(Report(dry_run=dry_run, lang=lang))
    staging = None
    if sheets:
        table = max(sheets, key=lambda x: columns.score(x.header))  # the first of the best
        importer = ResourceImport(session, territory, plan(table), actor, source_name, lang)
        result.resources = pipeline.run(session, importer, table.rows, dry_run=dry_run,
                                        progress=progress, lang=lang)
        staging = STAGING
        place = importer.territory
    else:
        place = territories.get(session, territory)
    if link_sheets:
        result.links = links.import_table(session, link_sheets[0], place,
                                          permissions.as_principal(actor), source_name,
                                          dry_run, lang, staging)
    return result


def import_file(session: Session, path: Any, territory: str, actor: Principal | str, *,
                fmt: str | None = None, dry_run: bool = False, lang: str = "fr",
                source_name: str | None = None, progress: Any = None,
                on_tables: Any = None, links_path: Any = None) -> ImportResult:
    """`carto import FILE [--links FILE]`: read any supported file and import it."""
    from pathlib import Path

    from carto.io import readers

    path = Path(path)
    with readers.open_binary(path) as stream:
        tables = readers.open_tables(stream, path.name, fmt, columns.any_score)
        if on_tables is not None:
            on_tables(tables)
        if links_path is None:
            return import_tables(session, tables, territory, actor, source_name or path.name,
                                 dry_run, lang, progress)
        with readers.open_binary(links_path) as other:
            link_tables = readers.open_tables(other, Path(links_path).name, None,
                                              columns.any_score)
            return import_tables(session, tables, territory, actor,
                                 source_name or path.name, dry_run, lang, progress, link_tables)


# A resource just created by an import has one territory and no outputs or surfaces yet: the
# same picture without three subqueries per row.
NEW_SNAPSHOT = SNAPSHOT.split("'territories',")[0] + """'territories', jsonb_build_array(
    CAST(:slug AS text)), 'outputs', '[]'::jsonb, 'surfaces', '[]'::jsonb,
    'version', r.version, 'deleted', r.deleted_at IS NOT NULL)"""
