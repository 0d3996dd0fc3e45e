"""The nightly job: each local day loaded in bulk, computed, and written in one transaction."""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from time import perf_counter
from typing import Any

import polars as pl
from sqlalchemy.orm import Session, sessionmaker

from geo.index import StationIndex
from jobs.compute import PartResult, officer_groups, officer_part
from jobs.executors import DaskExecutor, Executor, LocalExecutor
from jobs.runs import Heartbeat, current_owner, reap_abandoned
from rules.clock import DEFAULT_TIMEZONE, days_between
from rules.engine import fix_span
from rules.policy import Policy
from store import dayload, job_runs, results
from store.clock import device_offsets
from store.db import transaction
from store.job_runs import RunOutcome
from store.reader import in_memory, piece_reader
from store.sqlite_arrow import Reader as SqliteReader

Clock = Callable[[], datetime]
# Connections reading a day's events at once: the database produces rows while this process
# decodes them, so twice the cores of a two-core machine keeps both busy.
READERS = 4
# Officers per partition: a day is computed one officer partition at a time, so the working set
# of the rules (a few hundred bytes per fix) follows the partition, not the day.
PART_OFFICERS = 6_000


@dataclass
class DayReport:
    """One computed day: sizes, what the write changed, and seconds per stage."""

    day: date
    officers: int
    fixes: int
    swipes: int
    shifts: int
    daily_rows: int
    findings: int
    writes: results.WriteCounts
    timings: dict[str, float]
    parts: int = 1  # officer partitions the day was read and computed in


@dataclass
class NightlyReport:
    """A whole run: its job_runs id, each day, held-event housekeeping, period flags, and the
    earlier runs found abandoned (their process gone) when it started."""

    run_id: int
    abandoned_runs: list[int] = field(default_factory=list)
    days: list[DayReport] = field(default_factory=list)
    held_promoted: int = 0
    held_purged: int = 0
    periods: list[tuple[date, date]] = field(default_factory=list)
    period_writes: results.WriteCounts = field(default_factory=results.WriteCounts)

    def counts(self) -> dict[str, Any]:
        """Totals for the job_runs record (no personal data)."""
        total = results.WriteCounts()
        for d in self.days:
            total.add(d.writes)
        total.add(self.period_writes)
        return {
            "days": len(self.days),
            "fixes": sum(d.fixes for d in self.days),
            "swipes": sum(d.swipes for d in self.days),
            "findings": sum(d.findings for d in self.days),
            "held_promoted": self.held_promoted,
            "held_purged": self.held_purged,
            "periods": [[a.isoformat(), b.isoformat()] for a, b in self.periods],
            **vars(total),
        }


class NightlyError(RuntimeError):
    """A day failed; the days before it are committed, the failed day keeps its previous results."""


class NightlyBusyError(RuntimeError):
    """Another nightly run is computing some of the same days; this one did nothing."""


# How often a run waiting for another one (--wait) looks again, in seconds.
WAIT_POLL_S = 2.0


def _overlaps(params: dict[str, Any] | None, first: date, last: date) -> bool:
    try:
        lo = date.fromisoformat(str((params or {})["from"]))
        hi = date.fromisoformat(str((params or {})["to"]))
    except (KeyError, ValueError):
        return True  # a run whose days are unknown may touch any day
    return lo <= last and first <= hi


def _claim_days(
    factory: sessionmaker[Session],
    run_id: int,
    first: date,
    last: date,
    *,
    wait: bool,
    now_fn: Clock,
    on_wait: Callable[[str], None] | None,
) -> None:
    """Return once no earlier running nightly run covers any of ``first``..``last``: runs are
    recorded before they look, so of two that overlap the earlier one goes on and the later
    one waits (``wait``) or is recorded ``refused`` and raises NightlyBusyError. Runs whose
    process is gone are marked abandoned and do not count."""
    told = ""
    while True:
        reap_abandoned(factory, now=now_fn())
        with factory() as session:
            blocker = next(
                (
                    r
                    for r in job_runs.running_runs(session)
                    if r.job == "nightly" and r.run_id < run_id and _overlaps(r.params, first, last)
                ),
                None,
            )
            if blocker is None:
                return
            owner = f"{blocker.owner_host}:{blocker.owner_pid}" if blocker.owner_host else "?"
            what = (
                f"nightly run {blocker.run_id} (process {owner}) is computing "
                f"{blocker.params.get('from')}..{blocker.params.get('to')}"
            )
        if not wait:
            message = f"{what}; wait for it to finish or run again with --wait"
            _finish_run(factory, run_id, RunOutcome.REFUSED, {}, now_fn(), message)
            raise NightlyBusyError(message)
        if on_wait is not None and what != told:
            on_wait(f"waiting: {what}")
            told = what
        time.sleep(WAIT_POLL_S)


def days_to_compute(
    session: Session, first: date | None, last: date | None, *, policy: Policy
) -> list[date]:
    """``first``..``last`` and the days before ``first`` (up to policy.recompute_marked_days)
    that were computed and then marked for recomputation; with ``first`` None, every marked
    day (``rollcall nightly --pending``)."""
    if first is None:
        return results.marked_days(session)
    last = first if last is None else last
    earlier: list[date] = []
    if policy.recompute_marked_days:
        earlier = results.marked_days(
            session,
            first=first - timedelta(days=policy.recompute_marked_days),
            last=first - timedelta(days=1),
            computed_only=True,
        )
    return [*earlier, *days_between(first, last)]


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _periods_to_evaluate(session: Session, first: date, last: date) -> list[tuple[date, date]]:
    """Calendar months touched by the run whose last day is in the run or already computed."""
    periods: list[tuple[date, date]] = []
    month_start = first.replace(day=1)
    while month_start <= last:
        end = _month_end(month_start)
        if end <= last or not dayload.load_daily(session, end, end).is_empty():
            periods.append((month_start, end))
        month_start = end + timedelta(days=1)
    return periods


def evaluate_periods(
    factory: sessionmaker[Session],
    periods: list[tuple[date, date]],
    *,
    policy: Policy,
    now: datetime,
    tz: str = DEFAULT_TIMEZONE,
) -> results.WriteCounts:
    """Raise or withdraw BELOW_OFFICE_SHARE flags for each period from the stored daily results,
    and the period's roster-integrity flags (jobs.integrity).

    Each period is one transaction; the flag is dated the period's last day.
    """
    from jobs import integrity
    from rules.compliance import compliance

    total = results.WriteCounts()
    for start, end in periods:
        with transaction(factory) as session:
            daily = dayload.load_daily(session, start, end)
            officers = dayload.load_officers(session)
            _, findings = compliance(daily, officers, policy, end)
            total.add(
                results.write_period_flags(
                    session, end, findings, policy_version=policy.version, now=now
                )
            )
            found = integrity.run_period(session, start, end, policy=policy, tz=tz, now=now)
            total.add(found.writes)
    return total


def _load_index(factory: sessionmaker[Session]) -> StationIndex:
    from store.stations import load_stations

    with factory() as session:
        return StationIndex.build(load_stations(session))


def _fix_range(
    base: dayload.DayFrames, day: date, tz: str, policy: Policy
) -> tuple[datetime, datetime] | None:
    """[lo, hi) of the fixes ``day``'s results can depend on (rules.engine.fix_span over every
    officer: the day's on-duty windows, a night shift starting on the day included, and the
    windows they touch), within the frames' range; None when no window is relevant."""
    span = fix_span(base.shifts, base.overtime, day, tz, policy)
    if span is None:
        return None
    return max(span[0], base.lo), min(span[1] + timedelta(microseconds=1), base.hi)


def _read_fixes(
    factory: sessionmaker[Session],
    span: tuple[datetime, datetime],
    cuts: list[str],
    reader: SqliteReader | None,
) -> list[pl.DataFrame]:
    """The fixes of ``span`` cut at ``cuts`` (dayload.load_fixes_by_officer, by ``reader`` if
    started ahead), on a session of their own (so another thread may use its own session
    meanwhile)."""
    with factory() as session:
        return dayload.load_fixes_by_officer(
            session, span[0], span[1], cuts, readers=READERS, reader=reader
        )


def _load_day(
    factory: sessionmaker[Session],
    day: date,
    tz: str,
    officers: pl.DataFrame,
    policy: Policy,
    min_parts: int,
) -> tuple[dayload.DayFrames, list[list[str]], list[pl.DataFrame | None]]:
    """``day``'s frames without fixes, its officer partitions (jobs.compute.officer_groups, at
    least ``min_parts``) and each partition's fixes.

    The shifts and claims are read first: they give the partitions and the span of fixes the
    day's results depend on (_fix_range). The fixes are then read (store.dayload
    .load_fixes_by_officer, READERS connections) by a second thread on a session of its own while
    this one reads the rest through its session (shift history, swipes, visits, device offsets,
    swipers), so the small reads overlap the large one instead of adding to it. The swipes, a
    few hundred thousand rows on the largest day, are read through the session too: reading them
    in pieces on connections of their own cost more than reading them (2.1 s for 8,668 swipes at
    a load average of 10, bench/README.md). An in-memory SQLite database, which no other
    connection can open, is read in one thread.
    """
    lo, hi = dayload.day_range(day, tz)
    # on SQLite the fixes' reading child starts now, its start-up beside the next reads
    with factory() as session, piece_reader(session, workers=READERS) as reader:
        shifts = dayload.load_shifts(session, lo, hi)
        overtime = dayload.load_overtime(session, lo, hi)
        base = dayload.DayFrames(
            day=day,
            lo=lo,
            hi=hi,
            officers=officers,
            shifts=shifts,
            shift_history=pl.DataFrame(schema=dayload.SHIFT_HISTORY),
            fixes=pl.DataFrame(schema=dayload.FIXES),
            swipes=pl.DataFrame(schema=dayload.SWIPES),
            overtime=overtime,
        )
        busy = shifts["officer_id"].n_unique() + overtime.height
        groups = officer_groups(base, max(min_parts, -(-busy // PART_OFFICERS)))
        cuts = [g[0] for g in groups[1:]]
        span = _fix_range(base, day, tz, policy)
        apart = span is not None and not in_memory(session)
        with ThreadPoolExecutor(1) as pool:
            reading = (
                pool.submit(_read_fixes, factory, span, cuts, reader) if apart and span else None
            )
            base = replace(
                base,
                shift_history=dayload.load_shift_history(session, lo, hi),
                swipes=dayload.load_swipes(session, lo, hi),
                visits=dayload.load_visits(session, lo, hi),
                devices=device_offsets(session, hi, policy=policy),
                swipers=dayload.load_swipers(session, day, tz, policy.dwb_habit_days),
            )
            if reading is not None:
                pending: list[pl.DataFrame | None] = list(reading.result())
            elif span is not None:
                pending = list(
                    dayload.load_fixes_by_officer(session, span[0], span[1], cuts, readers=READERS)
                )
            else:
                pending = [base.fixes] * len(groups)
    return base, groups, pending


def _compute_day(
    factory: sessionmaker[Session],
    executor: Executor,
    day: date,
    tz: str,
    officers: Any,
    policy: Policy,
) -> tuple[PartResult, dict[str, int], dict[str, float]]:
    """Load ``day`` (_load_day) and compute it one officer partition at a time.

    Each officer partition takes its fixes from the day's, read once, and is dropped once
    computed, so memory holds the day's stored fixes and one partition's working set
    (LocalExecutor) rather than the rules' working set of the whole day. Returns the merged
    result, the day's sizes (officers, fixes, swipes, shifts, parts) and seconds: ``load``
    (every read) and ``compute`` (the partitions, wall clock).
    """
    t0 = perf_counter()
    base, groups, pending = _load_day(factory, day, tz, officers, policy, executor.min_parts)
    n_fixes = sum(f.height for f in pending if f is not None)
    timings = {"load": perf_counter() - t0}

    def parts() -> Iterator[dayload.DayFrames]:
        for k in range(len(groups)):
            fixes, pending[k] = pending[k], None  # the executor holds it until computed
            yield officer_part(base, groups, k, fixes)

    t1 = perf_counter()
    result = executor.run_parts(parts())
    timings["compute"] = perf_counter() - t1
    sizes = {
        "officers": base.officers.height,
        "fixes": n_fixes,
        "swipes": base.swipes.height,
        "shifts": base.shifts.height,
        "parts": len(groups),
    }
    return result, sizes, timings


@dataclass
class _Run:
    """What every step of one nightly run needs: its record, its settings, and where it is (the
    stage and day named in the run's error if a step fails)."""

    factory: sessionmaker[Session]
    run_id: int
    policy: Policy
    tz: str
    now_fn: Clock
    stage: str = "held events"
    day: date | None = None

    def finish(self, outcome: RunOutcome, report: NightlyReport, error: str | None = None) -> None:
        """Record the run's end in its own transaction."""
        _finish_run(self.factory, self.run_id, outcome, report.counts(), self.now_fn(), error)

    def failure(self, exc: Exception) -> str:
        """The run's error: where it failed and the exception's type (never its text, which may
        carry personal data)."""
        where = f"{self.day.isoformat()} " if self.day is not None else ""
        return f"failed on {where}during {self.stage}: {type(exc).__name__}"


def _finish_run(
    factory: sessionmaker[Session],
    run_id: int,
    outcome: RunOutcome,
    counts: dict[str, Any],
    now: datetime,
    error: str | None = None,
) -> None:
    with transaction(factory) as session:
        job_runs.finish_run(session, run_id, outcome=outcome, counts=counts, now=now, error=error)


def _day_span(first: date | None, days: list[date], now_fn: Clock) -> tuple[date, date]:
    """The first and last day the run computes; with none, ``first`` (or today, for a pending
    run with nothing marked)."""
    if days:
        return days[0], days[-1]
    lo = first or now_fn().date()
    return lo, lo


def _run_params(
    first: date | None,
    span: tuple[date, date],
    *,
    workers: int,
    scheduler: str | Any | None,
    tz: str,
) -> dict[str, Any]:
    """The run's recorded parameters (no personal data)."""
    return {
        "from": span[0].isoformat(),
        "to": span[1].isoformat(),
        "pending": first is None,
        "workers": workers,
        "scheduler": scheduler if isinstance(scheduler, str) else bool(scheduler),
        "tz": tz,
    }


def _start_run(
    factory: sessionmaker[Session], params: dict[str, Any], policy: Policy, now_fn: Clock
) -> int:
    """Record a running nightly run owned by this process; its id."""
    with transaction(factory) as session:
        run_id = job_runs.start_run(
            session, job="nightly", params=params, policy_version=policy.version, now=now_fn()
        )
        job_runs.set_owner(session, run_id, current_owner(), now=now_fn())
    return run_id


def _settle_held(run: _Run, report: NightlyReport) -> None:
    """Promote held events whose officer or shift has arrived; purge those held too long."""
    from intake.held import promote_held, purge_expired_held

    with transaction(run.factory) as session:
        report.held_promoted = promote_held(session, policy=run.policy, now=run.now_fn(), tz=run.tz)
        report.held_purged = purge_expired_held(
            session, policy=run.policy, now=run.now_fn(), tz=run.tz
        )


def _make_executor(
    factory: sessionmaker[Session],
    scheduler: str | Any | None,
    policy: Policy,
    tz: str,
    workers: int,
) -> Executor:
    """In-process with ``workers`` threads, or on the Dask cluster at ``scheduler``."""
    index = _load_index(factory)
    if scheduler is not None:
        return DaskExecutor(scheduler, index, policy, tz)
    return LocalExecutor(index, policy, tz, workers)


def _run_day(
    run: _Run,
    executor: Executor,
    day: date,
    officers: Any,
    stage_hook: results.StageHook | None,
) -> DayReport:
    """Load, compute and write one day; the write is the day's own transaction."""
    run.stage = "load and compute"
    # The marks as they are before the day is read: data behind them is committed with
    # them, so the read sees it; marks made or moved later stay for the next run.
    with run.factory() as session:
        seen_marks = results.marks_of_day(session, day)
    part, sizes, timings = _compute_day(run.factory, executor, day, run.tz, officers, run.policy)
    t2 = perf_counter()
    run.stage = "write"
    with transaction(run.factory) as session:
        writes = results.write_day(
            session,
            day,
            part.daily,
            part.findings,
            policy_version=run.policy.version,
            run_id=run.run_id,
            now=run.now_fn(),
            stage_hook=stage_hook,
            seen_marks=seen_marks,
        )
    return DayReport(
        day=day,
        **sizes,
        daily_rows=part.daily.height,
        findings=len(part.findings),
        writes=writes,
        timings={**timings, **part.timings, "write": perf_counter() - t2},
    )


def _run_periods(run: _Run, report: NightlyReport, days: list[date]) -> None:
    """Period flags for the calendar months the run's days touch (_periods_to_evaluate)."""
    run.stage = "period flags"
    with run.factory() as session:
        report.periods = _periods_to_evaluate(session, days[0], days[-1]) if days else []
    report.period_writes = evaluate_periods(
        run.factory, report.periods, policy=run.policy, now=run.now_fn(), tz=run.tz
    )


def run_nightly(
    factory: sessionmaker[Session],
    first: date | None,
    last: date | None,
    *,
    policy: Policy,
    tz: str,
    workers: int = 1,
    scheduler: str | Any | None = None,
    clock: Clock | None = None,
    on_day: Callable[[DayReport], None] | None = None,
    stage_hook: results.StageHook | None = None,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> NightlyReport:
    """Compute daily results and flags for local days ``first``..``last`` (zone ``tz``), and the
    marked days before ``first`` (days_to_compute); ``first`` None: every marked day.

    A run covering days another running nightly run covers raises NightlyBusyError (recorded
    ``refused``), or with ``wait`` waits for it, telling ``on_wait`` (_claim_days). Each day
    clears only the recompute marks it saw before reading the day, so data arriving meanwhile
    keeps its day marked.

    Earlier runs left ``running`` by a process that no longer exists are marked ``abandoned``
    first (jobs.runs.reap_abandoned); this run records its process and keeps a heartbeat while it
    works. Held events are promoted or purged next. Each day is loaded, computed (in-process, or
    on the Dask cluster at ``scheduler``: an address or a ``distributed.Client``) and written in
    its own transaction: a failure leaves that day's previous results intact and raises
    NightlyError after recording the run as failed. Rerunning replaces results exactly and keeps
    flag identities. ``clock`` gives "now" (aware); ``on_day`` is told of each finished day;
    ``stage_hook`` is for tests (see store.results.write_day).
    """
    now_fn = clock or (lambda: datetime.now(UTC))
    with factory() as session:
        days = days_to_compute(session, first, last, policy=policy)
    span = _day_span(first, days, now_fn)
    params = _run_params(first, span, workers=workers, scheduler=scheduler, tz=tz)
    abandoned = reap_abandoned(factory, now=now_fn())
    run = _Run(factory, _start_run(factory, params, policy, now_fn), policy, tz, now_fn)
    heartbeat = Heartbeat(factory, run.run_id, clock=now_fn).start()
    try:
        _claim_days(factory, run.run_id, *span, wait=wait, now_fn=now_fn, on_wait=on_wait)
    except BaseException:
        heartbeat.stop()
        raise
    report = NightlyReport(run_id=run.run_id, abandoned_runs=abandoned)
    executor: Executor | None = None
    try:
        _settle_held(run, report)
        run.stage = "stations"
        executor = _make_executor(factory, scheduler, policy, tz, workers)
        with factory() as session:
            officers = dayload.load_officers(session)
        for day in days:
            run.day = day
            day_report = _run_day(run, executor, day, officers, stage_hook)
            report.days.append(day_report)
            if on_day is not None:
                on_day(day_report)
        run.day = None
        _run_periods(run, report, days)
    except Exception as exc:
        error = run.failure(exc)
        run.finish(RunOutcome.FAILED, report, error)
        raise NightlyError(error) from exc
    finally:
        heartbeat.stop()
        if executor is not None:
            executor.close()
    run.finish(RunOutcome.OK, report)
    return report
