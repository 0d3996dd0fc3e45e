"""Upheld day contests applied to computed daily results, keeping what was computed beside them."""

from __future__ import annotations

import polars as pl

from rules.records import AdjustmentEffect

VERIFIED_OFFICE_DAY = AdjustmentEffect.VERIFIED_OFFICE_DAY.value
NOT_EXPECTED = AdjustmentEffect.NOT_EXPECTED.value
EFFECTS = tuple(e.value for e in AdjustmentEffect)

ADJUSTMENTS_SCHEMA: dict[str, pl.DataType] = {
    "adjustment_id": pl.Int64(),
    "officer_id": pl.Utf8(),
    "date": pl.Date(),
    "effect": pl.Utf8(),
}


def apply_adjustments(daily: pl.DataFrame, adjustments: pl.DataFrame) -> pl.DataFrame:
    """``daily`` with each officer-day's adjustments applied, never silently.

    ``verified_office_day`` makes the day a verified office day; ``not_expected`` takes it out of
    the expected office days. An adjusted row gains ``adjustment_ids`` (sorted) and the values
    the rules computed, ``computed_verified_office_day`` and ``computed_expected_office``; the
    columns are null on rows without adjustments (and absent when there are none at all).
    Adjustments of officer-days without a row change nothing.
    """
    if adjustments.is_empty() or daily.is_empty():
        return daily
    agg = adjustments.group_by("officer_id", "date").agg(
        adjustment_ids=pl.col("adjustment_id").sort(),
        _verify=(pl.col("effect") == VERIFIED_OFFICE_DAY).any(),
        _unexpect=(pl.col("effect") == NOT_EXPECTED).any(),
    )
    out = daily.join(agg, on=["officer_id", "date"], how="left")
    hit = pl.col("adjustment_ids").is_not_null()
    return out.with_columns(
        computed_verified_office_day=pl.when(hit).then(pl.col("verified_office_day")),
        computed_expected_office=pl.when(hit).then(pl.col("expected_office")),
        verified_office_day=pl.when(pl.col("_verify").fill_null(False))
        .then(True)
        .otherwise(pl.col("verified_office_day")),
        expected_office=pl.when(pl.col("_unexpect").fill_null(False))
        .then(False)
        .otherwise(pl.col("expected_office")),
    ).drop("_verify", "_unexpect")
