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
