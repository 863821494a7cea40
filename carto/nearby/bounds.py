"""Geodesic bounds of a nearby search: the lon/lat window that holds a geodesic circle, with
proven bounds of metres per planar degree inside it; compass bearings; shown distances."""

import math
from dataclasses import dataclass

# WGS84. Lower bounds of metres per degree (meridional radius is smallest at the equator; the
# prime-vertical radius N is never below the semi-major axis a).
_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_RAD = math.pi / 180
M_PER_DEG_LAT_MIN = _A * (1 - _E2) * _RAD  # 110,574 m
_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")




@dataclass(frozen=True)
class Window:
    """A lon/lat box containing every point within `radius_m` of (lon, lat) on the ellipsoid,
    and bounds of metres per planar degree valid inside it."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    m_min: float  # any geodesic inside the box is >= m_min * its planar length in degrees
    m_max: float  # ... and <= m_max * the planar distance between its ends

    def params(self) -> dict[str, float]:
        return {"minx": self.minx, "miny": self.miny, "maxx": self.maxx, "maxy": self.maxy}


def window(lon: float, lat: float, radius_m: float) -> Window:
    """Why it is a proof: a point of the shortest path to a target within R is itself within R
    of the origin, so its latitude differs by at most R / m_lat_min; along the path, length >=
    m_min x (planar length) >= m_min x (planar distance of the ends)."""
    dlat = radius_m / M_PER_DEG_LAT_MIN * 1.0001 + 1e-9
    lat_lo, lat_hi = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    far = max(abs(lat_lo), abs(lat_hi))
    near = 0.0 if lat_lo <= 0 <= lat_hi else min(abs(lat_lo), abs(lat_hi))
    m_lon_min = _A * math.cos(far * _RAD) * _RAD
    if m_lon_min <= 1.0 or radius_m / m_lon_min >= 180:
        minx, maxx = -180.0, 180.0
    else:
        dlon = radius_m / m_lon_min * 1.0001 + 1e-9
        minx, maxx = max(-180.0, lon - dlon), min(180.0, lon + dlon)
    m_min = min(M_PER_DEG_LAT_MIN, max(m_lon_min, 0.0)) * 0.9999
    sin2 = math.sin(far * _RAD) ** 2
    m_lat_max = _A * (1 - _E2) / (1 - _E2 * sin2) ** 1.5 * _RAD
    m_lon_max = _A / math.sqrt(1 - _E2 * math.sin(near * _RAD) ** 2) * math.cos(near * _RAD) * _RAD
    return Window(minx, lat_lo, maxx, lat_hi, m_min, max(m_lat_max, m_lon_max) * 1.0001)


def bearing(azimuth_deg: float | None) -> str | None:
    """Eight-point compass direction of an azimuth (0 = north, clockwise)."""
    if azimuth_deg is None or not math.isfinite(azimuth_deg):
        return None
    return _COMPASS[int(((azimuth_deg % 360) + 22.5) // 45) % 8]


def round_distance(metres: float) -> int:
    """Distances are shown to 10 m: more would be false precision for most locations."""
    return int(round(metres / 10.0) * 10)
