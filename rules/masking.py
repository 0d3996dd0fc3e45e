"""Off-duty masking (CONTRACT §3): which events fall inside an officer's on-duty window."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

import polars as pl

from rules.clock import INSTANT

ON_DUTY_KINDS = ("duty", "overtime", "training")
OFF_DUTY_KINDS = ("leave", "sick", "rest")
SHIFT_KINDS = ON_DUTY_KINDS + OFF_DUTY_KINDS

WINDOW_SCHEMA: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "start_at": INSTANT,
    "end_at": INSTANT,
}


class DutyStatus(StrEnum):
    """What happens to an event at intake."""

    ON_DUTY = "on_duty"  # inside an on-duty window: kept
    MASKED = "masked"  # off duty: dropped, only counted
    HELD = "held"  # no shift covers it yet: may wait unrostered_hold_hours for a late roster entry


def merge_intervals(intervals: pl.DataFrame) -> pl.DataFrame:
    """Union of ``(officer_id, start_at, end_at)`` intervals per officer: disjoint, sorted.

    Touching or overlapping intervals are merged. Empty or inverted intervals are dropped.
    """
    if intervals.is_empty():
        return pl.DataFrame(schema=WINDOW_SCHEMA)
    return (
        intervals.select("officer_id", "start_at", "end_at")
        .filter(pl.col("end_at") > pl.col("start_at"))
        .sort("officer_id", "start_at")
        .with_columns(
            prev_end=pl.col("end_at").cum_max().shift(1).over("officer_id"),
        )
        .with_columns(
            new_group=(
                pl.col("prev_end").is_null() | (pl.col("start_at") > pl.col("prev_end"))
            ).cum_sum(),
        )
        .group_by("officer_id", "new_group", maintain_order=True)
        .agg(pl.col("start_at").min(), pl.col("end_at").max())
        .select("officer_id", "start_at", "end_at")
        .cast(WINDOW_SCHEMA)  # type: ignore[arg-type]
    )


def on_duty_windows(shifts: pl.DataFrame, grace_minutes: int) -> pl.DataFrame:
    """The union of each officer's duty, overtime and training shifts, widened by the grace period.

    ``shifts`` has ``officer_id, start_at, end_at, kind``; the result ``officer_id, start_at, end_at``.
    """
    grace = timedelta(minutes=grace_minutes)
    on = shifts.filter(pl.col("kind").is_in(ON_DUTY_KINDS)).select(
        "officer_id",
        start_at=pl.col("start_at") - grace,
        end_at=pl.col("end_at") + grace,
    )
    return merge_intervals(on)


def rostered_windows(shifts: pl.DataFrame) -> pl.DataFrame:
    """The union of every shift of any kind, unwidened: the times the roster says something about."""
    return merge_intervals(shifts.select("officer_id", "start_at", "end_at"))


def covered(events: pl.DataFrame, windows: pl.DataFrame, ts_col: str = "ts") -> pl.Series:
    """For each event (``officer_id``, ``ts_col``), whether a window contains it (ends inclusive).

    ``windows`` must be disjoint per officer (as :func:`merge_intervals` returns). Events with a null
    officer are never covered. Order of ``events`` is preserved.
    """
    if events.is_empty():
        return pl.Series("covered", [], dtype=pl.Boolean)
    if windows.is_empty():
        return pl.Series("covered", [False] * events.height, dtype=pl.Boolean)
    keyed = events.select(
        pl.col("officer_id").cast(pl.Utf8),
        pl.col(ts_col).cast(INSTANT).alias("_ts"),
    ).with_row_index("_row")
    joined = (
        keyed.filter(pl.col("officer_id").is_not_null() & pl.col("_ts").is_not_null())
        .sort("_ts")
        .join_asof(
            windows.sort("start_at"),
            left_on="_ts",
            right_on="start_at",
            by="officer_id",
            strategy="backward",
            check_sortedness=False,
        )
        .select("_row", hit=pl.col("end_at").is_not_null() & (pl.col("_ts") <= pl.col("end_at")))
    )
    result = keyed.select("_row").join(joined, on="_row", how="left").sort("_row")
    return result["hit"].fill_null(False).alias("covered")


def duty_status(
    events: pl.DataFrame,
    shifts: pl.DataFrame,
    *,
    grace_minutes: int,
    hold_hours: int,
    now: datetime,
    ts_col: str = "ts",
) -> pl.Series:
    """Classify each event as on duty, masked or held (CONTRACT §3).

    On duty: inside an on-duty window. Masked: outside every on-duty window and either covered by a
    leave, sick or rest shift, or older than ``hold_hours`` before ``now``. Held: no shift covers it
    yet and it is recent enough that a late roster entry may still cover it.
    """
    on = covered(events, on_duty_windows(shifts, grace_minutes), ts_col)
    if on.all():
        # The usual batch from a device on duty: nothing left to tell apart.
        return pl.Series("duty_status", [DutyStatus.ON_DUTY.value] * events.height, pl.Utf8)
    rostered = covered(events, rostered_windows(shifts), ts_col)
    hold_from = now - timedelta(hours=hold_hours)
    recent = events[ts_col].cast(INSTANT) >= hold_from
    frame = pl.DataFrame({"on": on, "rostered": rostered, "recent": recent.fill_null(False)})
    status = frame.select(
        pl.when(pl.col("on"))
        .then(pl.lit(DutyStatus.ON_DUTY.value))
        .when(~pl.col("rostered") & pl.col("recent"))
        .then(pl.lit(DutyStatus.HELD.value))
        .otherwise(pl.lit(DutyStatus.MASKED.value))
        .alias("duty_status")
    )
    return status["duty_status"]
