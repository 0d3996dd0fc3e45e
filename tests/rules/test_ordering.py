"""The one-key sorts of rules.ordering give exactly the order of a sort on the columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.ordering import sort_events, sort_on_key, time_key

T0 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)

rows = st.lists(
    st.tuples(
        st.sampled_from(["o1", "o2", "o10", "a", "O00001"]),
        st.integers(0, 6),  # few distinct instants: many equal (officer, ts) keys
        st.sampled_from([None, "S1", "S2"]),
        st.one_of(st.none(), st.integers(0, 3)),
        st.booleans(),
    ),
    max_size=60,
)


def _frame(data: list[tuple[str, int, str | None, int | None, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "officer_id": [r[0] for r in data],
            "ts": [T0 + timedelta(seconds=r[1]) for r in data],
            "station_id": [r[2] for r in data],
            "n": [r[3] for r in data],
            "flag": [r[4] for r in data],
        },
        schema={
            "officer_id": pl.Utf8,
            "ts": pl.Datetime("us", "UTC"),
            "station_id": pl.Utf8,
            "n": pl.Int64,
            "flag": pl.Boolean,
        },
    )


@settings(max_examples=150, deadline=None)
@given(rows)
def test_sort_events_is_the_column_sort(
    data: list[tuple[str, int, str | None, int | None, bool]],
) -> None:
    frame = _frame(data)
    ties = ("station_id", "n", "flag")
    expected = frame.sort("officer_id", "ts", *ties, nulls_last=True)
    assert sort_events(frame, ties).equals(expected)
    assert sort_events(frame.reverse(), ties).equals(expected)


@settings(max_examples=150, deadline=None)
@given(rows)
def test_sort_on_key_puts_tied_rows_in_their_keys_positions(
    data: list[tuple[str, int, str | None, int | None, bool]],
) -> None:
    frame = _frame(data).with_columns(win=pl.col("officer_id").str.len_bytes().cast(pl.UInt32))
    key = time_key(frame["win"], frame["ts"])
    if frame.is_empty():
        assert key is None
        return
    assert key is not None
    ties = ("officer_id", "station_id", "n", "flag")
    expected = frame.sort("win", "ts", *ties, nulls_last=True)
    assert sort_on_key(frame, key, ties).equals(expected)
    assert sort_on_key(frame.reverse(), key.reverse(), ties).equals(expected)


def test_time_key_refuses_what_it_cannot_order() -> None:
    ts = pl.Series([T0, T0 + timedelta(days=13)], dtype=pl.Datetime("us", "UTC"))
    assert time_key(pl.Series([0, 1]), ts) is None  # more than 2**40 microseconds apart
    assert time_key(pl.Series([0, None]), ts.head(1).append(ts.head(1))) is None
    assert time_key(pl.Series([0, 1 << 23]), ts.head(1).append(ts.head(1))) is None
    assert time_key(pl.Series([3, 1]), pl.Series([T0, T0], dtype=ts.dtype)) is not None
