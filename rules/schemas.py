"""Column schemas of the frames the rules take and return, and a helper conforming inputs."""

from __future__ import annotations

import polars as pl

from rules.clock import INSTANT
from rules.records import CLAIM, OFFICER, PING, SHIFT, STATION, SWIPE

# The rules' frames of the CONTRACT §2 records (rules.records), officer first.
FIXES: dict[str, pl.DataType] = {
    **PING.polars(
        ("officer_id", "device_id", "ts", "lat", "lon", "accuracy_m", "source", "is_mock")
    ),
    # from geo's classification of each fix (geo.index)
    "station_id": pl.Utf8(),
    "boundary_distance_m": pl.Float64(),
    "p_inside": pl.Float64(),
    **PING.polars(("h3_cell",)),  # at geo.cells.STORE_RESOLUTION, as stored; optional
}
SWIPES: dict[str, pl.DataType] = SWIPE.polars(
    ("officer_id", "badge_id", "ts", "station_id", "reader_id", "direction", "granted")
)
_SHIFT_TIMES = ("start_at", "end_at", "kind", "station_id", "declared_location")
SHIFTS: dict[str, pl.DataType] = SHIFT.polars(
    ("shift_id", "officer_id", *_SHIFT_TIMES, "created_at", "updated_at")
)
SHIFT_HISTORY: dict[str, pl.DataType] = SHIFT.polars(
    ("shift_id", "version", "recorded_at", *_SHIFT_TIMES, "created_at", "updated_at")
)
OVERTIME: dict[str, pl.DataType] = CLAIM.polars(
    ("claim_id", "officer_id", "start_at", "end_at", "station_id", "submitted_at")
)
OFFICERS: dict[str, pl.DataType] = OFFICER.polars(("officer_id", "unit", "office_based"))
# radius_m: metres to the fence's farthest point (geo.index.station_centroids); optional
STATIONS: dict[str, pl.DataType] = STATION.polars(("station_id", "lat", "lon", "radius_m"))
PRESENCE: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "start_at": INSTANT,
    "end_at": INSTANT,
    "kind": pl.Utf8(),
    "station_id": pl.Utf8(),
    "h3_cell": pl.UInt64(),
    "n_fixes": pl.UInt32(),
    "n_swipes": pl.UInt32(),
    "sources": pl.Utf8(),
}
# A day's result as stored (daily_results), and DAILY: the result with the day's measures.
DAY_RESULT: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "date": pl.Date(),
    "expected_office": pl.Boolean(),
    "declared_location": pl.Utf8(),
    "verified_presence_minutes": pl.Float64(),
    "verified_office_day": pl.Boolean(),
    "evidence": pl.Utf8(),
    "policy_version": pl.Utf8(),
}
DAILY: dict[str, pl.DataType] = {
    **DAY_RESULT,
    "on_duty_minutes": pl.Float64(),
    "away_minutes": pl.Float64(),
    "unknown_minutes": pl.Float64(),
    "mock_minutes": pl.Float64(),
    "n_fixes": pl.UInt32(),
    "n_swipes": pl.UInt32(),
}
COMPLIANCE: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "unit": pl.Utf8(),
    "expected_office_days": pl.UInt32(),
    "declared_office_days": pl.UInt32(),
    "verified_office_days": pl.UInt32(),
    "verified_office_share": pl.Float64(),
    "meets_policy": pl.Boolean(),
    "insufficient_evidence_days": pl.UInt32(),
    "office_share_lower": pl.Float64(),
    "office_share_upper": pl.Float64(),
}


class SchemaError(ValueError):
    """An input frame lacks a required column."""


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType], name: str) -> pl.DataFrame:
    """``frame`` with exactly the columns of ``schema``, cast to its types (extra columns dropped).

    A missing column that is nullable by contract is added as nulls; ``is_mock`` and ``granted``
    default to False when absent; any other missing column raises SchemaError naming it.
    Datetime columns in another unit or zone are converted to Datetime(us, UTC). A frame with
    no columns at all (``pl.DataFrame()``) is read as empty.
    """
    if frame.width == 0:
        return empty(schema)
    optional = {
        "accuracy_m",
        "source",
        "station_id",
        "boundary_distance_m",
        "reader_id",
        "direction",
        "declared_location",
        "created_at",
        "updated_at",
        "submitted_at",
        "unit",
        "is_mock",
        "granted",
        "device_id",
        "badge_id",
        "p_inside",
        "h3_cell",
        "recorded_at",
        "version",
        "radius_m",
    }
    columns: list[pl.Expr] = []
    for col, dtype in schema.items():
        if col in frame.columns:
            expr = pl.col(col)
            src = frame.schema[col]
            if isinstance(dtype, pl.Datetime) and isinstance(src, pl.Datetime):
                if src.time_zone is None:
                    expr = expr.dt.replace_time_zone("UTC")
                expr = expr.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
            columns.append(expr.cast(dtype).alias(col))
        elif col in optional:
            default: object = False if col in ("is_mock", "granted") else None
            if col == "p_inside":
                default = 0.0
            columns.append(pl.lit(default, dtype=dtype).alias(col))
        else:
            raise SchemaError(f"{name}: missing required column {col!r}")
    return frame.select(columns)


def empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with ``schema``."""
    return pl.DataFrame(schema=schema)
