"""Recompute marks: cleared only up to what a run read, made by late events, acted on by the next
run and by --pending; one nightly run at a time per day."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

import jobs.nightly
from intake.pipeline import ingest_frame
from jobs.nightly import NightlyBusyError, run_nightly
from jobs.runs import current_owner
from rules.policy import Policy
from store import job_runs, results
from store.db import transaction
from store.models import JobRun, Ping, RecomputeMark
from tests.jobs.conftest import DAYS, RUN_AT, START, TZ
from tests.jobs.test_nightly import snapshot

LAST = START + timedelta(days=DAYS - 1)


def run(
    factory: sessionmaker[Session], policy: Policy, first: Any = START, last: Any = LAST, **kw: Any
) -> Any:
    return run_nightly(factory, first, last, policy=policy, tz=TZ, clock=lambda: RUN_AT, **kw)


def marks(factory: sessionmaker[Session]) -> list[tuple[str, Any, str]]:
    with factory() as s:
        rows = s.execute(
            select(RecomputeMark.officer_id, RecomputeMark.day, RecomputeMark.reason).order_by(
                RecomputeMark.officer_id, RecomputeMark.day
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def no_marks(factory: sessionmaker[Session]) -> None:
    """Start from no marks (the roster import marked every day it touched)."""
    with factory.begin() as s:
        s.execute(delete(RecomputeMark))


def test_a_mark_made_while_the_day_is_computed_survives_the_run(
    factory: sessionmaker[Session], policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_marks(factory)
    with factory.begin() as s:
        s.add(
            RecomputeMark(
                officer_id="O00002",
                day=START,
                marked_at=datetime.now(UTC) - timedelta(hours=1),
                reason="roster change",
            )
        )

    read_marks = results.marks_of_day

    def edit_after_the_read(session: Session, day: Any) -> list[tuple[str, datetime]]:
        seen = read_marks(session, day)
        # A roster edit committed by another session once the run has begun reading the day.
        with factory.begin() as s:
            s.merge(
                RecomputeMark(
                    officer_id="O00001",
                    day=START,
                    marked_at=datetime.now(UTC),
                    reason="roster change",
                )
            )
        return seen

    monkeypatch.setattr(results, "marks_of_day", edit_after_the_read)
    run(factory, policy, START, START)
    assert marks(factory) == [("O00001", START, "roster change")]


def _take_one_ping(factory: sessionmaker[Session]) -> pl.DataFrame:
    with factory.begin() as s:
        ping = s.scalars(select(Ping).where(Ping.ts >= RUN_AT - timedelta(days=3)).limit(1)).one()
        row = {
            "device_id": ping.device_id,
            "ts": ping.ts.isoformat(),
            "lat": str(ping.lat),
            "lon": str(ping.lon),
            "accuracy_m": "" if ping.accuracy_m is None else str(ping.accuracy_m),
        }
        s.delete(ping)
    return pl.DataFrame([row])


@pytest.mark.slow
def test_late_events_mark_their_day_and_the_next_run_recomputes_it(
    factory: sessionmaker[Session], policy: Policy
) -> None:
    run(factory, policy)
    no_marks(factory)
    clean = snapshot(factory)
    late = _take_one_ping(factory)
    run(factory, policy)  # computed without that ping
    with transaction(factory) as s:
        report = ingest_frame(s, "pings", late, tz=TZ, policy=policy, now=RUN_AT)
    assert report.counts["accepted"] == 1
    marked = marks(factory)
    assert len(marked) == 1
    assert marked[0][2] == "late pings"
    day = marked[0][1]
    # The run for a later day also recomputes the marked earlier day.
    later = run(factory, policy, LAST, LAST)
    assert [d.day for d in later.days] == sorted({day, LAST})
    assert marks(factory) == []
    assert snapshot(factory) == clean


@pytest.mark.slow
def test_pending_recomputes_every_marked_day_and_only_those(
    factory: sessionmaker[Session], policy: Policy
) -> None:
    run(factory, policy)
    no_marks(factory)
    with factory.begin() as s:
        for day in (START, LAST):
            s.add(
                RecomputeMark(
                    officer_id="O00003",
                    day=day,
                    marked_at=datetime.now(UTC) - timedelta(hours=1),
                    reason="late pings",
                )
            )
    report = run(factory, policy, None, None)
    assert [d.day for d in report.days] == [START, LAST]
    assert marks(factory) == []
    assert run(factory, policy, None, None).days == []


def _running_blocker(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as s:
        run_id = job_runs.start_run(
            s,
            job="nightly",
            params={"from": START.isoformat(), "to": LAST.isoformat()},
            policy_version="p",
            now=RUN_AT,
        )
        job_runs.set_owner(s, run_id, current_owner(), now=RUN_AT)
    return run_id


def test_a_second_run_over_the_same_days_refuses_clearly(
    factory: sessionmaker[Session], policy: Policy
) -> None:
    blocker = _running_blocker(factory)
    with pytest.raises(NightlyBusyError) as caught:
        run(factory, policy, LAST, LAST)
    message = str(caught.value)
    assert f"nightly run {blocker} (process " in message
    assert "run again with --wait" in message
    with factory() as s:
        newest = s.scalars(select(JobRun).order_by(JobRun.run_id.desc())).first()
    assert newest is not None
    assert newest.outcome == "refused"
    # Days outside the running one's range go ahead.
    assert run(factory, policy, LAST + timedelta(days=5), LAST + timedelta(days=5)).days


def test_with_wait_the_second_run_goes_on_when_the_first_ends(
    factory: sessionmaker[Session], policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs.nightly, "WAIT_POLL_S", 0.2)
    blocker = _running_blocker(factory)
    told: list[str] = []

    def finish_blocker() -> None:
        while not told:
            threading.Event().wait(0.05)
        with factory.begin() as s:
            s.execute(update(JobRun).where(JobRun.run_id == blocker).values(outcome="ok"))

    t = threading.Thread(target=finish_blocker)
    t.start()
    report = run(factory, policy, START, START, wait=True, on_wait=told.append)
    t.join()
    assert told == [f"waiting: nightly run {blocker} (process {told[0].split('(process ')[1]}"]
    assert [d.day for d in report.days] == [START]
