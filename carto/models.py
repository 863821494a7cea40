"""Tables (SQLAlchemy 2 + GeoAlchemy2). The migrations in migrations/ are the schema's truth;
these classes mirror them for plain CRUD. Constraints are repeated in the database on purpose:
a row written by psql or another client obeys the same rules as one written through the API."""

import uuid
from datetime import date, datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


def _geom(kind: str) -> Any:
    # spatial_index=False: the migration creates the GiST indexes explicitly.
    return Geometry(kind, srid=4326, spatial_index=False)


class Commune(Base):
    __tablename__ = "commune"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_key: Mapped[str] = mapped_column(Text, index=True)
    department: Mapped[str] = mapped_column(String(3))
    epci_code: Mapped[str | None] = mapped_column(String(9))
    epci_name: Mapped[str | None] = mapped_column(Text)
    population: Mapped[int | None] = mapped_column(Integer)
    population_year: Mapped[int | None] = mapped_column(SmallInteger)
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class Territory(Base):
    __tablename__ = "territory"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    population: Mapped[int | None] = mapped_column(Integer)
    population_source: Mapped[str | None] = mapped_column(Text)
    population_year: Mapped[int | None] = mapped_column(SmallInteger)
    geometry_source: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    communes: Mapped[list[Commune]] = relationship(secondary="territory_commune")


class TerritoryCommune(Base):
    __tablename__ = "territory_commune"

    territory_id: Mapped[int] = mapped_column(
        ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True
    )
    commune_code: Mapped[str] = mapped_column(ForeignKey("commune.code"), primary_key=True)


class ResourceKind(Base):
    __tablename__ = "resource_kind"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    label_fr: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    color: Mapped[str] = mapped_column(Text)
    icon: Mapped[str] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(SmallInteger, default=100)


class CooperationCategory(Base):
    __tablename__ = "cooperation_category"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    label_fr: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    stakes_fr: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    sort_order: Mapped[int] = mapped_column(SmallInteger, default=100)


class CooperationLevel(Base):
    __tablename__ = "cooperation_level"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    label_fr: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    color: Mapped[str] = mapped_column(Text)


class _Tracked:
    """Columns every editable, versioned, soft-deletable record carries."""

    moderation: Mapped[str] = mapped_column(Text, default="validated")
    moderation_note: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[str] = mapped_column(Text, default="workshop")
    source_name: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)


class ResourceTerritory(Base):
    __tablename__ = "resource_territory"

    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    territory_id: Mapped[int] = mapped_column(
        ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True
    )


class Resource(_Tracked, Base):
    __tablename__ = "resource"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(ForeignKey("resource_kind.code"))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("commune.code"))
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    location_precision: Mapped[str] = mapped_column(Text)
    location_note: Mapped[str | None] = mapped_column(Text)
    products: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    access_conditions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    price_note: Mapped[str | None] = mapped_column(Text)
    documents_needed: Mapped[str | None] = mapped_column(Text)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[str] = mapped_column(Text, default="public")
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(Text, default="active")
    illustrative: Mapped[bool] = mapped_column(Boolean, default=False)
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshop.id"))  # provenance
    merged_into: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("resource.id"))  # carto.duplicates.merge

    territories: Mapped[list[Territory]] = relationship(secondary="resource_territory")
    outputs: Mapped[list["ResourceOutput"]] = relationship(
        cascade="all, delete-orphan", order_by="ResourceOutput.food_group"
    )
    surfaces: Mapped[list["ResourceSurface"]] = relationship(
        cascade="all, delete-orphan", order_by="ResourceSurface.crop_group"
    )


class ResourceOutput(Base):
    """A producer's declared annual output of one food group."""

    __tablename__ = "resource_output"

    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    food_group: Mapped[str] = mapped_column(Text, primary_key=True)
    kg_per_year: Mapped[float] = mapped_column(Numeric(14, 1))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str | None] = mapped_column(Text)


class ResourceSurface(Base):
    """A producer's farmed surface of one crop group."""

    __tablename__ = "resource_surface"

    resource_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
    )
    crop_group: Mapped[str] = mapped_column(Text, primary_key=True)
    hectares: Mapped[float] = mapped_column(Numeric(12, 2))
    year: Mapped[int | None] = mapped_column(SmallInteger)
    source: Mapped[str | None] = mapped_column(Text)


class Link(_Tracked, Base):
    """A cooperation link between two resources."""

    __tablename__ = "link"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resource.id"))
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("resource.id"))
    category: Mapped[str] = mapped_column(ForeignKey("cooperation_category.code"))
    level: Mapped[int] = mapped_column(ForeignKey("cooperation_level.level"))
    stakes: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    description: Mapped[str | None] = mapped_column(Text)
    started_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(Text, default="active")
    directed: Mapped[bool] = mapped_column(Boolean, default=False)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshop.id"))  # provenance

    source: Mapped[Resource] = relationship(foreign_keys=[source_id])
    target: Mapped[Resource] = relationship(foreign_keys=[target_id])
    territory: Mapped[Territory | None] = relationship()


class LinkLevelChange(Base):
    """How a link's level moved over time: one row each time it is set."""

    __tablename__ = "link_level_history"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    link_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("link.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(ForeignKey("cooperation_level.level"))
    changed_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Farmland(Base):
    """Farmed surface per crop group, for a commune or a territory (gap analysis)."""

    __tablename__ = "farmland"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("commune.code"))
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    crop_group: Mapped[str] = mapped_column(Text)
    hectares: Mapped[float] = mapped_column(Numeric(12, 2))
    year: Mapped[int] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(Text)


class ChangeLog(Base):
    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class DuplicateDismissal(Base):
    """A pair an editor said is not a duplicate (carto.duplicates): never flagged again."""

    __tablename__ = "duplicate_dismissal"

    a_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    b_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True)
    dismissed_by: Mapped[str] = mapped_column(Text)
    dismissed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                   server_default=func.now())


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshop.id"))

    territory: Mapped[Territory | None] = relationship()
    # Read with the token, in the same query: a workshop's token writes only while it is open.
    workshop: Mapped["Workshop | None"] = relationship(lazy="joined")


class ContextFeature(Base):
    """Context layers (markets, gardens, community centres, OSM food shops): shown, not edited."""

    __tablename__ = "context_feature"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    layer: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(Text)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source: Mapped[str] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geom("POINT"))


# --- workshops (issue 14; migration 0006) ------------------------------------------------------

class Workshop(Base):
    """A mapping workshop: joined by its code, its tokens write until it closes or ends."""

    __tablename__ = "workshop"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    held_on: Mapped[date] = mapped_column(Date)
    place: Mapped[str | None] = mapped_column(Text)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    territory: Mapped[Territory] = relationship()


class WorkshopParticipant(Base):
    __tablename__ = "workshop_participant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"))
    pseudonym: Mapped[str] = mapped_column(Text)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"),
                                          unique=True)
    joined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkshopQuestion(Base):
    __tablename__ = "workshop_question"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(ARRAY(Text))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkshopVote(Base):
    """One vote per participant and question: voting again replaces it."""

    __tablename__ = "workshop_vote"

    question_id: Mapped[int] = mapped_column(
        ForeignKey("workshop_question.id", ondelete="CASCADE"), primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("workshop_participant.id", ondelete="CASCADE"), primary_key=True)
    option: Mapped[int] = mapped_column(SmallInteger)
    voted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
