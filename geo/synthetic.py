"""Synthetic station fences and fixes for tests, benchmarks and the demo (seeded, reproducible)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.fences import GREATER_LONDON, ForceArea, Station
from geo.project import LocalFrame

FloatArray = npt.NDArray[np.float64]


def irregular_polygon(
    rng: np.random.Generator,
    frame: LocalFrame,
    size_m: float,
    n_vertices: int = 12,
    hole: bool = False,
) -> Polygon:
    """A star-shaped, valid polygon about ``size_m`` across around the frame's origin ((lng, lat)).

    Vertices at sorted random angles with radii jittered between 55% and 100% of size_m / 2; with
    ``hole`` a smaller star-shaped courtyard well inside it is cut out.
    """
    angles = np.sort(rng.uniform(0.0, 2.0 * math.pi, n_vertices))
    radii = size_m / 2.0 * rng.uniform(0.55, 1.0, n_vertices)
    x, y = radii * np.cos(angles), radii * np.sin(angles)
    shell_lng, shell_lat = frame.to_lnglat(x, y)
    holes = []
    if hole:
        h_ang = np.sort(rng.uniform(0.0, 2.0 * math.pi, 6))
        h_r = size_m * 0.12 * rng.uniform(0.6, 1.0, 6)
        h_lng, h_lat = frame.to_lnglat(h_r * np.cos(h_ang), h_r * np.sin(h_ang))
        holes.append(list(zip(h_lng, h_lat, strict=True)))
    poly = Polygon(list(zip(shell_lng, shell_lat, strict=True)), holes)
    if not poly.is_valid:  # a hole vertex may poke out of a very spiky shell: drop the hole
        poly = Polygon(list(zip(shell_lng, shell_lat, strict=True)))
    return poly


def random_stations(
    n: int,
    seed: int = 0,
    area: ForceArea = GREATER_LONDON,
    min_size_m: float = 40.0,
    max_size_m: float = 200.0,
    min_spacing_m: float = 0.0,
) -> list[Station]:
    """``n`` stations with irregular fences 40-200 m across, spread over ``area``.

    About one in five has a hole and one in ten is a MultiPolygon of two parts. With
    ``min_spacing_m`` > 0, centres are at least that far apart (rejection sampling), so fences of
    up to 200 m never overlap when it exceeds max_size_m.
    """
    rng = np.random.default_rng(seed)
    stations: list[Station] = []
    centres: list[tuple[float, float]] = []
    margin = 0.01
    kx, ky = 69_000.0, 111_000.0
    while len(stations) < n:
        lng0 = rng.uniform(area.min_lng + margin, area.max_lng - margin)
        lat0 = rng.uniform(area.min_lat + margin, area.max_lat - margin)
        if min_spacing_m > 0 and any(
            math.hypot((lng0 - a) * kx, (lat0 - b) * ky) < min_spacing_m for a, b in centres
        ):
            continue
        frame = LocalFrame.at(lng0, lat0)
        size = float(rng.uniform(min_size_m, max_size_m))
        parts = [irregular_polygon(rng, frame, size, int(rng.integers(6, 25)), rng.random() < 0.2)]
        if rng.random() < 0.1:
            s_lng, s_lat = frame.to_lnglat(np.array([size * 0.9]), np.array([0.0]))
            side = LocalFrame.at(float(s_lng[0]), float(s_lat[0]))
            second = irregular_polygon(rng, side, size * 0.3)
            if not second.intersects(parts[0]):
                parts.append(second)
        geom = MultiPolygon(parts)
        if not shapely.is_valid(geom):
            continue
        i = len(stations)
        stations.append(Station(f"S{i:04d}", f"Station {i}", None, geom))
        centres.append((lng0, lat0))
    return stations


def points_near_edges(
    rng: np.random.Generator, stations: list[Station], n: int, max_offset_m: float
) -> tuple[FloatArray, FloatArray]:
    """``n`` points (lat, lng degrees) within ``max_offset_m`` of the stations' ring edges.

    Each point is a uniform position along a random edge moved by a uniform random offset in a
    random direction; a tenth are exactly on an edge or a vertex, before any offset.
    """
    rings = shapely.get_rings(shapely.get_parts([s.geometry for s in stations]))
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    same = np.flatnonzero(ring_idx[1:] == ring_idx[:-1])
    pick = same[rng.integers(0, len(same), n)]
    a, b = coords[pick], coords[pick + 1]
    t = rng.uniform(0.0, 1.0, n)
    t[: n // 20] = 0.0  # exactly on a vertex
    lng = a[:, 0] + t * (b[:, 0] - a[:, 0])
    lat = a[:, 1] + t * (b[:, 1] - a[:, 1])
    r = rng.uniform(0.0, max_offset_m, n)
    r[: n // 10] = 0.0
    theta = rng.uniform(0.0, 2.0 * math.pi, n)
    lat_out = lat + r * np.sin(theta) / 111_200.0
    lng_out = lng + r * np.cos(theta) / (111_200.0 * np.cos(np.radians(lat)))
    return lat_out, lng_out
