"""HTTP receipts of device fixes and the device clock offsets they give, per device."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from rules.policy import Policy
from rules.receipts import DEVICES, RECEIPTS, receipt_offsets
from store.load import insert_rows
from store.models import DeviceReceipt
from store.reader import dialect, select_frame


def receipt_probes(rows: pl.DataFrame, received_at: datetime) -> pl.DataFrame:
    """One row per device of a batch: the officer of its newest fix, and ``ts`` the receipt
    time, to be classified with the batch (on duty when the batch arrived?)."""
    return (
        rows.group_by("device_id")
        .agg(pl.col("officer_id").sort_by("ts").last())
        .with_columns(ts=pl.lit(received_at).cast(INSTANT))
        .sort("device_id")
    )


def batch_receipts(
    on: pl.DataFrame, on_duty: pl.DataFrame, received_at: datetime, *, policy: Policy
) -> pl.DataFrame:
    """One receipt per device with on-duty fixes (``on``) in a batch received at
    ``received_at``: the newest of them (device's clock) and how many. Kept only when the batch
    was sent promptly (the newest fix within skew_max_offset_minutes of the receipt) and the
    officer was on duty when it arrived (``on_duty``: receipt_probes found on duty), so a
    receipt says nothing about off-duty time."""
    if on.is_empty() or on_duty.is_empty():
        return pl.DataFrame(schema=RECEIPTS)
    bound = timedelta(minutes=policy.skew_max_offset_minutes)
    return (
        on.group_by("device_id", "officer_id")
        .agg(newest_ts=pl.col("ts").max(), fixes=pl.len().cast(pl.Int64))
        .join(on_duty.select("device_id", "officer_id"), on=["device_id", "officer_id"])
        .with_columns(received_at=pl.lit(received_at).cast(INSTANT))
        .filter((pl.col("newest_ts") - pl.col("received_at")).abs() <= bound)
        .select(list(RECEIPTS))
        .sort("device_id")
    )


def insert_receipts(session: Session, receipts: pl.DataFrame) -> int:
    """Store receipts (RECEIPTS columns), ignoring any already stored, by the bulk writers of
    store.load (binary COPY on PostgreSQL: a receipt per device of a batch costs next to
    nothing beside its fixes). Returns how many were stored. Only flushes."""
    if receipts.is_empty():
        return 0
    # ``fixes`` is an INTEGER column: binary COPY wants its exact width
    data = receipts.select(list(RECEIPTS)).with_columns(pl.col("fixes").cast(pl.Int32))
    session.flush()
    return insert_rows(session, DeviceReceipt.__tablename__, data)


def load_receipts(
    session: Session, lo: datetime, hi: datetime, device_ids: Collection[str] | None = None
) -> pl.DataFrame:
    """Receipts with lo <= received_at < hi (RECEIPTS columns), of some devices only if given."""
    d = dialect(session)
    where = "WHERE received_at >= {p} AND received_at < {p}"
    params: list[Any] = [lo, hi]
    if device_ids is not None:
        if not device_ids:
            return pl.DataFrame(schema=RECEIPTS)
        clause, value = d.in_ids("device_id", device_ids)
        where += clause
        params.append(value)
    return select_frame(session, "device_receipts", RECEIPTS, where, params)


def device_offsets(
    session: Session,
    hi: datetime,
    *,
    policy: Policy,
    device_ids: Collection[str] | None = None,
) -> pl.DataFrame:
    """Each device's clock offset (rules.receipts.DEVICES: device_id, clock_offset_s) from its
    receipts of the policy.receipt_offset_days before ``hi``; devices without enough are absent
    (the rules then estimate from badge arrivals, or take the clock as right). ``device_ids``:
    of those devices only (a device's offset depends on its own receipts alone), so one
    officer's timeline reads their devices' receipts, not the force's."""
    lo = hi - timedelta(days=policy.receipt_offset_days)
    receipts = load_receipts(session, lo, hi, device_ids)
    if receipts.is_empty():
        return pl.DataFrame(schema=DEVICES)
    return receipt_offsets(
        receipts,
        min_batches=policy.receipt_min_batches,
        max_offset_s=policy.skew_max_offset_minutes * 60.0,
    )
