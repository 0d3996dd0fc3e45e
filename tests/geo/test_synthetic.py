"""Tests for geo.synthetic: generated fences are valid, sized and spaced as documented."""

from __future__ import annotations

import numpy as np
import pyproj
import shapely

from geo.fences import GREATER_LONDON, validate_geometry
from geo.synthetic import points_near_edges, random_stations

BNG = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def test_random_stations_are_valid_sized_and_reproducible() -> None:
    stations = random_stations(50, seed=4, min_spacing_m=300.0)
    assert [s.station_id for s in stations] == [f"S{i:04d}" for i in range(50)]
    assert [s.geometry.wkb for s in stations] == [
        s.geometry.wkb for s in random_stations(50, seed=4, min_spacing_m=300.0)
    ]
    for s in stations:
        validate_geometry(s.station_id, s.geometry, GREATER_LONDON)
        x0, y0, x1, y1 = shapely.transform(
            s.geometry.geoms[0], lambda xy: np.column_stack(BNG.transform(*xy.T))
        ).bounds
        assert max(x1 - x0, y1 - y0) <= 200.0
    assert not any(
        a.geometry.intersects(b.geometry) for i, a in enumerate(stations) for b in stations[:i]
    )
    assert any(len(s.geometry.geoms) == 2 for s in stations)
    assert any(s.geometry.geoms[0].interiors for s in stations)


def test_points_near_edges_are_within_the_offset() -> None:
    stations = random_stations(5, seed=9)
    rng = np.random.default_rng(1)
    lat, lon = points_near_edges(rng, stations, 2000, max_offset_m=2.0)
    boundary = shapely.union_all([s.geometry.boundary for s in stations])
    pts = shapely.points(*BNG.transform(lon, lat))
    bound_bng = shapely.transform(boundary, lambda xy: np.column_stack(BNG.transform(*xy.T)))
    d = shapely.distance(bound_bng, pts)
    assert float(d.max()) <= 2.01
    assert float(np.median(d)) > 0.3
