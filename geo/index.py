"""Station index: classify fixes against station fences via a grid prefilter and an H3 cover."""

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
from geo.cover import CORE, cover_station, ring_segments_m
from geo.fences import Station
from geo.project import LocalFrame, metres_per_degree, segment_distance_m

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DEFAULT_NEAR_M = 100.0
# Inside points get a boundary distance of at most -INSIDE_EPS_M, so "inside" is exactly
# "boundary_distance_m < 0" even for a point a rounding error away from the edge.
INSIDE_EPS_M = 1e-9
# Grid prefilter cell (metres, at least twice the largest H3 cell radius); bounded in count.
GRID_CELL_M = 32.0
GRID_MAX_CELLS = 1 << 26
# Hash prefilter for stored cells: a 2^HASH_BITS-entry bitmap of multiplicative hashes.
HASH_BITS = 24
HASH_MULT = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class _Grid:
    """A bitmap over (lng, lat) degrees marking where any indexed H3 cell may be (border: False)."""

    lng_min: float
    lat_min: float
    inv_dlng: float
    inv_dlat: float
    nx: int
    ny: int
    bits: npt.NDArray[np.bool_]

    def candidates(self, lng: FloatArray, lat: FloatArray) -> IntArray:
        """Indices of points that fall in a marked grid cell; NaN and far-away points never do."""
        with np.errstate(invalid="ignore"):
            ix = ((lng - self.lng_min) * self.inv_dlng).astype(np.int32)
            iy = ((lat - self.lat_min) * self.inv_dlat).astype(np.int32)
        np.clip(ix, 0, self.nx - 1, out=ix)
        np.clip(iy, 0, self.ny - 1, out=iy)
        iy *= np.int32(self.nx)
        iy += ix
        return np.flatnonzero(self.bits[iy])


def _hash(cells: npt.NDArray[np.uint64]) -> IntArray:
    return ((cells * HASH_MULT) >> np.uint64(64 - HASH_BITS)).view(np.int64)


class StationIndex:
    """Station fences compiled for vectorised classification of fixes.

    Semantics: a fix is *inside* a fence when shapely's ``contains`` holds for the point (lng, lat)
    against the fence (buffered by its ``buffer_m``): points exactly on an edge are outside, points
    in a hole are outside. Build once, classify many times; the object is read-only afterwards.
    """

    def __init__(
        self,
        stations: Sequence[Station],
        near_m: float,
    ) -> None:
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
        self._origin_lng = np.zeros(n)
        self._origin_lat = np.zeros(n)
        self._kx = np.ones(n)
        self._ky = np.ones(n)
        self._area_m2 = np.zeros(n)
        seg_parts: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
        entries: list[tuple[npt.NDArray[np.uint64], IntArray, npt.NDArray[np.int8], IntArray]] = []
        seg_lists: list[IntArray] = []
        grid_pts: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        seg_base = 0
        for code, station in enumerate(ordered):
            geom_deg, frame = _effective_geometry(station)
            self.geometries[code] = geom_deg
            self._origin_lng[code] = frame.lng0
            self._origin_lat[code] = frame.lat0
            self._kx[code] = frame.m_per_deg_lng
            self._ky[code] = frame.m_per_deg_lat
            geom_m = frame.geometry_to_m(geom_deg)
            self._area_m2[code] = geom_m.area
            seg_parts.append(ring_segments_m(geom_m))
            cover = cover_station(geom_deg, frame, self.near_m)
            entries.append(
                (
                    cover.cells,
                    np.full(len(cover.cells), code, dtype=np.int64),
                    cover.cell_class,
                    cover.seg_count,
                )
            )
            seg_lists.append(cover.seg_local + seg_base)
            seg_base += len(seg_parts[-1][0])
            grid_pts.append(
                (
                    cover.centre_lng,
                    cover.centre_lat,
                    cover.radius_m / frame.m_per_deg_lng,
                )
            )
        shapely.prepare(self.geometries)
        self._seg = tuple(
            np.concatenate([p[i] for p in seg_parts]) if n else np.zeros(0) for i in range(4)
        )
        self._build_table(entries, seg_lists)
        self._build_grid(grid_pts)
        self._bitmap = np.zeros(1 << HASH_BITS, dtype=np.bool_)
        self._bitmap[_hash(self._table_cells)] = True

    @classmethod
    def build(cls, stations: Sequence[Station], near_m: float = DEFAULT_NEAR_M) -> StationIndex:
        """Compile stations into an index.

        ``near_m`` (metres): fixes outside every fence but within this distance of one are still
        attributed to the nearest such station (with a positive boundary distance and a p_inside
        from the error model). Raises ValueError for duplicate station ids or a bad near_m.
        """
        return cls(stations, near_m)

    # ---- build helpers -------------------------------------------------------------------

    def _build_table(
        self,
        entries: list[tuple[npt.NDArray[np.uint64], IntArray, npt.NDArray[np.int8], IntArray]],
        seg_lists: list[IntArray],
    ) -> None:
        if entries:
            cells = np.concatenate([e[0] for e in entries])
            station = np.concatenate([e[1] for e in entries])
            cls_ = np.concatenate([e[2] for e in entries])
            seg_count = np.concatenate([e[3] for e in entries])
            seg_flat = np.concatenate(seg_lists)
        else:
            cells = np.zeros(0, dtype=np.uint64)
            station = np.zeros(0, dtype=np.int64)
            cls_ = np.zeros(0, dtype=np.int8)
            seg_count = np.zeros(0, dtype=np.int64)
            seg_flat = np.zeros(0, dtype=np.int64)
        seg_start = np.concatenate([[0], np.cumsum(seg_count)[:-1]]).astype(np.int64)
        order = np.lexsort((station, cells))
        self._entry_station = station[order].astype(np.int32)
        self._entry_class = cls_[order]
        self._entry_seg_start = seg_start[order]
        self._entry_seg_count = seg_count[order]
        self._seg_list = seg_flat.astype(np.int32)
        sorted_cells = cells[order]
        self._table_cells, self._table_start, counts = np.unique(
            sorted_cells, return_index=True, return_counts=True
        )
        self._table_count = counts.astype(np.int64)
        self._table_start = self._table_start.astype(np.int64)

    def _build_grid(self, pts: list[tuple[FloatArray, FloatArray, FloatArray]]) -> None:
        if not pts or sum(len(p[0]) for p in pts) == 0:
            self._grid = _Grid(0.0, 0.0, 1.0, 1.0, 1, 1, np.zeros(1, dtype=np.bool_))
            return
        lng = np.concatenate([p[0] for p in pts])
        lat = np.concatenate([p[1] for p in pts])
        r_lng = np.concatenate([p[2] for p in pts])
        lat_top = float(np.max(np.abs(lat)))
        kx, ky = metres_per_degree(lat_top)
        r_lat = r_lng * kx / ky
        cell_m = max(GRID_CELL_M, 2.0 * float(np.max(r_lng)) * kx * 1.01)
        while True:
            dlng, dlat = cell_m / kx, cell_m / ky
            lng_min = float(np.min(lng - r_lng)) - 2 * dlng
            lat_min = float(np.min(lat - r_lat)) - 2 * dlat
            nx = int((float(np.max(lng + r_lng)) - lng_min) / dlng) + 3
            ny = int((float(np.max(lat + r_lat)) - lat_min) / dlat) + 3
            if nx * ny <= GRID_MAX_CELLS:
                break
            cell_m *= 2.0
        bits = np.zeros((ny, nx), dtype=np.bool_)
        ix0 = ((lng - r_lng - lng_min) / dlng).astype(np.int64)
        ix1 = ((lng + r_lng - lng_min) / dlng).astype(np.int64)
        iy0 = ((lat - r_lat - lat_min) / dlat).astype(np.int64)
        iy1 = ((lat + r_lat - lat_min) / dlat).astype(np.int64)
        for iy in (iy0, iy1):
            for ix in (ix0, ix1):
                bits[iy, ix] = True
        self._grid = _Grid(lng_min, lat_min, 1.0 / dlng, 1.0 / dlat, nx, ny, bits.ravel())

    # ---- classification -------------------------------------------------------------------

    def _resolve(
        self, cells: npt.NDArray[np.uint64], lng: FloatArray, lat: FloatArray
    ) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """For fixes already in cells ``cells``: the chosen station code (-1: none) and the
        signed boundary distance (metres, negative inside; NaN when no station)."""
        m = len(cells)
        code = np.full(m, -1, dtype=np.int32)
        signed = np.full(m, np.nan)
        if m == 0 or len(self._table_cells) == 0:
            return code, signed
        pos = np.searchsorted(self._table_cells, cells)
        np.minimum(pos, len(self._table_cells) - 1, out=pos)
        hit = np.flatnonzero(self._table_cells[pos] == cells)
        if len(hit) == 0:
            return code, signed
        t = pos[hit]
        cnt = self._table_count[t]
        pair_fix = np.repeat(hit, cnt)
        pair_entry = _expand(self._table_start[t], cnt)
        st = self._entry_station[pair_entry]
        cls_ = self._entry_class[pair_entry]
        p_lng = lng[pair_fix]
        p_lat = lat[pair_fix]
        x = (p_lng - self._origin_lng[st]) * self._kx[st]
        y = (p_lat - self._origin_lat[st]) * self._ky[st]

        s_cnt = self._entry_seg_count[pair_entry]
        seg = self._seg_list[_expand(self._entry_seg_start[pair_entry], s_cnt)]
        owner = np.repeat(np.arange(len(pair_entry)), s_cnt)
        ax, ay, bx, by = self._seg
        d_all = segment_distance_m(x[owner], y[owner], ax[seg], ay[seg], bx[seg], by[seg])
        starts = np.concatenate([[0], np.cumsum(s_cnt)[:-1]])
        d = np.minimum.reduceat(d_all, starts)

        inside = cls_ == CORE
        b = np.flatnonzero(cls_ != CORE)
        b = b[cls_[b] != 2]
        if len(b):
            inside[b] = shapely.contains_xy(self.geometries[st[b]], p_lng[b], p_lat[b])
        dist_signed = np.where(inside, -np.maximum(d, INSIDE_EPS_M), d)
        valid = np.flatnonzero((inside | (d <= self.near_m)) & np.isfinite(d))
        if len(valid) == 0:
            return code, signed
        # Preference: inside beats outside; among insides the nearer centroid (the frame origin);
        # among outsides the nearer boundary; ties by station code (station_id order).
        key = np.where(inside, np.hypot(x, y) - 1e12, d)[valid]
        pf = pair_fix[valid]
        order = np.lexsort((st[valid], key, pf))
        pf_sorted = pf[order]
        first = np.ones(len(order), dtype=np.bool_)
        first[1:] = pf_sorted[1:] != pf_sorted[:-1]
        chosen = valid[order[first]]
        code[pair_fix[chosen]] = st[chosen]
        signed[pair_fix[chosen]] = dist_signed[chosen]
        return code, signed

    def _cells_for(
        self, fixes: pl.DataFrame, lng: FloatArray, lat: FloatArray
    ) -> tuple[IntArray, npt.NDArray[np.uint64]]:
        """Candidate row indices and their STORE_RESOLUTION cells (stored or computed)."""
        if "h3_cell" in fixes.columns:
            col = fixes["h3_cell"]
            if col.dtype != pl.UInt64:
                col = col.cast(pl.UInt64, strict=False)
            missing = np.flatnonzero(col.is_null().to_numpy()) if col.null_count() else None
            cells = col.fill_null(0).to_numpy()
            if missing is not None and len(missing):
                cells = cells.copy()
                cells[missing] = _h3(lng[missing], lat[missing])
            cand = np.flatnonzero(self._bitmap[_hash(cells)])
            return cand, cells[cand]
        cand = self._grid.candidates(lng, lat)
        return cand, _h3(lng[cand], lat[cand])

    def classify(self, fixes: pl.DataFrame) -> pl.DataFrame:
        """Attribute each fix to a station, with its signed boundary distance and p_inside.

        Input columns: ``lat``, ``lon`` (degrees WGS84); optional ``accuracy_m`` (metres, 68%
        radius; null, <= 0 or non-finite: the source's default), ``source`` (gps/wifi/cell/fused,
        else unknown), ``is_mock`` (null = false) and ``h3_cell`` (UInt64 at STORE_RESOLUTION
        computed by geo.cells from the same lat/lon; when present it is used instead of computing
        cells, and a null cell is computed). Returns the input (same rows and order, all columns)
        plus ``station_id`` (Utf8: the station whose fence contains the fix, the nearer centroid
        if several do; else the station with the nearest boundary within near_m; else null),
        ``boundary_distance_m`` (Float64, metres to that station's boundary, < 0 exactly when
        inside; null with no station) and ``p_inside`` (Float64 in [0, 1]; 0 with no station or
        for a mock fix, whose station and distance are still reported). Null lat/lon: no station.
        """
        n = fixes.height
        lat = _floats(fixes["lat"])
        lng = _floats(fixes["lon"])
        cand, cand_cells = self._cells_for(fixes, lng, lat)
        code_c, signed_c = self._resolve(cand_cells, lng[cand], lat[cand])
        has = np.flatnonzero(code_c >= 0)
        rows = cand[has]
        codes = code_c[has]
        dist = signed_c[has]
        p = self._p_inside(fixes, rows, codes, dist)
        return fixes.with_columns(_assemble(n, rows, codes, dist, p, self.station_ids))

    def _p_inside(
        self, fixes: pl.DataFrame, rows: IntArray, codes: npt.NDArray[np.int32], dist: FloatArray
    ) -> FloatArray:
        """p_inside for the rows that have a station (see errors_model); 0 for mock rows."""
        if len(rows) == 0:
            return np.zeros(0)
        idx = pl.Series(rows)
        accuracy = (
            _floats(fixes["accuracy_m"].gather(idx))
            if "accuracy_m" in fixes.columns
            else np.full(len(rows), np.nan)
        )
        source = fixes["source"].gather(idx) if "source" in fixes.columns else None
        acc = errors_model.effective_accuracy_m(
            accuracy, errors_model.source_codes(source, len(rows))
        )
        p = errors_model.p_inside(dist, errors_model.sigma_m(acc), self._area_m2[codes])
        if "is_mock" in fixes.columns:
            mock = fixes["is_mock"].gather(idx).cast(pl.Boolean).fill_null(False).to_numpy()
            p = np.where(mock, 0.0, p)
        return p

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

    def station_centroids(self) -> pl.DataFrame:
        """``station_id``, ``lat``, ``lon``: each fence's area centroid in degrees (buffered)."""
        return pl.DataFrame(
            {
                "station_id": pl.Series(self.station_ids, dtype=pl.Utf8),
                "lat": pl.Series(self._origin_lat, dtype=pl.Float64),
                "lon": pl.Series(self._origin_lng, dtype=pl.Float64),
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
        codes = np.array([lookup.get(s, -1) if s is not None else -1 for s in station_ids])
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
                "h3_cell": pl.Series(
                    np.repeat(self._table_cells, self._table_count), dtype=pl.UInt64
                ),
                "station_id": pl.Series(
                    np.array(self.station_ids, dtype=object)[self._entry_station], dtype=pl.Utf8
                ),
                "cell_class": pl.Series(names[self._entry_class], dtype=pl.Utf8),
            }
        )


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


def _assemble(
    n: int,
    rows: IntArray,
    codes: npt.NDArray[np.int32],
    dist: FloatArray,
    p: FloatArray,
    names: list[str],
) -> list[pl.Series]:
    """The three output columns for ``n`` rows, set at ``rows`` and null/0 elsewhere."""
    code_all = np.full(n, -1, dtype=np.int32)
    code_all[rows] = codes
    mask = code_all < 0
    dist_all = np.zeros(n)
    dist_all[rows] = dist
    p_all = np.zeros(n)
    p_all[rows] = p
    dictionary = pa.DictionaryArray.from_arrays(
        pa.array(code_all, mask=mask), pa.array(names, type=pa.string())
    )
    station = pl.Series("station_id", dictionary.cast(pa.large_string()))
    return [
        station,
        pl.Series("boundary_distance_m", pa.array(dist_all, mask=mask)),
        pl.Series("p_inside", p_all),
    ]
