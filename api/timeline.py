"""One officer's verified on-duty timeline: the stored frames (store.timeline), then geo and rules
composed as for a day's results (rules.pipeline.timeline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from rules import pipeline
from rules.policy import Policy
from rules.timeline import OnDutyRecords
from rules.timeline import on_duty_records as records_of
from store.stations import StationCatalog, StationSet
from store.timeline import read_timeline


def on_duty_records(
    session: Session, officer_id: str, start: datetime, end: datetime, *, policy: Policy
) -> OnDutyRecords:
    """One officer's on-duty shifts, windows, fixes and swipes in [start, end) (UTC instants),
    as stored now (so a later roster edit that removes a shift also removes its events)."""
    frames = read_timeline(session, officer_id, start, end, policy=policy)
    return records_of(
        frames.shifts, frames.fixes, frames.swipes, start, end, policy, frames.devices
    )


def build_timeline(
    session: Session,
    officer_id: str,
    start: datetime,
    end: datetime,
    *,
    policy: Policy,
    tz: str,
    stations: StationSet | None = None,
) -> dict[str, Any]:
    """The verified on-duty timeline of one officer for [start, end) (CONTRACT §7).

    ``stations`` is the caller's StationCatalog set (the service keeps one per process, rebuilt
    when the stored stations change); None reads the stations and builds their index for this
    call only, when an on-duty event needs it.

    Events in time order: shift_start/shift_end (roster), swipe (access control), presence (a
    station) and away (an H3 cell at ``policy.timeline_cell_resolution``, never coordinates), and
    off_duty gaps that carry nothing but their times. Segments are clipped to the range.
    """
    records = on_duty_records(session, officer_id, start, end, policy=policy)
    index = None
    if records.has_events:
        if stations is None:
            stations = StationCatalog().current(session)
        index = stations.index
    return pipeline.timeline(officer_id, start, end, records, index, policy=policy, tz=tz)
