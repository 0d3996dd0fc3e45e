"""Retention: old ping partitions dropped, boundary rows deleted, old derived data removed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
from sqlalchemy import Engine, func, select, text

from jobs.retention import run_purge
from rules.clock import INSTANT
from rules.policy import load_policy
from store import audit
from store.db import is_postgres, session_factory, transaction
from store.load import insert_events
from store.models import AuditEntry, DailyResult, Flag, FlagReview, JobRun, Ping, Swipe
from store.results import start_run, write_day

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = load_policy()
RAW_CUTOFF = NOW - timedelta(days=POLICY.retention_days_raw)  # 2026-08-25T12:00Z


def _pings(times: list[datetime]) -> pl.DataFrame:
    n = len(times)
    return pl.DataFrame(
        {
            "device_id": [f"d{i}" for i in range(n)],
            "ts": times,
            "officer_id": ["o1"] * n,
            "lat": [51.5] * n,
            "lon": [-0.1] * n,
            "accuracy_m": [10.0] * n,
            "source": ["gps"] * n,
            "is_mock": [False] * n,
            "h3_cell": [1] * n,
        },
        schema_overrides={"ts": INSTANT},
    )


def _swipes(times: list[datetime]) -> pl.DataFrame:
    n = len(times)
    return pl.DataFrame(
        {
            "badge_id": [f"b{i}" for i in range(n)],
            "ts": times,
            "reader_id": [""] * n,
            "officer_id": ["o1"] * n,
            "station_id": ["S1"] * n,
            "direction": ["in"] * n,
            "granted": [True] * n,
        },
        schema_overrides={"ts": INSTANT},
    )


def _daily(day: date) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "officer_id": ["o1"],
            "date": [day],
            "expected_office": [True],
            "declared_location": ["office"],
            "verified_presence_minutes": [300.0],
            "verified_office_day": [True],
            "evidence": ["adequate"],
            "policy_version": ["p"],
        }
    )


def test_purge(engine: Engine) -> None:
    factory = session_factory(engine)
    old = [RAW_CUTOFF - timedelta(days=10), RAW_CUTOFF - timedelta(days=3)]
    boundary = [RAW_CUTOFF - timedelta(hours=2), RAW_CUTOFF + timedelta(hours=2)]
    recent = [NOW - timedelta(days=1)]
    with transaction(factory) as s:
        insert_events(s, "pings", _pings(old + boundary + recent))
        insert_events(s, "swipes", _swipes(old + boundary + recent))
    old_day = date(2024, 11, 1)  # > 730 days before NOW
    kept_day = date(2025, 12, 1)
    from rules.findings import Finding

    with transaction(factory) as s:
        run_id = start_run(
            s, job="nightly", params={}, policy_version="p", now=NOW - timedelta(days=800)
        )
        for day in (old_day, kept_day):
            write_day(
                s,
                day,
                _daily(day),
                [Finding("MOCK_LOCATION", "o1", day, "r", "s", {}, f"fp{day}", True)],
                policy_version="p",
                run_id=run_id if day == old_day else None,
                now=NOW,
            )
        flag = s.scalars(select(Flag).where(Flag.day == old_day)).one()
        s.add(
            FlagReview(
                flag_id=flag.flag_id,
                at=NOW,
                actor="x",
                role="investigator",
                from_status="open",
                to_status="dismissed",
                note=None,
            )
        )
        start_run(s, job="nightly", params={}, policy_version="p", now=NOW)
    # The derived cutoff is the start of 2024-11-23 in London (00:00Z): two entries before it.
    for at in (datetime(2024, 11, 1, tzinfo=UTC), datetime(2024, 11, 22, 23, 59, tzinfo=UTC)):
        with transaction(factory) as s:
            audit.append(s, actor="det", role="investigator", action="read.timeline", at=at)
    with transaction(factory) as s:
        audit.append(s, actor="det", role="investigator", action="read.timeline", at=NOW)

    report = run_purge(factory, policy=POLICY, now=NOW, tz="Europe/London", actor="ops")
    removed = {k: v[0] for k, v in report.removed.items()}
    assert removed["pings"] == 3
    assert removed["swipes"] == 3
    assert removed["daily_results"] == 1
    assert removed["flags"] == 1
    assert removed["flag_reviews"] == 1
    assert removed["job_runs"] == 1
    assert removed["audit_log"] == 2
    assert report.audit is not None
    assert (report.audit.first_seq, report.audit.last_seq, report.audit.marker_seq) == (1, 2, 4)
    assert report.audit_error is None
    assert report.note == (
        "audit log: entries 1..2 removed (2024-11-01T00:00:00+00:00 to "
        "2024-11-22T23:59:00+00:00); marker entry 4 records them and anchors the chain at seq 2"
    )
    with factory() as s:
        assert s.scalar(select(func.min(Ping.ts))) == RAW_CUTOFF + timedelta(hours=2)
        assert s.scalar(select(func.count()).select_from(Ping)) == 2
        assert s.scalar(select(func.count()).select_from(Swipe)) == 2
        assert [r.day for r in s.scalars(select(DailyResult))] == [kept_day]
        assert [f.day for f in s.scalars(select(Flag))] == [kept_day]
        assert s.scalar(select(func.count()).select_from(JobRun)) == 1
        if is_postgres(s):
            assert removed["ping_partitions_dropped"] == 2
            names = s.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'pings'::regclass ORDER BY 1"
                )
            ).all()
            assert names == ["pings_p20260825", "pings_p20261122"]
        chain = audit.verify_chain(s, retention_days=POLICY.retention_days_derived)
        assert (chain.ok, chain.entries, chain.anchor_seq) == (True, 2, 2)
        marker = s.get(AuditEntry, 4)
        assert marker is not None
        assert (marker.action, marker.actor) == ("audit.purge", "ops")
    again = run_purge(factory, policy=POLICY, now=NOW, tz="Europe/London")
    assert all(count == 0 for count, _ in again.removed.values())
    assert again.note == "audit log: no entry older than the cutoff"


def test_purge_leaves_a_broken_audit_log_alone(engine: Engine) -> None:
    factory = session_factory(engine)
    for day in (1, 2):
        with transaction(factory) as s:
            at = datetime(2024, 11, day, tzinfo=UTC)
            audit.append(s, actor="det", role="investigator", action="read.timeline", at=at)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'nobody' WHERE seq = 1"))
    report = run_purge(factory, policy=POLICY, now=NOW, tz="Europe/London")
    assert report.audit is None
    assert report.removed["audit_log"][0] == 0
    assert report.note == (
        "audit log NOT purged, broken at seq 1: hash does not match the entry's content "
        "(see rollcall audit verify)"
    )
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 2
