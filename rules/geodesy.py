"""Great-circle distances in metres between WGS84 points, as Polars expressions and numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: pl.Expr, lon1: pl.Expr, lat2: pl.Expr, lon2: pl.Expr) -> pl.Expr:
    """Distance in metres between (lat1, lon1) and (lat2, lon2) in degrees; null in, null out."""
    p1 = lat1.radians()
    p2 = lat2.radians()
    dp = p2 - p1
    dl = (lon2 - lon1).radians()
    a = (dp / 2).sin().pow(2) + p1.cos() * p2.cos() * (dl / 2).sin().pow(2)
    return 2.0 * EARTH_RADIUS_M * a.sqrt().clip(0.0, 1.0).arcsin()


def haversine_np(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Numpy version of :func:`haversine_m` (degrees in, metres out)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    out: npt.NDArray[np.float64] = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
    return out


# Points are compared with every station this many at a time (bounds the work array).
_CHUNK = 20_000


def nearest_fence_lower_bound_m(
    lat: npt.ArrayLike, lon: npt.ArrayLike, stations: pl.DataFrame
) -> npt.NDArray[np.float64]:
    """For each point (degrees), a lower bound in metres on its distance to every station fence:
    the least over stations of (distance to the station's centroid ``lat``/``lon`` minus its
    ``radius_m``, the centroid's distance to the fence's farthest point), never below 0. A
    station whose radius is unknown (null) bounds nothing (0), nor does an empty ``stations``
    frame (0 everywhere) nor a NaN coordinate. Exact for a round fence; conservative
    (smaller) for any other shape."""
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    out = np.zeros(len(la), dtype=np.float64)
    if len(la) == 0 or stations.is_empty():
        return out
    s_lat = stations["lat"].cast(pl.Float64).to_numpy()
    s_lon = stations["lon"].cast(pl.Float64).to_numpy()
    radius = stations["radius_m"].cast(pl.Float64).fill_null(np.inf).to_numpy()
    for a in range(0, len(la), _CHUNK):
        b = min(len(la), a + _CHUNK)
        d = haversine_np(la[a:b, None], lo[a:b, None], s_lat[None, :], s_lon[None, :])
        best = (d - radius[None, :]).min(axis=1)
        out[a:b] = np.where(np.isfinite(best), np.maximum(best, 0.0), 0.0)
    return out
