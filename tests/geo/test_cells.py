"""Tests for geo.cells: store and timeline cells of fixes."""

from __future__ import annotations

import h3
import polars as pl

from geo.cells import STORE_RESOLUTION, TIMELINE_RESOLUTION, cell_expr, cells, coarsen


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
