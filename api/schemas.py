"""Request shapes (they document the API in /docs; the domain checks the values)."""

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from carto import params, resources, validation, vocab


class PointGeometry(BaseModel):
    """[longitude, latitude], an optional height: numbers (strict: a boolean or a text is not
    one; an integer is)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Point"]
    coordinates: list[Annotated[float, Field(strict=True)]] = Field(
        min_length=2, max_length=3, description="[longitude, latitude] in WGS84 (RFC 7946)",
        json_schema_extra={"prefixItems": [{"type": "number", "minimum": -180, "maximum": 180},
                                           {"type": "number", "minimum": -90, "maximum": 90}]})


class ResourceFeatureIn(BaseModel):
    """A GeoJSON Feature: a Point and the properties that GET returns."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [3.7598, 43.4500]},
        "properties": {"name": "Épicerie solidaire des Deux Pins", "kind": "social_grocery",
                       "territories": ["frontignan"], "location_precision": "address",
                       "address": "Avenue des Deux Pins, Frontignan", "products": ["vegetables"],
                       "access_conditions": ["referral"], "opening_hours": "Tu,Th 14:00-18:00"},
    }})
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: dict[str, Any] = Field(json_schema_extra=resources.properties_schema())
    id: Any = Field(None, description="a client UUID: sent again, nothing more is created",
                    json_schema_extra={"type": ["string", "null"], "format": "uuid"})


class ResourcePatchIn(BaseModel):
    """Only what changes: `properties` and/or `geometry`."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Feature"] | None = None
    geometry: PointGeometry | None = None
    properties: dict[str, Any] = Field(default_factory=dict, json_schema_extra=resources
                                       .properties_schema(partial=True))


def _member(schema: dict[str, Any], description: str | None = None) -> Any:
    """A body member documented by `schema` and checked by the domain alone (carto.links.clean,
    ...): pydantic leaves its value as sent, so the domain's refusal names the member."""
    return Field(None, description=description, json_schema_extra=schema)


def _text(max_length: int) -> dict[str, Any]:
    """carto.validation.optional_text: a text of at most `max_length`, or null."""
    return {"type": ["string", "null"], "maxLength": max_length}


_END = {"type": "string", "format": "uuid"}
# Every member carto.links.clean takes; whether an end or a territory exists, and whether the
# writer may put the link there, is the data's to say (a 422 naming source, target or territory).
LINK_MEMBERS: dict[str, Any] = {
    "source": _END, "target": _END,
    "category": {"enum": list(vocab.categories())},
    "level": {"type": "integer", "enum": list(vocab.levels())},
    "stakes": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1,
                                                   "maxLength": 200}},
    "description": _text(10_000), "level_note": _text(1000),
    "started_on": {"anyOf": [params.DATE_SCHEMA, {"type": "null"}]},
    "status": {"enum": list(vocab.LINK_STATUSES)},
    "provenance": {"enum": list(vocab.PROVENANCES)},
    "directed": {"type": "boolean"},
    "source_name": _text(200), "external_id": _text(200), "licence": _text(200),
    "territory": {"type": ["string", "null"]},
}
_LINK_EXAMPLE: dict[str, JsonValue] = {
    "source": "00000000-0000-0000-0000-000000000001",
    "target": "00000000-0000-0000-0000-000000000002",
    "category": "producers_suppliers", "level": 2, "territory": "frontignan",
    "stakes": ["approvisionnement local de qualité"],
    "description": "Don d'invendus chaque semaine", "directed": True,
}


class LinkPatchIn(BaseModel):
    """Only what changes (carto.links.update); a new level may say why in `level_note`."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"level": 3, "level_note": "Une convention signée"}})
    source: Any = _member(LINK_MEMBERS["source"])
    target: Any = _member(LINK_MEMBERS["target"])
    category: Any = _member(LINK_MEMBERS["category"], "GET /api/categories")
    level: Any = _member(LINK_MEMBERS["level"], "GET /api/levels")
    stakes: Any = _member(LINK_MEMBERS["stakes"])
    description: Any = _member(LINK_MEMBERS["description"])
    level_note: Any = _member(LINK_MEMBERS["level_note"])
    started_on: Any = _member(LINK_MEMBERS["started_on"], "YYYY-MM-DD")
    status: Any = _member(LINK_MEMBERS["status"])
    provenance: Any = _member(LINK_MEMBERS["provenance"])
    directed: Any = _member(LINK_MEMBERS["directed"])
    source_name: Any = _member(LINK_MEMBERS["source_name"])
    external_id: Any = _member(LINK_MEMBERS["external_id"])
    licence: Any = _member(LINK_MEMBERS["licence"])
    territory: Any = _member(LINK_MEMBERS["territory"], "territory slug; omitted: the one "
                                                        "both ends share")


class LinkIn(LinkPatchIn):
    """A new link: its two ends, category and level at least; a client UUID as `id` makes a
    replay create nothing."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": _LINK_EXAMPLE, "required": ["source", "target", "category", "level"]})
    id: Any = _member({"type": ["string", "null"], "format": "uuid"}, "a client UUID")
    workshop: Any = _member({"type": ["string", "null"]}, "the join code of the workshop it "
                                                          "is added in")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


NAME_PATTERN = validation.NAME_PATTERN  # carto.validation.name: not only spaces


def _name(max_length: int = validation.NAME_MAX) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": NAME_PATTERN}


class TokenIn(BaseModel):
    """A role of vocab.ROLES; every role but admin needs a territory (carto.tokens.create)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"role": "editor", "territory": "frontignan", "name": "Mairie"},
        "anyOf": [{"properties": {"role": {"const": "admin"}}},
                  {"required": ["territory"],
                   "properties": {"territory": {"type": "string", "minLength": 1}}}]})
    role: str = Field(json_schema_extra={"enum": list(vocab.ROLES)})
    territory: str | None = Field(None, description="territory slug (unknown: 404)")
    name: str = Field(default="", max_length=200)


class KindIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=rf"^{params.CODE_PATTERN}$")  # what code lists are documented by
    label_fr: str = Field(min_length=1, max_length=100)
    label_en: str = Field(min_length=1, max_length=100)
    color: str = Field(pattern=r"^#[0-9a-fA-F]{6}$")
    icon: str = Field(min_length=1, max_length=60)
    sort_order: int = Field(default=100, ge=0, le=1000, strict=True)  # false is not 0


class KindPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label_fr: str | None = Field(default=None, min_length=1, max_length=100)
    label_en: str | None = Field(default=None, min_length=1, max_length=100)
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    icon: str | None = Field(default=None, min_length=1, max_length=60)
    sort_order: int | None = Field(default=None, ge=0, le=1000, strict=True)


# --- workshops (issue 14) -----------------------------------------------------------------------

class WorkshopIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "territory": "frontignan", "title": "Cartographie des solidarités alimentaires",
        "date": "2026-12-05", "place": "Salle des fêtes", "ends_at": "2026-12-05T18:00:00+01:00",
    }})
    territory: str = Field(max_length=100, description="territory slug (unknown: 422)")
    title: str = Field(json_schema_extra=_name())
    date: str = Field(description="the day (YYYY-MM-DD)", json_schema_extra=params.DATE_SCHEMA)
    place: str | None = Field(default=None, max_length=300)
    ends_at: str = Field(description="RFC 3339 date-time with its offset, in the future: the "
                                     "participants' tokens stop writing then",
                         json_schema_extra=params.DATETIME_SCHEMA)


class JoinIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"pseudonym": "Lou"}})
    pseudonym: str = Field(min_length=1, max_length=40,
                           description="a pseudonym only: no name, no e-mail asked")


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "text": "Par quelle coopération commençons-nous ?",
        "options": ["Dons d'invendus", "Jardin partagé", "Épicerie mobile"]}})
    text: str = Field(min_length=1, max_length=300)
    options: list[str] = Field(min_length=2, max_length=20)


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"option": 0}})
    option: int = Field(ge=0, le=19, description="the option's index (0 for the first)")


class DismissIn(BaseModel):
    """The two resources an editor says are not a duplicate (carto.duplicates.dismiss), in
    either order: two different ids (an array of unique items, as the schema says)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"resources": [
        "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"]}})
    resources: list[uuid.UUID] = Field(min_length=2, max_length=2,
                                       json_schema_extra={"uniqueItems": True})


class MergeIn(BaseModel):
    """Merge the resource of the path into `into` (carto.duplicates.merge); If-Match carries
    the merged resource's version."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "into": "00000000-0000-0000-0000-000000000002"}})
    into: uuid.UUID
