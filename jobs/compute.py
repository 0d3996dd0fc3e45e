"""One day's computation without a database: classify fixes (geo), then presence and flags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from time import perf_counter
from typing import Any

import polars as pl

from geo.index import StationIndex
from rules.findings import Finding
from rules.policy import Policy
from store.dayload import DayFrames


@dataclass(frozen=True)
class PartResult:
    """What one officer partition of one day produced, and how long its stages took (seconds)."""

    daily: pl.DataFrame
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)


def split_by_officer(frames: DayFrames, parts: int) -> list[DayFrames]:
    """Partition a day's frames into ``parts`` groups of whole officers (stable hash of the id).

    Every officer's shifts, events, claims and shift history land in the same part, so parts can be
    evaluated independently. ``parts`` <= 1 returns the frames unchanged.
    """
    if parts <= 1:
        return [frames]

    def bucket(frame: pl.DataFrame) -> pl.Expr:
        return (pl.col("officer_id").hash(seed=7) % parts).alias("_part")

    def pieces(frame: pl.DataFrame) -> dict[int, pl.DataFrame]:
        tagged = frame.with_columns(bucket(frame))
        out = {
            int(k[0]): v.drop("_part")
            for k, v in tagged.partition_by("_part", as_dict=True).items()
        }
        return out

    officers = pieces(frames.officers)
    shifts = pieces(frames.shifts)
    fixes = pieces(frames.fixes)
    swipes = pieces(frames.swipes)
    overtime = pieces(frames.overtime)
    result: list[DayFrames] = []
    for i in range(parts):
        part_shifts = shifts.get(i, frames.shifts.clear())
        history = frames.shift_history.filter(
            pl.col("shift_id").is_in(part_shifts["shift_id"].implode())
        )
        result.append(
            replace(
                frames,
                officers=officers.get(i, frames.officers.clear()),
                shifts=part_shifts,
                shift_history=history,
                fixes=fixes.get(i, frames.fixes.clear()),
                swipes=swipes.get(i, frames.swipes.clear()),
                overtime=overtime.get(i, frames.overtime.clear()),
            )
        )
    return result


# Fixes are classified this many at a time: classification is row by row, so chunks give the
# same result while bounding the geometry intermediates (a whole Met day at once needs > 8 GB).
CLASSIFY_CHUNK_ROWS = 1_000_000


def classify_fixes(index: StationIndex, fixes: pl.DataFrame) -> pl.DataFrame:
    """``index.classify`` over ``fixes`` in chunks of CLASSIFY_CHUNK_ROWS (same rows, same order)."""
    if fixes.height <= CLASSIFY_CHUNK_ROWS:
        return index.classify(fixes)
    parts = [
        index.classify(fixes.slice(offset, CLASSIFY_CHUNK_ROWS))
        for offset in range(0, fixes.height, CLASSIFY_CHUNK_ROWS)
    ]
    return pl.concat(parts, rechunk=False)


def compute_part(frames: DayFrames, index: StationIndex, policy: Policy, tz: str) -> PartResult:
    """Classify the fixes against the station fences, then evaluate the day's rules.

    Pure: no database access, so it runs unchanged in-process or on a Dask worker. The daily rows
    are sorted by officer_id; findings by (officer_id, code, fingerprint).
    """
    from rules.engine import DayInputs, evaluate_day

    t0 = perf_counter()
    fixes = classify_fixes(index, frames.fixes)
    t1 = perf_counter()
    inputs = DayInputs(
        day=frames.day,
        tz=tz,
        officers=frames.officers,
        shifts=frames.shifts,
        shift_history=frames.shift_history,
        fixes=fixes,
        swipes=frames.swipes,
        overtime=frames.overtime,
        stations=index.station_centroids(),
    )
    outcome = evaluate_day(inputs, policy)
    t2 = perf_counter()
    daily = outcome.daily.sort("officer_id")
    findings = sorted(outcome.findings, key=lambda f: (f.officer_id, f.code, f.fingerprint))
    timings: dict[str, float] = {"classify": t1 - t0, "evaluate": t2 - t1}
    extra: Any = getattr(outcome, "timings", None)
    if isinstance(extra, dict):
        timings.update({f"evaluate.{k}": float(v) for k, v in extra.items()})
    return PartResult(daily=daily, findings=findings, timings=timings)


def merge_parts(results: Sequence[PartResult]) -> PartResult:
    """Combine partition results into one day's result (same order as an unpartitioned run).

    Timings are summed over parts (CPU-seconds when the parts ran in parallel).
    """
    if len(results) == 1:
        return results[0]
    daily = pl.concat([r.daily for r in results], how="vertical_relaxed").sort("officer_id")
    findings = sorted(
        (f for r in results for f in r.findings),
        key=lambda f: (f.officer_id, f.code, f.fingerprint),
    )
    timings: dict[str, float] = {}
    for r in results:
        for k, v in r.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    return PartResult(daily=daily, findings=findings, timings=timings)
