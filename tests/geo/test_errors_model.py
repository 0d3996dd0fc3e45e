"""Tests for geo.errors_model: the 68% radius, per-source defaults and p_inside."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
import shapely
from shapely.geometry import box

from geo.errors_model import (
    DEFAULT_ACCURACY_M,
    SIGMA_PER_ACCURACY,
    SOURCES,
    effective_accuracy_m,
    normal_cdf,
    p_inside,
    polygon_p_inside,
    sigma_m,
    source_codes,
)


def test_accuracy_is_the_68_percent_radius_of_the_gaussian() -> None:
    rng = np.random.default_rng(1)
    accuracy = 10.0
    sigma = float(sigma_m(np.array([accuracy]))[0])
    xy = rng.normal(0.0, sigma, size=(400_000, 2))
    share = float(np.mean(np.hypot(xy[:, 0], xy[:, 1]) <= accuracy))
    assert share == pytest.approx(0.68, abs=0.003)
    assert SIGMA_PER_ACCURACY == pytest.approx(1 / 1.50959, rel=1e-5)


def test_source_codes_are_case_insensitive_and_null_is_unknown() -> None:
    codes = source_codes(pl.Series(["GPS", " wifi", "cell", "fused", None, "bluetooth"]), 6)
    assert [SOURCES[c] for c in codes] == ["gps", "wifi", "cell", "fused", "unknown", "unknown"]
    assert [SOURCES[c] for c in source_codes(None, 2)] == ["unknown", "unknown"]


def test_missing_or_invalid_accuracy_takes_the_source_default() -> None:
    acc = np.array([8.0, np.nan, 0.0, -3.0, np.inf, np.nan])
    codes = source_codes(pl.Series(["gps", "gps", "wifi", "cell", "fused", None]), 6)
    assert effective_accuracy_m(acc, codes).tolist() == [
        8.0,
        DEFAULT_ACCURACY_M["gps"],
        DEFAULT_ACCURACY_M["wifi"],
        DEFAULT_ACCURACY_M["cell"],
        DEFAULT_ACCURACY_M["fused"],
        DEFAULT_ACCURACY_M["unknown"],
    ]


def test_defaults_are_conservative_in_the_documented_order() -> None:
    d = DEFAULT_ACCURACY_M
    assert d["gps"] < d["fused"] < d["wifi"] < d["cell"] <= d["unknown"]


def test_normal_cdf_matches_erf() -> None:
    x = np.linspace(-8.0, 8.0, 1601)
    expected = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x])
    assert np.max(np.abs(normal_cdf(x) - expected)) < 2e-7
    assert normal_cdf(np.array([np.inf, -np.inf])).tolist() == [1.0, 0.0]
    assert np.isnan(normal_cdf(np.array([np.nan]))[0])


def test_p_inside_is_a_half_on_the_boundary_and_monotone_in_distance() -> None:
    d = np.linspace(-50.0, 50.0, 101)
    p = p_inside(d, np.full(101, 5.0), np.full(101, 1e6))
    assert p[50] == pytest.approx(0.5, abs=1e-7)
    assert np.all(np.diff(p) <= 0.0)
    assert p[0] == pytest.approx(1.0, abs=1e-7)
    assert p[-1] == pytest.approx(0.0, abs=1e-7)


def test_p_inside_is_capped_by_area_for_a_huge_error() -> None:
    sigma = np.array([1000.0])
    p = p_inside(np.array([-20.0]), sigma, np.array([40.0 * 40.0]))
    assert p[0] == pytest.approx(1600.0 / (2 * math.pi * 1e6))
    assert p_inside(np.array([np.nan]), sigma, np.array([1.0]))[0] == 0.0


@pytest.mark.parametrize(("offset_m", "accuracy_m"), [(-30.0, 10.0), (-5.0, 8.0), (4.0, 6.0)])
def test_p_inside_agrees_with_monte_carlo_for_a_large_square(
    offset_m: float, accuracy_m: float
) -> None:
    # A 200 m square; the fix sits offset_m from its west edge on the centre line (negative:
    # inside). The reference draws true positions from the stated Gaussian.
    square = box(0.0, -100.0, 200.0, 100.0)
    fix_x = -offset_m
    sigma = accuracy_m * SIGMA_PER_ACCURACY
    rng = np.random.default_rng(7)
    xy = rng.normal(0.0, sigma, size=(200_000, 2)) + np.array([fix_x, 0.0])
    expected = float(np.mean(shapely.contains_xy(square, xy[:, 0], xy[:, 1])))
    got = p_inside(np.array([offset_m]), np.array([sigma]), np.array([square.area]))[0]
    assert got == pytest.approx(expected, abs=0.005)


def _edges(geom: shapely.Geometry) -> tuple[np.ndarray, ...]:
    from geo.cover import ring_segments_m

    return ring_segments_m(geom)


def _exact_for(geom: shapely.Geometry, x: np.ndarray, y: np.ndarray, sigma: float) -> np.ndarray:
    ax, ay, bx, by = _edges(geom)
    n, e = len(x), len(ax)
    fix = np.repeat(np.arange(n), e)
    edge = np.tile(np.arange(e), n)
    inside = shapely.contains_xy(geom, x, y)
    return polygon_p_inside(
        inside,
        np.full(n, sigma),
        fix,
        ax[edge] - x[fix],
        ay[edge] - y[fix],
        bx[edge] - x[fix],
        by[edge] - y[fix],
    )


@pytest.mark.parametrize("sigma", [1.0, 5.0, 30.0, 1000.0])
def test_polygon_p_inside_matches_the_closed_form_for_a_rectangle(sigma: float) -> None:
    rng = np.random.default_rng(11)
    x = rng.uniform(-40.0, 140.0, 500)
    y = rng.uniform(-40.0, 120.0, 500)
    got = _exact_for(box(0.0, 0.0, 100.0, 80.0), x, y, sigma)
    expected = (normal_cdf((100 - x) / sigma) - normal_cdf(-x / sigma)) * (
        normal_cdf((80 - y) / sigma) - normal_cdf(-y / sigma)
    )
    assert np.max(np.abs(got - expected)) < 1e-3


def test_polygon_p_inside_matches_monte_carlo_for_a_concave_fence_with_a_hole() -> None:
    shell = [(0, 0), (60, 0), (60, 20), (25, 20), (25, 50), (0, 50)]  # an L
    fence = shapely.Polygon(shell, [[(5, 5), (15, 5), (15, 12), (5, 12)]])
    points = np.array([[10.0, 8.0], [27.0, 22.0], [24.0, 19.0], [-3.0, 25.0], [40.0, 10.0]])
    sigma = 6.0
    got = _exact_for(fence, points[:, 0], points[:, 1], sigma)
    rng = np.random.default_rng(12)
    noise = rng.normal(0.0, sigma, size=(400_000, 2))
    for (px, py), p in zip(points, got, strict=True):
        mc = float(np.mean(shapely.contains_xy(fence, px + noise[:, 0], py + noise[:, 1])))
        assert p == pytest.approx(mc, abs=0.004)


def test_polygon_p_inside_is_a_half_on_an_edge() -> None:
    got = _exact_for(box(0.0, 0.0, 100.0, 80.0), np.array([50.0]), np.array([0.0]), 5.0)
    assert got.tolist() == [0.5]
