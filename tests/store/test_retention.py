"""Retention: old ping partitions dropped, boundary rows deleted, old derived data removed, and
the audit log purged in batches that each leave a verifiable chain."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, select, text

from jobs.retention import run_purge
from rules.clock import INSTANT
from rules.policy import load_policy
from store import audit
from store.db import is_postgres, session_factory, transaction
from store.load import insert_events
from store.models import (
    Adjustment,
    AuditEntry,
    DailyResult,
    DayContest,
    DeviceReceipt,
    Flag,
    FlagResponse,
    FlagReview,
    JobRun,
    Ping,
    Swipe,
    Visit,
)
from store.results import start_run, write_day
from store.retention import purge_audit

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
        for i, at in enumerate(old + boundary + recent):
            s.add(
                Visit(
                    device_id=f"d{i}",
                    arrived_at=at,
                    officer_id="o1",
                    departed_at=at + timedelta(hours=3),
                    departure_known=True,
                    lat=51.5,
                    lon=-0.12,
                    accuracy_m=40.0,
                )
            )
            s.add(DeviceReceipt(device_id=f"d{i}", received_at=at, newest_ts=at, fixes=1))
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
        s.add(
            FlagResponse(
                flag_id=flag.flag_id,
                officer_id="o1",
                at=NOW,
                actor="o1",
                category="other",
                statement="s",
            )
        )
        for day in (old_day, kept_day):
            contest = DayContest(
                officer_id="o1",
                day=day,
                at=NOW,
                actor="o1",
                category="other_station",
                statement="s",
                status="upheld",
            )
            s.add(contest)
            s.flush()
            s.add(
                Adjustment(
                    officer_id="o1",
                    day=day,
                    effect="verified_office_day",
                    contest_id=contest.contest_id,
                    made_at=NOW,
                    made_by="hr",
                    role="hr",
                    reason="r",
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
    # a visit goes with its arrival, as a ping with its time
    assert (removed["visits"], removed["device receipts"]) == (3, 3)
    assert removed["daily_results"] == 1
    assert removed["flags"] == 1
    assert removed["flag_reviews"] == 1
    assert (removed["flag_responses"], removed["day_contests"], removed["adjustments"]) == (1, 1, 1)
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


# --- the audit log purge in batches ------------------------------------------------------------

AUDIT_CUTOFF = datetime(2024, 11, 23, tzinfo=UTC)  # the derived cutoff run_purge applies at NOW
OLD_ENTRIES = 2_400
RECENT_ENTRIES = 600


class Interrupted(RuntimeError):
    """Raised from the progress hook: the process is stopped between two batches."""


def _log(engine: Engine) -> dict[int, str]:
    """3,000 chained entries: 2,400 before AUDIT_CUTOFF, then 599 recent ones and a last old one
    (kept: only a prefix of old entries goes). Returns seq -> hash."""
    times = [AUDIT_CUTOFF - timedelta(days=60) + timedelta(minutes=i) for i in range(OLD_ENTRIES)]
    times += [NOW - timedelta(days=3) + timedelta(minutes=i) for i in range(RECENT_ENTRIES - 1)]
    times.append(AUDIT_CUTOFF - timedelta(days=1))
    rows, prev = [], audit.GENESIS_HASH
    for seq, at in enumerate(times, start=1):
        entry = AuditEntry(
            seq=seq,
            at=at,
            actor="det",
            role="investigator",
            action="read.timeline",
            officer_id=f"O{seq % 97}",
            case_ref="C1",
            purpose=None,
            request_id=f"r{seq}",
            detail={"returned": seq % 7},
            prev_hash=prev,
            hash="",
        )
        entry.hash = prev = audit.entry_hash(prev, entry)
        rows.append(entry)
    with transaction(session_factory(engine)) as s:
        s.add_all(rows)
    return {int(e.seq): e.hash for e in rows}


def _entries(engine: Engine) -> tuple[dict[int, str], list[AuditEntry]]:
    """The surviving entries other than markers (seq -> hash), and the markers in seq order."""
    with session_factory(engine)() as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    kept = {int(e.seq): e.hash for e in rows if e.action != audit.PURGE_ACTION}
    return kept, [e for e in rows if e.action == audit.PURGE_ACTION]


def _chain(engine: Engine) -> audit.ChainReport:
    with session_factory(engine)() as s:
        return audit.verify_chain(s, retention_days=POLICY.retention_days_derived)


def _purge_audit(engine: Engine, batch_size: int, hook: Any = None) -> list[audit.AuditPurge]:
    return purge_audit(
        session_factory(engine),
        AUDIT_CUTOFF,
        actor="ops",
        role="cli",
        now=NOW,
        batch_size=batch_size,
        on_batch=hook,
    )


@pytest.mark.parametrize("batch_size", [OLD_ENTRIES, 1_000, 250])
def test_batched_audit_purge_keeps_what_one_batch_keeps(engine: Engine, batch_size: int) -> None:
    hashes = _log(engine)
    progress: list[tuple[int, int, int, bool]] = []

    def after_each(batch: audit.AuditPurge, through_seq: int) -> None:
        chain = _chain(engine)
        progress.append((batch.first_seq, batch.last_seq, through_seq, chain.ok))
        assert (chain.anchor_seq, chain.head_seq) == (batch.last_seq, batch.marker_seq)

    batches = _purge_audit(engine, batch_size, after_each)
    n = -(-OLD_ENTRIES // batch_size)
    bounds = [(i * batch_size + 1, min((i + 1) * batch_size, OLD_ENTRIES)) for i in range(n)]
    assert progress == [(lo, hi, OLD_ENTRIES, True) for lo, hi in bounds]
    assert [(b.first_seq, b.last_seq, b.removed) for b in batches] == [
        (lo, hi, hi - lo + 1) for lo, hi in bounds
    ]
    # The same survivors, untouched, whatever the batch size; one marker per batch.
    kept, markers = _entries(engine)
    assert kept == {seq: h for seq, h in hashes.items() if seq > OLD_ENTRIES}
    assert [m.seq for m in markers] == [b.marker_seq for b in batches]
    assert [m.seq for m in markers] == list(range(3_001, 3_001 + n))
    assert [m.detail for m in markers] == [
        {
            "removed": b.removed,
            "first_seq": b.first_seq,
            "last_seq": b.last_seq,
            "first_at": b.first_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "last_at": b.last_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "cutoff": "2024-11-23T00:00:00.000000Z",
            "anchor_hash": hashes[b.last_seq],
        }
        for b in batches
    ]
    chain = _chain(engine)
    assert (chain.ok, chain.entries, chain.anchor_seq) == (True, RECENT_ENTRIES + n, OLD_ENTRIES)
    assert _purge_audit(engine, batch_size) == []


def test_an_interrupted_audit_purge_leaves_a_valid_chain_and_resumes(engine: Engine) -> None:
    hashes = _log(engine)

    def stop_after_three(batch: audit.AuditPurge, _through: int) -> None:
        if batch.last_seq == 900:
            raise Interrupted

    with pytest.raises(Interrupted):
        _purge_audit(engine, 300, stop_after_three)
    chain = _chain(engine)
    assert (chain.ok, chain.anchor_seq, chain.entries) == (True, 900, 3_000 - 900 + 3)
    kept, markers = _entries(engine)
    assert min(kept) == 901
    assert len(markers) == 3
    resumed = _purge_audit(engine, 300)
    assert [(b.first_seq, b.last_seq) for b in resumed] == [
        (lo, lo + 299) for lo in range(901, OLD_ENTRIES, 300)
    ]
    kept, markers = _entries(engine)
    assert kept == {seq: h for seq, h in hashes.items() if seq > OLD_ENTRIES}
    assert len(markers) == 8
    chain = _chain(engine)
    assert (chain.ok, chain.anchor_seq, chain.entries) == (True, OLD_ENTRIES, RECENT_ENTRIES + 8)


TAMPER_IN_BATCH = {
    "edited": ("UPDATE audit_log SET case_ref = 'C2' WHERE seq = 1234", "seq 1234: hash"),
    "deleted": ("DELETE FROM audit_log WHERE seq = 1234", "entry 1234 is missing"),
    "last entry of the batch deleted": (
        "DELETE FROM audit_log WHERE seq = 1500",
        "entry 1500 is missing",
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPER_IN_BATCH))
def test_tampering_inside_a_batch_stops_the_purge_there(engine: Engine, case: str) -> None:
    hashes = _log(engine)
    sql, message = TAMPER_IN_BATCH[case]
    with engine.begin() as conn:
        conn.execute(text(sql))
    with session_factory(engine)() as s:
        before = {int(e.seq): e.hash for e in s.scalars(select(AuditEntry))}
    progress: list[int] = []
    report = run_purge(
        session_factory(engine),
        policy=POLICY,
        now=NOW,
        tz="Europe/London",
        actor="ops",
        audit_batch_size=500,
        on_audit_batch=lambda batch, _through: progress.append(batch.last_seq),
    )
    # Batches 1..500 and 501..1000 verified and went; 1001..1500 holds the tampering: kept whole.
    assert progress == [500, 1_000]
    assert report.audit_error is not None
    assert message in report.audit_error
    assert report.removed["audit_log"][0] == 1_000
    assert report.audit is not None
    assert (report.audit.first_seq, report.audit.last_seq) == (1, 1_000)
    assert report.note.startswith(
        "audit log: entries 1..1000 removed in 2 batches (2024-09-24T01:00:00+01:00 to "
    )
    assert report.note.endswith(
        "; a marker entry records each batch; the last, entry 3002, anchors the chain at seq "
        f"1000; the entries after it NOT purged, {report.audit_error} (see rollcall audit verify)"
    )
    kept, markers = _entries(engine)
    assert kept == {seq: h for seq, h in before.items() if seq > 1_000}
    assert [m.seq for m in markers] == [3_001, 3_002]
    assert hashes[1_001] == kept[1_001]
    chain = _chain(engine)
    assert (chain.ok, chain.anchor_seq) == (False, 1_000)
    assert chain.first_bad_seq == (1_500 if "1500" in sql else 1_234)


def test_batched_audit_purge_while_others_append(engine: Engine) -> None:
    _log(engine)
    factory = session_factory(engine)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for _ in range(15):
                with transaction(factory) as s:
                    audit.append(s, actor=f"w{worker}", role="hr", action="read.compliance")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def purge() -> None:
        try:
            _purge_audit(engine, 200)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(3)]
    threads.append(threading.Thread(target=purge))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    kept, markers = _entries(engine)
    assert len(markers) == OLD_ENTRIES // 200
    assert len(kept) == RECENT_ENTRIES + 45
    chain = _chain(engine)
    assert (chain.ok, chain.anchor_seq, chain.entries) == (
        True,
        OLD_ENTRIES,
        RECENT_ENTRIES + 45 + len(markers),
    )
