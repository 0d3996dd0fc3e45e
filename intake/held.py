"""Held events: promoted when a late shift covers them, dropped when their hold expires; stored
events a roster edit takes off duty go back through the same decision. Visits too
(intake.visits): a held piece of a visit is decided the same way."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy.orm import Session

from intake.duty import duty_status_of
from intake.visits import promote_held_visits, purge_expired_held_visits, remask_visits
from rules.masking import DutyStatus
from rules.policy import Policy
from store import events
from store.load import add_masked_counts, insert_events
from store.results import mark_computed_days


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
        held = events.held_events(session, kind, officer_ids)
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
        model, _ = events.HELD[kind]
        events.delete_keys(session, model, events.EVENT_KEYS[kind], pl.concat([on, gone]))
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
    for kind, (model, _) in events.HELD.items():
        expired = events.held_events(session, kind, None, held_before=cutoff)
        if expired.is_empty():
            continue
        add_masked_counts(session, expired, kind.removesuffix("s"), tz)
        events.delete_held_before(session, model, cutoff)
        dropped += expired.height
    dropped += purge_expired_held_visits(session, policy=policy, now=now, tz=tz)
    session.flush()
    return dropped


def mask_uncovered(
    session: Session, windows: Collection[events.Window], *, policy: Policy, now: datetime, tz: str
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
        stored = events.events_in_windows(session, kind, windows)
        if stored.is_empty():
            continue
        status = duty_status_of(session, stored, policy=policy, now=now)
        stored = stored.with_columns(_status=status)
        off = stored.filter(pl.col("_status") != DutyStatus.ON_DUTY.value)
        if off.is_empty():
            continue
        held = off.filter(pl.col("_status") == DutyStatus.HELD.value).with_columns(
            held_at=pl.lit(now).cast(pl.Datetime("us", "UTC"))
        )
        masked = off.filter(pl.col("_status") == DutyStatus.MASKED.value)
        events.delete_keys(session, events.STORED[kind], events.EVENT_KEYS[kind], off)
        insert_events(session, f"held_{kind}", held.drop("_status"))
        add_masked_counts(session, masked, kind.removesuffix("s"), tz)
        gone += off.height
    gone += remask_visits(session, windows, policy=policy, now=now, tz=tz)
    session.flush()
    return gone
