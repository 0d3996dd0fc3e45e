"""What /metrics reads from the database at scrape time: each job's newest runs and the pending
recompute marks (a few small aggregate queries)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from store.job_runs import RunOutcome
from store.models import JobRun, RecomputeMark


@dataclass(frozen=True)
class JobState:
    """One job as the metrics show it: its newest finished run (None before any), the finish
    time of its newest ``ok`` run (epoch seconds) and how many of its runs are running now."""

    job: str
    last: JobRun | None
    last_success_s: float | None
    running: int


def job_states(session: Session) -> list[JobState]:
    """Every job that has a run in ``job_runs``, by name."""
    newest = select(JobRun.job, func.max(JobRun.run_id)).group_by(JobRun.job)
    finished = _by_job(session, newest.where(JobRun.finished_at.is_not(None)))
    succeeded = _by_job(session, newest.where(JobRun.outcome == RunOutcome.OK))
    running = _by_job(
        session,
        select(JobRun.job, func.count())
        .where(JobRun.outcome == RunOutcome.RUNNING)
        .group_by(JobRun.job),
    )
    ids = {*finished.values(), *succeeded.values()}
    runs = {r.run_id: r for r in session.scalars(select(JobRun).where(JobRun.run_id.in_(ids)))}
    states = []
    for job in sorted({*finished, *running}):
        ok = runs.get(succeeded[job]) if job in succeeded else None
        states.append(
            JobState(
                job=job,
                last=runs.get(finished[job]) if job in finished else None,
                last_success_s=ok.finished_at.timestamp() if ok and ok.finished_at else None,
                running=int(running.get(job, 0)),
            )
        )
    return states


def _by_job(session: Session, query: Select[tuple[str, int]]) -> dict[str, int]:
    return {str(job): int(value) for job, value in session.execute(query)}


def pending_marks(session: Session) -> int:
    """Officer-days marked for recomputation and not yet recomputed."""
    return int(session.scalar(select(func.count()).select_from(RecomputeMark)) or 0)
