"""Tests for geo.cells: store and timeline cells of fixes."""

from __future__ import annotations

import h3
import polars as pl

from geo.cells import (
    STORE_RESOLUTION,
    TIMELINE_RESOLUTION,
    cell_expr,
    cells,
    coarsen,
    timeline_cell_expr,
)


def test_cells_match_h3_py_with_lat_lng_order() -> None:
    frame = pl.DataFrame({"lat": [51.5074, 51.6, None], "lon": [-0.1278, 0.1, -0.1]})
    got = cells(frame).to_list()
    expected = [h3.str_to_int(h3.latlng_to_cell(51.5074, -0.1278, STORE_RESOLUTION))]
    expected.append(h3.str_to_int(h3.latlng_to_cell(51.6, 0.1, STORE_RESOLUTION)))
    assert got == [*expected, None]


def test_coarsen_gives_the_timeline_parent() -> None:
    frame = pl.DataFrame({"lat": [51.5074], "lon": [-0.1278]})
    out = frame.select(coarsen(cell_expr())).to_series().to_list()
    fine = h3.latlng_to_cell(51.5074, -0.1278, STORE_RESOLUTION)
    assert out == [h3.str_to_int(h3.cell_to_parent(fine, TIMELINE_RESOLUTION))]


def test_timeline_cell_is_the_stored_cells_ancestor_whichever_path() -> None:
    rng_lat = [51.28 + 0.0137 * i for i in range(40)]
    rng_lon = [-0.51 + 0.0211 * i for i in range(40)]
    frame = pl.DataFrame({"lat": rng_lat, "lon": rng_lon})
    frame = frame.with_columns(h3_cell=cells(frame))
    stored = frame.select(timeline_cell_expr(stored=True)).to_series().to_list()
    computed = frame.select(timeline_cell_expr(stored=False)).to_series().to_list()
    expected = [
        h3.str_to_int(h3.cell_to_parent(h3.latlng_to_cell(a, b, STORE_RESOLUTION), 7))
        for a, b in zip(rng_lat, rng_lon, strict=True)
    ]
    assert stored == computed == expected
    assert {h3.get_resolution(h3.int_to_str(c)) for c in stored} == {TIMELINE_RESOLUTION}
    finer = frame.select(timeline_cell_expr(STORE_RESOLUTION + 1, stored=True)).to_series()
    assert finer.to_list() == [
        h3.str_to_int(h3.latlng_to_cell(a, b, STORE_RESOLUTION + 1))
        for a, b in zip(rng_lat, rng_lon, strict=True)
    ]
