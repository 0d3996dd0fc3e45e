"""HTTP receipts of device fixes and the device clock offsets they give, per device."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from sqlalchemy.orm import Session

from rules.policy import Policy
from rules.receipts import DEVICES, RECEIPTS, receipt_offsets
from store.dayload import _select_list, read_frame
from store.db import is_postgres
from store.load import dialect_insert
from store.models import DeviceReceipt


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
