"""Device clock offsets from HTTP receive times: promptly sent batches only, a median."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from rules.receipts import RECEIPTS, receipt_offsets

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def receipts(device: str, lags_s: list[float]) -> pl.DataFrame:
    """Batches received a minute apart whose newest fix is ``lag`` seconds after the receipt."""
    rows = [
        (device, AT + timedelta(minutes=k), AT + timedelta(minutes=k, seconds=lag), 10)
        for k, lag in enumerate(lags_s)
    ]
    return pl.DataFrame(rows, schema=RECEIPTS, orient="row")


def test_the_offset_is_the_median_of_prompt_batches() -> None:
    # a clock 2 minutes fast; one batch held back an hour; one slow network
    frame = pl.concat(
        [receipts("D1", [120.0, 118.0, -3600.0, 119.0, 60.0]), receipts("D2", [-30.0, -31.0])]
    )
    out = receipt_offsets(frame, min_batches=3, max_offset_s=900.0)
    assert out.rows() == [("D1", 118.5, 4)]  # D2: two batches are too few


def test_no_receipts_no_offsets() -> None:
    out = receipt_offsets(pl.DataFrame(schema=RECEIPTS), min_batches=1, max_offset_s=900.0)
    assert out.is_empty()
    assert out.columns == ["device_id", "clock_offset_s", "n_batches"]
