"""Vectorised lookups for the index: a lat/lng grid bitmap with direct fine-cell rows, H3 parent
bitmaps and an H3 hash table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CellArray = npt.NDArray[np.uint64]

_MULT = np.uint64(0x9E3779B97F4A7C15)
# Elements per pass of the chunked full-length scans: the temporaries of a chunk stay in the L2
# cache, so each array pass costs compute rather than memory traffic.
SCAN_CHUNK = 65536  # Fibonacci hashing: good spread of H3's structured bits


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

    def marked(self, lng: FloatArray, lat: FloatArray) -> IntArray:
        """Indices of points (degrees) in a marked coarse cell, in order (chunked pass).

        The coarse index is trunc(offset * inv / 2^COARSE_SHIFT); scaling by a power of two is
        exact, so it always equals the fine index shifted right, as ``mark`` assumes. Negative
        or NaN offsets wrap to huge unsigned values and are clamped onto the unmarked border.
        """
        s = self.COARSE_SHIFT
        ncx, ncy = self.nx >> s, self.ny >> s
        scale_x = self.inv_dlng / (1 << s)
        scale_y = self.inv_dlat / (1 << s)
        n = len(lng)
        fx = np.empty(min(n, SCAN_CHUNK))
        fy = np.empty(min(n, SCAN_CHUNK))
        found = []
        for lo in range(0, n, SCAN_CHUNK):
            hi = min(lo + SCAN_CHUNK, n)
            px, py = fx[: hi - lo], fy[: hi - lo]
            with np.errstate(invalid="ignore"):
                np.subtract(lng[lo:hi], self.lng_min, out=px)
                px *= scale_x
                cx = px.astype(np.int32).view(np.uint32)
                np.subtract(lat[lo:hi], self.lat_min, out=py)
                py *= scale_y
                cy = py.astype(np.int32).view(np.uint32)
            np.minimum(cx, np.uint32(ncx - 1), out=cx)
            np.minimum(cy, np.uint32(ncy - 1), out=cy)
            cy *= np.uint32(ncx)
            cy += cx
            hit = np.flatnonzero(self.bits[cy])
            if len(hit):
                found.append(hit + lo)
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(found)

    def candidates(self, lng: FloatArray, lat: FloatArray) -> tuple[IntArray, CellArray]:
        """Indices of points (degrees) in a marked coarse cell (see ``marked``), and their
        fine-cell keys."""
        cand = self.marked(lng, lat)
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
    factor used (at most 1/4). Arrays of mostly-absent H3 cells go through a ParentFilter first.
    """

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


@dataclass(frozen=True)
class ParentFilter:
    """A membership prefilter for resolution-12 H3 cells by their parents, in two steps.

    H3 stores a cell's digits (3 bits each) from coarse to fine, so ``(cell >> 3 (15 - r)) & mask``
    keeps digits 4 to r: the cell's resolution-r parent within its resolution-3 cell (about
    12,000 km2). ``coarse`` has one byte per resolution-9 parent (digits 4-9, 256 KiB: it stays in
    the L2 cache and passes about a tenth of fixes spread over a city); ``fine`` one per
    resolution-11 parent (digits 4-11, 16 MiB), asked only about what the first step passed. A cell
    always finds its own marks, so there are no false negatives for any uint64 key; false
    positives are a marked parent's other children and digit patterns repeated in another
    resolution-3 cell.
    """

    coarse: npt.NDArray[np.bool_]
    fine: npt.NDArray[np.bool_]

    COARSE_SHIFT = 18  # 3 * (15 - 9)
    COARSE_BITS = 18  # digits 4..9
    FINE_SHIFT = 12  # 3 * (15 - 11)
    FINE_BITS = 24  # digits 4..11

    @classmethod
    def of(cls, cells: CellArray) -> ParentFilter:
        """A filter marking ``cells``."""
        cells = np.ascontiguousarray(cells, dtype=np.uint64)
        coarse = np.zeros(1 << cls.COARSE_BITS, dtype=np.bool_)
        coarse[_digits(cells, cls.COARSE_SHIFT, cls.COARSE_BITS)] = True
        fine = np.zeros(1 << cls.FINE_BITS, dtype=np.bool_)
        fine[_digits(cells, cls.FINE_SHIFT, cls.FINE_BITS)] = True
        return cls(coarse, fine)

    def maybe(self, cells: CellArray) -> IntArray:
        """Indices into ``cells`` that may be marked (no false negatives), in order; one chunked
        pass of a shift, a mask and a look-up in the small table, then the same in the large
        table for what passed."""
        cells = np.ascontiguousarray(cells, dtype=np.uint64)
        n = len(cells)
        c_shift, c_mask = np.uint64(self.COARSE_SHIFT), np.uint64((1 << self.COARSE_BITS) - 1)
        f_shift, f_mask = np.uint64(self.FINE_SHIFT), np.uint64((1 << self.FINE_BITS) - 1)
        slot = np.empty(min(n, SCAN_CHUNK), dtype=np.uint64)
        found = []
        for lo in range(0, n, SCAN_CHUNK):
            part = cells[lo : lo + SCAN_CHUNK]
            s = slot[: len(part)]
            np.right_shift(part, c_shift, out=s)
            np.bitwise_and(s, c_mask, out=s)
            hit = np.flatnonzero(self.coarse[s.view(np.int64)])
            if len(hit) == 0:
                continue
            f = part[hit]
            f >>= f_shift
            f &= f_mask
            hit = hit[self.fine[f.view(np.int64)]]
            if len(hit):
                found.append(hit + lo)
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(found)


def _digits(cells: CellArray, shift: int, bits: int) -> IntArray:
    out: IntArray = ((cells >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).view(np.int64)
    return out


@dataclass(frozen=True)
class GridRows:
    """Direct look-up of fine cells of a PlanarGrid: fine cell -> row of a key list, no hashing.

    ``block`` has one int32 per coarse cell: 0 when none of its fine cells is keyed, else the
    number b >= 1 of a block; ``rows[16 b + 4 (iy & 3) + (ix & 3)]`` is the row of that fine cell
    (-1 when not keyed; block 0 is all -1). Two gathers per point instead of hash probes.
    """

    grid: PlanarGrid
    block: npt.NDArray[np.int32]
    rows: npt.NDArray[np.int32]

    @classmethod
    def of(cls, grid: PlanarGrid, keys: CellArray) -> GridRows:
        """Rows of fine-cell ``keys`` (row i is keys[i]); they must lie off the grid's border."""
        s = grid.COARSE_SHIFT
        k = keys.astype(np.int64) - 1
        ix, iy = k % grid.nx, k // grid.nx
        coarse = (iy >> s) * (grid.nx >> s) + (ix >> s)
        used = np.unique(coarse)
        block = np.zeros((grid.ny >> s) * (grid.nx >> s), dtype=np.int32)
        block[used] = np.arange(1, len(used) + 1, dtype=np.int32)
        per = 1 << (2 * s)
        rows = np.full((len(used) + 1) * per, -1, dtype=np.int32)
        sub = ((iy & ((1 << s) - 1)) << s) | (ix & ((1 << s) - 1))
        rows[block[coarse].astype(np.int64) * per + sub] = np.arange(len(keys), dtype=np.int32)
        return cls(grid, block, rows)

    def find(self, lng: FloatArray, lat: FloatArray) -> npt.NDArray[np.int32]:
        """The row of each point's fine cell (degrees), -1 when not keyed, outside the grid or
        NaN (those land on the grid's unkeyed border, as in PlanarGrid.candidates)."""
        g = self.grid
        s = g.COARSE_SHIFT
        with np.errstate(invalid="ignore"):
            fx = lng - g.lng_min
            fx *= g.inv_dlng
            ix = fx.astype(np.int32).view(np.uint32)
            fy = lat - g.lat_min
            fy *= g.inv_dlat
            iy = fy.astype(np.int32).view(np.uint32)
        np.minimum(ix, np.uint32(g.nx - 1), out=ix)
        np.minimum(iy, np.uint32(g.ny - 1), out=iy)
        low = np.uint32((1 << s) - 1)
        sub = iy & low
        sub <<= np.uint32(s)
        sub |= ix & low
        ix >>= np.uint32(s)
        iy >>= np.uint32(s)
        iy *= np.uint32(g.nx >> s)
        iy += ix
        blk = self.block[iy].astype(np.int64)
        blk <<= 2 * s
        blk += sub
        out: npt.NDArray[np.int32] = self.rows[blk]
        return out
