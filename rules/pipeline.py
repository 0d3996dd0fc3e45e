"""Geo, then rules, composed once: fixes classified against the station index, then the engine.

The nightly job (a day's results, jobs.compute) and the timeline (one officer's range, for the
API and the command line) both go through here, so a timeline is built from the same
classification, masking, evidence and segments as the day's results.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from time import perf_counter
from typing import Any

import polars as pl

from geo.index import StationIndex
from rules.engine import DayInputs, DayOutcome, evaluate_day, presence_segments
from rules.policy import Policy
from rules.schemas import PRESENCE, STATIONS, conform, empty
from rules.timeline import OnDutyRecords, timeline_document

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
