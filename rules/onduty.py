"""First step of every evaluation: drop off-duty fixes and swipes (CONTRACT §3), tag windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

from rules.clock import INSTANT
from rules.masking import on_duty_windows
from rules.policy import Policy

WINDOWS: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "win_id": pl.UInt32(),
    "win_start": INSTANT,
    "win_end": INSTANT,
    "core_end": INSTANT,
}


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


def tag_windows(events: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """On-duty ``events`` sorted by (officer_id, ts), with the ``win_id`` of the window holding each.

    Order is kept. Relies on polars' as-of join by group, which needs each officer's rows sorted
    by time (not a global time sort), so no re-sort of millions of rows is needed.
    """
    if events.is_empty():
        return events.with_columns(win_id=pl.lit(None, dtype=pl.UInt32))
    tagged = events.join_asof(
        windows.select("officer_id", "win_id", "win_start"),
        left_on="ts",
        right_on="win_start",
        by="officer_id",
        strategy="backward",
        check_sortedness=False,
    )
    return tagged.drop("win_start")


def in_windows(events: pl.DataFrame, windows: pl.DataFrame) -> pl.Series:
    """For events sorted by (officer_id, ts): inside one of ``windows`` (ends inclusive)?

    ``windows`` (officer_id, start_at, end_at) must be disjoint per officer. Same answer as
    rules.masking.covered without its global re-sort (tests check they agree).
    """
    if events.is_empty() or windows.is_empty():
        return pl.Series("covered", [False] * events.height, dtype=pl.Boolean)
    joined = events.select("officer_id", "ts").join_asof(
        windows.select("officer_id", "start_at", "end_at").sort("officer_id", "start_at"),
        left_on="ts",
        right_on="start_at",
        by="officer_id",
        strategy="backward",
        check_sortedness=False,
    )
    return joined.select(
        covered=(pl.col("end_at").is_not_null() & (pl.col("ts") <= pl.col("end_at"))).fill_null(
            False
        )
    )["covered"]


# Groups (officers, windows) and time span (microseconds) up to which rows are ordered on one
# integer key: the group's rank times 2**40 plus microseconds since the earliest row.
_KEY_TIME_BITS = 40  # 12.7 days
_KEY_MAX_GROUPS = 1 << 23


def time_key(group: pl.Series, ts: pl.Series) -> pl.Series | None:
    """One UInt64 per row ordering rows as (group, ts) do, for a ``group`` of non-negative
    integers (a rank) and instants ``ts``; None when there are nulls or the span or the number of
    groups is too large for the key (the caller then sorts on the columns)."""
    if ts.null_count() or group.null_count() or ts.is_empty():
        return None
    us = ts.cast(INSTANT).dt.epoch("us")
    first, last, top = us.min(), us.max(), group.max()
    if (
        not isinstance(first, int)
        or not isinstance(last, int)
        or not isinstance(top, int)
        or last - first >= 1 << _KEY_TIME_BITS
        or top >= _KEY_MAX_GROUPS
    ):
        return None
    return group.cast(pl.UInt64) * (1 << _KEY_TIME_BITS) + (us - first).cast(pl.UInt64)


def sort_on_key(frame: pl.DataFrame, key: pl.Series, ties: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` sorted by ``key`` (UInt64, one per row), equal keys ordered by the ``ties``
    columns (nulls last).

    Sorting one integer is several times faster than sorting several columns; only the rows
    whose key is shared (rare: events at the same microsecond) are sorted again on the ties, and
    put back in the positions their key holds.
    """
    ordered = frame.with_columns(key.alias("__key")).sort("__key", maintain_order=True)
    sorted_key = ordered["__key"]
    shared = (sorted_key == sorted_key.shift(1)).fill_null(False) | (
        sorted_key == sorted_key.shift(-1)
    ).fill_null(False)
    if not shared.any():
        return ordered.drop("__key")
    ordered = ordered.with_row_index("__pos")
    tied = ordered.filter(shared).sort("__key", *ties, nulls_last=True, maintain_order=True)
    # the shared keys' positions, in order, take the tied rows in their new order
    order = ordered["__pos"].clone().scatter(ordered["__pos"].filter(shared), tied["__pos"])
    return ordered.drop("__key", "__pos")[order]


def sort_by_group_time(
    frame: pl.DataFrame, by: str, rank: pl.Series, ties: tuple[str, ...]
) -> pl.DataFrame:
    """``frame`` sorted by (``by``, ts) and then ``ties``, nulls last; ``rank`` numbers the ``by``
    values in their order (one per row). One integer key (time_key, sort_on_key) when it fits,
    else a sort on the columns."""
    key = time_key(rank, frame["ts"])
    if key is None:
        return frame.sort(by, "ts", *ties, nulls_last=True, maintain_order=True)
    return sort_on_key(frame, key, ties)


def sort_events(frame: pl.DataFrame, ties: tuple[str, ...]) -> pl.DataFrame:
    """``frame`` sorted by (officer_id, ts), ties broken by the ``ties`` columns (nulls last).

    Done once per evaluation so that results never depend on input row order (one integer key:
    the officer's rank among the frame's officers, then the time).
    """
    officers = frame.select(pl.col("officer_id").unique().sort())
    rank = (
        frame.select("officer_id")
        .join(officers.with_row_index("_rank"), on="officer_id", how="left", maintain_order="left")
        .get_column("_rank")
    )
    return sort_by_group_time(frame, "officer_id", rank, ties)


def _ties(frame: pl.DataFrame) -> tuple[str, ...]:
    """Every column but officer_id and ts, in frame order: the tie-breakers of a total order."""
    return tuple(c for c in frame.columns if c not in ("officer_id", "ts"))


def _on_duty(events: pl.DataFrame, merged: pl.DataFrame) -> pl.DataFrame:
    """The events inside one of the ``merged`` windows, sorted (sort_events).

    Sorted first, so coverage is an as-of join per officer (in_windows) instead of
    masking.covered's global re-sort by time; events without officer or time are never covered.
    """
    known = events.filter(pl.col("officer_id").is_not_null() & pl.col("ts").is_not_null())
    ordered = sort_events(known, _ties(events))
    return ordered.filter(in_windows(ordered, merged))


def mask_off_duty(
    fixes: pl.DataFrame, swipes: pl.DataFrame, shifts: pl.DataFrame, policy: Policy
) -> OnDuty:
    """Keep only fixes and swipes inside an on-duty window (ends inclusive); count the rest.

    Input rows may come in any order; the kept rows are returned sorted by (officer_id, ts) with
    every other column as tie-breaker (:func:`sort_events`), so nothing later depends on the
    input order, and only on-duty rows pay for the sort.

    Uses rules.masking (the same rule the store applies at import), so nothing computed later can
    see an off-duty event. Leave, sick and rest shifts open no window: their events are masked.
    """
    windows = duty_windows(shifts, policy)
    merged = windows.select("officer_id", start_at="win_start", end_at="win_end")
    on_fixes = _on_duty(fixes, merged)
    on_swipes = _on_duty(swipes, merged)
    return OnDuty(
        fixes=tag_windows(on_fixes, windows),
        swipes=tag_windows(on_swipes, windows),
        windows=windows,
        masked_fixes=fixes.height - on_fixes.height,
        masked_swipes=swipes.height - on_swipes.height,
    )
