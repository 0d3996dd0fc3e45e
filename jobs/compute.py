"""One day's computation without a database: classify fixes (geo), then presence and flags."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from geo.index import StationIndex
from rules.engine import DayInputs
from rules.findings import Finding, finding_order
from rules.policy import Policy
from store.dayload import DayFrames, with_visit_fixes


@dataclass(frozen=True)
class PartResult:
    """What one officer partition of one day produced, and how long its stages took (seconds)."""

    daily: pl.DataFrame
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)


def officer_groups(frames: DayFrames, parts: int) -> list[list[str]]:
    """The officers of ``frames.officers`` in ``parts`` contiguous runs of sorted ids, balanced on
    the officers with a shift or claim in the frames (the ones with work to compute).

    Runs are ranges in byte order, so every id, listed or not, falls in exactly one: the range
    from its run's first id up to the next run's first id (the first run is open below).
    """
    ids = frames.officers["officer_id"].sort()
    busy = pl.concat([frames.shifts["officer_id"], frames.overtime["officer_id"]]).unique().sort()
    parts = max(1, min(parts, busy.len()))
    if parts == 1:
        return [ids.to_list()]
    # the first busy officer of each run after the first starts a new run
    starts = [busy[(k * busy.len()) // parts] for k in range(1, parts)]
    cut = ids.search_sorted(pl.Series(starts, dtype=pl.Utf8), side="left").to_list()
    bounds = sorted({0, *cut, ids.len()})
    groups = [ids.slice(a, b - a).to_list() for a, b in zip(bounds, bounds[1:], strict=False)]
    return [g for g in groups if g] or [[]]


def _range_of(groups: list[list[str]], k: int) -> pl.Expr:
    """Rows whose officer_id falls in run ``k`` of ``groups`` (see officer_groups)."""
    col = pl.col("officer_id")
    expr = pl.lit(True)
    if k > 0:
        expr = expr & (col >= groups[k][0])
    if k + 1 < len(groups):
        expr = expr & (col < groups[k + 1][0])
    return expr


def officer_part(
    frames: DayFrames, groups: list[list[str]], k: int, fixes: pl.DataFrame | None = None
) -> DayFrames:
    """The rows of ``frames`` belonging to run ``k`` of ``groups``; ``fixes`` (that run's fixes,
    read already cut by officer: store.dayload.load_fixes_by_officer) replaces the frames' own
    when given."""
    keep = _range_of(groups, k)
    shifts = frames.shifts.filter(keep)
    return replace(
        frames,
        officers=frames.officers.filter(keep),
        shifts=shifts,
        shift_history=frames.shift_history.filter(
            pl.col("shift_id").is_in(shifts["shift_id"].implode())
        ),
        fixes=frames.fixes.filter(keep) if fixes is None else fixes,
        swipes=frames.swipes.filter(keep),
        overtime=frames.overtime.filter(keep),
        visits=frames.visits.filter(keep),
        swipers=frames.swipers.filter(keep),
    )


def split_by_officer(frames: DayFrames, parts: int) -> list[DayFrames]:
    """Partition a day's frames into ``parts`` groups of whole officers (officer_groups).

    Every officer's shifts, events, claims and shift history land in the same part, so parts can be
    evaluated independently. ``parts`` <= 1 returns the frames unchanged.
    """
    if parts <= 1:
        return [frames]
    groups = officer_groups(frames, parts)
    return [officer_part(frames, groups, k) for k in range(len(groups))]


def day_inputs(frames: DayFrames, policy: Policy, tz: str) -> DayInputs:
    """The engine's inputs for ``frames``' day: the stored visits counted as fixes
    (with_visit_fixes), the device clock offsets and the officers known to swipe from the
    look-back (DayFrames.swipers, store.dayload.load_swipers). The nightly job and the accuracy
    benchmark both build a day's inputs here, so the benchmark measures what the job computes.
    ``stations`` is left empty: rules.pipeline.day_outcome puts the index's in."""
    return DayInputs(
        day=frames.day,
        tz=tz,
        officers=frames.officers,
        shifts=frames.shifts,
        shift_history=frames.shift_history,
        fixes=with_visit_fixes(frames.fixes, frames.visits, policy.visit_step_minutes),
        swipes=frames.swipes,
        overtime=frames.overtime,
        stations=pl.DataFrame(),
        devices=frames.devices,
        swipers=frames.swipers,
    )


def compute_part(frames: DayFrames, index: StationIndex, policy: Policy, tz: str) -> PartResult:
    """The day's rules over one partition, as rules.pipeline.day_outcome composes them: the
    inputs built by day_inputs, the fixes classified against the station fences, then the
    engine.

    Pure: no database access, so it runs unchanged in-process or on a Dask worker. The daily rows
    are sorted by officer_id; findings come sorted from the engine (rules.findings.finding_order).
    """
    from rules.pipeline import day_outcome

    outcome, timings = day_outcome(day_inputs(frames, policy, tz), index, policy)
    daily = outcome.daily.sort("officer_id")
    return PartResult(daily=daily, findings=outcome.findings, timings=timings)


def merge_parts(results: Sequence[PartResult]) -> PartResult:
    """Combine partition results into one day's result (same order as an unpartitioned run).

    Timings are summed over parts (CPU-seconds when the parts ran in parallel).
    """
    if len(results) == 1:
        return results[0]
    daily = pl.concat([r.daily for r in results], how="vertical_relaxed").sort("officer_id")
    findings = list(heapq.merge(*(r.findings for r in results), key=finding_order))
    timings: dict[str, float] = {}
    for r in results:
        for k, v in r.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    return PartResult(daily=daily, findings=findings, timings=timings)
