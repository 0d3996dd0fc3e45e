"""Local metric frames: WGS84 (lng, lat) degrees to metres east/north of a station, and back."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]

# WGS84 ellipsoid.
WGS84_A_M = 6_378_137.0
WGS84_E2 = 6.694379990141317e-3


def metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """Metres per degree of (longitude, latitude) at latitude ``lat_deg`` on the WGS84 ellipsoid.

    Uses the prime-vertical and meridional radii of curvature, so distances in a frame built from
    them are within about 0.01% of geodesic distance over the few hundred metres around a station.
    """
    phi = math.radians(lat_deg)
    w = 1.0 - WGS84_E2 * math.sin(phi) ** 2
    n = WGS84_A_M / math.sqrt(w)
    m = WGS84_A_M * (1.0 - WGS84_E2) / w**1.5
    return n * math.cos(phi) * math.pi / 180.0, m * math.pi / 180.0


@dataclass(frozen=True)
class LocalFrame:
    """An equirectangular frame: x metres east and y metres north of (lng0, lat0) degrees.

    The map (lng, lat) -> (x, y) is affine, so it keeps point-in-polygon answers and straight
    edges; distances are true to about 0.01% within a kilometre of the origin.
    """

    lng0: float
    lat0: float
    m_per_deg_lng: float
    m_per_deg_lat: float

    @classmethod
    def at(cls, lng0: float, lat0: float) -> LocalFrame:
        """A frame centred at longitude ``lng0``, latitude ``lat0`` (degrees)."""
        kx, ky = metres_per_degree(lat0)
        return cls(lng0, lat0, kx, ky)

    def to_xy(self, lng: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Metres (east, north) of points given as longitude and latitude arrays in degrees."""
        return (lng - self.lng0) * self.m_per_deg_lng, (lat - self.lat0) * self.m_per_deg_lat

    def to_lnglat(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Longitude and latitude (degrees) of points given in metres east and north."""
        return x / self.m_per_deg_lng + self.lng0, y / self.m_per_deg_lat + self.lat0

    def geometry_to_m(self, geom: BaseGeometry) -> BaseGeometry:
        """A shapely geometry in (lng, lat) degrees, re-expressed in this frame's metres (x, y)."""
        scale = np.array([self.m_per_deg_lng, self.m_per_deg_lat])
        origin = np.array([self.lng0, self.lat0])
        return shapely.transform(geom, lambda xy: (xy - origin) * scale)

    def geometry_to_deg(self, geom: BaseGeometry) -> BaseGeometry:
        """A shapely geometry in this frame's metres, re-expressed in (lng, lat) degrees."""
        scale = np.array([self.m_per_deg_lng, self.m_per_deg_lat])
        origin = np.array([self.lng0, self.lat0])
        return shapely.transform(geom, lambda xy: xy / scale + origin)


def segment_distance_m(
    px: FloatArray,
    py: FloatArray,
    ax: FloatArray,
    ay: FloatArray,
    bx: FloatArray,
    by: FloatArray,
) -> FloatArray:
    """Euclidean distance from points (px, py) to segments a-b, element-wise, all in metres.

    A zero-length segment gives the distance to its end point.
    """
    dx = bx - ax
    dy = by - ay
    qx = px - ax
    qy = py - ay
    len2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (qx * dx + qy * dy) / len2
    t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
    ex = qx - t * dx
    ey = qy - t * dy
    return np.sqrt(ex * ex + ey * ey)
