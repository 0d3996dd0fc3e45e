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


# Points are grouped in cells of this many degrees of latitude and longitude; each cell keeps
# the stations that can be nearest to some point of it, and only those are measured exactly.
_CELL_DEG = 0.01
# Candidate (point, station) pairs measured at a time (bounds the work arrays).
_PAIRS = 2_000_000


def _unit_vectors(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    p, lam = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(p) * np.cos(lam), np.cos(p) * np.sin(lam), np.sin(p)], axis=-1)


def _great_circle_m(
    u: npt.NDArray[np.float64], v: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Great-circle distances (metres) between every row of ``u`` and every row of ``v`` (unit
    vectors), from their chords: one matrix product, for pruning only."""
    chord = np.sqrt(np.clip(2.0 - 2.0 * (u @ v.T), 0.0, 4.0))
    out: npt.NDArray[np.float64] = 2.0 * EARTH_RADIUS_M * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0))
    return out


def nearest_fence_lower_bound_m(
    lat: npt.ArrayLike, lon: npt.ArrayLike, stations: pl.DataFrame
) -> npt.NDArray[np.float64]:
    """For each point (degrees), a lower bound in metres on its distance to every station fence:
    the least over stations of (distance to the station's centroid ``lat``/``lon`` minus its
    ``radius_m``, the centroid's distance to the fence's farthest point), never below 0. A
    station whose radius is unknown (null) bounds nothing (0), nor does an empty ``stations``
    frame (0 everywhere) nor a NaN coordinate. Exact for a round fence; conservative
    (smaller) for any other shape.

    Points are grouped in cells of _CELL_DEG degrees. For a cell whose centre lies ``c`` metres
    from its farthest corner, every point's distance to a station is within ``c`` of the
    centre's (the triangle inequality), so only the stations whose centre value is within 2c
    (and a metre for rounding) of the centre's least can be a point's least; each point is
    measured (:func:`haversine_np`) against those alone. The result is the one measuring every
    station gives: the least is taken over a set that holds it."""
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    out = np.zeros(len(la), dtype=np.float64)
    if len(la) == 0 or stations.is_empty():
        return out
    radius = stations["radius_m"].cast(pl.Float64).fill_null(np.inf).to_numpy()
    if not np.isfinite(radius).all():
        return out  # a station of unknown size may hold any point: no bound
    s_lat = stations["lat"].cast(pl.Float64).to_numpy()
    s_lon = stations["lon"].cast(pl.Float64).to_numpy()
    rows = np.flatnonzero(np.isfinite(la) & np.isfinite(lo))
    if rows.size == 0:
        return out
    ci = np.floor(la[rows] / _CELL_DEG).astype(np.int64)
    cj = np.floor(lo[rows] / _CELL_DEG).astype(np.int64) + (1 << 30)  # never negative
    cells, inv = np.unique(ci * (1 << 32) + cj, return_inverse=True)
    c_i, c_j = np.divmod(cells, 1 << 32)
    c_j -= 1 << 30
    c_lat, c_lon = (c_i + 0.5) * _CELL_DEG, (c_j + 0.5) * _CELL_DEG
    half = _CELL_DEG / 2
    reach = np.maximum(
        haversine_np(c_lat, c_lon, c_lat + half, c_lon + half),
        haversine_np(c_lat, c_lon, c_lat - half, c_lon + half),
    )
    centre = _great_circle_m(_unit_vectors(c_lat, c_lon), _unit_vectors(s_lat, s_lon)) - radius
    keep = centre <= centre.min(axis=1, keepdims=True) + 2.0 * reach[:, None] + 1.0
    cell_of, station_of = np.nonzero(keep)  # row-major: each cell's stations together
    per_cell = np.bincount(cell_of, minlength=len(cells))
    first = np.concatenate([[0], np.cumsum(per_cell)[:-1]])
    order = np.argsort(inv, kind="stable")
    counts = per_cell[inv[order]]
    done = 0
    while done < len(order):
        # as many points as keep the pairs under _PAIRS (at least one point)
        ends = np.cumsum(counts[done:])
        stop = done + max(1, int(np.searchsorted(ends, _PAIRS, side="right")))
        pts, n = order[done:stop], counts[done:stop]
        starts = np.concatenate([[0], np.cumsum(n)[:-1]])
        within = np.arange(int(n.sum())) - np.repeat(starts, n)
        cand = station_of[np.repeat(first[inv[pts]], n) + within]
        point = rows[np.repeat(pts, n)]
        d = haversine_np(la[point], lo[point], s_lat[cand], s_lon[cand]) - radius[cand]
        best = np.minimum.reduceat(d, starts)
        out[rows[pts]] = np.where(np.isfinite(best), np.maximum(best, 0.0), 0.0)
        done = stop
    return out
