"""Covers of station fences (H3 or planar grid): cells within near_m as core, boundary, near."""

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
from geo.lookup import PlanarGrid
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
# Each cell's disc is cut into SUBDIVIDE x SUBDIVIDE parts to prune its candidate segments.
SUBDIVIDE = 2

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
    centre_distance_m: FloatArray
    seg_start: IntArray
    seg_count: IntArray
    seg_local: IntArray


def ring_segments_m(geom_m: MultiPolygon) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Every edge of every ring of a polygonal geometry, (ax, ay, bx, by), interior on the left:
    exteriors counter-clockwise, holes clockwise."""
    rings = shapely.get_rings(shapely.get_parts(shapely.orient_polygons(geom_m)))
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


def classify_cells(
    geom_deg: MultiPolygon,
    frame: LocalFrame,
    near_m: float,
    keys: npt.NDArray[np.uint64],
    centre_lng: FloatArray,
    centre_lat: FloatArray,
    radius_m: FloatArray,
    segments: bool = True,
) -> StationCover:
    """Classify candidate cells of one fence by their bounding discs.

    ``keys`` identify the cells (H3 indexes or grid keys), ``centre_*`` are their centres in
    degrees and ``radius_m`` the radius (metres, in ``frame``) of a disc around the centre that
    holds every point the lookup assigns to the cell. With d the centre's distance to the fence
    boundary: d <= r is BOUNDARY; otherwise the whole cell is on one side, CORE if the centre is
    inside, NEAR if outside with d - r <= near_m; other cells are dropped (every point of them is
    farther than near_m). With ``segments``, the segments kept for a cell are those that can be
    nearest to some point of its disc (see _nearest_candidates), so the distance computed from
    them is exact; without, no segments are kept (a cover used only for lookups).
    """
    geom_m = frame.geometry_to_m(geom_deg)
    cx, cy = frame.to_xy(centre_lng, centre_lat)
    ax, ay, bx, by = ring_segments_m(geom_m)
    dist = segment_distance_m(
        cx[:, None], cy[:, None], ax[None, :], ay[None, :], bx[None, :], by[None, :]
    )
    d_min = dist.min(axis=1)
    inside = shapely.contains_xy(geom_deg, centre_lng, centre_lat)
    boundary = d_min <= radius_m
    core = ~boundary & inside
    near = ~boundary & ~inside & (d_min - radius_m <= near_m)
    keep = boundary | core | near
    cls = np.where(boundary, BOUNDARY, np.where(core, CORE, NEAR)).astype(np.int8)

    if segments:
        seg_mask = _nearest_candidates(
            cx[keep], cy[keep], radius_m[keep], (ax, ay, bx, by), SUBDIVIDE
        )
    else:
        seg_mask = np.zeros((int(keep.sum()), len(ax)), dtype=np.bool_)
    seg_count = seg_mask.sum(axis=1).astype(np.int64)
    seg_local = np.nonzero(seg_mask)[1].astype(np.int64)
    seg_start = np.concatenate([[0], np.cumsum(seg_count)[:-1]]).astype(np.int64)
    return StationCover(
        cells=keys[keep],
        cell_class=cls[keep],
        centre_lng=centre_lng[keep],
        centre_lat=centre_lat[keep],
        radius_m=radius_m[keep],
        centre_distance_m=d_min[keep],
        seg_start=seg_start,
        seg_count=seg_count,
        seg_local=seg_local,
    )


def _nearest_candidates(
    cx: FloatArray,
    cy: FloatArray,
    radius_m: FloatArray,
    segments: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    k: int,
) -> npt.NDArray[np.bool_]:
    """Which segments (columns) can be nearest to some point of each disc (rows), in metres.

    The disc's bounding square is cut into k x k sub-squares, each inside a sub-disc of radius
    rho (its half-diagonal) around its centre q. For a point p of a sub-disc whose nearest
    segment is s*: d(q, s*) - rho <= d(p, s*) <= d(p, s_min) <= d(q, s_min) + rho, so
    d(q, s*) <= d_min(q) + 2 rho. Keeping, per disc, the union over its sub-discs of the
    segments passing that test therefore never drops a nearest segment.
    """
    ax, ay, bx, by = segments
    rho = radius_m * np.sqrt(2.0) / k
    keep = np.zeros((len(cx), len(ax)), dtype=np.bool_)
    steps = (np.arange(k) + 0.5) / k * 2.0 - 1.0
    for u in steps:
        for v in steps:
            qx = (cx + u * radius_m)[:, None]
            qy = (cy + v * radius_m)[:, None]
            d = segment_distance_m(qx, qy, ax[None, :], ay[None, :], bx[None, :], by[None, :])
            keep |= d <= (d.min(axis=1) + 2.0 * rho)[:, None]
    return keep


def cover_station(
    geom_deg: MultiPolygon,
    frame: LocalFrame,
    near_m: float,
    resolution: int = STORE_RESOLUTION,
) -> StationCover:
    """The H3 cover of one fence (``geom_deg`` in (lng, lat) degrees, ``frame`` its metric frame).

    See cover_stations, which does the same for many fences at once (faster).
    """
    return cover_stations([geom_deg], [frame], near_m, resolution)[0]


def cover_stations(
    geoms_deg: list[MultiPolygon],
    frames: list[LocalFrame],
    near_m: float,
    resolution: int = STORE_RESOLUTION,
    segments: bool = True,
) -> list[StationCover]:
    """The H3 covers of many fences ((lng, lat) degrees, each with its metric frame).

    Candidates are the cells whose centres lie within near_m + CANDIDATE_PAD_M of the fence (so
    every cell with a point within near_m); each cell's disc is its circumradius (from its
    vertices, in the fence's frame) plus CELL_SLACK_M. See classify_cells for classes and
    segments. Cell centres and vertices come from one vectorised H3 call for all fences.
    """
    per_station = []
    for geom_deg, frame in zip(geoms_deg, frames, strict=True):
        zone_m = frame.geometry_to_m(geom_deg).buffer(near_m + CANDIDATE_PAD_M)
        found = candidate_cells(frame.geometry_to_deg(zone_m), resolution)
        per_station.append(np.unique(np.array(found, dtype=np.uint64)))
    if not per_station:
        return []
    all_cells = np.concatenate(per_station)
    c_lng, c_lat, v_lng, v_lat, offsets = cell_geometry(all_cells)
    covers = []
    first = 0
    for geom_deg, frame, cells in zip(geoms_deg, frames, per_station, strict=True):
        last = first + len(cells)
        lo, hi = int(offsets[first]), int(offsets[last])
        cx, cy = frame.to_xy(c_lng[first:last], c_lat[first:last])
        vx, vy = frame.to_xy(v_lng[lo:hi], v_lat[lo:hi])
        local = offsets[first : last + 1] - lo
        owner = np.repeat(np.arange(len(cells)), np.diff(local))
        vertex_r = np.hypot(vx - cx[owner], vy - cy[owner])
        radius = np.maximum.reduceat(vertex_r, local[:-1]) + CELL_SLACK_M
        if float(radius.max()) >= CANDIDATE_PAD_M:
            raise ValueError(f"H3 cell radius {radius.max():.1f} m exceeds the candidate pad")
        covers.append(
            classify_cells(
                geom_deg,
                frame,
                near_m,
                cells,
                c_lng[first:last],
                c_lat[first:last],
                radius,
                segments,
            )
        )
        first = last
    return covers


def grid_cover_station(
    geom_deg: MultiPolygon, frame: LocalFrame, near_m: float, grid: PlanarGrid
) -> StationCover:
    """The cover of one fence by the cells of a planar (lng, lat) grid (keys: grid.key).

    Candidates are all grid cells meeting the bounding box of the fence buffered by near_m; each
    cell's disc is its half-diagonal in ``frame`` plus CELL_SLACK_M (which also absorbs the
    rounding of the grid's floor arithmetic). See classify_cells for classes and segments.
    """
    geom_m = frame.geometry_to_m(geom_deg)
    min_x, min_y, max_x, max_y = frame.geometry_to_deg(geom_m.buffer(near_m)).bounds
    ix0, iy0 = grid.index(min_x, min_y)
    ix1, iy1 = grid.index(max_x, max_y)
    mesh_x, mesh_y = np.meshgrid(np.arange(ix0, ix1 + 1), np.arange(iy0, iy1 + 1))
    ix, iy = mesh_x.ravel(), mesh_y.ravel()
    c_lng = grid.lng_min + (ix + 0.5).astype(np.float64) / grid.inv_dlng
    c_lat = grid.lat_min + (iy + 0.5).astype(np.float64) / grid.inv_dlat
    half_diag = 0.5 * float(
        np.hypot(frame.m_per_deg_lng / grid.inv_dlng, frame.m_per_deg_lat / grid.inv_dlat)
    )
    radius = np.full(len(ix), half_diag + CELL_SLACK_M)
    return classify_cells(geom_deg, frame, near_m, grid.key(ix, iy), c_lng, c_lat, radius)
