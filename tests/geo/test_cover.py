"""Tests for geo.cover: the H3 cover misses no cell, and core/near cells are what they claim."""

from __future__ import annotations

import h3
import numpy as np
import polars as pl
import pyproj
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geo.cells import STORE_RESOLUTION
from geo.cover import BOUNDARY, CORE, NEAR, cover_station, ring_segments_m
from geo.fences import ForceArea, Station
from geo.index import StationIndex
from geo.project import LocalFrame
from geo.synthetic import points_near_edges, random_stations

NEAR_M = 60.0
AREA = ForceArea(min_lng=-0.20, min_lat=51.48, max_lng=-0.05, max_lat=51.54)
BNG = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def cell_polygon(cell: int) -> Polygon:
    """The H3 cell as a shapely polygon in (lng, lat): h3 gives (lat, lng), so swap."""
    return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))])


def to_bng(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(BNG.transform(*xy.T)))


@pytest.fixture(scope="module", params=[0, 1, 2, 3])
def station(request: pytest.FixtureRequest) -> Station:
    stations = random_stations(4, seed=31, area=AREA)
    index: int = request.param
    return stations[index]


def cover_of(station: Station) -> tuple[dict[int, int], LocalFrame]:
    c = station.geometry.centroid
    frame = LocalFrame.at(c.x, c.y)
    cover = cover_station(station.geometry, frame, NEAR_M)
    return dict(zip(cover.cells.tolist(), cover.cell_class.tolist(), strict=True)), frame


def test_every_cell_touching_the_fence_is_core_or_boundary(station: Station) -> None:
    classes, _ = cover_of(station)
    shape = h3.geo_to_h3shape(station.geometry)
    touching = h3.h3shape_to_cells_experimental(shape, STORE_RESOLUTION, contain="overlap")
    assert touching  # non-vacuous
    missing = [c for c in touching if classes.get(h3.str_to_int(c)) not in (CORE, BOUNDARY)]
    assert missing == []


def test_core_cells_are_inside_and_near_cells_outside_and_close(station: Station) -> None:
    classes, _ = cover_of(station)
    fence_bng = to_bng(station.geometry)
    counts = {CORE: 0, BOUNDARY: 0, NEAR: 0}
    for cell, cls in classes.items():
        poly = cell_polygon(cell)
        counts[cls] += 1
        if cls == CORE:
            assert station.geometry.contains(poly)
        elif cls == NEAR:
            assert not station.geometry.intersects(poly)
            # Near means the cell's bounding disc (radius < 11 m at res 12) comes within near_m.
            centre = to_bng(poly.centroid)
            assert shapely.distance(fence_bng, centre) <= NEAR_M + 11.0
    assert counts[CORE] > 0
    assert counts[BOUNDARY] > 0
    assert counts[NEAR] > counts[BOUNDARY]


def test_no_cell_within_near_m_is_left_out(station: Station) -> None:
    classes, frame = cover_of(station)
    zone = frame.geometry_to_deg(frame.geometry_to_m(station.geometry).buffer(NEAR_M))
    touching = h3.h3shape_to_cells_experimental(
        h3.geo_to_h3shape(zone), STORE_RESOLUTION, contain="overlap"
    )
    assert len(touching) > len(classes) // 2
    assert [c for c in touching if h3.str_to_int(c) not in classes] == []


def test_ring_segments_cover_exterior_and_holes() -> None:
    shell = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
    hole = [(4.0, 4.0), (6.0, 4.0), (5.0, 6.0)]
    geom = MultiPolygon([Polygon(shell, [hole])])
    ax, ay, bx, by = ring_segments_m(geom)
    assert len(ax) == 4 + 3
    assert sum(np.hypot(bx - ax, by - ay)) == pytest.approx(40.0 + 2.0 + 2 * np.hypot(1.0, 2.0))


def test_pruned_segments_give_exact_distances() -> None:
    stations = random_stations(20, seed=41, area=AREA)
    index = StationIndex.build(stations, near_m=NEAR_M)
    rng = np.random.default_rng(42)
    lat, lon = points_near_edges(rng, stations, 40_000, max_offset_m=70.0)
    out = index.classify(pl.DataFrame({"lat": lat, "lon": lon}))
    sid = out["station_id"].to_numpy()
    has = np.flatnonzero(sid != None)  # noqa: E711 - elementwise on objects
    assert len(has) > 30_000
    by_id = {s.station_id: s for s in stations}
    # Reference: shapely's distance to the whole boundary in each station's own metric frame.
    cents = index.station_centroids()
    origin = {r[0]: (r[2], r[1]) for r in cents.iter_rows()}
    expected = np.full(len(has), np.nan)
    for station_id, (lng0, lat0) in origin.items():
        k = np.flatnonzero(sid[has] == station_id)
        frame = LocalFrame.at(lng0, lat0)
        boundary = frame.geometry_to_m(by_id[station_id].geometry.boundary)
        x, y = frame.to_xy(lon[has[k]], lat[has[k]])
        expected[k] = shapely.distance(boundary, shapely.points(x, y))
    got = np.abs(out["boundary_distance_m"].to_numpy()[has])
    assert np.max(np.abs(got - expected)) < 1e-6
