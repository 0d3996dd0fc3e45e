"""Tests for geo.lookup: the planar grid's bitmap and keys, and the numpy hash table."""

from __future__ import annotations

import numpy as np
import pytest

from geo.lookup import CellTable, PlanarGrid


def test_cell_table_finds_every_key_and_nothing_else() -> None:
    rng = np.random.default_rng(3)
    keys = np.unique(rng.integers(1, 2**63, 50_000, dtype=np.int64).astype(np.uint64))
    table = CellTable(keys)
    assert np.array_equal(table.find(keys), np.arange(len(keys)))
    others = rng.integers(1, 2**63, 200_000, dtype=np.int64).astype(np.uint64)
    others = others[~np.isin(others, keys)]
    assert np.all(table.find(others) == -1)


def test_cell_table_handles_collisions_and_rejects_bad_keys() -> None:
    # Keys that share the hash's top bits collide on purpose: multiples of 2^40.
    keys = (np.arange(1, 3000, dtype=np.uint64) << np.uint64(40)).astype(np.uint64)
    table = CellTable(keys)
    assert np.array_equal(table.find(keys[::-1]), np.arange(len(keys))[::-1])
    with pytest.raises(ValueError, match="unique and non-zero"):
        CellTable(np.array([5, 5], dtype=np.uint64))
    with pytest.raises(ValueError, match="unique and non-zero"):
        CellTable(np.array([0, 5], dtype=np.uint64))
    assert CellTable(np.zeros(0, dtype=np.uint64)).find(keys[:3]).tolist() == [-1, -1, -1]


def test_planar_grid_keys_match_its_scalar_index_and_bitmap() -> None:
    grid = PlanarGrid.spanning((-0.2, 51.4, 0.0, 51.6), 0.0002, 0.00015)
    rng = np.random.default_rng(4)
    lng = rng.uniform(-0.2, 0.0, 1000)
    lat = rng.uniform(51.4, 51.6, 1000)
    marked = lng < -0.1
    ix_iy = [grid.index(float(x), float(y)) for x, y in zip(lng, lat, strict=True)]
    keys = grid.key(np.array([i for i, _ in ix_iy]), np.array([j for _, j in ix_iy]))
    grid.mark(keys[marked])
    cand, cand_keys = grid.candidates(lng, lat)
    # Every marked point is a candidate with its own key; others only share a coarse cell.
    assert set(np.flatnonzero(marked)) <= set(cand.tolist())
    assert np.array_equal(cand_keys, keys[cand])
    assert len(cand) < 0.6 * len(lng)


def test_planar_grid_never_returns_outside_or_nan_points() -> None:
    grid = PlanarGrid.spanning((-0.2, 51.4, 0.0, 51.6), 0.0002, 0.00015)
    grid.bits[:] = True  # even with everything marked...
    c = 1 << PlanarGrid.COARSE_SHIFT
    grid.bits.reshape(grid.ny // c, grid.nx // c)[[0, -1], :] = False
    grid.bits.reshape(grid.ny // c, grid.nx // c)[:, [0, -1]] = False
    lng = np.array([np.nan, -0.1, 179.0, -179.0, -0.1, -0.1])
    lat = np.array([51.5, np.nan, 51.5, 51.5, 89.0, -89.0])
    cand, _ = grid.candidates(lng, lat)
    assert cand.tolist() == []
    with pytest.raises(ValueError, match="border"):
        grid.mark(grid.key(np.array([0]), np.array([5])))


def test_planar_grid_keys_are_zero_outside_the_grid() -> None:
    grid = PlanarGrid.spanning((-0.2, 51.4, 0.0, 51.6), 0.0002, 0.00015)
    lng = np.array([-0.1, np.nan, 5.0, -0.1])
    lat = np.array([51.5, 51.5, 51.5, -51.5])
    keys = grid.keys(lng, lat)
    ix, iy = grid.index(-0.1, 51.5)
    assert keys.tolist() == [int(grid.key(np.array([ix]), np.array([iy]))[0]), 0, 0, 0]


def test_parent_filter_keeps_every_marked_cell_and_passes_few_others() -> None:
    import h3

    from geo.lookup import ParentFilter

    rng = np.random.default_rng(6)
    lat = rng.uniform(51.28, 51.69, 200_000)
    lng = rng.uniform(-0.51, 0.33, 200_000)
    cells = np.array(
        [h3.str_to_int(h3.latlng_to_cell(a, b, 12)) for a, b in zip(lat, lng, strict=True)],
        dtype=np.uint64,
    )
    marked = cells[:2_000]
    filt = ParentFilter.of(marked)
    got = filt.maybe(cells)
    assert np.all(np.diff(got) > 0)
    is_marked = np.isin(cells, marked)
    assert set(np.flatnonzero(is_marked)) <= set(got.tolist())
    assert np.sum(~is_marked[got]) < 0.01 * len(cells)
    assert filt.maybe(np.zeros(0, dtype=np.uint64)).tolist() == []


def test_grid_rows_find_the_row_of_each_keyed_cell() -> None:
    from geo.lookup import GridRows

    grid = PlanarGrid.spanning((-0.2, 51.4, 0.0, 51.6), 0.0002, 0.00015)
    rng = np.random.default_rng(7)
    lng = rng.uniform(-0.2, 0.0, 20_000)
    lat = rng.uniform(51.4, 51.6, 20_000)
    keys = grid.keys(lng, lat)
    table_keys = np.unique(keys[:5_000])
    rows = GridRows.of(grid, table_keys)
    expected = np.searchsorted(table_keys, keys)
    expected[~np.isin(keys, table_keys)] = -1
    assert np.array_equal(rows.find(lng, lat), expected)
    odd_lng = np.array([np.nan, -0.1, 179.0, -179.0, -0.1, -0.1])
    odd_lat = np.array([51.5, np.nan, 51.5, 51.5, 89.0, -89.0])
    assert rows.find(odd_lng, odd_lat).tolist() == [-1] * 6
