"""Tests for geo.project: metric frames and point-to-segment distance."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
from shapely.geometry import Polygon

from geo.project import LocalFrame, metres_per_degree, segment_distance_m

GEOD = pyproj.Geod(ellps="WGS84")


@pytest.mark.parametrize("lat", [0.0, 51.5, 60.0])
def test_metres_per_degree_matches_geodesic_distance(lat: float) -> None:
    kx, ky = metres_per_degree(lat)
    d = 0.001
    _, _, east = GEOD.inv(-d / 2, lat, d / 2, lat)
    _, _, north = GEOD.inv(0.0, lat - d / 2, 0.0, lat + d / 2)
    assert kx * d == pytest.approx(east, rel=1e-7)
    assert ky * d == pytest.approx(north, rel=1e-7)


def test_frame_round_trips_points_and_geometries() -> None:
    frame = LocalFrame.at(-0.1, 51.5)
    lng = np.array([-0.1, -0.099, -0.102])
    lat = np.array([51.5, 51.501, 51.499])
    x, y = frame.to_xy(lng, lat)
    assert x[0] == 0.0
    assert y[0] == 0.0
    back_lng, back_lat = frame.to_lnglat(x, y)
    np.testing.assert_allclose(back_lng, lng, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back_lat, lat, rtol=0, atol=1e-12)
    poly = Polygon(zip(lng, lat, strict=True))
    assert frame.geometry_to_deg(frame.geometry_to_m(poly)).equals_exact(poly, 1e-12)


def test_frame_distance_is_geodesic_within_a_kilometre() -> None:
    frame = LocalFrame.at(-0.1, 51.5)
    _, _, expected = GEOD.inv(-0.1, 51.5, -0.09, 51.506)
    x, y = frame.to_xy(np.array([-0.09]), np.array([51.506]))
    assert float(np.hypot(x[0], y[0])) == pytest.approx(expected, rel=1e-4)


def test_segment_distance_cases() -> None:
    px = np.array([5.0, -3.0, 14.0, 5.0, 1.0])
    py = np.array([2.0, 4.0, -3.0, 0.0, 1.0])
    ax = np.array([0.0, 0.0, 0.0, 0.0, 2.0])
    ay = np.zeros(5)
    bx = np.array([10.0, 10.0, 10.0, 10.0, 2.0])
    by = np.zeros(5)
    # Over the middle, beyond end a, beyond end b, on the segment, zero-length segment.
    expected = [2.0, 5.0, 5.0, 0.0, np.hypot(1.0, 1.0)]
    np.testing.assert_allclose(segment_distance_m(px, py, ax, ay, bx, by), expected)
