"""Operating-system visits (arrived, departed, place, accuracy) as location evidence."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rules.clock import INSTANT

VISIT_SOURCE = "visit"
VISITS: dict[str, pl.DataType] = {
    "device_id": pl.Utf8(),
    "officer_id": pl.Utf8(),
    "arrived_at": INSTANT,
    "departed_at": INSTANT,
    "lat": pl.Float64(),
    "lon": pl.Float64(),
    "accuracy_m": pl.Float64(),
}


def visit_fixes(
    visits: pl.DataFrame, step_minutes: int, open_until: timedelta = timedelta(hours=12)
) -> pl.DataFrame:
    """One fix-like row every ``step_minutes`` of each visit, from arrival to departure (both
    included), at the visit's place with its accuracy and source "visit".

    A visit is the operating system's summary of a stay at one place (iOS reports it when the
    phone is otherwise silent), so it stands for the whole stay. A visit without a departure
    (still there when reported) stands for at most ``open_until`` after arrival. The rows are
    masked and classified like any fix: off-duty parts of a visit disappear, and the place is
    judged against station fences by rules.evidence (visit rows are not smoothed with their
    neighbours: each already summarises many fixes). Columns: device_id, officer_id, ts, lat,
    lon, accuracy_m, source, is_mock.
    """
    if visits.is_empty():
        return pl.DataFrame(
            schema={
                "device_id": pl.Utf8(),
                "officer_id": pl.Utf8(),
                "ts": INSTANT,
                "lat": pl.Float64(),
                "lon": pl.Float64(),
                "accuracy_m": pl.Float64(),
                "source": pl.Utf8(),
                "is_mock": pl.Boolean(),
            }
        )
    step = timedelta(minutes=step_minutes)
    ends = pl.coalesce("departed_at", pl.col("arrived_at") + open_until)
    ends = pl.min_horizontal(ends, pl.col("arrived_at") + timedelta(days=2))
    rows = visits.with_columns(
        ts=pl.datetime_ranges("arrived_at", ends, interval=step, closed="both")
    )
    rows = rows.with_columns(
        ts=pl.when(pl.col("departed_at").is_not_null())
        .then(pl.concat_list("ts", pl.col("departed_at").cast(INSTANT)).list.unique())
        .otherwise(pl.col("ts"))
    )
    return (
        rows.explode("ts")
        .select(
            "device_id",
            "officer_id",
            pl.col("ts").cast(INSTANT),
            "lat",
            "lon",
            "accuracy_m",
            source=pl.lit(VISIT_SOURCE),
            is_mock=pl.lit(False),
        )
        .unique(["device_id", "ts"], keep="first", maintain_order=True)
        .sort("officer_id", "device_id", "ts")
    )
