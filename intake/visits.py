"""Intake of operating-system visits: validation, officers, clipping to on-duty time, holding."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from intake.duty import resolve_officers
from intake.report import reject
from rules.clock import INSTANT
from rules.masking import DutyStatus
from rules.policy import Policy
from rules.visits import split_by_duty
from store import events
from store.load import add_masked_counts
from store.models import HeldVisit, Visit
from store.results import mark_computed_days
from store.roster import load_assignments, load_shifts

VISIT_COLUMNS = (
    "device_id",
    "arrived_at",
    "officer_id",
    "departed_at",
    "departure_known",
    "lat",
    "lon",
    "accuracy_m",
)


@dataclass(frozen=True)
class Settled:
    """What became of each visit (``_visit``) of a batch: its pieces stored, held, or dropped."""

    accepted: set[int]  # a piece stored or completed now
    duplicate: set[int]  # every on-duty piece already stored as it is
    held: set[int]  # no on-duty piece; a piece held
    masked: set[int]  # nothing kept


def check_visits(
    session: Session, rows: pl.DataFrame, *, policy: Policy, now: datetime
) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    """Validated visits with their officer (``officer_id``), and the rejections: too old to be
    kept, a device assigned to nobody at arrival, an arrival or departure in the future."""
    rejected: list[pl.DataFrame] = []
    cutoff = now - timedelta(days=policy.retention_days_raw)
    old = pl.col("arrived_at") < pl.lit(cutoff).cast(INSTANT)
    reason = f"older than the raw retention period ({policy.retention_days_raw} days): not stored"
    rejected.append(reject(rows.filter(old), "arrived_at", reason))
    rows = rows.filter(~old)
    skew = policy.max_future_skew_minutes
    limit = pl.lit(now + timedelta(minutes=skew)).cast(INSTANT)
    for column in ("arrived_at", "departed_at"):
        future = (pl.col(column) > limit).fill_null(False)
        rejected.append(
            reject(rows.filter(future), column, f"more than {skew} minutes in the future")
        )
        rows = rows.filter(~future)
    assignments = load_assignments(session, "devices", rows["device_id"].unique().to_list())
    rows = rows.with_columns(
        officer_id=resolve_officers(rows, assignments, "device_id", ts_col="arrived_at")
    )
    unknown = rows.filter(pl.col("officer_id").is_null())
    rejected.append(
        reject(
            unknown,
            "device_id",
            pl.format("device {} is not assigned to any officer at this time", pl.col("device_id")),
        )
    )
    return rows.filter(pl.col("officer_id").is_not_null()), rejected


def pieces_of(
    session: Session, visits: pl.DataFrame, *, policy: Policy, now: datetime
) -> pl.DataFrame:
    """Each visit (``_visit``, ``officer_id``, VISITS columns) cut at its officer's on-duty
    edges (rules.visits.split_by_duty, against the roster stored now), with the visit's place:
    ``_visit``, ``status`` and the VISIT_COLUMNS of each piece. ``departure_known`` is the
    visit's own when given, else whether ``departed_at`` was reported."""
    if visits.is_empty():
        return pl.DataFrame(schema={"_visit": pl.UInt32, "status": pl.Utf8, **_piece_schema()})
    lo: datetime = visits["arrived_at"].min()  # type: ignore[assignment]
    hi: datetime = visits["arrived_at"].max()  # type: ignore[assignment]
    shifts = load_shifts(
        session,
        start=lo - timedelta(days=1),
        end=hi + timedelta(days=2),
        officer_ids=visits["officer_id"].unique().to_list(),
    )
    if "departure_known" not in visits.columns:
        visits = visits.with_columns(departure_known=pl.col("departed_at").is_not_null())
    visits = visits.with_columns(pl.col("_visit").cast(pl.UInt32))
    pieces = split_by_duty(
        visits.select("_visit", "officer_id", "arrived_at", "departed_at"),
        shifts,
        grace_minutes=policy.duty_grace_minutes,
        hold_hours=policy.unrostered_hold_hours,
        now=now,
    )
    place = visits.select(
        "_visit", "device_id", "officer_id", "departure_known", "lat", "lon", "accuracy_m"
    )
    return pieces.join(place, on="_visit").select("_visit", "status", *VISIT_COLUMNS)


def _piece_schema() -> dict[str, pl.DataType]:
    return {
        "device_id": pl.Utf8(),
        "arrived_at": INSTANT,
        "officer_id": pl.Utf8(),
        "departed_at": INSTANT,
        "departure_known": pl.Boolean(),
        "lat": pl.Float64(),
        "lon": pl.Float64(),
        "accuracy_m": pl.Float64(),
    }


def store_pieces(session: Session, pieces: pl.DataFrame) -> pl.Series:
    """Store on-duty pieces (VISIT_COLUMNS) in ``visits``: new keys are inserted, and a stored
    piece of an open visit whose departure was assumed is completed by a piece that knows it.
    Returns, per row, whether it changed what is stored. Only flushes."""
    if pieces.is_empty():
        return pl.Series("changed", [], pl.Boolean)
    stored = events.visit_states(session, Visit, pieces)
    changed: list[bool] = []
    new: list[dict[str, Any]] = []
    completes: list[dict[str, Any]] = []
    for row in pieces.select(VISIT_COLUMNS).iter_rows(named=True):
        known = stored.get((row["device_id"], row["arrived_at"]))
        if known is None:
            new.append(row)
            stored[(row["device_id"], row["arrived_at"])] = bool(row["departure_known"])
            changed.append(True)
        elif not known and row["departure_known"]:
            completes.append(row)
            stored[(row["device_id"], row["arrived_at"])] = True
            changed.append(True)
        else:
            changed.append(False)
    events.insert_visits(session, Visit, new, ("arrived_at", "device_id"))
    events.complete_visits(session, completes)
    session.flush()
    return pl.Series("changed", changed, pl.Boolean)


def hold_pieces(session: Session, pieces: pl.DataFrame, held_at: pl.Expr) -> pl.Series:
    """Keep pieces no shift covers yet in ``held_visits`` (``held_at``: when the hold began).
    Returns, per row, whether it was not held already. Only flushes."""
    if pieces.is_empty():
        return pl.Series("new", [], pl.Boolean)
    stored = events.visit_states(session, HeldVisit, pieces)
    rows = pieces.with_columns(held_at=held_at.cast(INSTANT))
    new = [
        r
        for r in rows.select(*VISIT_COLUMNS, "held_at").iter_rows(named=True)
        if (r["device_id"], r["arrived_at"]) not in stored
    ]
    events.insert_visits(session, HeldVisit, new, ("device_id", "arrived_at"))
    session.flush()
    flags = [(d, a) not in stored for d, a in rows.select(events.VISIT_KEY).iter_rows()]
    return pl.Series("new", flags, pl.Boolean)


def count_masked(session: Session, visits: pl.DataFrame, tz: str) -> int:
    """Count visits (``device_id``, ``arrived_at``) as masked, each key once (store.load)."""
    keys = visits.select("device_id", ts=pl.col("arrived_at").cast(INSTANT))
    return add_masked_counts(session, keys, "visit", tz)


def settle(
    session: Session,
    pieces: pl.DataFrame,
    *,
    held_at: pl.Expr,
    tz: str,
    reason: str,
    count: bool = True,
) -> Settled:
    """Store the on-duty pieces, hold the held ones, and count visits left with neither as
    masked (``count``); the local days of stored pieces are marked for recomputation where
    already computed. Only flushes."""
    on = pieces.filter(pl.col("status") == DutyStatus.ON_DUTY.value)
    held = pieces.filter(pl.col("status") == DutyStatus.HELD.value)
    on = on.with_columns(_changed=store_pieces(session, on))
    held = held.with_columns(_new=hold_pieces(session, held, held_at))
    visits = set(pieces["_visit"].to_list())
    with_on = set(on["_visit"].to_list())
    accepted = set(on.filter("_changed")["_visit"].to_list())
    with_held = set(held["_visit"].to_list()) - with_on
    new_held = set(held.filter("_new")["_visit"].to_list()) - with_on
    masked = visits - with_on - with_held
    changed = on.filter("_changed")
    if changed.height:
        mark_computed_days(
            session,
            pl.concat(
                [
                    changed.select("officer_id", ts="arrived_at"),
                    changed.select("officer_id", ts="departed_at"),
                ]
            ),
            tz=tz,
            reason=reason,
            marked_at=datetime.now(UTC),
        )
    if count and masked:
        gone = pieces.filter(pl.col("_visit").is_in(sorted(masked)))
        first = gone.group_by("_visit").agg(pl.col("device_id").first(), pl.col("arrived_at").min())
        count_masked(session, first, tz)
    return Settled(
        accepted=accepted,
        duplicate=(with_on - accepted) | (with_held - new_held),
        held=new_held,
        masked=masked,
    )


# --- held visits and roster edits ----------------------------------------------------------


def _held_visits(
    session: Session, officer_ids: Collection[str] | None, held_before: datetime | None = None
) -> pl.DataFrame:
    rows = events.held_visits(session, (*VISIT_COLUMNS, "held_at"), officer_ids, held_before)
    schema = {**_piece_schema(), "held_at": INSTANT}
    return pl.DataFrame(rows, schema=schema, orient="row")


def promote_held_visits(
    session: Session,
    *,
    policy: Policy,
    now: datetime,
    tz: str,
    officer_ids: Collection[str] | None = None,
) -> int:
    """Re-decide held visit pieces against the roster as it is now: on-duty parts are stored,
    parts still uncovered stay held (from their first hold), off-duty parts are dropped and
    counted. Returns how many held pieces were decided (left the hold). Only flushes."""
    held = _held_visits(session, officer_ids)
    if held.is_empty():
        return 0
    held = held.with_row_index("_visit")
    pieces = pieces_of(session, held, policy=policy, now=now).join(
        held.select("_visit", "held_at"), on="_visit"
    )
    events.delete_keys(session, HeldVisit, events.VISIT_KEY, held)
    settle(session, pieces, held_at=pl.col("held_at"), tz=tz, reason="held visits now on duty")
    still = pieces.filter(pl.col("status") == DutyStatus.HELD.value)["_visit"].unique()
    session.flush()
    return held.height - still.len()


def purge_expired_held_visits(session: Session, *, policy: Policy, now: datetime, tz: str) -> int:
    """Drop held visit pieces held longer than policy.unrostered_hold_hours, counting them as
    masked. Returns how many were dropped. Only flushes."""
    cutoff = now - timedelta(hours=policy.unrostered_hold_hours)
    expired = _held_visits(session, None, held_before=cutoff)
    if expired.is_empty():
        return 0
    count_masked(session, expired, tz)
    events.delete_held_before(session, HeldVisit, cutoff)
    session.flush()
    return expired.height


def remask_visits(
    session: Session,
    windows: Collection[tuple[str, datetime, datetime]],
    *,
    policy: Policy,
    now: datetime,
    tz: str,
) -> int:
    """Re-decide stored visit pieces overlapping ``windows`` (on-duty time a roster edit took
    away) against the roster stored now, as at intake: parts no longer on duty are removed
    (held when nothing covers them and they are recent, otherwise only counted). Returns how
    many stored pieces were cut or removed. Only flushes."""
    rows = events.visits_in_windows(session, VISIT_COLUMNS, windows)
    if not rows:
        return 0
    stored = pl.DataFrame(rows, schema=_piece_schema(), orient="row").unique(list(events.VISIT_KEY))
    stored = stored.with_row_index("_visit")
    pieces = pieces_of(session, stored, policy=policy, now=now)
    same = pieces.join(
        stored.select("_visit", "arrived_at", "departed_at"),
        on=["_visit", "arrived_at", "departed_at"],
        how="semi",
    ).filter(pl.col("status") == DutyStatus.ON_DUTY.value)
    touched = stored.filter(~pl.col("_visit").is_in(same["_visit"].implode()))
    if touched.is_empty():
        return 0
    events.delete_keys(session, Visit, events.VISIT_KEY, touched)
    settle(
        session,
        pieces.filter(pl.col("_visit").is_in(touched["_visit"].implode())),
        held_at=pl.lit(now),
        tz=tz,
        reason="roster change",
    )
    return touched.height
