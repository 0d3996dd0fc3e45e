"""Held events: promoted when a late shift covers them, dropped when their hold expires; stored
events a roster edit takes off duty go back through the same decision. Visits too
(intake.visits): a held piece of a visit is decided the same way."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from intake.duty import duty_status_of
from intake.visits import promote_held_visits, purge_expired_held_visits, remask_visits
from rules.masking import DutyStatus
from rules.policy import Policy
from store.load import PING_COLUMNS, SWIPE_COLUMNS, add_masked_counts, insert_events
from store.models import HeldPing, HeldSwipe, Ping, Swipe
from store.results import mark_computed_days

_HELD: dict[str, tuple[type[HeldPing] | type[HeldSwipe], tuple[str, ...]]] = {
    "pings": (HeldPing, PING_COLUMNS),
    "swipes": (HeldSwipe, SWIPE_COLUMNS),
}


def _held_frame(
    session: Session,
    kind: str,
    officer_ids: Collection[str] | None,
    held_before: datetime | None = None,
) -> pl.DataFrame:
    model, columns = _HELD[kind]
    stmt = select(*[getattr(model, c) for c in columns])
    if held_before is not None:
        stmt = stmt.where(model.held_at < held_before)
    if officer_ids is not None:
        stmt = stmt.where(model.officer_id.in_(sorted(officer_ids)))
    rows = session.execute(stmt).all()
    frame = pl.DataFrame([tuple(r) for r in rows], schema=list(columns), orient="row")
    return frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))


_KEYS = {"pings": ["device_id", "ts"], "swipes": ["badge_id", "ts", "reader_id"]}


def _delete_keys(session: Session, model: type, kind: str, keys: pl.DataFrame) -> None:
    values = [tuple(r) for r in keys.select(_KEYS[kind]).iter_rows()]
    cols = [getattr(model, c) for c in _KEYS[kind]]
    for start in range(0, len(values), 2000):
        session.execute(delete(model).where(tuple_(*cols).in_(values[start : start + 2000])))


def _delete_held(session: Session, kind: str, keys: pl.DataFrame) -> None:
    model, _ = _HELD[kind]
    key_cols = ["device_id", "ts"] if kind == "pings" else ["badge_id", "ts", "reader_id"]
    values = [tuple(r) for r in keys.select(key_cols).iter_rows()]
    cols = [getattr(model, c) for c in key_cols]
    for start in range(0, len(values), 2000):
        session.execute(delete(model).where(tuple_(*cols).in_(values[start : start + 2000])))


def promote_held(
    session: Session,
    *,
    policy: Policy,
    now: datetime,
    tz: str,
    officer_ids: Collection[str] | None = None,
) -> int:
    """Re-evaluate held events (of some officers, or all) against the roster as it is now.

    Events now inside an on-duty window move to the event tables; events now covered by an
    off-duty shift, or past their hold, are dropped and only counted. Returns how many moved.
    Only flushes.
    """
    moved = 0
    for kind in ("pings", "swipes"):
        held = _held_frame(session, kind, officer_ids)
        if held.is_empty():
            continue
        status = duty_status_of(session, held, policy=policy, now=now)
        held = held.with_columns(_status=status)
        on = held.filter(pl.col("_status") == DutyStatus.ON_DUTY.value)
        gone = held.filter(pl.col("_status") == DutyStatus.MASKED.value)
        if on.height:
            insert_events(session, kind, on)
            moved += on.height
            mark_computed_days(
                session,
                on.select("officer_id", "ts"),
                tz=tz,
                reason=f"held {kind} now on duty",
                marked_at=datetime.now(UTC),
            )
        add_masked_counts(session, gone, kind.removesuffix("s"), tz)
        _delete_held(session, kind, pl.concat([on, gone]))
    moved += promote_held_visits(session, policy=policy, now=now, tz=tz, officer_ids=officer_ids)
    session.flush()
    return moved


def purge_expired_held(session: Session, *, policy: Policy, now: datetime, tz: str) -> int:
    """Drop held events held longer than policy.unrostered_hold_hours (counting them as masked).

    The hold counts from when the event was held (``held_at``), never from its own time: an
    event dated ahead would otherwise outlive every purge.
    Returns how many were dropped. Only flushes.
    """
    cutoff = now - timedelta(hours=policy.unrostered_hold_hours)
    dropped = 0
    for kind, (model, _) in _HELD.items():
        expired = _held_frame(session, kind, None, held_before=cutoff)
        if expired.is_empty():
            continue
        add_masked_counts(session, expired, kind.removesuffix("s"), tz)
        session.execute(delete(model).where(model.held_at < cutoff))
        dropped += expired.height
    dropped += purge_expired_held_visits(session, policy=policy, now=now, tz=tz)
    session.flush()
    return dropped


Window = tuple[str, datetime, datetime]  # officer_id, start, end (inclusive)


def _stored_events(session: Session, kind: str, windows: Collection[Window]) -> pl.DataFrame:
    model: type[Ping] | type[Swipe] = Ping if kind == "pings" else Swipe
    _, columns = _HELD[kind]
    rows: list[tuple[object, ...]] = []
    for officer_id, start, end in sorted(windows):
        stmt = select(*[getattr(model, c) for c in columns]).where(
            model.officer_id == officer_id, model.ts >= start, model.ts <= end
        )
        rows += [tuple(r) for r in session.execute(stmt).all()]
    frame = pl.DataFrame(rows, schema=list(columns), orient="row")
    return frame.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC"))).unique(
        subset=_KEYS[kind], maintain_order=True
    )


def mask_uncovered(
    session: Session, windows: Collection[Window], *, policy: Policy, now: datetime, tz: str
) -> int:
    """Re-decide stored on-duty events inside ``windows`` (the on-duty time a roster edit took
    away) against the roster stored now, exactly as at intake: still on duty, they stay; now off
    duty (a rest, leave or sick shift, or older than the hold), they are deleted and only
    counted as masked; covered by nothing and recent, they go back to the hold (held now).
    Returns how many left the event tables. Only flushes."""
    if not windows:
        return 0
    gone = 0
    for kind in ("pings", "swipes"):
        events = _stored_events(session, kind, windows)
        if events.is_empty():
            continue
        status = duty_status_of(session, events, policy=policy, now=now)
        events = events.with_columns(_status=status)
        off = events.filter(pl.col("_status") != DutyStatus.ON_DUTY.value)
        if off.is_empty():
            continue
        held = off.filter(pl.col("_status") == DutyStatus.HELD.value).with_columns(
            held_at=pl.lit(now).cast(pl.Datetime("us", "UTC"))
        )
        masked = off.filter(pl.col("_status") == DutyStatus.MASKED.value)
        _delete_keys(session, Ping if kind == "pings" else Swipe, kind, off)
        insert_events(session, f"held_{kind}", held.drop("_status"))
        add_masked_counts(session, masked, kind.removesuffix("s"), tz)
        gone += off.height
    gone += remask_visits(session, windows, policy=policy, now=now, tz=tz)
    session.flush()
    return gone
