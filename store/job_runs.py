"""The job-run lifecycle: a run recorded at its start, its owning process and heartbeats, and how
it ended (an outcome of :class:`RunOutcome`), abandoned runs included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.models import JobRun


class RunOutcome(StrEnum):
    """How a job run stands: ``running`` until it ends ``ok`` or ``failed``; ``refused`` when
    another run held its days; ``abandoned`` when its process is gone without saying."""

    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"
    ABANDONED = "abandoned"


@dataclass(frozen=True)
class Owner:
    """The process running a job: host name, pid, and a token that tells a reused pid apart
    (None where the platform gives none)."""

    host: str
    pid: int
    token: str | None


def start_run(
    session: Session, *, job: str, params: dict[str, Any], policy_version: str, now: datetime
) -> int:
    """Record the start of a job run (outcome ``running``); returns its run_id. Flushes only."""
    run = JobRun(
        job=job,
        started_at=now,
        params=params,
        policy_version=policy_version,
        outcome=RunOutcome.RUNNING,
    )
    session.add(run)
    session.flush()
    return int(run.run_id)


def finish_run(
    session: Session,
    run_id: int,
    *,
    outcome: RunOutcome,
    counts: dict[str, Any],
    now: datetime,
    error: str | None = None,
) -> None:
    """Record how run ``run_id`` ended (``ok``, ``failed`` or ``refused``), its counts and a
    short error. Flushes only."""
    session.execute(
        update(JobRun)
        .where(JobRun.run_id == run_id)
        .values(finished_at=now, outcome=str(outcome), counts=counts, error=error)
    )


def set_owner(session: Session, run_id: int, owner: Owner, *, now: datetime) -> None:
    """Record ``owner`` as the process of run ``run_id`` and its first heartbeat. Flushes only."""
    session.execute(
        update(JobRun)
        .where(JobRun.run_id == run_id)
        .values(
            owner_host=owner.host, owner_pid=owner.pid, owner_token=owner.token, heartbeat_at=now
        )
    )


def beat(session: Session, run_id: int, *, now: datetime) -> bool:
    """Move the heartbeat of run ``run_id`` to ``now`` while it is running; whether it was."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.run_id == run_id, JobRun.outcome == RunOutcome.RUNNING)
        .values(heartbeat_at=now)
    )
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def running_runs(session: Session) -> list[JobRun]:
    """Every run still recorded as running, oldest first."""
    return list(
        session.scalars(
            select(JobRun).where(JobRun.outcome == RunOutcome.RUNNING).order_by(JobRun.run_id)
        )
    )


def mark_abandoned(session: Session, run_id: int, *, now: datetime, reason: str) -> bool:
    """Record that run ``run_id`` will never finish (its process is gone): outcome ``abandoned``,
    ``finished_at`` = ``now`` (when this was found), ``error`` = ``reason``. Only a run still
    ``running`` changes (a run that finished meanwhile keeps its outcome); whether it changed."""
    result = session.execute(
        update(JobRun)
        .where(JobRun.run_id == run_id, JobRun.outcome == RunOutcome.RUNNING)
        .values(outcome=RunOutcome.ABANDONED, finished_at=now, error=reason)
    )
    return int(result.rowcount or 0) == 1  # type: ignore[attr-defined]


def recent_runs(session: Session, *, limit: int = 20, job: str | None = None) -> list[JobRun]:
    """The newest ``limit`` runs (of ``job`` if given), newest first."""
    query = select(JobRun)
    if job is not None:
        query = query.where(JobRun.job == job)
    return list(session.scalars(query.order_by(JobRun.run_id.desc()).limit(limit)))
