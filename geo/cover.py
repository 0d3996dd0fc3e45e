"""H3 cover of a station fence: cells within near_m, split into core, boundary and near."""

from __future__ import annotations

from dataclasses import dataclass

import h3.api.basic_int as h3i
import numpy as np
import numpy.typing as npt
import polars as pl
import polars_h3 as plh3
import shapely
from shapely.geometry import MultiPolygon

from geo.cells import STORE_RESOLUTION
from geo.project import LocalFrame, segment_distance_m

CORE: int = 0  # the cell lies wholly inside the fence: no geometry test needed
BOUNDARY: int = 1  # the cell may cross the fence's boundary: exact point-in-polygon test
NEAR: int = 2  # wholly outside; its bounding disc comes within near_m of the fence

# Slack (metres) between an H3 cell and the disc we bound it by. H3 cell edges are great-circle
# arcs while our frame treats (lng, lat) as planar; at resolution 12 the two differ by microns, so
# 5 cm is a wide safety margin that only turns a few cells from core/near into boundary.
CELL_SLACK_M = 0.05
# Extra buffer (metres) for collecting candidate cells by centre: must exceed any cell's
# circumradius (about 10.7 m at resolution 12); checked at build.
CANDIDATE_PAD_M = 30.0

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class StationCover:
    """The cells of one station's cover with, per cell, its class and the fence segments that can
    be nearest to any point of the cell (CSR: ``seg_start``/``seg_count`` into ``seg_local``).

    Segment numbers are local to the station's ring segments (``segments_m``).
    """

    cells: npt.NDArray[np.uint64]
    cell_class: npt.NDArray[np.int8]
    centre_lng: FloatArray
    centre_lat: FloatArray
    radius_m: FloatArray
    seg_start: IntArray
    seg_count: IntArray
    seg_local: IntArray


def ring_segments_m(geom_m: MultiPolygon) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Every edge of every ring (exteriors and holes) of a polygonal geometry: (ax, ay, bx, by)."""
    rings = shapely.get_rings(shapely.get_parts(geom_m))
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    same = ring_idx[1:] == ring_idx[:-1]
    a = coords[:-1][same]
    b = coords[1:][same]
    return a[:, 0].copy(), a[:, 1].copy(), b[:, 0].copy(), b[:, 1].copy()


def candidate_cells(zone_deg: MultiPolygon, resolution: int = STORE_RESOLUTION) -> list[int]:
    """H3 cells whose centres lie in ``zone_deg`` ((lng, lat) degrees; h3 reads GeoJSON order)."""
    return list(h3i.geo_to_cells(zone_deg, resolution))


def cell_geometry(
    cells: npt.NDArray[np.uint64],
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
    """Centres and boundary vertices of H3 cells, vectorised.

    Returns (centre_lng, centre_lat, vertex_lng, vertex_lat, vertex_offsets): vertices of cell i
    are ``vertex_*[offsets[i]:offsets[i+1]]``. h3 gives (lat, lng); this returns them split.
    """
    frame = pl.DataFrame({"c": pl.Series(cells, dtype=pl.UInt64)}).select(
        plh3.cell_to_lat("c").alias("lat"),
        plh3.cell_to_lng("c").alias("lng"),
        plh3.cell_to_boundary("c").alias("b"),
    )
    lengths = frame["b"].list.len().to_numpy().astype(np.int64)
    flat = frame["b"].explode(empty_as_null=True)
    vertex_lat = flat.list.get(0).to_numpy()
    vertex_lng = flat.list.get(1).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return (
        frame["lng"].to_numpy(),
        frame["lat"].to_numpy(),
        vertex_lng,
        vertex_lat,
        offsets,
    )


def cover_station(
    geom_deg: MultiPolygon,
    frame: LocalFrame,
    near_m: float,
    resolution: int = STORE_RESOLUTION,
) -> StationCover:
    """The H3 cover of one fence (``geom_deg`` in (lng, lat) degrees, ``frame`` its metric frame).

    A cell is bounded by the disc around its centre of radius r = circumradius + CELL_SLACK_M
    (metres). With d the centre's distance to the fence's boundary: d <= r is BOUNDARY; otherwise
    the whole cell is on one side, CORE if the centre is inside, NEAR if outside with d - r <=
    near_m; other cells are dropped (every point of them is farther than near_m). For each cell the
    segments kept are those whose centre distance is within 2r of the nearest one: they include the
    nearest segment of every point in the cell, so the distance computed from them is exact.
    """
    geom_m = frame.geometry_to_m(geom_deg)
    zone_m = geom_m.buffer(near_m + CANDIDATE_PAD_M)
    zone_deg = frame.geometry_to_deg(zone_m)
    cells = np.array(sorted(set(candidate_cells(zone_deg, resolution))), dtype=np.uint64)
    c_lng, c_lat, v_lng, v_lat, offsets = cell_geometry(cells)
    cx, cy = frame.to_xy(c_lng, c_lat)
    vx, vy = frame.to_xy(v_lng, v_lat)
    owner = np.repeat(np.arange(len(cells)), np.diff(offsets))
    vertex_r = np.hypot(vx - cx[owner], vy - cy[owner])
    radius = np.maximum.reduceat(vertex_r, offsets[:-1]) + CELL_SLACK_M
    if len(radius) and float(radius.max()) >= CANDIDATE_PAD_M:
        raise ValueError(f"H3 cell radius {radius.max():.1f} m exceeds the candidate pad")

    ax, ay, bx, by = ring_segments_m(geom_m)
    dist = segment_distance_m(
        cx[:, None], cy[:, None], ax[None, :], ay[None, :], bx[None, :], by[None, :]
    )
    d_min = dist.min(axis=1)
    inside = shapely.contains_xy(geom_deg, c_lng, c_lat)
    boundary = d_min <= radius
    core = ~boundary & inside
    near = ~boundary & ~inside & (d_min - radius <= near_m)
    keep = boundary | core | near
    cls = np.where(boundary, BOUNDARY, np.where(core, CORE, NEAR)).astype(np.int8)

    dist = dist[keep]
    limit = d_min[keep] + 2.0 * radius[keep]
    seg_mask = dist <= limit[:, None]
    seg_count = seg_mask.sum(axis=1).astype(np.int64)
    seg_local = np.nonzero(seg_mask)[1].astype(np.int64)
    seg_start = np.concatenate([[0], np.cumsum(seg_count)[:-1]]).astype(np.int64)
    return StationCover(
        cells=cells[keep],
        cell_class=cls[keep],
        centre_lng=c_lng[keep],
        centre_lat=c_lat[keep],
        radius_m=radius[keep],
        seg_start=seg_start,
        seg_count=seg_count,
        seg_local=seg_local,
    )
