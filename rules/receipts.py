"""Device clock offsets from the time the server received each batch of a device's fixes."""

from __future__ import annotations

import polars as pl

from rules.clock import INSTANT

RECEIPTS: dict[str, pl.DataType] = {
    "device_id": pl.Utf8(),
    "received_at": INSTANT,  # the server's clock when the batch arrived
    "newest_ts": INSTANT,  # the newest on-duty fix of the device in that batch, device's clock
    "fixes": pl.Int64(),
}
DEVICES: dict[str, pl.DataType] = {
    "device_id": pl.Utf8(),
    "clock_offset_s": pl.Float64(),  # device clock minus true time, seconds (+: fast)
    "n_batches": pl.UInt32(),  # receipts the estimate rests on
}


def receipt_offsets(
    receipts: pl.DataFrame, *, min_batches: int, max_offset_s: float
) -> pl.DataFrame:
    """Each device's clock offset from its receipts (RECEIPTS columns): the median of
    newest_ts - received_at over the batches whose difference is within ``max_offset_s``, for
    devices with at least ``min_batches`` of them. Columns DEVICES, sorted by device.

    An app that sends a fix as it takes it puts the newest fix's own time within seconds of the
    receipt, so the difference is the clock's offset less a short delay. A batch held back (no
    signal, a phone in a locker) shows a large negative difference and is not used: only
    batches sent promptly, within the bound, count, and a median of several keeps one slow
    network from moving the estimate. The server's clock is the reference.
    """
    if receipts.is_empty():
        return pl.DataFrame(schema=DEVICES)
    sample = (pl.col("newest_ts") - pl.col("received_at")).dt.total_microseconds() / 1e6
    return (
        receipts.select("device_id", sample_s=sample)
        .filter(pl.col("sample_s").abs() <= max_offset_s)
        .group_by("device_id")
        .agg(clock_offset_s=pl.col("sample_s").median(), n_batches=pl.len().cast(pl.UInt32))
        .filter(pl.col("n_batches") >= min_batches)
        .cast(DEVICES)  # type: ignore[arg-type]
        .sort("device_id")
    )
