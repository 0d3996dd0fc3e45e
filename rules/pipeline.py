"""Geo, then rules, composed once: fixes classified against the station index, then the engine.

The nightly job (a day's results, jobs.compute) and the timeline (one officer's range, for the
API and the command line) both go through here, so a timeline is built from the same
classification, masking, evidence and segments as the day's results.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any

import polars as pl

from geo.cells import cell_expr
from geo.index import StationIndex
from rules.engine import DayInputs, DayOutcome, evaluate_day, presence_segments
from rules.policy import Policy
from rules.schemas import FIXES, PRESENCE, STATIONS, SWIPES, conform, empty
from rules.timeline import OnDutyRecords, on_duty_records, timeline_document

# Fixes are classified this many at a time: classification is row by row, so chunks give the
# same result while bounding the geometry intermediates (a whole Met day at once needs > 8 GB).
CLASSIFY_CHUNK_ROWS = 1_000_000


def classify_fixes(index: StationIndex | None, fixes: pl.DataFrame) -> pl.DataFrame:
    """``index.classify`` over ``fixes`` in chunks of CLASSIFY_CHUNK_ROWS (same rows, same
    order). Without an index (no station stored) the fixes are returned as they are: no station
    is attributed to any of them."""
    if index is None or fixes.is_empty():
        return fixes
    if fixes.height <= CLASSIFY_CHUNK_ROWS:
        return index.classify(fixes)
    parts = [
        index.classify(fixes.slice(offset, CLASSIFY_CHUNK_ROWS))
        for offset in range(0, fixes.height, CLASSIFY_CHUNK_ROWS)
    ]
    return pl.concat(parts, rechunk=False)


def station_frame(index: StationIndex | None) -> pl.DataFrame:
    """The stations as the evidence measures distances to them (rules.schemas.STATIONS): each
    fence's centroid and radius; empty without an index."""
    if index is None:
        return empty(STATIONS)
    return conform(index.station_centroids(), STATIONS, "stations")


def day_outcome(
    inputs: DayInputs, index: StationIndex | None, policy: Policy
) -> tuple[DayOutcome, dict[str, float]]:
    """``inputs``' day evaluated (rules.engine.evaluate_day) after classifying its fixes with
    ``index``; ``inputs.stations`` is replaced by the index's. Also returns the seconds taken by
    each step (``classify``, ``evaluate``)."""
    t0 = perf_counter()
    fixes = classify_fixes(index, inputs.fixes.rechunk())
    t1 = perf_counter()
    outcome = evaluate_day(replace(inputs, fixes=fixes, stations=station_frame(index)), policy)
    t2 = perf_counter()
    return outcome, {"classify": t1 - t0, "evaluate": t2 - t1}


def timeline_segments(
    records: OnDutyRecords, index: StationIndex | None, policy: Policy
) -> pl.DataFrame:
    """Presence, away and unknown segments (rules.schemas.PRESENCE) of an officer's on-duty
    records, built as a day's results build them: fixes classified with ``index``, then
    rules.engine.presence_segments (device clocks as the records give them, masking, evidence
    measured against the stations, segments)."""
    shifts = (
        records.shifts.drop("version") if "version" in records.shifts.columns else records.shifts
    )
    fixes = classify_fixes(index, records.fixes)
    stations = station_frame(index) if index is not None else None
    return presence_segments(
        fixes, records.swipes, shifts, policy, stations=stations, devices=records.devices
    )


def timeline(
    officer_id: str,
    start: datetime,
    end: datetime,
    records: OnDutyRecords,
    index: StationIndex | None,
    *,
    policy: Policy,
    tz: str,
) -> dict[str, Any]:
    """The verified on-duty timeline of one officer for [start, end) (CONTRACT §7) from their
    on-duty records (rules.timeline.on_duty_records): shifts, swipes, presence and away segments
    (timeline_segments, only when there is an on-duty event) and off-duty gaps."""
    segments = timeline_segments(records, index, policy) if records.has_events else empty(PRESENCE)
    return timeline_document(officer_id, start, end, records, segments, policy=policy, tz=tz)


# A rehearsal day: one duty shift of 8 hours; a fix every 10 minutes, the morning at the first
# station and the afternoon this far north-east of it; one granted entry swipe.
_REHEARSAL_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
_REHEARSAL_AWAY_DEG = 0.03


def rehearsal_records(index: StationIndex, policy: Policy) -> OnDutyRecords:
    """A made-up officer's on-duty records for one day at the index's first station: nobody's
    data, for running the pipeline once before the first real request (see ``rehearse``)."""
    centre = index.station_centroids().row(0, named=True)
    start, end = _REHEARSAL_START, _REHEARSAL_START + timedelta(hours=8)
    times = [start + timedelta(minutes=10 * k) for k in range(48)]
    away = [k >= 24 for k in range(48)]
    fixes = pl.DataFrame(
        {
            "officer_id": "rehearsal",
            "device_id": "rehearsal",
            "ts": times,
            "lat": [centre["lat"] + (_REHEARSAL_AWAY_DEG if a else 0.0) for a in away],
            "lon": [centre["lon"] + (_REHEARSAL_AWAY_DEG if a else 0.0) for a in away],
            "accuracy_m": 12.0,
            "source": ["gps" if k % 2 else "wifi" for k in range(48)],
            "is_mock": False,
        }
    )
    fixes = conform(fixes.with_columns(h3_cell=cell_expr()), FIXES, "fixes")
    swipes = conform(
        pl.DataFrame(
            {
                "officer_id": ["rehearsal"],
                "badge_id": ["rehearsal"],
                "ts": [start + timedelta(minutes=3)],
                "station_id": [centre["station_id"]],
                "direction": ["in"],
                "granted": [True],
            }
        ),
        SWIPES,
        "swipes",
    )
    shifts = pl.DataFrame(
        {
            "shift_id": ["rehearsal"],
            "officer_id": ["rehearsal"],
            "start_at": [start],
            "end_at": [end],
            "kind": ["duty"],
            "station_id": [centre["station_id"]],
            "declared_location": ["office"],
            "version": [1],
        }
    )
    return on_duty_records(shifts, fixes, swipes, start, end, policy)


def rehearse(index: StationIndex | None, policy: Policy, tz: str) -> dict[str, Any] | None:
    """The timeline of ``rehearsal_records`` (None without a station). The first pass through
    the pipeline in a process pays one-time costs (code paths and caches of Polars, h3 and
    shapely taken for the first time: about 100 ms) that a service pays here, at start-up,
    instead of in its first request."""
    if index is None or not index.station_ids:
        return None
    records = rehearsal_records(index, policy)
    start = _REHEARSAL_START
    end = start + timedelta(days=1)
    return timeline(
        records.shifts["officer_id"][0], start, end, records, index, policy=policy, tz=tz
    )
