"""One officer's stored shifts, fixes (visits counted as fixes) and swipes over a timeline's
range, read as frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from rules.policy import Policy
from store.clock import device_offsets
from store.dayload import FIXES, SWIPES, load_visits, with_visit_fixes
from store.models import Officer
from store.reader import select_frame
from store.roster import load_shifts

FIX_SCHEMA = FIXES
SWIPE_SCHEMA = SWIPES


@dataclass(frozen=True)
class TimelineFrames:
    """What is stored for one officer around [start, end): ``shifts`` of every kind overlapping
    the range widened by the grace (current versions, with ``version``), and the ``fixes`` and
    ``swipes`` stored with ``ts`` in the range, in time order, and the clock offsets of the
    devices (when there is a fix). The officer's stored visits count
    as fixes (store.dayload.with_visit_fixes: source "visit"), so the timeline shows a stay the
    phone's operating system reported as on-duty presence."""

    shifts: pl.DataFrame
    fixes: pl.DataFrame
    swipes: pl.DataFrame
    devices: pl.DataFrame | None = None  # device clock offsets (store.clock.device_offsets)


def officer_exists(session: Session, officer_id: str) -> bool:
    """Whether the officer is known."""
    return session.get(Officer, officer_id) is not None


def read_timeline(
    session: Session, officer_id: str, start: datetime, end: datetime, *, policy: Policy
) -> TimelineFrames:
    """Read one officer's shifts, fixes and swipes for [start, end) (UTC instants)."""
    grace = timedelta(minutes=policy.duty_grace_minutes)
    shifts = load_shifts(session, start=start - grace, end=end + grace, officer_ids=[officer_id])
    # Arrow/CSV reads of the dayload module, not ORM rows: a month of fixes a minute is tens of
    # thousands of rows, and a Python object per row cost more than the rest of the timeline.
    # Ordered by the stored columns, named with their table: a bare ``ts`` names the select
    # list's epoch microseconds on PostgreSQL, whose sort cannot use the (officer_id, ts) index.
    where = "WHERE officer_id = {p} AND ts >= {p} AND ts < {p}"
    params = [officer_id, start, end]
    fixes = select_frame(
        session, "pings", FIX_SCHEMA, f"{where} ORDER BY pings.ts, pings.device_id", params
    )
    swipes = select_frame(
        session,
        "swipes",
        SWIPE_SCHEMA,
        f"{where} ORDER BY swipes.ts, swipes.badge_id, swipes.reader_id",
        params,
    )
    visits = load_visits(session, start, end, officer_id)
    lo, hi = pl.lit(start).cast(INSTANT), pl.lit(end).cast(INSTANT)
    fixes = with_visit_fixes(fixes, visits, policy.visit_step_minutes).filter(
        (pl.col("ts") >= lo) & (pl.col("ts") < hi)
    )
    devices = (
        device_offsets(
            session, end, policy=policy, device_ids=fixes["device_id"].drop_nulls().to_list()
        )
        if fixes.height
        else None
    )
    return TimelineFrames(shifts=shifts, fixes=fixes, swipes=swipes, devices=devices)
