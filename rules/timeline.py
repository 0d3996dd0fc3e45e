"""One officer's verified on-duty timeline (CONTRACT §7) from their frames: events in time order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import h3
import polars as pl

from rules.clock import INSTANT, iso_local
from rules.masking import ON_DUTY_KINDS, covered, on_duty_windows
from rules.policy import Policy

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
    swipes are only those inside them now (rules.masking.covered), so a later roster edit that
    removes a shift also removes its events from every read.
    """

    shifts: pl.DataFrame
    windows: pl.DataFrame
    fixes: pl.DataFrame
    swipes: pl.DataFrame
    devices: pl.DataFrame | None = None  # device_id, clock_offset_s (rules.receipts.DEVICES)

    @property
    def has_events(self) -> bool:
        """Whether a fix or swipe is on duty in the range (else there is no segment to build)."""
        return bool(self.windows.height and (self.fixes.height or self.swipes.height))


def on_duty_records(
    shifts: pl.DataFrame,
    fixes: pl.DataFrame,
    swipes: pl.DataFrame,
    start: datetime,
    end: datetime,
    policy: Policy,
    devices: pl.DataFrame | None = None,
) -> OnDutyRecords:
    """One officer's on-duty records in [start, end) (UTC instants) from their stored frames.

    ``shifts``: every shift overlapping the range widened by the grace on both sides, any kind
    (with ``version``); ``fixes`` and ``swipes``: those stored with ``ts`` in [start, end);
    ``devices``: the devices' clock offsets, kept for the segments.
    """
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
    fixes = fixes.filter(covered(fixes, windows)) if fixes.height else fixes
    swipes = swipes.filter(covered(swipes, windows)) if swipes.height else swipes
    return OnDutyRecords(
        shifts=shifts, windows=windows, fixes=fixes, swipes=swipes, devices=devices
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


def shift_events(
    shifts: pl.DataFrame, start: datetime, end: datetime, tz: str
) -> list[dict[str, Any]]:
    """shift_start and shift_end events of the on-duty ``shifts`` whose instant is in range."""
    events: list[dict[str, Any]] = []
    for shift in shifts.iter_rows(named=True):
        evidence = {
            "kind": shift["kind"],
            "declared_location": shift["declared_location"],
            "station_id": shift["station_id"],
            "version": shift["version"],
        }
        source = {"system": "roster", "id": shift["shift_id"]}
        for type_, at in (("shift_start", shift["start_at"]), ("shift_end", shift["end_at"])):
            if start <= at < end:
                events.append(_event(type_, at, None, tz, source=source, evidence=evidence))
    return events


def swipe_events(swipes: pl.DataFrame, tz: str) -> list[dict[str, Any]]:
    """One swipe event per on-duty swipe (``swipes`` in time order)."""
    return [
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
        for sw in swipes.iter_rows(named=True)
    ]


def segment_events(
    segments: pl.DataFrame,
    officer_id: str,
    start: datetime,
    end: datetime,
    policy: Policy,
    tz: str,
) -> list[dict[str, Any]]:
    """presence (a station) and away (an H3 cell at policy.timeline_cell_resolution, as the
    evidence gives it, never coordinates) events of ``segments`` (rules.schemas.PRESENCE),
    clipped to the range."""
    events: list[dict[str, Any]] = []
    shown = segments.filter(pl.col("kind").is_in(["presence", "away"]))
    for seg in shown.iter_rows(named=True):
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
            place: dict[str, Any] = {"station_id": seg["station_id"]}
        else:
            cell = seg["h3_cell"]
            place = {
                "h3_cell": None if cell is None else str(h3.int_to_str(int(cell))),
                "h3_resolution": policy.timeline_cell_resolution,
            }
        events.append(
            _event(seg["kind"], seg_start, seg_end, tz, **place, source=source, evidence=evidence)
        )
    return events


def off_duty_events(
    windows: pl.DataFrame, start: datetime, end: datetime, tz: str
) -> list[dict[str, Any]]:
    """The gaps of [start, end) outside every on-duty window: their times and nothing else."""
    events: list[dict[str, Any]] = []
    cursor = start
    for win in windows.sort("start_at").iter_rows(named=True):
        if win["start_at"] > cursor:
            events.append(_event("off_duty", cursor, win["start_at"], tz))
        cursor = max(cursor, win["end_at"])
    if cursor < end:
        events.append(_event("off_duty", cursor, end, tz))
    return events


def timeline_document(
    officer_id: str,
    start: datetime,
    end: datetime,
    records: OnDutyRecords,
    segments: pl.DataFrame,
    *,
    policy: Policy,
    tz: str,
) -> dict[str, Any]:
    """The timeline of [start, end): events in time order (instants in ``tz``), ties in the
    order off_duty, shift_start, swipe, presence, away, shift_end."""
    events = [
        *shift_events(records.shifts, start, end, tz),
        *swipe_events(records.swipes, tz),
        *segment_events(segments, officer_id, start, end, policy, tz),
        *off_duty_events(records.windows, start, end, tz),
    ]
    events.sort(key=lambda e: e["_sort"])
    for event in events:
        del event["_sort"]
    return {
        "officer_id": officer_id,
        "from": iso_local(start, tz),
        "to": iso_local(end, tz),
        "events": events,
    }
