"""Vectorised lookups for the index: a lat/lng grid bitmap, a cell bitmap and an H3 hash table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CellArray = npt.NDArray[np.uint64]

_MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: good spread of H3's structured bits


def hash_bits(cells: CellArray, bits: int) -> IntArray:
    """A ``bits``-bit multiplicative hash of each uint64 cell (wrapping multiply, top bits)."""
    out: IntArray = ((cells * _MULT) >> np.uint64(64 - bits)).view(np.int64)
    return out


@dataclass(frozen=True)
class PlanarGrid:
    """A regular grid over (lng, lat) degrees with a bitmap of coarse cells.

    Fine cell (ix, iy) holds the points with ix = trunc((lng - lng_min) * inv_dlng), likewise iy;
    its key is iy * nx + ix + 1 (never 0, so it can live in a CellTable). Each coarse cell is
    COARSE x COARSE fine cells; ``bits`` marks coarse cells that hold a keyed fine cell. At least
    one unmarked coarse cell borders the grid, so points outside it (clipped onto the border) and
    NaN coordinates are never candidates.
    """

    lng_min: float
    lat_min: float
    inv_dlng: float
    inv_dlat: float
    nx: int
    ny: int
    bits: npt.NDArray[np.bool_]

    COARSE_SHIFT = 2  # a coarse cell is 4 x 4 fine cells

    @classmethod
    def spanning(
        cls,
        bounds: tuple[float, float, float, float],
        cell_lng: float,
        cell_lat: float,
        max_cells: int = 1 << 26,
    ) -> PlanarGrid:
        """A grid of fine cells ``cell_lng`` x ``cell_lat`` degrees over (min_lng, min_lat,
        max_lng, max_lat) plus a two-coarse-cell margin; cells double until the coarse bitmap
        has at most ``max_cells`` cells. Nothing is marked."""
        min_lng, min_lat, max_lng, max_lat = bounds
        c = 1 << cls.COARSE_SHIFT
        while True:
            lng0 = min_lng - 2 * c * cell_lng
            lat0 = min_lat - 2 * c * cell_lat
            nx = (int((max_lng - lng0) / cell_lng) // c + 3) * c
            ny = (int((max_lat - lat0) / cell_lat) // c + 3) * c
            if (nx // c) * (ny // c) <= max_cells:
                break
            cell_lng *= 2.0
            cell_lat *= 2.0
        bits = np.zeros((ny // c) * (nx // c), dtype=np.bool_)
        return cls(lng0, lat0, 1.0 / cell_lng, 1.0 / cell_lat, nx, ny, bits)

    def index(self, lng: float, lat: float) -> tuple[int, int]:
        """The fine cell (ix, iy) of one point, with exactly the arithmetic of ``candidates``."""
        fx = np.array([lng - self.lng_min]) * self.inv_dlng
        fy = np.array([lat - self.lat_min]) * self.inv_dlat
        return int(fx.astype(np.int32)[0]), int(fy.astype(np.int32)[0])

    def key(self, ix: npt.NDArray[np.integer], iy: npt.NDArray[np.integer]) -> CellArray:
        """Keys of fine cells (ix, iy)."""
        out: CellArray = (iy.astype(np.int64) * self.nx + ix + 1).astype(np.uint64)
        return out

    def mark(self, keys: CellArray) -> None:
        """Mark the coarse cells holding fine cells ``keys`` (in place)."""
        k = keys.astype(np.int64) - 1
        ix, iy = k % self.nx, k // self.nx
        c = 1 << self.COARSE_SHIFT
        if len(k) and (
            min(ix.min(), iy.min()) < c or ix.max() >= self.nx - c or iy.max() >= self.ny - c
        ):
            raise ValueError("a keyed cell lies on the grid's border")
        s = self.COARSE_SHIFT
        self.bits[(iy >> s) * (self.nx >> s) + (ix >> s)] = True

    def candidates(self, lng: FloatArray, lat: FloatArray) -> tuple[IntArray, CellArray]:
        """Indices of points (degrees) in a marked coarse cell, and their fine-cell keys.

        The coarse index is trunc(offset * inv / 2^COARSE_SHIFT); scaling by a power of two is
        exact, so it always equals the fine index shifted right, as ``mark`` assumes. Negative
        or NaN offsets wrap to huge unsigned values and are clamped onto the unmarked border.
        """
        s = self.COARSE_SHIFT
        ncx, ncy = self.nx >> s, self.ny >> s
        with np.errstate(invalid="ignore"):
            fx = lng - self.lng_min
            fx *= self.inv_dlng / (1 << s)
            cx = fx.astype(np.int32).view(np.uint32)
            fy = lat - self.lat_min
            fy *= self.inv_dlat / (1 << s)
            cy = fy.astype(np.int32).view(np.uint32)
        np.minimum(cx, np.uint32(ncx - 1), out=cx)
        np.minimum(cy, np.uint32(ncy - 1), out=cy)
        cy *= np.uint32(ncx)
        cy += cx
        cand = np.flatnonzero(self.bits[cy])
        ix = ((lng[cand] - self.lng_min) * self.inv_dlng).astype(np.int64)
        iy = ((lat[cand] - self.lat_min) * self.inv_dlat).astype(np.int64)
        return cand, self.key(ix, iy)

    def keys(self, lng: FloatArray, lat: FloatArray) -> CellArray:
        """Fine-cell keys of points (degrees); 0 (never a key) outside the grid or for NaN."""
        with np.errstate(invalid="ignore"):
            fx = (lng - self.lng_min) * self.inv_dlng
            fy = (lat - self.lat_min) * self.inv_dlat
            inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        ix = np.where(inside, fx, 0.0).astype(np.int64)
        iy = np.where(inside, fy, 0.0).astype(np.int64)
        return np.where(inside, self.key(ix, iy), np.uint64(0))


class CellTable:
    """An open-addressing hash table from H3 cell (uint64, never 0) to a row number, in numpy.

    Lookups are vectorised: one probe round per array pass, rarely more than two at the load
    factor used (at most 1/4). A 2^22-entry bitmap of the hash filters arrays of mostly-absent
    cells with few false positives and no false negatives.
    """

    FILTER_BITS = 22

    def __init__(self, cells: CellArray) -> None:
        """Index unique, non-zero ``cells``; row i of the table is cells[i]."""
        cells = np.ascontiguousarray(cells, dtype=np.uint64)
        ordered = cells if np.all(cells[1:] > cells[:-1]) else np.sort(cells)
        if np.any(ordered[1:] == ordered[:-1]) or np.any(cells == 0):
            raise ValueError("cells must be unique and non-zero")
        self.bits = max(10, int(np.ceil(np.log2(max(len(cells), 1) * 4))))
        size = 1 << self.bits
        self.mask = size - 1
        self.keys = np.zeros(size, dtype=np.uint64)
        self.rows = np.full(size, -1, dtype=np.int32)
        pending = np.arange(len(cells))
        slot = hash_bits(cells, self.bits)
        self.max_probes = 0
        while len(pending):
            self.max_probes += 1
            s = slot[pending]
            free = self.keys[s] == 0
            cand = pending[free]
            # Of several pending cells hashing to the same free slot, the first wins this round.
            _, first = np.unique(slot[cand], return_index=True)
            won = cand[first]
            self.keys[slot[won]] = cells[won]
            self.rows[slot[won]] = won
            placed = np.zeros(len(cells), dtype=np.bool_)
            placed[won] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask
        self.filter = np.zeros(1 << self.FILTER_BITS, dtype=np.bool_)
        self.filter[hash_bits(cells, self.FILTER_BITS)] = True

    def maybe(self, cells: CellArray) -> IntArray:
        """Indices into ``cells`` that may be in the table (no false negatives)."""
        return np.flatnonzero(self.filter[hash_bits(cells, self.FILTER_BITS)])

    def find(self, cells: CellArray) -> IntArray:
        """The row of each cell, or -1 when absent."""
        out = np.full(len(cells), -1, dtype=np.int64)
        slot = hash_bits(cells, self.bits)
        todo = np.arange(len(cells))
        for _ in range(self.max_probes):
            if len(todo) == 0:
                break
            s = slot[todo]
            k = self.keys[s]
            hit = k == cells[todo]
            out[todo[hit]] = self.rows[s[hit]]
            again = ~hit & (k != 0)
            todo = todo[again]
            slot[todo] = (s[again] + 1) & self.mask
        return out
