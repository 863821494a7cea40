"""Resources: create, update, delete (soft) and restore, in the caller's transaction. The life
cycle (row lock, version check, change-log row) is carto.lifecycle's; who may do it,
carto.permissions'."""

import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from carto import lifecycle, params, permissions, places, validation, vocab
from carto.errors import Invalid, NotFound
from carto.geo import check_lon_lat, lon_lat, point_element
from carto.i18n import msg
from carto.models import (
    ChangeLog,
    Commune,
    Resource,
    ResourceOutput,
    ResourceSurface,
    Territory,
)
from carto.visibility import CONTRIBUTOR, Principal
from carto.workshops import sessions as workshop_sessions

SIMPLE_FIELDS = (
    "name",
    "kind",
    "description",
    "address",
    "commune",
    "location_precision",
    "location_note",
    "products",
    "access_conditions",
    "price_note",
    "documents_needed",
    "opening_hours",
    "website",
    "phone",
    "email",
    "visibility",
    "is_private",
    "status",
    "illustrative",
    "provenance",
    "source_name",
    "external_id",
    "licence",
)
FIELDS = (*SIMPLE_FIELDS, "lon", "lat", "territories", "outputs", "surfaces")
COLUMN = {"commune": "commune_code"}


def _text(max_length: int) -> dict[str, Any]:
    return {"type": ["string", "null"], "maxLength": max_length}


def _checked(max_length: int, check: dict[str, Any]) -> dict[str, Any]:
    """A text `check`ed by carto.validation (opening hours, a URL...), or empty, or null
    (optional_text: both clear the field)."""
    return {"anyOf": [{"type": "string", "maxLength": max_length, **check}, {"const": ""},
                      {"type": "null"}]}


def _declared(key: str, amount: str, allowed: Any) -> dict[str, Any]:
    """A list of `_rows`: declared outputs or surfaces, each with its year and source."""
    return {"type": ["array", "null"], "items": {
        "type": "object", "additionalProperties": False, "required": [key, amount],
        "properties": {key: {"enum": sorted(allowed)},
                       amount: {"type": "number", "minimum": 0, "exclusiveMaximum": 1e11},
                       "year": {"type": ["integer", "null"], "minimum": 1900, "maximum": 2100},
                       "source": _text(500)}}}


def properties_schema(partial: bool = False) -> dict[str, Any]:
    """The JSON Schema of the properties `clean` takes (the API's Feature properties), from
    the same vocabularies and bounds. What the data decides is a `format`: `kind-code` (kinds
    are a table), `commune` (the communes loaded), `territory` (a slug); an unknown one is a
    422 naming the member. `partial`: a PATCH, nothing required."""
    codes = {"type": ["array", "null"], "items": {"type": "string"}}
    commune = {"anyOf": [{"type": "string", "format": "commune",
                          "pattern": rf"^{params.COMMUNE_CODE_PATTERN}$"}, {"type": "null"}]}
    members: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1, "maxLength": validation.NAME_MAX,
                 "pattern": validation.NAME_PATTERN},
        "kind": {"type": "string", "pattern": rf"^{params.CODE_PATTERN}$",
                 "format": "kind-code"},
        **{key: _text(n) for key, n in (
            ("description", 10_000), ("address", 500), ("location_note", 500),
            ("price_note", 500), ("documents_needed", 500), ("source_name", 200),
            ("external_id", 200), ("licence", 200))},
        "commune_code": commune, "commune": commune,  # the same, as GET returns it or not
        "location_precision": {"enum": sorted(vocab.precisions())},
        "products": codes | {"items": {"enum": sorted(vocab.food_groups())}},
        "access_conditions": codes | {"items": {"enum": sorted(vocab.access_conditions())}},
        "opening_hours": _checked(500, {"format": "opening-hours"}),
        "website": _checked(500, {"pattern": validation.URL_PATTERN}),
        "phone": _checked(40, {"pattern": validation.PHONE_PATTERN}),
        "email": _checked(254, {"format": "email"}),
        "visibility": {"enum": list(vocab.VISIBILITIES)},
        "status": {"enum": list(vocab.RESOURCE_STATUSES)},
        "provenance": {"enum": list(vocab.PROVENANCES)},
        "is_private": {"type": "boolean"}, "illustrative": {"type": "boolean"},
        "territories": {"type": "array", "minItems": 1,
                        "items": {"type": "string", "format": "territory"}},
        "outputs": _declared("food_group", "kg_per_year", vocab.food_groups()),
        "surfaces": _declared("crop_group", "hectares", vocab.crop_groups()),
        "force": {"type": "boolean", "description": "an editor confirms a point far from "
                                                    "its territories"},
        "workshop": {"type": ["string", "null"], "description": "the join code of the workshop it "
                                                      "is added in"},
    }
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False,
                              "properties": members,
                              "not": {"required": ["commune", "commune_code"]}}
    if partial:
        del members["workshop"]  # a resource is added in a workshop once, when it is created
    else:
        schema["required"] = ["name", "kind", "territories"]
    return schema


def get(session: Session, resource_id: uuid.UUID, include_deleted: bool = False) -> Resource:
    resource = session.get(Resource, resource_id)
    if resource is None or (resource.deleted_at is not None and not include_deleted):
        raise NotFound(msg("error.resources.unknown", id=resource_id))
    return resource


def snapshot(resource: Resource) -> dict[str, Any]:
    """A JSON-able picture of a resource, as stored in the change log."""
    lon, lat = lon_lat(resource.geom)
    return {
        "name": resource.name,
        "kind": resource.kind,
        "description": resource.description,
        "address": resource.address,
        "commune": resource.commune_code,
        "lon": lon,
        "lat": lat,
        "location_precision": resource.location_precision,
        "location_note": resource.location_note,
        "products": list(resource.products or []),
        "access_conditions": list(resource.access_conditions or []),
        "price_note": resource.price_note,
        "documents_needed": resource.documents_needed,
        "opening_hours": resource.opening_hours,
        "website": resource.website,
        "phone": resource.phone,
        "email": resource.email,
        "visibility": resource.visibility,
        "is_private": resource.is_private,
        "status": resource.status,
        "illustrative": resource.illustrative,
        "moderation": resource.moderation,
        "provenance": resource.provenance,
        "source_name": resource.source_name,
        "external_id": resource.external_id,
        "licence": resource.licence,
        "territories": sorted(t.slug for t in resource.territories),
        "outputs": [
            {"food_group": o.food_group, "kg_per_year": float(o.kg_per_year), "year": o.year,
             "source": o.source}
            for o in resource.outputs
        ],
        "surfaces": [
            {"crop_group": s.crop_group, "hectares": float(s.hectares), "year": s.year,
             "source": s.source}
            for s in resource.surfaces
        ],
        "version": resource.version,
        "deleted": resource.deleted_at is not None,
        # only on a merged row (carto.duplicates); the SQL twin (carto.io.resources.SNAPSHOT)
        # says the same
        **({"merged_into": str(resource.merged_into)} if resource.merged_into else {}),
    }


def _rows(
    value: Any, key: str, amount: str, allowed: dict[str, Any], errors: validation.Collector,
    field: str,
) -> list[dict[str, Any]] | None:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add(field, msg("validation.list"))
        return None
    rows = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict) or set(item) - {key, amount, "year", "source"}:
            errors.add(where, msg("error.resources.declared_object", key=key, amount=amount))
            continue
        if not isinstance(item.get(key), str) or item[key] not in allowed:
            errors.add(f"{where}.{key}", msg("error.resources.unknown_value", value=item.get(key)))
            continue
        number = item.get(amount)
        if isinstance(number, bool) or not isinstance(number, int | float) \
                or not 0 <= number < 1e11:
            errors.add(f"{where}.{amount}", msg("error.resources.amount"))
            continue
        year = item.get("year")
        if year is not None and (not isinstance(year, int) or not 1900 <= year <= 2100):
            errors.add(f"{where}.year", msg("error.resources.year"))
            continue
        source = item.get("source")
        if source is not None and (not isinstance(source, str) or len(source) > 500):
            errors.add(f"{where}.source", msg("error.resources.source"))
            continue
        rows.append({key: item[key], amount: number, "year": year, "source": source})
    return rows


def clean(session: Session, data: dict[str, Any], partial: bool = False) -> dict[str, Any]:
    """Check every field given; return normalised values. Unknown fields are an error."""
    errors = validation.Collector()
    for key in data:
        if key not in FIELDS:
            errors.add(key, msg("validation.extra_forbidden"))
    out: dict[str, Any] = {}

    def given(key: str) -> bool:
        return key in data or not partial

    if given("name"):
        out["name"] = validation.name(data.get("name"), errors)
    if given("kind"):
        known = vocab.resource_kinds(session, {str(data.get("kind"))})  # the one cache of kinds
        out["kind"] = validation.code_in(data.get("kind"), known, errors, "kind")
    for key, max_len in (("description", 10_000), ("address", 500), ("location_note", 500),
                         ("price_note", 500), ("documents_needed", 500), ("source_name", 200),
                         ("external_id", 200), ("licence", 200)):
        if key in data:
            out[key] = validation.optional_text(data[key], errors, key, max_len)
    if "commune" in data and data["commune"] is not None:
        code = data["commune"]
        if not isinstance(code, str) or session.get(Commune, code) is None:
            errors.add("commune", msg("error.nearby.insee_unknown", value=code))
        out["commune"] = code
    if given("lon") or given("lat"):
        try:
            out["lon"], out["lat"] = check_lon_lat(data.get("lon"), data.get("lat"))
        except Invalid as exc:
            errors.errors.extend(exc.errors)
    if given("location_precision"):
        out["location_precision"] = validation.code_in(
            data.get("location_precision", "exact" if not partial else None),
            vocab.precisions(), errors, "location_precision",
        )
    if "products" in data:
        out["products"] = validation.food_groups(data["products"], errors)
    if "access_conditions" in data:
        out["access_conditions"] = validation.codes_in(
            data["access_conditions"], vocab.access_conditions(), errors, "access_conditions"
        )
    if "opening_hours" in data:
        out["opening_hours"] = validation.opening_hours_text(data["opening_hours"], errors)
    if "website" in data:
        out["website"] = validation.url(data["website"], errors)
    if "phone" in data:
        out["phone"] = validation.phone(data["phone"], errors)
    if "email" in data:
        out["email"] = validation.email(data["email"], errors)
    for key, allowed in (("visibility", vocab.VISIBILITIES), ("status", vocab.RESOURCE_STATUSES),
                         ("provenance", vocab.PROVENANCES)):
        if key in data:
            out[key] = validation.code_in(data[key], set(allowed), errors, key)
    for key in ("is_private", "illustrative"):
        if key in data:
            if not isinstance(data[key], bool):
                errors.add(key, msg("error.validation.boolean"))
            out[key] = data[key]
    if given("territories"):
        slugs = data.get("territories") or []
        if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
            errors.add("territories", msg("error.resources.territories_list"))
        elif not slugs:
            errors.add("territories", msg("error.resources.territories_required"))
        else:
            found = {t.slug: t for t in session.scalars(
                select(Territory).where(Territory.slug.in_(slugs)))}
            unknown = [s for s in slugs if s not in found]
            if unknown:
                errors.add("territories", msg("error.resources.territories_unknown",
                                          slugs=", ".join(unknown)))
            out["territories"] = [found[s] for s in slugs if s in found]
    if "outputs" in data:
        out["outputs"] = _rows(data["outputs"], "food_group", "kg_per_year", vocab.food_groups(),
                               errors, "outputs")
    if "surfaces" in data:
        out["surfaces"] = _rows(data["surfaces"], "crop_group", "hectares", vocab.crop_groups(),
                                errors, "surfaces")
    errors.raise_if_any()
    return out


MAX_DISTANCE_M = 50_000


def check_near_territories(session: Session, resource: Resource) -> None:
    """A point more than 50 km from all of its territories is most likely a typing mistake
    (swapped coordinates, a wrong sign); an editor may confirm it with `force`."""
    ids = [t.id for t in resource.territories]
    if not ids:
        return
    lon, lat = lon_lat(resource.geom)
    row = session.execute(
        text("""SELECT slug, ST_Distance(geom::geography,
                                         ST_SetSRID(ST_MakePoint(:x, :y), 4326)::geography) AS d
                FROM territory WHERE id = ANY(:ids) ORDER BY d LIMIT 1"""),
        {"x": lon, "y": lat, "ids": ids},
    ).one()
    if row.d > MAX_DISTANCE_M:
        raise Invalid.field(
            "geometry",
            msg("error.resources.far", km=round(row.d / 1000), slug=row.slug),
        )


def _apply(resource: Resource, values: dict[str, Any]) -> None:
    for key in SIMPLE_FIELDS:
        if key in values:
            setattr(resource, COLUMN.get(key, key), values[key])
    if "lon" in values:
        resource.geom = point_element(values["lon"], values["lat"])
    if "territories" in values:
        resource.territories = values["territories"]
    if "outputs" in values:
        resource.outputs = [ResourceOutput(**row) for row in values["outputs"]]
    if "surfaces" in values:
        resource.surfaces = [ResourceSurface(**row) for row in values["surfaces"]]


def _content(picture: dict[str, Any]) -> dict[str, Any]:
    """What a client sent, out of a snapshot: without what the server counts."""
    return {k: v for k, v in picture.items() if k not in ("version", "deleted", "merged_into")}


def _replay(session: Session, prior: Resource, candidate: Resource, actor: str) -> Resource:
    """A creation sent again with the id of a row that exists: the same author and the same
    content is a replay (a request whose answer was lost), answered with the row as it is;
    anything else is a conflict on the id."""
    first = session.scalar(select(ChangeLog.after).where(
        ChangeLog.entity_type == ENTITY.type, ChangeLog.entity_id == prior.id,
        ChangeLog.action == "create").order_by(ChangeLog.id).limit(1))
    if prior.created_by != actor or first is None \
            or _content(first) != _content(snapshot(candidate)):
        raise lifecycle.taken(ENTITY, prior.id)
    return prior


def create(
    session: Session,
    data: dict[str, Any],
    actor: Principal | str,
    moderation: str | None = None,
    resource_id: uuid.UUID | None = None,
    force: bool = False,
) -> Resource:
    """A new resource at version 1. `actor` is the writer (its rules apply: carto.permissions)
    or, for trusted code, a name acting with every right. `resource_id` may come from the
    client (a UUID it generated): sending the same creation again creates nothing (see
    `_replay`); `moderation` forces the initial state (loaders, fixtures). `workshop` in
    `data` (a join code) names the workshop it is added in (carto.workshops.sessions.
    provenance)."""
    principal = permissions.as_principal(actor)
    permissions.require(principal, CONTRIBUTOR)
    data = dict(data)
    code = data.pop("workshop", None)
    values = clean(session, data)
    state = permissions.create_resource(principal, values["territories"], force)
    workshop_id = workshop_sessions.provenance(session, principal, code,
                                               {t.id for t in values["territories"]})
    resource = Resource(
        id=resource_id or uuid.uuid4(),
        moderation=moderation or state,
        created_by=principal.actor,
        updated_by=principal.actor,
        version=1,
        products=[],
        access_conditions=[],
        visibility="public",
        is_private=False,
        status="active",
        illustrative=False,
        provenance="workshop",
        workshop_id=workshop_id,  # made in a workshop (a participant's, or its facilitator's)
    )
    _apply(resource, values)
    if resource.commune_code is None and "lon" in values:  # the commune holding the point
        place = places.commune_at(session, values["lon"], values["lat"])
        resource.commune_code = place.code if place else None
    if not force:
        check_near_territories(session, resource)
    prior = lifecycle.existing(session, ENTITY, resource_id)
    if prior is not None:
        return _replay(session, prior, resource, principal.actor)
    return lifecycle.created(session, ENTITY, resource, principal.actor)


def update(
    session: Session,
    resource_id: uuid.UUID,
    changes: dict[str, Any],
    actor: Principal | str,
    expected_version: int | None,
    force: bool = False,
) -> Resource:
    principal = permissions.as_principal(actor)
    guard = permissions.edit_resource(session, principal)
    if ("lon" in changes) != ("lat" in changes):  # the body first: a wrong one is a 422,
        raise Invalid.field("geometry", msg("error.resources.lon_lat_pair"))  # whatever the
    values = clean(session, changes, partial=True)  # version
    with lifecycle.change(session, ENTITY, resource_id, expected_version, principal.actor,
                          guard=guard) as resource:
        before = permissions.resource_territories(resource)
        _apply(resource, values)
        if "territories" in values:
            permissions.move_resource(principal, before,
                                      permissions.resource_territories(resource))
        if not force and ("lon" in values or "territories" in values):
            check_near_territories(session, resource)
    return resource


def delete(
    session: Session, resource_id: uuid.UUID, actor: Principal | str,
    expected_version: int | None,
) -> Resource:
    principal = permissions.as_principal(actor)
    return lifecycle.soft_delete(session, ENTITY, resource_id, expected_version,
                                 principal.actor, permissions.edit_resource(session, principal))


def restore(
    session: Session, resource_id: uuid.UUID, actor: Principal | str,
    expected_version: int | None = None,
) -> Resource:
    principal = permissions.as_principal(actor)
    with lifecycle.change(session, ENTITY, resource_id, expected_version, principal.actor,
                          "restore", permissions.edit_resource(session, principal),
                          deleted=True) as resource:
        resource.deleted_at = None
        resource.deleted_by = None
        resource.merged_into = None  # a merged one comes back alone: its links stay moved
    return resource


ENTITY = lifecycle.Entity("resource", Resource, snapshot)
