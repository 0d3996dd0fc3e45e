"""Off-duty masking (CONTRACT §3): the one predicate, ``covered``, and what is built on it.

An event is on duty when one of its officer's on-duty windows contains it (ends inclusive). Intake
(duty_status), the engine's first step (mask_off_duty), every flag rule and the timeline ask
``covered``; nothing else decides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import polars as pl

from rules.clock import INSTANT
from rules.ordering import group_numbers, group_rank, sort_by_group_time
from rules.policy import Policy
from rules.records import ShiftKind

ON_DUTY_KINDS: tuple[str, ...] = tuple(
    k.value for k in (ShiftKind.DUTY, ShiftKind.OVERTIME, ShiftKind.TRAINING)
)
OFF_DUTY_KINDS: tuple[str, ...] = tuple(k.value for k in ShiftKind if k not in ON_DUTY_KINDS)
SHIFT_KINDS: tuple[str, ...] = ON_DUTY_KINDS + OFF_DUTY_KINDS

WINDOW_SCHEMA: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "start_at": INSTANT,
    "end_at": INSTANT,
}

WINDOWS: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "win_id": pl.UInt32(),
    "win_start": INSTANT,
    "win_end": INSTANT,
    "core_end": INSTANT,
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

    ``windows`` (``officer_id, start_at, end_at``) must be disjoint per officer (as
    :func:`merge_intervals` returns). Events with a null officer or time are never covered. Order
    of ``events`` is preserved. Events already ordered by (officer_id, time), as the engine holds
    them, are matched in place; any other order is sorted by time first.
    """
    if events.is_empty():
        return pl.Series("covered", [], dtype=pl.Boolean)
    if windows.is_empty():
        return pl.Series("covered", [False] * events.height, dtype=pl.Boolean)
    keyed = events.select(
        pl.col("officer_id").cast(pl.Utf8),
        pl.col(ts_col).cast(INSTANT).alias("_ts"),
    )
    if _ordered(keyed):
        return _hits(keyed, windows)["hit"].fill_null(False).alias("covered")
    keyed = keyed.with_row_index("_row")
    known = keyed.filter(pl.col("officer_id").is_not_null() & pl.col("_ts").is_not_null())
    hits = _hits(known.sort("_ts"), windows)
    # Each hit back at its row: a scatter, not a join and a sort.
    found = hits.filter("hit").get_column("_row")
    none = pl.repeat(False, events.height, dtype=pl.Boolean, eager=True).alias("covered")
    return none.scatter(found, True)


def _ordered(keyed: pl.DataFrame) -> bool:
    """Whether ``keyed`` (officer_id, _ts) has no nulls and is ordered by officer, then time."""
    if keyed["officer_id"].null_count() or keyed["_ts"].null_count():
        return False
    if not keyed["officer_id"].is_sorted():
        return False
    same = pl.col("officer_id") == pl.col("officer_id").shift(1)
    later = pl.col("_ts") >= pl.col("_ts").shift(1)
    return bool(keyed.select((~same | later).fill_null(True).all()).item())


def _hits(keyed: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """``keyed`` (officer_id, _ts, other columns kept) with ``hit``: the officer's last window
    starting at or before ``_ts`` ends at or after it. Each officer's rows must be in time order
    (the as-of join matches per officer, so no global sort by time is needed)."""
    joined = keyed.join_asof(
        windows.select("officer_id", "start_at", "end_at").sort("officer_id", "start_at"),
        left_on="_ts",
        right_on="start_at",
        by="officer_id",
        strategy="backward",
        check_sortedness=False,
    )
    return joined.select(
        pl.exclude("officer_id", "_ts", "start_at", "end_at"),
        hit=pl.col("end_at").is_not_null() & (pl.col("_ts") <= pl.col("end_at")),
    )


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


@dataclass(frozen=True)
class OnDuty:
    """On-duty events only, each tagged with the on-duty window that contains it."""

    fixes: pl.DataFrame  # input columns + win_id
    swipes: pl.DataFrame  # input columns + win_id
    windows: pl.DataFrame  # officer_id, win_id, win_start, win_end, core_end (last shift end)
    masked_fixes: int  # counts only: the masked events themselves are gone
    masked_swipes: int


def duty_windows(shifts: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Each officer's merged on-duty windows (shifts widened by the grace), with a stable id.

    ``core_end`` is the window's end without the trailing grace (the end of its last shift).
    Ids follow (officer_id, win_start) order, so they do not depend on input row order.
    """
    grace = timedelta(minutes=policy.duty_grace_minutes)
    windows = on_duty_windows(shifts, policy.duty_grace_minutes).sort("officer_id", "start_at")
    return windows.select(
        "officer_id",
        win_id=pl.int_range(pl.len(), dtype=pl.UInt32),
        win_start="start_at",
        win_end="end_at",
        core_end=pl.col("end_at") - grace,
    ).cast(WINDOWS)  # type: ignore[arg-type]


def _ties(frame: pl.DataFrame) -> tuple[str, ...]:
    """Every column but officer_id and ts, in frame order: the tie-breakers of a total order."""
    return tuple(c for c in frame.columns if c not in ("officer_id", "ts"))


def _on_duty(events: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """The events inside one of the ``windows`` (duty_windows), sorted as sort_events sorts, each
    with the ``win_id`` of its window.

    Sorted first, so the officer's last window starting at or before each event is found by one
    as-of join per officer (the order is known, not checked), and that window both decides
    whether the event is on duty (it ends at or after it) and tags it; events without officer or
    time are never covered.
    """
    known = events.filter(pl.col("officer_id").is_not_null() & pl.col("ts").is_not_null())
    if known.is_empty() or windows.is_empty():
        return known.clear().with_columns(win_id=pl.lit(None, dtype=pl.UInt32))
    # officers numbered in their order: the sort's key and the as-of join's group are integers
    numbers = group_numbers(known["officer_id"])
    rank = group_rank(known["officer_id"], numbers)
    ordered = sort_by_group_time(known.with_columns(rank), "officer_id", rank, _ties(events))
    tagged = ordered.join_asof(
        windows.join(numbers, on="officer_id").select(
            "_rank", "win_id", "win_start", _win_end="win_end"
        ),
        left_on="ts",
        right_on="win_start",
        by="_rank",
        strategy="backward",
        check_sortedness=False,
    )
    inside = pl.col("_win_end").is_not_null() & (pl.col("ts") <= pl.col("_win_end"))
    return tagged.filter(inside).drop("_rank", "win_start", "_win_end")


def mask_off_duty(
    fixes: pl.DataFrame, swipes: pl.DataFrame, shifts: pl.DataFrame, policy: Policy
) -> OnDuty:
    """Keep only fixes and swipes inside an on-duty window (ends inclusive); count the rest.

    Input rows may come in any order; the kept rows are returned sorted by (officer_id, ts) with
    every other column as tie-breaker (:func:`sort_events`), so nothing later depends on the
    input order, and only on-duty rows pay for the sort.

    Uses :func:`covered` (the same predicate the store applies at import), so nothing computed
    later can see an off-duty event. Leave, sick and rest shifts open no window: their events are masked.
    """
    windows = duty_windows(shifts, policy)
    on_fixes = _on_duty(fixes, windows)
    on_swipes = _on_duty(swipes, windows)
    return OnDuty(
        fixes=on_fixes,
        swipes=on_swipes,
        windows=windows,
        masked_fixes=fixes.height - on_fixes.height,
        masked_swipes=swipes.height - on_swipes.height,
    )
