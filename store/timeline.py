"""One officer's verified on-duty timeline: on-duty reads for a range and the events built from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3
import polars as pl
from sqlalchemy.orm import Session

from geo.index import StationIndex
from rules.clock import INSTANT, iso_local
from rules.engine import presence_segments
from rules.masking import ON_DUTY_KINDS, covered, on_duty_windows
from rules.policy import Policy
from store.clock import device_offsets
from store.dayload import FIXES, SWIPES, _select_list, load_visits, read_frame, with_visit_fixes
from store.db import is_postgres
from store.models import Officer
from store.roster import load_shifts
from store.stations import StationCatalog, StationSet

FIX_SCHEMA = FIXES
SWIPE_SCHEMA = SWIPES
# Events at the same instant are listed in this order (a shift opens before what happens in it).
_TYPE_ORDER = {
    "off_duty": 0,
    "shift_start": 1,
    "swipe": 2,
    "presence": 3,
    "away": 4,
    "shift_end": 5,
}


@dataclass(frozen=True)
class OnDutyRecords:
    """Everything on duty for one officer in [start, end): shifts, windows, fixes and swipes.

    ``windows`` are the current on-duty windows (CONTRACT §3) clipped to the range; fixes and
    swipes are only those inside them now, so a later roster edit that removes a shift also removes
    its events from every read.
    """

    shifts: pl.DataFrame
    windows: pl.DataFrame
    fixes: pl.DataFrame
    swipes: pl.DataFrame
    devices: pl.DataFrame | None = None  # device clock offsets (store.clock.device_offsets)


def officer_exists(session: Session, officer_id: str) -> bool:
    """Whether the officer is known."""
    return session.get(Officer, officer_id) is not None


def on_duty_records(
    session: Session, officer_id: str, start: datetime, end: datetime, *, policy: Policy
) -> OnDutyRecords:
    """Read one officer's on-duty shifts, fixes and swipes overlapping [start, end) (UTC instants).

    The officer's stored visits count as fixes (store.dayload.with_visit_fixes: source "visit"),
    so the timeline shows a stay the phone's operating system reported as on-duty presence."""
    grace = timedelta(minutes=policy.duty_grace_minutes)
    shifts = load_shifts(session, start=start - grace, end=end + grace, officer_ids=[officer_id])
    shifts = shifts.filter(pl.col("kind").is_in(ON_DUTY_KINDS)).sort("start_at", "shift_id")
    lo, hi = pl.lit(start).cast(INSTANT), pl.lit(end).cast(INSTANT)
    windows = (
        on_duty_windows(shifts, policy.duty_grace_minutes)
        .with_columns(
            start_at=pl.max_horizontal(pl.col("start_at"), lo),
            end_at=pl.min_horizontal(pl.col("end_at"), hi),
        )
        .filter(pl.col("end_at") > pl.col("start_at"))
    )
    # Arrow/CSV reads of the dayload module, not ORM rows: a month of fixes a minute is tens of
    # thousands of rows, and a Python object per row cost more than the rest of the timeline.
    pg = is_postgres(session)
    where = "WHERE officer_id = {p} AND ts >= {p} AND ts < {p}"
    fixes = read_frame(
        session,
        f"SELECT {_select_list(FIX_SCHEMA, pg)} FROM pings {where} ORDER BY ts, device_id",
        [officer_id, start, end],
        FIX_SCHEMA,
    )
    swipes = read_frame(
        session,
        f"SELECT {_select_list(SWIPE_SCHEMA, pg)} FROM swipes {where} "
        "ORDER BY ts, badge_id, reader_id",
        [officer_id, start, end],
        SWIPE_SCHEMA,
    )
    visits = load_visits(session, start, end, officer_id)
    fixes = with_visit_fixes(fixes, visits, policy.visit_step_minutes).filter(
        (pl.col("ts") >= lo) & (pl.col("ts") < hi)
    )
    fixes = fixes.filter(covered(fixes, windows)) if fixes.height else fixes
    swipes = swipes.filter(covered(swipes, windows)) if swipes.height else swipes
    devices = device_offsets(session, end, policy=policy) if fixes.height else None
    return OnDutyRecords(
        shifts=shifts, windows=windows, fixes=fixes, swipes=swipes, devices=devices
    )


def _timeline_cell(cell: int | None, resolution: int) -> str | None:
    """The H3 cell (hex string) at ``resolution``, coarsening a finer cell; None stays None."""
    if cell is None:
        return None
    text = h3.int_to_str(int(cell))
    if h3.get_resolution(text) > resolution:
        text = h3.cell_to_parent(text, resolution)
    return str(text)


def _segments(
    records: OnDutyRecords, policy: Policy, tz: str, index: StationIndex | None
) -> pl.DataFrame:
    """Presence, away and unknown segments from the rules engine (fixes classified by geo first)."""
    fixes = records.fixes
    if fixes.height and index is not None:
        fixes = index.classify(fixes)
    shifts = (
        records.shifts.drop("version") if "version" in records.shifts.columns else records.shifts
    )
    stations = index.station_centroids() if index is not None else None
    return presence_segments(
        fixes, records.swipes, shifts, policy, tz, stations, devices=records.devices
    )


def _event(
    type_: str, start: datetime, end: datetime | None, tz: str, **rest: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {"type": type_, "start": iso_local(start, tz)}
    if end is not None:
        event["end"] = iso_local(end, tz)
    event.update(rest)
    event["_sort"] = (start, _TYPE_ORDER[type_])
    return event


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

    ``stations`` is the caller's StationCatalog set (the service builds it once per process);
    None reads the stations and builds their index for this call only.

    Events in time order: shift_start/shift_end (roster), swipe (access control), presence (a
    station) and away (an H3 cell at ``policy.timeline_cell_resolution``, never coordinates), and
    off_duty gaps that carry nothing but their times. Segments are clipped to the range.
    """
    records = on_duty_records(session, officer_id, start, end, policy=policy)
    events: list[dict[str, Any]] = []
    for shift in records.shifts.iter_rows(named=True):
        evidence = {
            "kind": shift["kind"],
            "declared_location": shift["declared_location"],
            "station_id": shift["station_id"],
            "version": shift["version"],
        }
        source = {"system": "roster", "id": shift["shift_id"]}
        if start <= shift["start_at"] < end:
            events.append(
                _event("shift_start", shift["start_at"], None, tz, source=source, evidence=evidence)
            )
        if start <= shift["end_at"] < end:
            events.append(
                _event("shift_end", shift["end_at"], None, tz, source=source, evidence=evidence)
            )
    for sw in records.swipes.iter_rows(named=True):
        events.append(
            _event(
                "swipe",
                sw["ts"],
                None,
                tz,
                station_id=sw["station_id"],
                source={"system": "access_control", "id": f"{sw['badge_id']}/{sw['reader_id']}"},
                evidence={
                    "badge_id": sw["badge_id"],
                    "reader_id": sw["reader_id"] or None,
                    "direction": sw["direction"],
                    "granted": sw["granted"],
                },
            )
        )
    if records.windows.height and (records.fixes.height or records.swipes.height):
        if stations is None:
            stations = StationCatalog().current(session)
        segments = _segments(records, policy, tz, stations.index)
        for seg in segments.filter(pl.col("kind").is_in(["presence", "away"])).iter_rows(
            named=True
        ):
            seg_start, seg_end = max(seg["start_at"], start), min(seg["end_at"], end)
            if seg_end <= seg_start:
                continue
            evidence = {
                "n_fixes": int(seg["n_fixes"] or 0),
                "n_swipes": int(seg["n_swipes"] or 0),
                "sources": seg["sources"],
            }
            source = {"system": "rollcall.presence", "id": f"{officer_id}/{iso_local(seg_start)}"}
            if seg["kind"] == "presence":
                events.append(
                    _event(
                        "presence",
                        seg_start,
                        seg_end,
                        tz,
                        station_id=seg["station_id"],
                        source=source,
                        evidence=evidence,
                    )
                )
            else:
                cell = _timeline_cell(seg["h3_cell"], policy.timeline_cell_resolution)
                events.append(
                    _event(
                        "away",
                        seg_start,
                        seg_end,
                        tz,
                        h3_cell=cell,
                        h3_resolution=policy.timeline_cell_resolution,
                        source=source,
                        evidence=evidence,
                    )
                )
    cursor = start
    for win in records.windows.sort("start_at").iter_rows(named=True):
        if win["start_at"] > cursor:
            events.append(_event("off_duty", cursor, win["start_at"], tz))
        cursor = max(cursor, win["end_at"])
    if cursor < end:
        events.append(_event("off_duty", cursor, end, tz))
    events.sort(key=lambda e: e["_sort"])
    for event in events:
        del event["_sort"]
    return {
        "officer_id": officer_id,
        "from": iso_local(start, tz),
        "to": iso_local(end, tz),
        "events": events,
    }
