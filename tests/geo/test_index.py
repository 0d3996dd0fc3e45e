"""Tests for geo.index: classification of fixes, exactness against shapely, distances, overlaps."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from geo.cells import cell_expr
from geo.errors_model import DEFAULT_ACCURACY_M, SIGMA_PER_ACCURACY
from geo.fences import ForceArea, Station
from geo.index import StationIndex
from geo.project import LocalFrame
from geo.synthetic import irregular_polygon, points_near_edges, random_stations

# Hand-made layout in metres east/north of a point near Charing Cross.
FRAME = LocalFrame.at(-0.1250, 51.5070)
BNG = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def deg(geom: BaseGeometry) -> MultiPolygon:
    g = FRAME.geometry_to_deg(geom)
    return g if isinstance(g, MultiPolygon) else MultiPolygon([g])


def at(x: float, y: float) -> tuple[float, float]:
    """(lat, lon) degrees of a point x m east, y m north of FRAME's origin."""
    lng, lat = FRAME.to_lnglat(np.array([x]), np.array([y]))
    return float(lat[0]), float(lng[0])


# A: 100 x 80 m with a 30 x 20 m courtyard; C overlaps A's east end (x 80..100);
# B: two 40 m parts, 60 m apart.
A = Station(
    "A", "Alpha", None, deg(Polygon(box(0, 0, 100, 80).exterior, [box(30, 30, 60, 50).exterior]))
)
B = Station("B", "Bravo", "Camden", deg(MultiPolygon([box(300, 0, 340, 40), box(400, 0, 440, 40)])))
C = Station("C", "Charlie", None, deg(box(80, 0, 180, 80)))


@pytest.fixture(scope="module")
def index() -> StationIndex:
    return StationIndex.build([B, C, A], near_m=100.0)


def fixes(points: list[tuple[float, float]], **cols: list[object]) -> pl.DataFrame:
    return pl.DataFrame(
        {"lat": [p[0] for p in points], "lon": [p[1] for p in points], **cols},
        schema_overrides={"accuracy_m": pl.Float64, "is_mock": pl.Boolean, "source": pl.Utf8},
    )


def bng_distance(station: Station, lat: float, lon: float) -> float:
    """Reference distance (metres) in the British National Grid, independent of geo.project."""
    geom = shapely.transform(station.geometry, lambda xy: np.column_stack(BNG.transform(*xy.T)))
    x, y = BNG.transform(lon, lat)
    return float(shapely.distance(geom, shapely.Point(x, y)))


def test_station_assignment_for_hand_made_points(index: StationIndex) -> None:
    points = {
        "inside A": (at(10, 10), "A"),
        "in A's courtyard": (at(45, 40), "A"),
        "A's vertex": (at(0, 0), "A"),
        "inside B's second part": (at(420, 20), "B"),
        "between B's parts": (at(370, 20), "B"),
        "overlap, nearer A's centroid": (at(85, 40), "A"),
        "overlap, nearer C's centroid": (at(95, 40), "C"),
        "60 m north of C": (at(150, 140), "C"),
        "150 m south of everything": (at(150, -150), None),
    }
    out = StationIndex.classify(index, fixes([p for p, _ in points.values()]))
    assert dict(zip(points, out["station_id"].to_list(), strict=True)) == {
        k: v for k, (_, v) in points.items()
    }
    inside = (out["boundary_distance_m"] < 0).to_list()
    assert inside == [True, False, False, True, False, True, True, False, None]


def test_signed_distances_match_an_independent_projection(index: StationIndex) -> None:
    pts = [at(50, 10), at(45, 40), at(150, 140), at(370, 20), at(0, 0)]
    out = index.classify(fixes(pts))
    by_id = {"A": A, "B": B, "C": C}
    got = out["boundary_distance_m"].to_list()
    for (lat, lon), sid, d in zip(pts, out["station_id"].to_list(), got, strict=True):
        ref_outside = bng_distance(by_id[sid], lat, lon)
        ref_boundary = float(
            shapely.distance(
                shapely.transform(
                    by_id[sid].geometry.boundary,
                    lambda xy: np.column_stack(BNG.transform(*xy.T)),
                ),
                shapely.Point(*BNG.transform(lon, lat)),
            )
        )
        expected = ref_outside if ref_outside > 0 else -ref_boundary
        assert d == pytest.approx(expected, rel=1e-3, abs=1e-6)
    assert got[0] == pytest.approx(-10.0, rel=1e-3)  # 10 m above A's south edge
    assert got[1] == pytest.approx(10.0, rel=1e-3)  # courtyard centre: 10 m to its long edges
    assert got[4] == pytest.approx(0.0, abs=1e-6)


def phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def box_p(x: float, y: float, sigma: float, x0: float, y0: float, x1: float, y1: float) -> float:
    """Exact Gaussian mass of an axis-aligned box for a fix at (x, y): a product of 1-D terms."""
    return (phi((x1 - x) / sigma) - phi((x0 - x) / sigma)) * (
        phi((y1 - y) / sigma) - phi((y0 - y) / sigma)
    )


def a_p(x: float, y: float, sigma: float) -> float:
    """Exact p_inside of station A (rectangle minus courtyard)."""
    return box_p(x, y, sigma, 0, 0, 100, 80) - box_p(x, y, sigma, 30, 30, 60, 50)


@pytest.mark.parametrize("method", ["half_plane", "exact"])
def test_p_inside_follows_the_error_model(index: StationIndex, method: str) -> None:
    pts = [at(50, 10)] * 5 + [at(150, 140)]
    frame = fixes(
        pts,
        accuracy_m=[5.0, None, None, 5.0, 5.0, 5.0],
        source=["gps", "cell", None, "gps", "gps", "gps"],
        is_mock=[False, False, None, True, None, False],
    )
    p = index.classify(frame, p_method=method)["p_inside"].to_list()
    sigma_gps = 5.0 * SIGMA_PER_ACCURACY
    sigma_cell = DEFAULT_ACCURACY_M["cell"] * SIGMA_PER_ACCURACY
    # Along a straight edge, far from corners, both methods give the exact value.
    assert p[0] == pytest.approx(a_p(50, 10, sigma_gps), abs=1e-4)
    assert p[1] == pytest.approx(a_p(50, 10, sigma_cell), rel=2e-3)
    assert p[1] < 0.002  # a cell-tower fix is no evidence of presence in a 100 m station
    assert p[2] == pytest.approx(p[1], rel=1e-9)  # unknown source: as conservative as cell
    assert p[3] == 0.0  # mock
    assert p[4] == pytest.approx(p[0])  # null is_mock means not mock
    assert p[5] == pytest.approx(box_p(150, 140, sigma_gps, 80, 0, 180, 80), abs=1e-6)


def test_exact_p_inside_is_right_at_corners_where_the_half_plane_is_not(
    index: StationIndex,
) -> None:
    # Outside A's south-west corner, 3.6 m from it, and inside near it.
    sigma = 6.0 * SIGMA_PER_ACCURACY
    frame = fixes([at(-3, -2), at(4, 3)], accuracy_m=[6.0, 6.0])
    exact = index.classify(frame, p_method="exact")["p_inside"].to_list()
    half = index.classify(frame, p_method="half_plane")["p_inside"].to_list()
    assert exact[0] == pytest.approx(a_p(-3, -2, sigma), abs=1e-3)
    assert exact[1] == pytest.approx(a_p(4, 3, sigma), abs=1e-3)
    assert half[0] == pytest.approx(phi(-math.hypot(3, 2) / sigma), abs=1e-5)
    assert half[1] == pytest.approx(phi(3 / sigma), abs=1e-5)
    assert half[0] - exact[0] > 0.1  # the documented corner error of the fast method
    with pytest.raises(ValueError, match="p_method"):
        index.classify(frame, p_method="monte_carlo")


def test_mock_fix_keeps_its_station_but_is_never_inside(index: StationIndex) -> None:
    out = index.classify(fixes([at(50, 40 - 25)], is_mock=[True], accuracy_m=[3.0]))
    assert out.row(0, named=True)["station_id"] == "A"
    assert out["boundary_distance_m"][0] < 0
    assert out["p_inside"][0] == 0.0


def test_output_keeps_rows_order_and_columns(index: StationIndex) -> None:
    frame = fixes([at(10, 10), at(5000, 5000), at(95, 40)], device=["d1", "d2", "d3"])
    out = index.classify(frame)
    assert out.columns == [*frame.columns, "station_id", "boundary_distance_m", "p_inside"]
    assert out.select(frame.columns).equals(frame)
    assert out.schema["station_id"] == pl.Utf8
    assert out.schema["boundary_distance_m"] == pl.Float64
    assert out.schema["p_inside"] == pl.Float64
    assert out["station_id"].to_list() == ["A", None, "C"]
    assert out["boundary_distance_m"].is_null().to_list() == [False, True, False]
    assert out["p_inside"][1] == 0.0


def test_null_and_nan_coordinates_get_no_station(index: StationIndex) -> None:
    frame = pl.DataFrame(
        {"lat": [None, float("nan"), at(10, 10)[0]], "lon": [-0.125, -0.125, None]}
    )
    out = index.classify(frame.cast({"lat": pl.Float64, "lon": pl.Float64}))
    assert out["station_id"].to_list() == [None, None, None]


def test_empty_frame_and_empty_index() -> None:
    empty = pl.DataFrame({"lat": [], "lon": []}, schema={"lat": pl.Float64, "lon": pl.Float64})
    out = StationIndex.build([A]).classify(empty)
    assert out.height == 0
    assert out.columns == ["lat", "lon", "station_id", "boundary_distance_m", "p_inside"]
    none = StationIndex.build([]).classify(fixes([at(10, 10)]))
    assert none["station_id"].to_list() == [None]


def test_stored_cell_path_equals_raw_path() -> None:
    stations = random_stations(30, seed=3, area=_small_area())
    index = StationIndex.build(stations)
    rng = np.random.default_rng(5)
    lat, lon = points_near_edges(rng, stations, 20_000, max_offset_m=120.0)
    frame = pl.DataFrame(
        {"lat": lat, "lon": lon, "accuracy_m": rng.uniform(2, 40, len(lat))}
    ).with_columns(h3_cell=cell_expr())
    # A tenth of the stored cells are null: those rows fall back to computing the cell.
    frame = frame.with_columns(
        h3_cell=pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("h3_cell"))
    )
    from_cells = index.classify(frame)
    from_raw = index.classify(frame.drop("h3_cell"))
    cols = ["station_id", "boundary_distance_m", "p_inside"]
    assert from_cells.select(cols).equals(from_raw.select(cols))
    assert from_raw["station_id"].null_count() < len(lat) // 2


def test_buffer_widens_the_fence() -> None:
    buffered = Station("A", "Alpha", None, A.geometry, buffer_m=10.0)
    out = StationIndex.build([buffered]).classify(fixes([at(-5, 40), at(-15, 40)]))
    assert out["station_id"].to_list() == ["A", "A"]
    assert out["boundary_distance_m"][0] == pytest.approx(-5.0, rel=1e-3)
    assert out["boundary_distance_m"][1] == pytest.approx(5.0, rel=1e-3)


def test_near_distance_is_configurable() -> None:
    point = [at(-150, 40)]
    assert StationIndex.build([A], near_m=100).classify(fixes(point))["station_id"][0] is None
    assert StationIndex.build([A], near_m=200).classify(fixes(point))["station_id"][0] == "A"
    with pytest.raises(ValueError, match="near_m"):
        StationIndex.build([A], near_m=-1)
    with pytest.raises(ValueError, match="unique"):
        StationIndex.build([A, A])


def test_station_centroids(index: StationIndex) -> None:
    cents = index.station_centroids()
    assert cents["station_id"].to_list() == ["A", "B", "C"]
    # A: 8000 m2 rectangle minus a 600 m2 courtyard centred at (45, 40).
    x_a = (8000 * 50 - 600 * 45) / 7400
    lat_a, lon_a = at(x_a, 40)
    lat_c, lon_c = at(130, 40)
    assert cents.row(0)[1:3] == pytest.approx((lat_a, lon_a), abs=1e-8)
    assert cents.row(2)[1:3] == pytest.approx((lat_c, lon_c), abs=1e-8)


def test_station_radius_bounds_the_fence(index: StationIndex) -> None:
    """Every fence vertex lies within radius_m of the centroid, and the farthest one on it."""
    cents = index.station_centroids()
    for sid, radius in cents.select("station_id", "radius_m").iter_rows():
        geom = index.geometries[index.station_ids.index(sid)]
        coords = shapely.get_coordinates(geom)
        lat0, lon0 = cents.filter(pl.col("station_id") == sid).row(0)[1:3]
        geod = pyproj.Geod(ellps="WGS84")
        n = len(coords)
        _, _, d = geod.inv(np.full(n, lon0), np.full(n, lat0), coords[:, 0], coords[:, 1])
        assert max(d) == pytest.approx(radius, rel=1e-3)


def test_distance_to_station(index: StationIndex) -> None:
    pts = [at(150, 140), at(10, 10), at(370, 20), at(0, 0), at(10, 10)]
    lat = np.array([p[0] for p in pts])
    lon = np.array([p[1] for p in pts])
    d = index.distance_to_station_m(lat, lon, ["C", "A", "B", "A", "nope"])
    assert d[0] == pytest.approx(bng_distance(C, *pts[0]), rel=1e-3)
    assert d[2] == pytest.approx(30.0, rel=1e-3)
    assert d[1] == 0.0
    assert d[3] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(d[4])


def test_cover_cells_lists_each_station_with_its_classes(index: StationIndex) -> None:
    cover = index.cover_cells()
    classes = cover.group_by("station_id").agg(pl.col("cell_class").unique().sort())
    assert sorted(classes.rows()) == [
        ("A", ["boundary", "core", "near"]),
        ("B", ["boundary", "core", "near"]),
        ("C", ["boundary", "core", "near"]),
    ]


# ---- exactness against shapely's contains ---------------------------------------------------


def _small_area() -> ForceArea:
    return ForceArea(min_lng=-0.20, min_lat=51.48, max_lng=-0.05, max_lat=51.54)


def reference_station(stations: list[Station], lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """shapely.contains per station on the points in its bounding box; stations must not overlap."""
    ref = np.full(len(lat), None, dtype=object)
    for s in stations:
        x0, y0, x1, y1 = s.geometry.bounds
        cand = np.flatnonzero((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        hit = cand[shapely.contains_xy(s.geometry, lon[cand], lat[cand])]
        assert all(v is None for v in ref[hit]), "reference needs non-overlapping stations"
        ref[hit] = s.station_id
    return ref


@pytest.fixture(scope="module")
def spaced_stations() -> list[Station]:
    return random_stations(60, seed=11, area=_small_area(), min_spacing_m=450.0)


def test_one_million_points_match_shapely_contains(spaced_stations: list[Station]) -> None:
    index = StationIndex.build(spaced_stations)
    rng = np.random.default_rng(12)
    lat_e, lon_e = points_near_edges(rng, spaced_stations, 600_000, max_offset_m=2.0)
    area = _small_area()
    lat_u = rng.uniform(area.min_lat, area.max_lat, 400_000)
    lon_u = rng.uniform(area.min_lng, area.max_lng, 400_000)
    lat = np.concatenate([lat_e, lat_u])
    lon = np.concatenate([lon_e, lon_u])
    got = index.station_at(lat, lon)
    ref = reference_station(spaced_stations, lat, lon)
    mismatches = np.flatnonzero(got != ref)
    assert mismatches.size == 0, list(zip(lat[mismatches[:5]], lon[mismatches[:5]], strict=True))
    inside_edge = int(np.sum(ref[:600_000] != None))  # noqa: E711 - elementwise on objects
    assert 200_000 < inside_edge < 400_000  # both sides of the edges are well represented


def test_overlapping_stations_go_to_the_nearer_centroid() -> None:
    rng = np.random.default_rng(21)
    stations = random_stations(40, seed=21, area=_small_area())
    # Duplicate each fence shifted 30 m east: every station overlaps its twin.
    twins = [
        Station(
            s.station_id + "T",
            s.name,
            None,
            shapely.affinity.translate(s.geometry, xoff=30 / 69_400),
        )
        for s in stations
    ]
    everything = stations + twins
    index = StationIndex.build(everything)
    lat, lon = points_near_edges(rng, everything, 50_000, max_offset_m=40.0)
    got = index.station_at(lat, lon)

    bng = [
        shapely.transform(s.geometry, lambda xy: np.column_stack(BNG.transform(*xy.T)))
        for s in everything
    ]
    cents = np.array([[g.centroid.x, g.centroid.y] for g in bng])
    px, py = BNG.transform(lon, lat)
    best = np.full(len(lat), np.inf)
    ref = np.full(len(lat), None, dtype=object)
    for i, s in enumerate(everything):
        inside = shapely.contains_xy(s.geometry, lon, lat)
        dist = np.hypot(px - cents[i, 0], py - cents[i, 1])
        better = inside & (dist < best)
        best[better] = dist[better]
        ref[better] = s.station_id
    assert np.array_equal(got, ref)
    both = sum(
        int(
            np.sum(
                shapely.contains_xy(s.geometry, lon, lat)
                & shapely.contains_xy(t.geometry, lon, lat)
            )
        )
        for s, t in zip(stations, twins, strict=True)
    )
    assert both > 1000


@st.composite
def fence_and_points(draw: st.DrawFn) -> tuple[Station, np.ndarray, np.ndarray]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    frame = LocalFrame.at(draw(st.floats(-0.5, 0.3)), draw(st.floats(51.3, 51.7)))
    poly = irregular_polygon(
        rng,
        frame,
        size_m=draw(st.floats(20.0, 300.0)),
        n_vertices=draw(st.integers(3, 40)),
        hole=draw(st.booleans()),
    )
    station = Station("P", "P", None, MultiPolygon([poly]))
    lat, lon = points_near_edges(
        rng, [station], 300, max_offset_m=draw(st.sampled_from([1e-9, 1e-6, 0.01, 2.0]))
    )
    # Also every vertex exactly, and points a few ulps either side of it.
    coords = shapely.get_coordinates(poly)
    eps = np.array([0.0, 1e-12, -1e-12, 1e-15])
    vx = (coords[:, :1] + eps).ravel()
    vy = np.repeat(coords[:, 1], len(eps))
    return station, np.concatenate([lat, vy]), np.concatenate([lon, vx])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fence_and_points())
def test_property_assignment_equals_shapely_contains(
    case: tuple[Station, np.ndarray, np.ndarray],
) -> None:
    station, lat, lon = case
    got = StationIndex.build([station]).station_at(lat, lon)
    expected = np.where(shapely.contains_xy(station.geometry, lon, lat), "P", np.array(None))
    assert np.array_equal(got, expected)


def test_long_and_unicode_station_ids_survive_the_output_columns() -> None:
    long_id = "MET-WESTMINSTER-CHARING-CROSS-0001"
    stations = [
        Station(long_id, "Charing Cross", None, A.geometry),
        Station("Bß-ü", "Bravo", None, B.geometry),
    ]
    out = StationIndex.build(stations).classify(fixes([at(10, 10), at(420, 20), at(9e3, 0)]))
    assert out["station_id"].to_list() == [long_id, "Bß-ü", None]
    assert out.filter(pl.col("station_id") == long_id).height == 1


def test_cell_classes_from_stored_cells_alone() -> None:
    big = Station("D", "Delta", None, deg(box(1000, 0, 1400, 400)))
    index = StationIndex.build([A, B, C, big])
    pts = [at(1200, 200), at(50, -40), at(150, 140), at(370, 20), at(150, -150), at(0, 0)]
    frame = fixes(pts).with_columns(h3_cell=cell_expr())
    got = index.cell_classes(frame["h3_cell"])
    assert got.columns == ["station_id", "cell_class"]
    rows = got.rows()
    assert rows[0] == ("D", "core")  # 200 m from every edge
    assert rows[1] == ("A", "near")  # 40 m south of A, 50 m from C
    assert rows[2] == ("C", "near")
    assert rows[3] == ("B", "near")
    assert rows[4] == (None, None)
    assert rows[5] == ("A", "boundary")
    assert index.cell_classes(np.array([0], dtype=np.uint64)).rows() == [(None, None)]


def test_paths_agree_when_covers_overlap() -> None:
    # Stations 60-120 m apart share near cells: cells with several entries on both paths.
    stations = random_stations(30, seed=8, area=ForceArea(-0.14, 51.49, -0.10, 51.52))
    index = StationIndex.build(stations)
    rng = np.random.default_rng(9)
    lat, lon = points_near_edges(rng, stations, 30_000, max_offset_m=60.0)
    frame = pl.DataFrame({"lat": lat, "lon": lon}).with_columns(h3_cell=cell_expr())
    cols = ["station_id", "boundary_distance_m", "p_inside"]
    assert (
        index.classify(frame)
        .select(cols)
        .equals(index.classify(frame.drop("h3_cell")).select(cols))
    )
    assert not index._h3.single  # the case under test really has shared cells


def test_index_survives_pickling_for_dask_workers(index: StationIndex) -> None:
    import pickle

    frame = fixes([at(10, 10), at(45, 40), at(150, 140), at(370, 20), at(0, 0)])
    again = pickle.loads(pickle.dumps(index))
    assert again.classify(frame).equals(index.classify(frame))


def test_kernel_distances_and_boundary_subcells_agree_with_shapely(
    spaced_stations: list[Station],
) -> None:
    # Every fix within reach of a fence (up to near_m and beyond): the distance over the cell's
    # features (vertices and segments) equals the distance to the whole boundary, and a core
    # (near) sub-cell of a boundary cell holds only inside (outside) points, on both sides of
    # every edge and exactly on edges and vertices.
    from geo.cover import BOUNDARY, CORE, NEAR

    index = StationIndex.build(spaced_stations)
    rng = np.random.default_rng(13)
    lat_b, lon_b = points_near_edges(rng, spaced_stations, 200_000, max_offset_m=12.0)
    lat_n, lon_n = points_near_edges(rng, spaced_stations, 100_000, max_offset_m=110.0)
    lat, lon = np.concatenate([lat_b, lat_n]), np.concatenate([lon_b, lon_n])
    row = index._grid_rows.find(lon, lat)
    assert np.all(row[:200_000] >= 0)
    keep = np.flatnonzero(row >= 0)
    assert len(keep) > 290_000
    lat, lon, row = lat[keep], lon[keep], row[keep]
    entry = row.astype(np.int64)  # one entry per cell: these fences are 450 m apart
    st = index._planar.entry_station[entry]
    x = (lon - index._origin_lng[st]) * index._kx[st]
    y = (lat - index._origin_lat[st]) * index._ky[st]
    got = index._planar_features.distance(
        index._seg, x, y, index._planar_features.entry_info[entry]
    )
    boundaries = np.array([g.boundary for g in index._geometries_m()], dtype=object)
    expected = shapely.distance(boundaries[st], shapely.points(x, y))
    assert np.max(np.abs(got - expected)) < 1e-9
    # Both kinds of feature are exercised: cells with vertices only, segments only, and both.
    from geo.index import CLASS_SHIFT, FEATURE_WIDTHS, GROUP_SHIFT

    info = index._planar_features.entry_info[entry]
    group = (info >> GROUP_SHIFT) & ((1 << (CLASS_SHIFT - GROUP_SHIFT)) - 1)
    has_v = group // len(FEATURE_WIDTHS) > 0
    has_s = group % len(FEATURE_WIDTHS) > 0
    for kind in (has_v & ~has_s, has_s & ~has_v, has_v & has_s):
        assert np.mean(kind) > 0.05
    inside = shapely.contains_xy(index.geometries[st], lon, lat)
    b = np.flatnonzero(index._planar.entry_class[entry] == BOUNDARY)
    sub = index._sub_classes(entry[b], lon[b], lat[b])
    assert np.all(inside[b[sub == CORE]])
    assert not np.any(inside[b[sub == NEAR]])
    assert 0 < np.sum(sub == BOUNDARY) < 0.5 * len(b)
    assert np.sum(sub == CORE) > 0.2 * len(b)
    assert np.sum(sub == NEAR) > 0.2 * len(b)
