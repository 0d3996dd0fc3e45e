"""H3 cells of fixes: the fine cell stored with each ping and the coarse cell shown in timelines."""

from __future__ import annotations

import polars as pl
import polars_h3 as plh3

# Resolution 12 cells have a mean edge of about 9.4 m and area of about 307 m2: smaller than the
# 68% error radius of almost every real fix (GPS outdoors 5-15 m, Wi-Fi 20-60 m), so the stored
# cell loses nothing the fix itself knew, while a 40-200 m station still has whole cells inside.
STORE_RESOLUTION = 12
# CONTRACT §7: "away" timeline segments carry a cell of this resolution (about 5 km2), not a point.
TIMELINE_RESOLUTION = 7


def cell_expr(lat: str = "lat", lon: str = "lon", resolution: int = STORE_RESOLUTION) -> pl.Expr:
    """An expression giving the H3 cell (UInt64) of columns ``lat``/``lon`` in WGS84 degrees.

    H3 takes (lat, lng) in that order; null coordinates give a null cell.
    """
    expr: pl.Expr = plh3.latlng_to_cell(lat, lon, resolution)
    return expr


def cells(frame: pl.DataFrame, resolution: int = STORE_RESOLUTION) -> pl.Series:
    """The H3 cell of each row of a frame with ``lat`` and ``lon`` columns, vectorised."""
    return frame.select(cell_expr(resolution=resolution).alias("h3_cell")).to_series()


def coarsen(cell: pl.Expr, resolution: int = TIMELINE_RESOLUTION) -> pl.Expr:
    """The parent cell at a coarser resolution (for timelines: never a raw coordinate)."""
    expr: pl.Expr = plh3.cell_to_parent(cell, resolution)
    return expr


def timeline_cell_expr(resolution: int = TIMELINE_RESOLUTION, *, stored: bool) -> pl.Expr:
    """The coarse cell shown for a fix: the ancestor at ``resolution`` of its cell at
    STORE_RESOLUTION (column ``h3_cell`` when ``stored``, every row having one; else computed
    from ``lat``/``lon``).

    Indexed once at the fine resolution and rolled up by parent, a fix gets the same coarse cell
    whichever path reads it, and a stored fix needs no H3 computation (a parent is a few bit
    operations; a cell from coordinates costs about 0.7 microsecond). Near a coarse cell's edge
    the ancestor can be the neighbour of the cell holding the point, as with any H3 roll-up. A
    resolution finer than STORE_RESOLUTION is computed from the coordinates.
    """
    if resolution > STORE_RESOLUTION:
        return cell_expr("lat", "lon", resolution)
    fine = pl.col("h3_cell") if stored else cell_expr("lat", "lon", STORE_RESOLUTION)
    return coarsen(fine, resolution)
