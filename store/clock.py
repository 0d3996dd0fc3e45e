"""HTTP receipts of device fixes and the device clock offsets they give, per device."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from rules.masking import DutyStatus
from rules.policy import Policy
from rules.receipts import DEVICES, RECEIPTS, receipt_offsets
from store.dayload import _select_list, read_frame
from store.db import is_postgres
from store.load import dialect_insert
from store.models import DeviceReceipt
from store.roster import duty_status_of


def batch_receipts(
    session: Session, on: pl.DataFrame, received_at: datetime, *, policy: Policy, now: datetime
) -> pl.DataFrame:
    """One receipt per device with on-duty fixes in a batch received at ``received_at``: the
    newest of them (device's clock) and how many. Kept only when the batch was sent promptly
    (the newest fix within skew_max_offset_minutes of the receipt) and received while the
    officer was on duty, so a receipt says nothing about off-duty time. Reads only."""
    if on.is_empty():
        return pl.DataFrame(schema=RECEIPTS)
    bound = timedelta(minutes=policy.skew_max_offset_minutes)
    at = pl.lit(received_at).cast(INSTANT)
    per = (
        on.group_by("device_id")
        .agg(
            pl.col("officer_id").sort_by("ts").last(),
            newest_ts=pl.col("ts").max(),
            fixes=pl.len().cast(pl.Int64),
        )
        .with_columns(received_at=at)
        .filter((pl.col("newest_ts") - pl.col("received_at")).abs() <= bound)
    )
    if per.is_empty():
        return pl.DataFrame(schema=RECEIPTS)
    status = duty_status_of(
        session, per.select("officer_id", ts="received_at"), policy=policy, now=now
    )
    return per.filter(status == DutyStatus.ON_DUTY.value).select(list(RECEIPTS)).sort("device_id")


def insert_receipts(session: Session, receipts: pl.DataFrame) -> int:
    """Store receipts (RECEIPTS columns), ignoring any already stored. Only flushes."""
    if receipts.is_empty():
        return 0
    stmt = dialect_insert(session, DeviceReceipt).on_conflict_do_nothing(
        index_elements=["device_id", "received_at"]
    )
    result = session.execute(stmt, receipts.to_dicts())
    return int(getattr(result, "rowcount", 0) or 0)


def load_receipts(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Receipts with lo <= received_at < hi (RECEIPTS columns)."""
    pg = is_postgres(session)
    sql = (
        f"SELECT {_select_list(RECEIPTS, pg)} FROM device_receipts "
        "WHERE received_at >= {p} AND received_at < {p}"
    )
    return read_frame(session, sql, [lo, hi], RECEIPTS)


def device_offsets(session: Session, hi: datetime, *, policy: Policy) -> pl.DataFrame:
    """Each device's clock offset (rules.receipts.DEVICES: device_id, clock_offset_s) from its
    receipts of the policy.receipt_offset_days before ``hi``; devices without enough are absent
    (the rules then estimate from badge arrivals, or take the clock as right)."""
    lo = hi - timedelta(days=policy.receipt_offset_days)
    receipts = load_receipts(session, lo, hi)
    if receipts.is_empty():
        return pl.DataFrame(schema=DEVICES)
    return receipt_offsets(
        receipts,
        min_batches=policy.receipt_min_batches,
        max_offset_s=policy.skew_max_offset_minutes * 60.0,
    )
