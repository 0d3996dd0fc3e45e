"""Result writes: replace a day exactly, keep flag identity and status, withdraw, never delete."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.findings import Finding
from store.job_runs import finish_run, start_run
from store.models import DailyResult, Flag, JobRun, RecomputeMark
from store.results import write_day, write_period_flags

DAY = date(2026, 10, 25)
NOW = datetime(2026, 10, 26, 3, 0, tzinfo=UTC)
LATER = datetime(2026, 10, 27, 3, 0, tzinfo=UTC)


def daily(*rows: tuple[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "officer_id": [r[0] for r in rows],
            "date": [DAY] * len(rows),
            "expected_office": [True] * len(rows),
            "declared_location": ["office"] * len(rows),
            "verified_presence_minutes": [r[1] for r in rows],
            "verified_office_day": [r[1] >= 240 for r in rows],
            "evidence": ["adequate"] * len(rows),
            "policy_version": ["p-test"] * len(rows),
            "n_fixes": [10] * len(rows),
        }
    )


def finding(officer: str, fp: str, code: str = "MOCK_LOCATION", day: date = DAY) -> Finding:
    return Finding(
        code=code,
        officer_id=officer,
        date=day,
        rule_version="r1",
        summary=f"{code} for {officer}",
        evidence={"n": 3},
        fingerprint=fp,
        misconduct=code != "BELOW_OFFICE_SHARE",
    )


def flags(session: Session) -> dict[str, Flag]:
    return {f.fingerprint: f for f in session.scalars(select(Flag))}


def test_write_day_replaces_exactly(session: Session) -> None:
    write_day(
        session, DAY, daily(("a", 300.0), ("b", 10.0)), [], policy_version="p", run_id=None, now=NOW
    )
    write_day(session, DAY, daily(("a", 120.0)), [], policy_version="p", run_id=None, now=NOW)
    rows = session.scalars(select(DailyResult)).all()
    assert [(r.officer_id, r.verified_presence_minutes, r.verified_office_day) for r in rows] == [
        ("a", 120.0, False)
    ]
    assert rows[0].details == {"n_fixes": 10}


def test_flags_keep_identity_status_and_are_withdrawn(session: Session) -> None:
    write_day(
        session,
        DAY,
        daily(),
        [finding("a", "fp1"), finding("b", "fp2")],
        policy_version="p",
        run_id=None,
        now=NOW,
    )
    first = flags(session)
    first["fp1"].status = "under_review"
    session.flush()
    counts = write_day(
        session, DAY, daily(), [finding("a", "fp1")], policy_version="p", run_id=None, now=LATER
    )
    assert (counts.flags_kept, counts.flags_raised, counts.flags_withdrawn) == (1, 0, 1)
    again = flags(session)
    assert again["fp1"].flag_id == first["fp1"].flag_id
    assert again["fp1"].status == "under_review"
    assert again["fp1"].raised_at == NOW
    assert again["fp1"].withdrawn_at is None
    assert again["fp2"].withdrawn_at == LATER  # kept, marked, not deleted
    # the finding comes back: the same flag is reinstated
    counts = write_day(
        session,
        DAY,
        daily(),
        [finding("a", "fp1"), finding("b", "fp2")],
        policy_version="p",
        run_id=None,
        now=LATER,
    )
    assert counts.flags_reinstated == 1
    assert flags(session)["fp2"].withdrawn_at is None
    assert flags(session)["fp2"].flag_id == first["fp2"].flag_id


def test_day_write_leaves_period_flags_and_other_days(session: Session) -> None:
    other = date(2026, 10, 24)
    write_period_flags(
        session, DAY, [finding("a", "c1", "BELOW_OFFICE_SHARE")], policy_version="p", now=NOW
    )
    write_day(
        session,
        other,
        daily(),
        [finding("a", "o1", day=other)],
        policy_version="p",
        run_id=None,
        now=NOW,
    )
    write_day(session, DAY, daily(), [], policy_version="p", run_id=None, now=LATER)
    assert all(f.withdrawn_at is None for f in flags(session).values())
    write_period_flags(session, DAY, [], policy_version="p", now=LATER)
    assert flags(session)["c1"].withdrawn_at == LATER


def test_marks_cleared_and_run_recorded(session: Session) -> None:
    session.add(RecomputeMark(officer_id="a", day=DAY, marked_at=NOW, reason="late roster"))
    session.add(RecomputeMark(officer_id="a", day=date(2026, 10, 26), marked_at=NOW, reason="x"))
    session.flush()
    run_id = start_run(
        session, job="nightly", params={"from": "2026-10-25"}, policy_version="p", now=NOW
    )
    counts = write_day(
        session, DAY, daily(("a", 1.0)), [], policy_version="p", run_id=run_id, now=NOW
    )
    assert counts.marks_cleared == 1
    assert [m.day for m in session.scalars(select(RecomputeMark))] == [date(2026, 10, 26)]
    finish_run(session, run_id, outcome="ok", counts={"daily": 1}, now=LATER)
    run = session.scalars(select(JobRun)).one()
    session.refresh(run)
    assert (run.outcome, run.counts, run.finished_at) == ("ok", {"daily": 1}, LATER)


def test_stage_hook_can_abort(session: Session) -> None:
    def boom(stage: str) -> None:
        if stage == "daily":
            raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        write_day(
            session,
            DAY,
            daily(("a", 1.0)),
            [],
            policy_version="p",
            run_id=None,
            now=NOW,
            stage_hook=boom,
        )
