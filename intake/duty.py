"""Each event's officer and duty status: on duty (stored), held (kept until the roster covers
it) or masked (only counted), decided against the roster stored now."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from sqlalchemy.orm import Session

from geo.cells import cell_expr
from intake.report import reject
from rules.masking import DutyStatus, duty_status
from rules.policy import Policy
from store.clock import batch_receipts, receipt_probes
from store.load import MASKED_KEYS
from store.roster import load_assignments, load_shifts
from store.stations import station_ids


def resolve_officers(
    events: pl.DataFrame, assignments: pl.DataFrame, item_col: str, ts_col: str = "ts"
) -> pl.Series:
    """The officer each event's device or badge was assigned to at its time (null: none).

    An assignment covers [valid_from, valid_to); the latest one starting at or before the event
    wins. Order of ``events`` is preserved.
    """
    if events.is_empty():
        return pl.Series("officer_id", [], pl.Utf8)
    keyed = events.select(
        pl.col(item_col).alias("item_id"), pl.col(ts_col).alias("_ts")
    ).with_row_index("_i")
    if assignments.is_empty():
        return pl.Series("officer_id", [None] * events.height, pl.Utf8)
    joined = (
        keyed.sort("_ts")
        .join_asof(
            assignments.sort("valid_from"),
            left_on="_ts",
            right_on="valid_from",
            by="item_id",
            strategy="backward",
            check_sortedness=False,
        )
        .select(
            "_i",
            officer_id=pl.when(pl.col("valid_to").is_null() | (pl.col("_ts") < pl.col("valid_to")))
            .then(pl.col("officer_id"))
            .otherwise(None),
        )
        .sort("_i")
    )
    return joined["officer_id"]


def duty_status_of(
    session: Session, events: pl.DataFrame, *, policy: Policy, now: datetime
) -> pl.Series:
    """Each event's duty status (on duty, masked, held) against the roster stored now.

    ``events`` has ``officer_id`` and ``ts``; the shifts read are those of its officers within a
    day of its time span (CONTRACT §3).
    """
    if events.is_empty():
        return pl.Series("duty_status", [], pl.Utf8)
    lo: datetime = events["ts"].min()  # type: ignore[assignment]
    hi: datetime = events["ts"].max()  # type: ignore[assignment]
    shifts = load_shifts(
        session,
        start=lo - timedelta(days=1),
        end=hi + timedelta(days=1),
        officer_ids=events["officer_id"].unique().to_list(),
    )
    return duty_status(
        events,
        shifts,
        grace_minutes=policy.duty_grace_minutes,
        hold_hours=policy.unrostered_hold_hours,
        now=now,
    )


def sort_by_duty(
    session: Session,
    kind: str,
    rows: pl.DataFrame,
    *,
    policy: Policy,
    now: datetime,
    received_at: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """Resolve officers and classify duty status (reads only); returns (on, held, masked,
    rejections, receipts). ``received_at`` (pings over HTTP): each device's officer is also
    checked on duty at that instant, in the same roster read, and receipts
    (store.clock.batch_receipts) are made for the devices that were."""
    item = "device_id" if kind == "pings" else "badge_id"
    # In time order from here on: the officers' as-of join, the duty windows' match and the
    # writer's key order then find the rows sorted (ties keep their order in the batch).
    rows = rows.sort("ts", maintain_order=True)
    assignments = load_assignments(
        session, "devices" if kind == "pings" else "badges", rows[item].unique().to_list()
    )
    rows = rows.with_columns(officer_id=resolve_officers(rows, assignments, item))
    unknown = rows.filter(pl.col("officer_id").is_null())
    rejected = [
        reject(
            unknown,
            item,
            pl.format(
                "{} {} is not assigned to any officer at this time",
                pl.lit("device" if kind == "pings" else "badge"),
                pl.col(item),
            ),
        )
    ]
    rows = rows.filter(pl.col("officer_id").is_not_null())
    skew = policy.max_future_skew_minutes
    future = pl.col("ts") > pl.lit(now + timedelta(minutes=skew)).cast(pl.Datetime("us", "UTC"))
    rejected.append(reject(rows.filter(future), "ts", f"more than {skew} minutes in the future"))
    rows = rows.filter(~future)
    if kind == "swipes" and rows.height:
        known = station_ids(session)
        bad_station = rows.filter(~pl.col("station_id").is_in(known))
        rejected.append(
            reject(bad_station, "station_id", pl.format("unknown station {}", pl.col("station_id")))
        )
        rows = rows.filter(pl.col("station_id").is_in(known))
    probes = None
    if received_at is not None and kind == "pings":
        probes = receipt_probes(rows, received_at)
        status = duty_status_of(
            session,
            pl.concat([rows.select("officer_id", "ts"), probes.select("officer_id", "ts")]),
            policy=policy,
            now=now,
        )
        rows = rows.with_columns(_status=status.head(rows.height))
        probes = probes.with_columns(_status=status.tail(probes.height))
    else:
        rows = rows.with_columns(_status=duty_status_of(session, rows, policy=policy, now=now))
    on = rows.filter(pl.col("_status") == DutyStatus.ON_DUTY.value)
    held = rows.filter(pl.col("_status") == DutyStatus.HELD.value)
    if kind == "pings":
        # Only the fixes kept get their cell: a masked fix's place is never computed on.
        on = on.with_columns(h3_cell=cell_expr().cast(pl.Int64))
        held = held.with_columns(h3_cell=cell_expr().cast(pl.Int64))
    held = held.with_columns(held_at=pl.lit(now).cast(pl.Datetime("us", "UTC")))
    key = MASKED_KEYS["ping" if kind == "pings" else "swipe"]
    masked = rows.filter(pl.col("_status") == DutyStatus.MASKED.value).select(key)
    receipts = None
    if probes is not None and received_at is not None:
        on_duty = probes.filter(pl.col("_status") == DutyStatus.ON_DUTY.value)
        receipts = batch_receipts(on, on_duty, received_at, policy=policy)
    return on, held, masked, pl.concat(rejected), receipts


def split_expired(
    rows: pl.DataFrame, *, policy: Policy, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows to keep, rejections of rows already older than retention_days_raw): a purge would
    have removed them, so they are never stored, counted or held."""
    cutoff = now - timedelta(days=policy.retention_days_raw)
    old = rows.filter(pl.col("ts") < cutoff)
    reason = f"older than the raw retention period ({policy.retention_days_raw} days): not stored"
    return rows.filter(pl.col("ts") >= cutoff), reject(old, "ts", reason)
