"""Row order that results may not depend on: one integer key per (group, time), then ties."""

from __future__ import annotations

import polars as pl

from rules.clock import INSTANT

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
    return sort_by_group_time(frame, "officer_id", group_rank(frame["officer_id"]), ties)


def group_numbers(values: pl.Series) -> pl.DataFrame:
    """The distinct ``values`` sorted (nulls last), each with its rank ``_rank`` (UInt32, from
    0): the numbering group_rank gives each row, for joining to other frames."""
    name = values.name or "_value"
    return values.rename(name).unique().sort(nulls_last=True).to_frame().with_row_index("_rank")


def group_rank(values: pl.Series, numbers: pl.DataFrame | None = None) -> pl.Series:
    """Each value's rank (UInt32, from 0) among the distinct values sorted (nulls last): a
    group number in the values' order, for time_key (``numbers``: group_numbers of these
    values, when the caller has it). Sorting the distinct values and joining them back is much
    cheaper than sorting every row on a text column."""
    name = values.name or "_value"
    numbers = group_numbers(values) if numbers is None else numbers
    return (
        values.rename(name)
        .to_frame()
        .join(numbers, on=name, how="left", maintain_order="left", nulls_equal=True)
        .get_column("_rank")
    )
