"""Measuring segments against query intervals: minutes of presence, away and unknown inside each."""

from __future__ import annotations

import polars as pl

QUERY_KEYS = ("officer_id", "q_id", "q_start", "q_end")


def overlap_minutes(queries: pl.DataFrame, segments: pl.DataFrame) -> pl.DataFrame:
    """Per query interval, minutes of each segment kind inside it.

    ``queries`` has officer_id, q_id (unique), q_start, q_end (instants); ``segments`` has
    officer_id, start_at, end_at, kind, station_id. Returns queries' columns plus ``q_minutes``,
    ``presence_minutes`` (any station), ``away_minutes``, ``mock_minutes``, ``unknown_minutes``
    (segment time marked unknown) and ``uncovered_minutes`` (time outside every on-duty window), and
    ``presence_by_station`` (list of struct station_id, minutes). Minutes come from integer
    microseconds, so they do not depend on summation order.
    """
    joined = (
        queries.select(*QUERY_KEYS)
        .join(
            segments.select("officer_id", "start_at", "end_at", "kind", "station_id"),
            on="officer_id",
        )
        .with_columns(
            s=pl.max_horizontal("start_at", "q_start"), e=pl.min_horizontal("end_at", "q_end")
        )
        .filter(pl.col("e") > pl.col("s"))
        .with_columns(us=(pl.col("e") - pl.col("s")).dt.total_microseconds())
    )

    def by(kind: str) -> pl.Expr:
        """Minutes of segments of ``kind`` in the group."""
        return pl.col("us").filter(pl.col("kind") == kind).sum().cast(pl.Float64) / 60e6

    sums = joined.group_by("q_id").agg(
        presence_minutes=by("presence"),
        away_minutes=by("away"),
        mock_minutes=by("mock"),
        unknown_minutes=by("unknown"),
    )
    stations = (
        joined.filter(pl.col("kind") == "presence")
        .group_by("q_id", "station_id")
        .agg(minutes=pl.col("us").sum().cast(pl.Float64) / 60e6)
        .sort("q_id", "station_id")
        .group_by("q_id", maintain_order=True)
        .agg(presence_by_station=pl.struct("station_id", "minutes"))
    )
    out = (
        queries.join(sums, on="q_id", how="left")
        .join(stations, on="q_id", how="left")
        .with_columns(
            pl.col("presence_minutes", "away_minutes", "mock_minutes", "unknown_minutes").fill_null(
                0.0
            ),
            q_minutes=(pl.col("q_end") - pl.col("q_start")).dt.total_microseconds().cast(pl.Float64)
            / 60e6,
        )
    )
    return out.with_columns(
        uncovered_minutes=(
            pl.col("q_minutes")
            - pl.col("presence_minutes")
            - pl.col("away_minutes")
            - pl.col("mock_minutes")
            - pl.col("unknown_minutes")
        ).clip(lower_bound=0.0)
    )
