"""Station index: classify fixes against station fences with a bitmap prefilter and exact covers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import shapely
from shapely.geometry import MultiPolygon

from geo import errors_model
from geo.cells import STORE_RESOLUTION, cell_expr
from geo.cover import (
    BOUNDARY,
    CELL_SLACK_M,
    CORE,
    NEAR,
    StationCover,
    cover_stations,
    grid_cover_station,
    ring_segments_m,
)
from geo.fences import Station
from geo.lookup import SCAN_CHUNK, CellTable, GridRows, ParentFilter, PlanarGrid
from geo.project import LocalFrame, metres_per_degree

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_NEAR_M = 100.0
# Inside points get a boundary distance of at most -INSIDE_EPS_M, so "inside" is exactly
# "boundary_distance_m < 0" even for a point a rounding error away from the edge.
INSIDE_EPS_M = 1e-9
# Planar grid cell (metres) for the raw-coordinate path; coarse bitmap cells are 4x this a side.
FINE_CELL_M = 8.0
# Boundary cells of the planar grid are split into SUB x SUB sub-cells (1 m) with their own class,
# so only fixes in boundary sub-cells need a point-in-polygon test. A power of two.
SUB = 8
# (point, feature) pairs per block of the distance kernel (a segment counts three): the block's
# temporaries stay within the caches.
DISTANCE_PAIRS = 65536
# Widths of the distance kernel's feature tables: a cell with k vertices (segments) goes to the
# narrowest width >= k, padded by repeating its first one (which leaves the minimum as is).
FEATURE_WIDTHS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256, 512, 1024, 4096)
# _Features.entry_info packs, per cover entry, the fields the hot path reads (one gather for all):
# bits 0-23 the entry's column in its group's tables, 24-33 the group, 34-37 the cell class,
# 38-61 the station code.
GROUP_SHIFT, CLASS_SHIFT, STATION_SHIFT = 24, 34, 38


@dataclass(frozen=True)
class _CoverTable:
    """One cover (H3 or planar grid) of all stations, as lookup arrays.

    ``table`` maps a cell key to a row r; the cell's entries (one per station whose cover holds
    it, ordered by station code) are ``entry_*[start[r]:start[r] + count[r]]``; an entry's
    segments are ``seg_list[seg_start:seg_start + seg_count]`` (global segment numbers).
    """

    table: CellTable | None
    start: IntArray
    count: IntArray
    single: bool
    entry_station: npt.NDArray[np.int32]
    entry_class: npt.NDArray[np.int8]
    entry_centre_m: FloatArray
    entry_seg_start: IntArray
    entry_seg_count: IntArray
    seg_list: npt.NDArray[np.int32]
    cells: npt.NDArray[np.uint64]

    @classmethod
    def from_covers(
        cls, covers: list[StationCover], seg_base: list[int], hashed: bool = True
    ) -> _CoverTable:
        """Merge per-station covers (station code = list position) into one table (with a hash
        table of the cells when ``hashed``; rows are the sorted unique cells either way)."""
        cells = np.concatenate([c.cells for c in covers] + [np.zeros(0, dtype=np.uint64)])
        station = np.concatenate(
            [np.full(len(c.cells), i, dtype=np.int32) for i, c in enumerate(covers)]
            + [np.zeros(0, dtype=np.int32)]
        )
        cls_ = np.concatenate([c.cell_class for c in covers] + [np.zeros(0, dtype=np.int8)])
        centre = np.concatenate([c.centre_distance_m for c in covers] + [np.zeros(0)])
        seg_count = np.concatenate([c.seg_count for c in covers] + [np.zeros(0, dtype=np.int64)])
        seg_flat = np.concatenate(
            [c.seg_local + base for c, base in zip(covers, seg_base, strict=True)]
            + [np.zeros(0, dtype=np.int64)]
        )
        seg_start = np.cumsum(seg_count) - seg_count
        order = np.lexsort((station, cells))
        unique, start, count = np.unique(cells[order], return_index=True, return_counts=True)
        return cls(
            table=CellTable(unique) if hashed else None,
            start=start.astype(np.int64),
            count=count.astype(np.int64),
            single=bool(np.all(count == 1)),
            entry_station=station[order],
            entry_class=cls_[order],
            entry_centre_m=centre[order],
            entry_seg_start=seg_start[order].astype(np.int64),
            entry_seg_count=seg_count[order].astype(np.int64),
            seg_list=seg_flat.astype(np.int32),
            cells=unique,
        )


@dataclass(frozen=True)
class _Features:
    """The boundary features that can be nearest to some point of each cover entry, as dense
    tables for the distance kernel.

    From an entry's kept segments (geo.cover): a segment whose projection parameter t is <= 0
    over the whole of the entry's disc (t is affine with gradient 1 / length, so it varies by at
    most radius / length about its value at the centre) has its start as nearest point for every
    point of the cell, so it becomes that *vertex*; >= 1 over the disc: its end vertex; otherwise
    it stays a *segment* (clamped projection). Vertices with equal coordinates are merged. The
    minimum over an entry's features is therefore the minimum over its kept segments: the exact
    distance. A vertex costs a third of a segment, and two segments meeting at a vertex that
    is nearest for the whole cell become one vertex.

    Entries are grouped by (vertex width, segment width) from FEATURE_WIDTHS; ``vtables[g]`` and
    ``stables[g]`` have shape (width, entries of the group), column j holding entry j's vertex
    and segment numbers padded by repeating the first (which leaves the minimum as is); an
    entry's group, its column there, its class and its station are packed in ``entry_info``
    (see GROUP_SHIFT). A block of points costs
    a few contiguous passes over (width x points) arrays, with no per-pair index arithmetic.
    """

    vx: FloatArray
    vy: FloatArray
    entry_info: IntArray
    vtables: tuple[IntArray, ...]
    stables: tuple[IntArray, ...]

    @classmethod
    def of(
        cls,
        cover: _CoverTable,
        seg: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
        ends: tuple[FloatArray, FloatArray],
        centre: tuple[FloatArray, FloatArray],
        radius: FloatArray,
    ) -> _Features:
        """Features of ``cover``'s entries; ``seg`` the global segments (ax, ay, dx, dy,
        inv_len2), ``ends`` their end points (bx, by), ``centre`` each entry's disc centre in its
        station's frame and ``radius`` its radius (metres)."""
        ax, ay, dx, dy, inv_len2 = seg
        bx, by = ends
        count = cover.entry_seg_count
        n_entries = len(count)
        if n_entries and int(count.min()) < 1:
            raise ValueError("every cover entry keeps at least one segment")
        owner = np.repeat(np.arange(n_entries), count)
        s = cover.seg_list[_expand(cover.entry_seg_start, count)].astype(np.int64)
        cx, cy = centre[0][owner], centre[1][owner]
        t_centre = ((cx - ax[s]) * dx[s] + (cy - ay[s]) * dy[s]) * inv_len2[s]
        span = radius[owner] * np.sqrt(inv_len2[s])
        at_start = (t_centre + span <= 0.0) | (inv_len2[s] == 0.0)
        at_end = ~at_start & (t_centre - span >= 1.0)
        whole = ~at_start & ~at_end
        # Vertices: starts are numbered s, ends len(ax) + s; equal coordinates share a number.
        all_x = np.concatenate([ax, bx])
        all_y = np.concatenate([ay, by])
        _, first, canon = np.unique(
            np.stack([all_x, all_y], axis=1), axis=0, return_index=True, return_inverse=True
        )
        vertex = np.where(at_start, s, len(ax) + s)[~whole]
        vertex = first[canon.ravel()[vertex]]
        v_pairs = np.unique(np.stack([owner[~whole], vertex], axis=1), axis=0)
        v_owner, v_id = v_pairs[:, 0], v_pairs[:, 1]
        s_owner, s_id = owner[whole], s[whole]
        nv = np.bincount(v_owner, minlength=n_entries)
        ns = np.bincount(s_owner, minlength=n_entries)
        widths = np.array(FEATURE_WIDTHS)
        if n_entries and max(int(nv.max()), int(ns.max())) > widths[-1]:
            raise ValueError(f"a cell keeps more than {widths[-1]} features")
        gv = np.searchsorted(widths, nv)
        gs = np.searchsorted(widths, ns)
        group = (gv * len(widths) + gs).astype(np.int16)
        pos = np.zeros(n_entries, dtype=np.int64)
        v_start = np.cumsum(nv) - nv
        s_start = np.cumsum(ns) - ns
        vtables: list[IntArray] = []
        stables: list[IntArray] = []
        for g in range(len(widths) * len(widths)):
            members = np.flatnonzero(group == g)
            pos[members] = np.arange(len(members))
            for table, ids, start, cnt, width in (
                (vtables, v_id, v_start, nv, widths[g // len(widths)]),
                (stables, s_id, s_start, ns, widths[g % len(widths)]),
            ):
                k = np.arange(width)[:, None]
                # Row j holds each entry's j-th feature, or its first one past its count.
                slot = np.where(k < cnt[None, members], k, 0)
                rows = ids[start[None, members] + slot] if len(ids) else np.zeros(slot.shape)
                table.append(np.ascontiguousarray(rows, dtype=np.int64))
        if n_entries and (
            int(pos.max()) >= 1 << GROUP_SHIFT
            or int(cover.entry_station.max()) >= 1 << (63 - STATION_SHIFT)
        ):
            raise ValueError("too many cover entries or stations for the packed entry info")
        info = (
            pos
            | (group.astype(np.int64) << GROUP_SHIFT)
            | (cover.entry_class.astype(np.int64) << CLASS_SHIFT)
            | (cover.entry_station.astype(np.int64) << STATION_SHIFT)
        )
        return cls(all_x, all_y, info, tuple(vtables), tuple(stables))

    def distance(
        self,
        seg: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
        x: FloatArray,
        y: FloatArray,
        info: IntArray,
    ) -> FloatArray:
        """Distance (metres) from points (x, y in their station's frame) to the fence boundary,
        over the features of each point's entry (``info``: its entry_info; exact: see the class
        docstring)."""
        out = np.empty(len(x))
        if len(x) == 0:
            return out
        group = (info >> GROUP_SHIFT).astype(np.int16)
        group &= (1 << (CLASS_SHIFT - GROUP_SHIFT)) - 1
        order = np.argsort(group, kind="stable")  # radix sort of 16-bit group numbers
        bounds = np.searchsorted(group[order], np.arange(len(self.vtables) + 1))
        xs, ys, pos = np.take(x, order), np.take(y, order), np.take(info, order)
        pos &= (1 << GROUP_SHIFT) - 1
        d2 = np.empty(len(x))
        for g, (vtable, stable) in enumerate(zip(self.vtables, self.stables, strict=True)):
            lo, hi = int(bounds[g]), int(bounds[g + 1])
            if lo == hi:
                continue
            wv, ws = vtable.shape[0], stable.shape[0]
            step = max(1, DISTANCE_PAIRS // (wv + 3 * ws))
            for a in range(lo, hi, step):
                b = min(a + step, hi)
                p = pos[a:b]
                best = None
                if wv:
                    best = _vertex_d2(self.vx, self.vy, xs[a:b], ys[a:b], np.take(vtable, p, 1))
                if ws:
                    d2s = _segment_d2(seg, xs[a:b], ys[a:b], np.take(stable, p, axis=1))
                    best = d2s if best is None else np.minimum(best, d2s, out=best)
                assert best is not None
                d2[a:b] = best
        out[order] = np.sqrt(d2, out=d2)
        return out


def _vertex_d2(
    vx: FloatArray, vy: FloatArray, x: FloatArray, y: FloatArray, ids: IntArray
) -> FloatArray:
    """Squared distance from each point (x[i], y[i]) to the nearest of vertices ``ids[:, i]``."""
    qx = np.take(vx, ids)
    np.subtract(x[None, :], qx, out=qx)
    qy = np.take(vy, ids)
    np.subtract(y[None, :], qy, out=qy)
    qx *= qx
    qy *= qy
    qx += qy
    out: FloatArray = np.minimum.reduce(qx, axis=0)
    return out


def _segment_d2(
    seg: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray],
    x: FloatArray,
    y: FloatArray,
    ids: IntArray,
) -> FloatArray:
    """Squared distance from each point (x[i], y[i]) to the nearest of segments ``ids[:, i]``."""
    ax, ay, dx, dy, inv_len2 = seg
    qx = np.take(ax, ids)
    np.subtract(x[None, :], qx, out=qx)
    qy = np.take(ay, ids)
    np.subtract(y[None, :], qy, out=qy)
    sdx = np.take(dx, ids)
    sdy = np.take(dy, ids)
    t = qx * sdx
    t += qy * sdy
    t *= np.take(inv_len2, ids)
    np.clip(t, 0.0, 1.0, out=t)
    sdx *= t
    qx -= sdx
    sdy *= t
    qy -= sdy
    qx *= qx
    qy *= qy
    qx += qy
    out: FloatArray = np.minimum.reduce(qx, axis=0)
    return out


class StationIndex:
    """Station fences compiled for vectorised classification of fixes.

    Semantics: a fix is *inside* a fence when shapely's ``contains`` holds for the point (lng, lat)
    against the fence (buffered by its ``buffer_m``): points exactly on an edge are outside, points
    in a hole are outside. Build once, classify many times; the object is read-only afterwards.

    Two covers: the H3 cover at STORE_RESOLUTION (core/boundary/near cells of every fence), which
    answers cell-only questions (cell_classes) and prefilters fixes that carry their stored cell;
    and a finer cover by a planar lng/lat grid of FINE_CELL_M cells, with the fence segments
    that can be nearest in each cell, which does the exact work for fixes near a station on
    both paths. From raw coordinates, a coarse bitmap of that grid is the prefilter, so no H3
    cell is computed per fix.
    """

    def __init__(self, stations: Sequence[Station], near_m: float) -> None:
        """Use StationIndex.build."""
        if not (math.isfinite(near_m) and near_m >= 0.0):
            raise ValueError(f"near_m must be a finite number of metres >= 0, got {near_m}")
        ordered = sorted(stations, key=lambda s: s.station_id)
        ids = [s.station_id for s in ordered]
        if len(set(ids)) != len(ids):
            raise ValueError("station ids must be unique")
        self.near_m = float(near_m)
        self.stations: tuple[Station, ...] = tuple(ordered)
        self.station_ids: list[str] = ids
        n = len(ordered)
        self.geometries = np.empty(n, dtype=object)
        frames: list[LocalFrame] = []
        seg_parts: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
        seg_base: list[int] = []
        zone_bounds: list[tuple[float, float, float, float]] = []
        for code, station in enumerate(ordered):
            geom_deg, frame = _effective_geometry(station)
            self.geometries[code] = geom_deg
            frames.append(frame)
            geom_m = frame.geometry_to_m(geom_deg)
            seg_base.append(sum(len(p[0]) for p in seg_parts))
            seg_parts.append(ring_segments_m(geom_m))
            zone_bounds.append(frame.geometry_to_deg(geom_m.buffer(near_m + 50.0)).bounds)
        self._origin_lng = np.array([f.lng0 for f in frames], dtype=np.float64)
        self._origin_lat = np.array([f.lat0 for f in frames], dtype=np.float64)
        self._kx = np.array([f.m_per_deg_lng for f in frames], dtype=np.float64)
        self._ky = np.array([f.m_per_deg_lat for f in frames], dtype=np.float64)
        self._area_m2 = np.array(
            [f.geometry_to_m(g).area for f, g in zip(frames, self.geometries, strict=True)],
            dtype=np.float64,
        )
        shapely.prepare(self.geometries)
        ax, ay, bx, by = (
            np.concatenate([p[i] for p in seg_parts]) if n else np.zeros(0) for i in range(4)
        )
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        inv_len2 = np.divide(1.0, len2, out=np.zeros_like(len2), where=len2 > 0)
        self._seg = (ax, ay, dx, dy, inv_len2)
        self._seg_first = np.array(seg_base, dtype=np.int64)
        self._seg_n = np.array([len(p[0]) for p in seg_parts], dtype=np.int64)

        self._h3 = _CoverTable.from_covers(
            cover_stations(list(self.geometries), frames, self.near_m, segments=False), seg_base
        )
        self._h3_filter = ParentFilter.of(self._h3.cells)
        self._grid = _planar_grid(zone_bounds)
        self._planar = _CoverTable.from_covers(
            [
                grid_cover_station(g, f, self.near_m, self._grid)
                for g, f in zip(self.geometries, frames, strict=True)
            ],
            seg_base,
            hashed=False,
        )
        self._grid.mark(self._planar.cells)
        self._grid_rows = GridRows.of(self._grid, self._planar.cells)
        self._planar_features = _Features.of(
            self._planar, self._seg, (bx, by), *self._entry_discs(self._planar, self._grid)
        )
        self._sub_rank, self._sub_class = self._boundary_subcells()
        self._views = _name_views(ids)

    def _entry_discs(
        self, cover: _CoverTable, grid: PlanarGrid
    ) -> tuple[tuple[FloatArray, FloatArray], FloatArray]:
        """Each planar cover entry's disc as geo.cover.grid_cover_station drew it: the cell's
        centre in its station's frame (metres) and half-diagonal plus CELL_SLACK_M."""
        key = np.repeat(cover.cells, cover.count).astype(np.int64) - 1
        ix, iy = key % grid.nx, key // grid.nx
        c_lng = grid.lng_min + (ix + 0.5).astype(np.float64) / grid.inv_dlng
        c_lat = grid.lat_min + (iy + 0.5).astype(np.float64) / grid.inv_dlat
        st = cover.entry_station
        cx = (c_lng - self._origin_lng[st]) * self._kx[st]
        cy = (c_lat - self._origin_lat[st]) * self._ky[st]
        half = 0.5 * np.hypot(self._kx[st] / grid.inv_dlng, self._ky[st] / grid.inv_dlat)
        return (cx, cy), half + CELL_SLACK_M

    def _boundary_subcells(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int8]]:
        """Classes of the SUB x SUB sub-cells of every boundary entry of the planar cover.

        Returns (rank, classes): ``rank[entry]`` is the entry's row in ``classes`` (-1 for entries
        that are not boundary), and ``classes[row, SUB * sy + sx]`` the class of its sub-cell
        (sx, sy) by the rule of geo.cover.classify_cells: with d the distance from the sub-cell's
        centre to the fence boundary (from the entry's kept segments, which include the nearest
        one for every point of the cell) and r its half-diagonal plus CELL_SLACK_M, d <= r is
        BOUNDARY, else CORE if the centre is inside and NEAR if not. A fix in a core or near
        sub-cell needs no point-in-polygon test.
        """
        cover, grid = self._planar, self._grid
        entries = np.flatnonzero(cover.entry_class == BOUNDARY)
        rank = np.full(len(cover.entry_class), -1, dtype=np.int32)
        rank[entries] = np.arange(len(entries), dtype=np.int32)
        if len(entries) == 0:
            return rank, np.zeros((0, SUB * SUB), dtype=np.int8)
        # Entry -> its cell key (rows of a multi-entry cell share it).
        key_of_entry = np.repeat(cover.cells, cover.count)[entries].astype(np.int64) - 1
        ix, iy = key_of_entry % grid.nx, key_of_entry // grid.nx
        a = np.arange(SUB * SUB)
        sx, sy = a % SUB, a // SUB
        step_lng = 1.0 / (grid.inv_dlng * SUB)
        step_lat = 1.0 / (grid.inv_dlat * SUB)
        c_lng = grid.lng_min + (ix[:, None] * SUB + sx[None, :] + 0.5) * step_lng
        c_lat = grid.lat_min + (iy[:, None] * SUB + sy[None, :] + 0.5) * step_lat
        st = np.repeat(cover.entry_station[entries], SUB * SUB)
        c_lng, c_lat = c_lng.ravel(), c_lat.ravel()
        x = (c_lng - self._origin_lng[st]) * self._kx[st]
        y = (c_lat - self._origin_lat[st]) * self._ky[st]
        sub_entry = np.repeat(entries, SUB * SUB)
        d = self._planar_features.distance(
            self._seg, x, y, self._planar_features.entry_info[sub_entry]
        )
        radius = 0.5 * np.hypot(self._kx[st] * step_lng, self._ky[st] * step_lat) + CELL_SLACK_M
        inside = np.zeros(len(st), dtype=np.bool_)
        order = np.argsort(st, kind="stable")
        inside[order] = shapely.contains_xy(self.geometries[st[order]], c_lng[order], c_lat[order])
        cls_ = np.where(d <= radius, BOUNDARY, np.where(inside, CORE, NEAR)).astype(np.int8)
        return rank, cls_.reshape(len(entries), SUB * SUB)

    def _sub_classes(
        self, entry: IntArray, lng: FloatArray, lat: FloatArray
    ) -> npt.NDArray[np.int8]:
        """Sub-cell classes (see _boundary_subcells) of points (degrees) in boundary entries.

        The sub-cell index is trunc(offset * inv * SUB) & (SUB - 1): scaling by the power of two
        SUB is exact, so it always lies in the fine cell the point was looked up in.
        """
        grid = self._grid
        fx = lng - grid.lng_min
        fx *= grid.inv_dlng * SUB
        fy = lat - grid.lat_min
        fy *= grid.inv_dlat * SUB
        sub = (fy.astype(np.int64) & (SUB - 1)) * SUB + (fx.astype(np.int64) & (SUB - 1))
        out: npt.NDArray[np.int8] = self._sub_class[self._sub_rank[entry], sub]
        return out

    @classmethod
    def build(cls, stations: Sequence[Station], near_m: float = DEFAULT_NEAR_M) -> StationIndex:
        """Compile stations into an index.

        ``near_m`` (metres): fixes outside every fence but within this distance of one are still
        attributed to the nearest such station (with a positive boundary distance and a p_inside
        from the error model). Raises ValueError for duplicate station ids or a bad near_m.
        """
        return cls(stations, near_m)

    # ---- classification -------------------------------------------------------------------

    def _resolve(
        self,
        cover: _CoverTable,
        features: _Features,
        row: npt.NDArray[np.int32],
        lng: FloatArray,
        lat: FloatArray,
    ) -> tuple[IntArray, npt.NDArray[np.int32], FloatArray]:
        """Stations of fixes whose rows in ``cover`` are ``row`` (-1: none; positions in degrees).

        Returns (which, code, signed): the indices of the fixes that get a station, its code
        and the signed boundary distance in metres (negative inside).
        """
        none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0))
        hit = np.flatnonzero(row >= 0)
        if len(hit) == 0:
            return none
        row_hit = row[hit]
        if cover.single:  # one entry per cell: entry number = row number
            pair_fix, pair_entry = hit, row_hit.astype(np.int64)
        else:
            cnt = cover.count[row_hit]
            pair_fix = np.repeat(hit, cnt)
            pair_entry = _expand(cover.start[row_hit], cnt)
        info = np.take(features.entry_info, pair_entry)
        st = (info >> STATION_SHIFT).astype(np.int32)
        cls_ = (info >> CLASS_SHIFT).astype(np.int8)
        cls_ &= (1 << (STATION_SHIFT - CLASS_SHIFT)) - 1
        p_lng = np.take(lng, pair_fix)
        p_lat = np.take(lat, pair_fix)
        x = p_lng - np.take(self._origin_lng, st)
        x *= np.take(self._kx, st)
        y = p_lat - np.take(self._origin_lat, st)
        y *= np.take(self._ky, st)
        d = features.distance(self._seg, x, y, info)

        inside = cls_ == CORE
        b = np.flatnonzero(cls_ == BOUNDARY)
        if len(b):
            sub = self._sub_classes(pair_entry[b], p_lng[b], p_lat[b])
            inside[b] = sub == CORE
            b = b[sub == BOUNDARY]
            # Grouped by fence (a radix sort of 16-bit codes; wrapped codes only group less), so
            # each prepared geometry serves a run of points.
            b = b[np.argsort(st[b].astype(np.int16), kind="stable")]
            inside[b] = shapely.contains_xy(self.geometries[st[b]], p_lng[b], p_lat[b])
        valid = d <= self.near_m
        valid |= inside
        valid &= np.isfinite(d)
        if cover.single:
            valid_idx = np.flatnonzero(valid)
        else:
            valid_idx = self._pick(valid, inside, pair_fix, st, x, y, d)
        chosen_in = np.take(inside, valid_idx)
        # Inside: -max(d, INSIDE_EPS_M); outside: d (>= 0, so max(d, 0) = d).
        signed = np.maximum(np.take(d, valid_idx), chosen_in * INSIDE_EPS_M)
        signed *= 1.0 - 2.0 * chosen_in
        return np.take(pair_fix, valid_idx), np.take(st, valid_idx), signed

    @staticmethod
    def _pick(
        valid: npt.NDArray[np.bool_],
        inside: npt.NDArray[np.bool_],
        pair_fix: IntArray,
        st: npt.NDArray[np.int32],
        x: FloatArray,
        y: FloatArray,
        d: FloatArray,
    ) -> IntArray:
        """The valid pair of each fix: where one fix has several, inside beats outside; among
        insides the nearer centroid (the frame origin); among outsides the nearer boundary; then
        station_id (pairs of one fix are adjacent: pair_fix is sorted)."""
        valid_idx = np.flatnonzero(valid)
        pf = pair_fix[valid_idx]
        dup = pf[1:] == pf[:-1]
        if not dup.any():
            return valid_idx
        multi = np.zeros(len(pf), dtype=np.bool_)
        multi[1:] |= dup
        multi[:-1] |= dup
        sub = valid_idx[multi]
        key = np.where(inside[sub], np.hypot(x[sub], y[sub]) - 1e12, d[sub])
        order = np.lexsort((st[sub], key, pair_fix[sub]))
        sub_pf = pair_fix[sub][order]
        first = np.ones(len(order), dtype=np.bool_)
        first[1:] = sub_pf[1:] != sub_pf[:-1]
        return np.concatenate([valid_idx[~multi], sub[order[first]]])

    def _candidates(self, fixes: pl.DataFrame) -> tuple[IntArray, FloatArray, FloatArray]:
        """Candidate row indices and their longitudes and latitudes (degrees); every other row
        is farther than near_m from every fence.

        With an ``h3_cell`` column the stored cells are the prefilter (ParentFilter of the H3
        cover: a fix whose cell is not in the H3 cover is farther than near_m from every fence;
        null cells are computed from lat/lon), and only the candidates' coordinates are read.
        Without it, the planar grid's coarse bitmap is the prefilter.
        """
        if "h3_cell" not in fixes.columns:
            lat = _floats(fixes["lat"])
            lng = _floats(fixes["lon"])
            cand = self._grid.marked(lng, lat)
            return cand, np.take(lng, cand), np.take(lat, cand)
        col = fixes["h3_cell"]
        if col.dtype != pl.UInt64:
            col = col.cast(pl.UInt64, strict=False)
        if col.null_count():
            missing = np.flatnonzero(col.is_null().to_numpy())
            cells = col.fill_null(0).to_numpy().copy()
            m_lng = _take_floats(fixes["lon"], missing)
            m_lat = _take_floats(fixes["lat"], missing)
            cells[missing] = _h3(m_lng, m_lat)
        else:
            cells = col.to_numpy()
        cand = self._h3_filter.maybe(cells)
        return cand, _take_floats(fixes["lon"], cand), _take_floats(fixes["lat"], cand)

    def classify(self, fixes: pl.DataFrame, *, p_method: str = "half_plane") -> pl.DataFrame:
        """Attribute each fix to a station, with its signed boundary distance and p_inside.

        Input columns: ``lat``, ``lon`` (degrees WGS84); optional ``accuracy_m`` (metres, 68%
        radius; null, <= 0 or non-finite: the source's default), ``source`` (gps/wifi/cell/fused,
        else unknown), ``is_mock`` (null = false) and ``h3_cell`` (UInt64 at STORE_RESOLUTION
        computed by geo.cells from the same lat/lon; when present it decides which fixes are far
        from every station without looking at coordinates, and a null cell is computed; a cell
        that does not match lat/lon gives undefined results). The answer does not depend on
        whether ``h3_cell`` is given. Returns the input (same rows and order, all columns)
        plus ``station_id`` (Utf8: the station whose fence contains the fix, the nearer centroid
        if several do; else the station with the nearest boundary within near_m; else null),
        ``boundary_distance_m`` (Float64, metres to that station's boundary, < 0 exactly when
        inside; null with no station) and ``p_inside`` (Float64 in [0, 1]; 0 with no station or
        for a mock fix, whose station and distance are still reported). Null lat/lon: no station.

        ``p_method``: "half_plane" (default, fast) treats the boundary near the fix as a straight
        line, capped by the fence's area: exact along straight edges, up to 0.25 off at a right-
        angle corner. "exact" integrates the Gaussian over the fence (edges within 5 sigma;
        error below 1e-3), several times slower for fixes near a boundary. Raises ValueError for
        another value.
        """
        if p_method not in ("half_plane", "exact"):
            raise ValueError(f"p_method must be 'half_plane' or 'exact', not {p_method!r}")
        n = fixes.height
        cand, lng, lat = self._candidates(fixes)
        row = self._grid_rows.find(lng, lat)
        which, codes, dist = self._resolve(self._planar, self._planar_features, row, lng, lat)
        rows = np.take(cand, which)
        p = self._p_inside(fixes, rows, codes, dist, (lng, lat, which), p_method)
        return fixes.with_columns(_assemble(n, rows, codes, dist, p, self._views))

    def _p_inside(
        self,
        fixes: pl.DataFrame,
        rows: IntArray,
        codes: npt.NDArray[np.int32],
        dist: FloatArray,
        coords: tuple[FloatArray, FloatArray, IntArray],
        p_method: str,
    ) -> FloatArray:
        """p_inside for the rows that have a station; 0 for mock rows.

        "half_plane": errors_model.p_inside (fast; wrong near corners, see its docstring).
        "exact": beyond EDGE_CUTOFF_SIGMAS from the boundary 0 or 1 (within 2e-6 per edge),
        otherwise errors_model.polygon_p_inside over the fence's edges within that distance.
        ``coords`` (lng, lat, which): the rows' coordinates (degrees) are lng[which], lat[which]
        (read only by "exact"). Only the rows' values are read,
        and a row's source only when its accuracy is missing or invalid.
        """
        if len(rows) == 0:
            return np.zeros(0)
        if "accuracy_m" in fixes.columns:
            acc = _take_floats(fixes["accuracy_m"], rows)
        else:
            acc = np.full(len(rows), np.nan)
        bad = np.flatnonzero(~(np.isfinite(acc) & (acc > 0.0)))
        if len(bad):
            source = (
                fixes["source"].gather(pl.Series(rows[bad])) if "source" in fixes.columns else None
            )
            acc[bad] = errors_model.effective_accuracy_m(
                acc[bad], errors_model.source_codes(source, len(bad))
            )
        sigma = errors_model.sigma_m(acc)
        if "is_mock" in fixes.columns:
            mock = _take_flags(fixes["is_mock"], rows)
        else:
            mock = np.zeros(len(rows), dtype=np.bool_)
        if p_method == "half_plane":
            p = np.empty(len(rows))
            area = self._area_m2[codes]
            for lo in range(0, len(rows), SCAN_CHUNK):  # temporaries stay in the L2 cache
                hi = lo + SCAN_CHUNK
                p[lo:hi] = errors_model.p_inside(dist[lo:hi], sigma[lo:hi], area[lo:hi])
        else:
            p = (dist < 0).astype(np.float64)
            cut = errors_model.EDGE_CUTOFF_SIGMAS * sigma
            near = np.flatnonzero((np.abs(dist) < cut) & ~mock)
            if len(near):
                lng, lat, which = coords
                pick = which[near]
                p[near] = self._polygon_p(
                    codes[near], dist[near], sigma[near], lng[pick], lat[pick]
                )
        p[mock] = 0.0
        return p

    def _polygon_p(
        self,
        codes: npt.NDArray[np.int32],
        dist: FloatArray,
        sigma: FloatArray,
        lng: FloatArray,
        lat: FloatArray,
    ) -> FloatArray:
        """errors_model.polygon_p_inside for fixes (degrees) against their stations' fences."""
        x = (lng - self._origin_lng[codes]) * self._kx[codes]
        y = (lat - self._origin_lat[codes]) * self._ky[codes]
        count = self._seg_n[codes]
        edge = _expand(self._seg_first[codes], count)
        owner = np.repeat(np.arange(len(codes)), count)
        ax_all, ay_all, dx_all, dy_all, inv_len2 = self._seg
        ax = ax_all[edge] - x[owner]
        ay = ay_all[edge] - y[owner]
        dx = dx_all[edge]
        dy = dy_all[edge]
        # Squared distance from the fix (the origin) to each edge, in place.
        t = ax * dx
        t += ay * dy
        t *= -inv_len2[edge]
        np.clip(t, 0.0, 1.0, out=t)
        ex = dx * t
        ex += ax
        ey = dy * t
        ey += ay
        ex *= ex
        ey *= ey
        ex += ey
        reach = errors_model.EDGE_CUTOFF_SIGMAS * sigma
        keep = np.flatnonzero(ex < (reach * reach)[owner])
        ax, ay = ax[keep], ay[keep]
        bx = ax + dx[keep]
        by = ay + dy[keep]
        return errors_model.polygon_p_inside(dist < 0, sigma, owner[keep], ax, ay, bx, by)

    # ---- other queries --------------------------------------------------------------------

    def station_at(self, lat: FloatArray, lon: FloatArray) -> npt.NDArray[np.object_]:
        """The station whose fence contains each point (degrees), None if none: the perfect-
        accuracy assignment of ``classify`` (same rules for overlaps), without distances."""
        lat = np.asarray(lat, dtype=np.float64)
        lng = np.asarray(lon, dtype=np.float64)
        frame = pl.DataFrame({"lat": lat, "lon": lng})
        out = self.classify(frame)
        ids = out["station_id"].to_numpy()
        inside = (out["boundary_distance_m"].fill_null(1.0) < 0).to_numpy()
        result: npt.NDArray[np.object_] = np.where(inside, ids, np.array(None, dtype=object))
        return result

    def cell_classes(self, cells: npt.NDArray[np.uint64] | pl.Series) -> pl.DataFrame:
        """Cell-level lookup, no coordinates: for each STORE_RESOLUTION H3 cell (UInt64; 0 or
        null: none) the station whose cover holds it and the cell's class for that station.

        Returns ``station_id`` (Utf8, null when the cell is farther than near_m from every fence)
        and ``cell_class`` (Utf8: "core" = wholly inside, "boundary" = needs the point test,
        "near" = wholly outside but within near_m; null with no station). When several stations'
        covers hold the cell, core beats boundary beats near, then the station whose boundary is
        nearest the cell's centre, then station_id order. This is the
        cheap question a stored cell can answer alone; ``classify`` gives the exact answer.
        """
        if isinstance(cells, pl.Series):
            cells = cells.cast(pl.UInt64).fill_null(0).to_numpy()
        cells = np.ascontiguousarray(cells, dtype=np.uint64)
        n = len(cells)
        cover = self._h3
        assert cover.table is not None
        cand = self._h3_filter.maybe(cells)
        row = cover.table.find(cells[cand])
        hit = row >= 0
        rows = cand[hit]
        # A cell's entries are sorted by station code; keep the best class, then the station
        # whose boundary is nearest the cell's centre (a strict < keeps the lower code on ties).
        first = cover.start[row[hit]]
        best = first.copy()
        if not cover.single:
            rank = cover.entry_class * 1e9 + cover.entry_centre_m
            cnt = cover.count[row[hit]]
            for k in range(1, int(cnt.max(initial=1))):
                more = np.flatnonzero(cnt > k)
                better = rank[first[more] + k] < rank[best[more]]
                best[more[better]] = first[more[better]] + k
        validity = _validity(n, rows)
        return pl.DataFrame(
            [
                _strings("station_id", n, validity, rows, cover.entry_station[best], self._views),
                _strings("cell_class", n, validity, rows, cover.entry_class[best], _CLASS_VIEWS),
            ]
        )

    def station_centroids(self) -> pl.DataFrame:
        """``station_id``, ``lat``, ``lon``: each fence's area centroid in degrees (buffered);
        ``radius_m``: metres from that centroid to the fence's farthest vertex, so a point
        ``d`` metres from the centroid is at least ``d - radius_m`` from the fence. Computed
        once per index (the timeline asks for it on every request); treat it as read-only."""
        cached: pl.DataFrame | None = getattr(self, "_centroids_cache", None)
        if cached is None:
            cached = self._station_centroids()
            self._centroids_cache = cached
        return cached

    def _station_centroids(self) -> pl.DataFrame:
        radius = np.array(
            [
                float(np.hypot(*shapely.get_coordinates(g).T).max()) if not g.is_empty else 0.0
                for g in self._geometries_m()
            ],
            dtype=np.float64,
        )
        return pl.DataFrame(
            {
                "station_id": pl.Series(self.station_ids, dtype=pl.Utf8),
                "lat": pl.Series(self._origin_lat, dtype=pl.Float64),
                "lon": pl.Series(self._origin_lng, dtype=pl.Float64),
                "radius_m": pl.Series(radius, dtype=pl.Float64),
            }
        )

    def station_area_m2(self) -> dict[str, float]:
        """Each fence's area in square metres (after any buffer)."""
        return dict(zip(self.station_ids, self._area_m2.tolist(), strict=True))

    def distance_to_station_m(
        self,
        lat: FloatArray,
        lon: FloatArray,
        station_ids: npt.NDArray[np.object_] | Sequence[str | None],
    ) -> FloatArray:
        """Metres from each point (lat, lon degrees) to the named station's fence; 0 inside or
        on it; NaN for an unknown or null station id or a NaN coordinate. Vectorised (shapely)."""
        lat = np.asarray(lat, dtype=np.float64)
        lng = np.asarray(lon, dtype=np.float64)
        lookup = {sid: i for i, sid in enumerate(self.station_ids)}
        ids = pl.Series(np.asarray(station_ids, dtype=object), dtype=pl.Utf8, strict=False)
        codes = (
            ids.replace_strict(lookup, default=-1, return_dtype=pl.Int64).fill_null(-1).to_numpy()
        )
        out = np.full(len(lat), np.nan)
        ok = np.flatnonzero((codes >= 0) & np.isfinite(lat) & np.isfinite(lng))
        if len(ok) == 0:
            return out
        st = codes[ok]
        x = (lng[ok] - self._origin_lng[st]) * self._kx[st]
        y = (lat[ok] - self._origin_lat[st]) * self._ky[st]
        geoms_m = self._geometries_m()
        out[ok] = shapely.distance(geoms_m[st], shapely.points(x, y))
        return out

    def _geometries_m(self) -> npt.NDArray[np.object_]:
        cached: npt.NDArray[np.object_] | None = getattr(self, "_geoms_m_cache", None)
        if cached is None:
            cached = np.empty(len(self.stations), dtype=object)
            for i, g in enumerate(self.geometries):
                frame = LocalFrame(
                    float(self._origin_lng[i]),
                    float(self._origin_lat[i]),
                    float(self._kx[i]),
                    float(self._ky[i]),
                )
                cached[i] = frame.geometry_to_m(g)
            shapely.prepare(cached)
            self._geoms_m_cache = cached
        return cached

    def cover_cells(self) -> pl.DataFrame:
        """The H3 cover: ``h3_cell`` (UInt64, STORE_RESOLUTION), ``station_id``, ``cell_class``
        (core/boundary/near); a cell near two fences appears once per station."""
        names = np.array(["core", "boundary", "near"])
        return pl.DataFrame(
            {
                "h3_cell": pl.Series(np.repeat(self._h3.cells, self._h3.count), dtype=pl.UInt64),
                "station_id": pl.Series(
                    np.array(self.station_ids, dtype=object)[self._h3.entry_station], dtype=pl.Utf8
                ),
                "cell_class": pl.Series(names[self._h3.entry_class], dtype=pl.Utf8),
            }
        )


def _planar_grid(zone_bounds: list[tuple[float, float, float, float]]) -> PlanarGrid:
    """The planar grid spanning every station's zone, with fine cells of about FINE_CELL_M."""
    if not zone_bounds:
        return PlanarGrid.spanning((0.0, 0.0, 1.0, 1.0), 1.0, 1.0)
    b = np.array(zone_bounds)
    bounds = (
        float(b[:, 0].min()),
        float(b[:, 1].min()),
        float(b[:, 2].max()),
        float(b[:, 3].max()),
    )
    kx, ky = metres_per_degree((bounds[1] + bounds[3]) / 2)
    return PlanarGrid.spanning(bounds, FINE_CELL_M / kx, FINE_CELL_M / ky)


def _effective_geometry(station: Station) -> tuple[MultiPolygon, LocalFrame]:
    """The fence as indexed ((lng, lat) degrees, buffered by buffer_m) and its metric frame,
    centred on the fence's area centroid."""
    g = station.geometry
    min_x, min_y, max_x, max_y = g.bounds
    frame = LocalFrame.at((min_x + max_x) / 2, (min_y + max_y) / 2)
    if station.buffer_m > 0.0:
        g_m = frame.geometry_to_m(g).buffer(station.buffer_m)
        g = _as_multi(frame.geometry_to_deg(g_m))
    c = frame.geometry_to_m(g).centroid
    lng0, lat0 = frame.to_lnglat(np.array([c.x]), np.array([c.y]))
    return g, LocalFrame.at(float(lng0[0]), float(lat0[0]))


def _as_multi(g: object) -> MultiPolygon:
    if isinstance(g, MultiPolygon):
        return g
    return MultiPolygon([g])


def _floats(s: pl.Series) -> FloatArray:
    """A numeric column as float64 numpy, nulls as NaN (zero-copy for Float64 without nulls)."""
    if s.dtype != pl.Float64:
        s = s.cast(pl.Float64, strict=False)
    if s.null_count():
        s = s.fill_null(float("nan"))
    return s.to_numpy()


def _take_floats(s: pl.Series, rows: IntArray) -> FloatArray:
    """Rows ``rows`` of a numeric column as a writable float64 numpy array, nulls as NaN."""
    if s.dtype == pl.Float64 and s.n_chunks() == 1 and not s.null_count():
        out: FloatArray = np.take(s.to_numpy(), rows)
        return out
    taken = s.gather(pl.Series(rows, dtype=pl.Int64)).cast(pl.Float64, strict=False)
    return taken.fill_null(float("nan")).to_numpy(writable=True)


def _take_flags(s: pl.Series, rows: IntArray) -> npt.NDArray[np.bool_]:
    """Rows ``rows`` of a flag column as bool numpy (null = false)."""
    taken = s.gather(pl.Series(rows, dtype=pl.Int64))
    out: npt.NDArray[np.bool_] = taken.cast(pl.Boolean).fill_null(False).to_numpy()
    return out


def _expand(start: IntArray, count: IntArray) -> IntArray:
    """Concatenated ranges start[i] .. start[i] + count[i] - 1, vectorised."""
    total = int(count.sum())
    offs = np.cumsum(count) - count
    return np.arange(total, dtype=np.int64) - np.repeat(offs - start, count)


def _h3(lng: FloatArray, lat: FloatArray) -> npt.NDArray[np.uint64]:
    """STORE_RESOLUTION cells of points (h3 takes lat, lng); NaN coordinates give cell 0."""
    frame = pl.DataFrame({"lat": lat, "lon": lng}).with_columns(
        pl.col("lat").fill_nan(None), pl.col("lon").fill_nan(None)
    )
    out = frame.select(cell_expr(resolution=STORE_RESOLUTION)).to_series()
    return out.fill_null(0).to_numpy().astype(np.uint64, copy=False)


def _name_views(names: list[str]) -> tuple[npt.NDArray[np.complex128], bytes]:
    """Arrow string-view entries (16 bytes, viewed as complex128) for each name, and the data
    buffer for names longer than 12 bytes (shorter ones are stored inline in the view)."""
    views = np.zeros((len(names), 16), dtype=np.uint8)
    data = bytearray()
    for i, name in enumerate(names):
        raw = name.encode()
        views[i, :4] = np.frombuffer(np.int32(len(raw)).tobytes(), dtype=np.uint8)
        if len(raw) <= 12:
            views[i, 4 : 4 + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
        else:
            views[i, 4:8] = np.frombuffer(raw[:4], dtype=np.uint8)
            views[i, 8:12] = 0  # buffer index
            views[i, 12:16] = np.frombuffer(np.int32(len(data)).tobytes(), dtype=np.uint8)
            data += raw
    return views.view(np.complex128).ravel(), bytes(data)


_CLASS_VIEWS = _name_views(["core", "boundary", "near"])  # indexed by geo.cover's class codes


def _validity(n: int, rows: IntArray) -> tuple[pa.Buffer, int]:
    """An Arrow validity bitmap for ``n`` rows, valid exactly at ``rows``, and the null count."""
    valid = np.zeros(n, dtype=np.bool_)
    valid[rows] = True
    return pa.py_buffer(np.packbits(valid, bitorder="little")), n - len(rows)


def _strings(
    name: str,
    n: int,
    validity: tuple[pa.Buffer, int],
    rows: IntArray,
    codes: npt.NDArray[np.integer],
    views: tuple[npt.NDArray[np.complex128], bytes],
) -> pl.Series:
    """A Utf8 column: ``views`` entry ``codes[i]`` at ``rows[i]``, null elsewhere.

    Built as Arrow string-view buffers that Polars adopts without copying: the columns are
    mostly null, and a generic string build would cost more than the classification.
    """
    buffer, null_count = validity
    name_views, name_data = views
    entries = np.zeros(n, dtype=np.complex128)
    entries[rows] = name_views[codes]
    array = pa.Array.from_buffers(
        pa.string_view(),
        n,
        [buffer, pa.py_buffer(entries), pa.py_buffer(name_data)],
        null_count=null_count,
    )
    return pl.Series(name, array)


def _assemble(
    n: int,
    rows: IntArray,
    codes: npt.NDArray[np.int32],
    dist: FloatArray,
    p: FloatArray,
    views: tuple[npt.NDArray[np.complex128], bytes],
) -> list[pl.Series]:
    """The three output columns for ``n`` rows, set at ``rows`` and null (p: 0) elsewhere."""
    validity = _validity(n, rows)
    dist_all = np.zeros(n)
    dist_all[rows] = dist
    distance = pa.Array.from_buffers(
        pa.float64(), n, [validity[0], pa.py_buffer(dist_all)], null_count=validity[1]
    )
    p_all = np.zeros(n)
    p_all[rows] = p
    return [
        _strings("station_id", n, validity, rows, codes, views),
        pl.Series("boundary_distance_m", distance),
        pl.Series("p_inside", p_all),
    ]
