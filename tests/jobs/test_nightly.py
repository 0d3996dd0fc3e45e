"""Nightly job: idempotent reruns, crash safety, flag identity and withdrawal, marks, job runs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from jobs.nightly import NightlyError, run_nightly
from rules.policy import Policy
from store.models import DailyResult, Flag, JobRun, Ping, RecomputeMark
from tests.jobs.conftest import DAYS, RUN_AT, START, TZ

LAST = START + timedelta(days=DAYS - 1)


def snapshot(factory: sessionmaker[Session]) -> dict[str, Any]:
    with factory() as s:
        days = s.execute(
            select(
                DailyResult.officer_id,
                DailyResult.day,
                DailyResult.expected_office,
                DailyResult.declared_location,
                DailyResult.verified_presence_minutes,
                DailyResult.verified_office_day,
                DailyResult.evidence,
                DailyResult.details,
            ).order_by(DailyResult.officer_id, DailyResult.day)
        ).all()
        flags = s.execute(
            select(
                Flag.fingerprint, Flag.flag_id, Flag.code, Flag.status, Flag.withdrawn_at
            ).order_by(Flag.fingerprint)
        ).all()
    return {"days": [tuple(r) for r in days], "flags": [tuple(r) for r in flags]}


def run(factory: sessionmaker[Session], policy: Policy, **kw: Any) -> Any:
    return run_nightly(factory, START, LAST, policy=policy, tz=TZ, clock=lambda: RUN_AT, **kw)


@pytest.mark.slow
def test_rerun_is_idempotent(factory: sessionmaker[Session], policy: Policy) -> None:
    report = run(factory, policy)
    assert [d.day for d in report.days] == [START, START + timedelta(days=1), LAST]
    first = snapshot(factory)
    assert first["days"]
    assert {code for _, _, code, _, _ in first["flags"]} >= {"MOCK_LOCATION"}
    run(factory, policy)
    assert snapshot(factory) == first
    with factory() as s:
        runs = s.scalars(select(JobRun).order_by(JobRun.run_id)).all()
    assert [(r.job, r.outcome, r.policy_version) for r in runs] == [
        ("nightly", "ok", policy.version)
    ] * 2
    assert runs[0].counts is not None
    assert runs[0].counts["days"] == DAYS
    assert runs[0].finished_at is not None


@pytest.mark.slow
def test_crash_mid_write_keeps_previous_results(
    factory: sessionmaker[Session], policy: Policy
) -> None:
    run(factory, policy)
    before = snapshot(factory)
    with factory.begin() as s:  # corrected data: every fix of the second day disappears
        lo = date_start(START + timedelta(days=1))
        s.execute(delete(Ping).where(Ping.ts >= lo, Ping.ts < lo + timedelta(hours=24)))

    calls: list[str] = []

    def crash(stage: str) -> None:  # the first day (its night shift lost fixes) dies mid-write
        calls.append(stage)
        if calls.count("flags") == 1:
            raise RuntimeError("disk full")

    with pytest.raises(NightlyError, match="failed on 2026-10-24 during write: RuntimeError"):
        run(factory, policy, stage_hook=crash)
    assert snapshot(factory) == before  # the day's daily rows were replaced, then rolled back
    with factory() as s:
        failed = s.scalars(select(JobRun).where(JobRun.outcome == "failed")).one()
    assert failed.error == "failed on 2026-10-24 during write: RuntimeError"
    run(factory, policy)
    assert snapshot(factory) != before


def date_start(day: date) -> Any:
    from rules.clock import day_bounds

    return day_bounds(day, TZ)[0]


@pytest.mark.slow
def test_flag_keeps_status_and_is_withdrawn_after_correction(
    factory: sessionmaker[Session], policy: Policy
) -> None:
    run(factory, policy)
    with factory.begin() as s:
        mock = s.scalars(select(Flag).where(Flag.code == "MOCK_LOCATION")).first()
        assert mock is not None
        mock.status = "under_review"
        flag_id, officer = mock.flag_id, mock.officer_id
    run(factory, policy)
    with factory() as s:
        again = s.get(Flag, flag_id)
        assert again is not None
        assert (again.status, again.withdrawn_at) == ("under_review", None)
    with factory.begin() as s:  # the device vendor corrects the data: no fix was simulated
        s.execute(delete(Ping).where(Ping.officer_id == officer, Ping.is_mock.is_(True)))
    run(factory, policy)
    with factory() as s:
        gone = s.get(Flag, flag_id)
        assert gone is not None
        assert gone.withdrawn_at == RUN_AT
        assert gone.status == "under_review"


def test_recompute_marks_cleared(factory: sessionmaker[Session], policy: Policy) -> None:
    with factory.begin() as s:
        s.merge(
            RecomputeMark(officer_id="O00001", day=START, marked_at=RUN_AT, reason="late roster")
        )
        s.add(
            RecomputeMark(
                officer_id="O00001",
                day=LAST + timedelta(days=3),
                marked_at=RUN_AT,
                reason="late roster",
            )
        )
    run(factory, policy)
    with factory() as s:
        assert [m.day for m in s.scalars(select(RecomputeMark))] == [LAST + timedelta(days=3)]
