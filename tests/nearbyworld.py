"""What the nearby tests share: a resource written straight into the table, a search, its ids,
the geodesic distance pyproj gives (tests/api/test_nearby*.py)."""

import uuid
from typing import Any

from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.orm import Session

from carto import nearby
from carto.visibility import ANONYMOUS, Principal

GEOD = Geod(ellps="WGS84")


def add(session: Session, lon: float, lat: float, **values: Any) -> uuid.UUID:
    """One resource, straight into the table (so tests may also write what validation
    refuses, e.g. unreadable opening hours)."""
    rid = uuid.uuid4()
    row = {
        "id": rid,
        "name": values.pop("name", f"Test {rid.hex[:6]}"),
        "kind": "producer",
        "lon": lon,
        "lat": lat,
        "products": [],
        "access": [],
        "oh": None,
        "visibility": "public",
        "moderation": "validated",
        "is_private": False,
        "status": "active",
        "commune": None,
        "address": None,
        "created_by": "test",
        "precision": "exact",
    }
    row.update(values)
    session.execute(
        text("""
        INSERT INTO resource (id, name, kind, geom, location_precision, products,
                              access_conditions, opening_hours, visibility, moderation,
                              is_private, status, commune_code, address, created_by, updated_by)
        VALUES (:id, :name, :kind, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :precision,
                :products, :access, :oh, :visibility, :moderation, :is_private, :status,
                :commune, :address, :created_by, :created_by)"""),
        row,
    )
    return rid


def query(session: Session, principal: Principal = ANONYMOUS, **params: Any) -> nearby.NearbyResult:
    raw = {k: v if isinstance(v, list) else [str(v)] for k, v in params.items()}
    return nearby.search(session, principal, nearby.parse(session, principal, raw))


def ids(result: nearby.NearbyResult) -> list[str]:
    return [f["id"] for f in result.features]


def geod_m(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    return float(GEOD.inv(lon0, lat0, lon1, lat1)[2])
