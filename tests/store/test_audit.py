"""The audit chain: hashes link every entry; edits, deletions and forks are detected, also after a
recorded purge of old entries."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from store import audit
from store.db import session_factory, transaction
from store.models import AuditEntry


def _append(engine: Engine, n: int, actor: str = "a") -> None:
    factory = session_factory(engine)
    for i in range(n):
        with transaction(factory) as session:
            audit.append(
                session,
                actor=actor,
                role="auditor",
                action="read.audit",
                officer_id=f"O{i}",
                detail={"i": i, "share": 0.5},
            )


def _verify(engine: Engine, **kwargs: object) -> audit.ChainReport:
    with session_factory(engine)() as session:
        return audit.verify_chain(session, **kwargs)  # type: ignore[arg-type]


def test_chain_links_and_verifies(engine: Engine) -> None:
    _append(engine, 3)
    report = _verify(engine)
    assert (report.ok, report.entries, report.head_seq) == (True, 3, 3)
    with session_factory(engine)() as session:
        rows = session.execute(sa.text("SELECT prev_hash, hash FROM audit_log ORDER BY seq")).all()
    assert rows[0][0] == audit.GENESIS_HASH
    assert rows[1][0] == rows[0][1]
    assert rows[2][0] == rows[1][1]


def test_an_edit_is_detected(engine: Engine) -> None:
    _append(engine, 4)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2"))
    report = _verify(engine)
    assert (report.ok, report.first_bad_seq, report.entries) == (False, 2, 1)


def test_a_deletion_is_detected(engine: Engine) -> None:
    _append(engine, 4)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    assert _verify(engine).first_bad_seq == 3


def test_a_rehashed_edit_breaks_the_next_link(engine: Engine) -> None:
    _append(engine, 3)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET hash = :h WHERE seq = 2"), {"h": "f" * 64})
    assert _verify(engine).first_bad_seq == 2


def test_truncation_is_detected_against_a_recorded_head(engine: Engine) -> None:
    _append(engine, 3)
    head = _verify(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    assert _verify(engine).ok
    report = _verify(engine, expect_head=(3, head.head_hash))
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_concurrent_writers_do_not_fork_the_chain(engine: Engine) -> None:
    threads = [threading.Thread(target=_append, args=(engine, 8, f"w{i}")) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = _verify(engine)
    assert (report.ok, report.entries) == (True, 32)


def test_entries_page_and_filter(engine: Engine) -> None:
    _append(engine, 5)
    with session_factory(engine)() as session:
        page, nxt = audit.entries(session, limit=2)
        assert [e.seq for e in page] == [1, 2]
        assert nxt == 2
        page, nxt = audit.entries(session, after_seq=4, limit=2)
        assert ([e.seq for e in page], nxt) == ([5], None)
        only, _ = audit.entries(session, officer_id="O3")
        assert [e.seq for e in only] == [4]


# --- purging old entries ----------------------------------------------------------------------

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CUTOFF = datetime(2024, 11, 23, 0, 0, tzinfo=UTC)
OLD = [CUTOFF - timedelta(days=30 - i) for i in range(3)]
RECENT = [NOW - timedelta(days=2), NOW - timedelta(days=1)]


def _append_at(engine: Engine, times: list[datetime]) -> None:
    factory = session_factory(engine)
    for i, at in enumerate(times):
        with transaction(factory) as session:
            audit.append(
                session,
                actor="det",
                role="investigator",
                action="read.timeline",
                officer_id=f"O{i}",
                case_ref="C1",
                at=at,
            )


def _purge(engine: Engine, cutoff: datetime = CUTOFF) -> audit.AuditPurge | None:
    with transaction(session_factory(engine)) as session:
        return audit.purge_before(session, cutoff, actor="ops", role="cli", now=NOW)


def _hashes(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT seq, hash FROM audit_log")).all()
    return {int(seq): str(digest) for seq, digest in rows}


def test_purge_removes_old_entries_and_the_chain_still_verifies(engine: Engine) -> None:
    _append_at(engine, OLD + RECENT)
    before = _hashes(engine)
    done = _purge(engine)
    assert done is not None
    assert (done.removed, done.first_seq, done.last_seq, done.marker_seq) == (3, 1, 3, 6)
    assert (done.first_at, done.last_at, done.anchor_hash) == (OLD[0], OLD[2], before[3])
    after = _hashes(engine)
    assert sorted(after) == [4, 5, 6]
    assert (after[4], after[5]) == (before[4], before[5])
    with session_factory(engine)() as session:
        marker = session.get(AuditEntry, 6)
        assert marker is not None
        assert (marker.action, marker.actor, marker.role, marker.at) == (
            "audit.purge",
            "ops",
            "cli",
            NOW,
        )
        assert marker.prev_hash == before[5]
        assert marker.detail == {
            "removed": 3,
            "first_seq": 1,
            "last_seq": 3,
            "first_at": "2024-10-24T00:00:00.000000Z",
            "last_at": "2024-10-26T00:00:00.000000Z",
            "cutoff": "2024-11-23T00:00:00.000000Z",
            "anchor_hash": before[3],
        }
    report = _verify(engine, retention_days=730)
    assert (report.ok, report.entries, report.anchor_seq, report.head_seq) == (True, 3, 3, 6)


def test_a_second_purge_removes_nothing(engine: Engine) -> None:
    _append_at(engine, OLD + RECENT)
    assert _purge(engine) is not None
    hashes = _hashes(engine)
    assert _purge(engine) is None
    assert _hashes(engine) == hashes
    assert _verify(engine).ok


def test_entries_after_a_newer_one_are_kept(engine: Engine) -> None:
    _append_at(engine, [OLD[0], RECENT[0], OLD[1]])
    done = _purge(engine)
    assert done is not None
    assert (done.removed, done.last_seq) == (1, 1)
    assert sorted(_hashes(engine)) == [2, 3, 4]


def test_purge_without_old_entries_or_log(engine: Engine) -> None:
    assert _purge(engine) is None
    _append_at(engine, RECENT)
    assert _purge(engine) is None
    assert _verify(engine).entries == 2


def test_purging_everything_then_appending(engine: Engine) -> None:
    _append_at(engine, OLD)
    done = _purge(engine)
    assert done is not None
    assert (done.removed, done.marker_seq) == (3, 4)
    _append(engine, 2)
    report = _verify(engine)
    assert (report.ok, report.entries, report.anchor_seq, report.head_seq) == (True, 3, 3, 6)


def test_a_later_purge_moves_the_anchor(engine: Engine) -> None:
    _append_at(engine, OLD + RECENT)
    _purge(engine)  # removes 1..3, marker 6
    done = _purge(engine, NOW + timedelta(days=1))  # removes 4..6 (the first marker too)
    assert done is not None
    assert (done.first_seq, done.last_seq, done.marker_seq) == (4, 6, 7)
    report = _verify(engine)
    assert (report.ok, report.entries, report.anchor_seq) == (True, 1, 6)


TAMPERING = {
    # what was done after the purge: SQL, then the seq verify must name
    "first entry after the anchor deleted": ("DELETE FROM audit_log WHERE seq = 4", 4),
    "entry in the middle deleted": ("DELETE FROM audit_log WHERE seq = 5", 5),
    "surviving entry edited": ("UPDATE audit_log SET case_ref = 'C2' WHERE seq = 5", 5),
    "marker deleted": ("DELETE FROM audit_log WHERE seq = 6", 1),
    "marker's range widened to cover a deletion": (
        "DELETE FROM audit_log WHERE seq = 4; "
        "UPDATE audit_log SET detail = :widened, prev_hash = prev_hash WHERE seq = 6",
        6,
    ),
    "marker's detail made unreadable": (
        "UPDATE audit_log SET detail = :broken WHERE seq = 6",
        6,
    ),
    "purged entry put back": (
        "INSERT INTO audit_log (seq, at, actor, role, action, prev_hash, hash) "
        "SELECT 2, at, actor, role, action, prev_hash, hash FROM audit_log WHERE seq = 4",
        2,
    ),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_after_a_purge_is_detected(engine: Engine, case: str) -> None:
    _append_at(engine, OLD + RECENT)
    done = _purge(engine)
    assert done is not None
    sql, bad_seq = TAMPERING[case]
    with session_factory(engine)() as session:
        marker = session.get(AuditEntry, done.marker_seq)
        assert marker is not None
        assert marker.detail is not None
        widened = {**marker.detail, "last_seq": 4, "anchor_hash": _hashes(engine)[4]}
    params = {"widened": orjson.dumps(widened).decode(), "broken": '{"removed": 3}'}
    with engine.begin() as conn:
        for statement in sql.split("; "):
            conn.execute(
                sa.text(statement),
                {k: v for k, v in params.items() if f":{k}" in statement},
            )
    report = _verify(engine)
    assert (report.ok, report.first_bad_seq) == (False, bad_seq), report.reason


def test_a_forged_purge_inside_retention_is_detected(engine: Engine) -> None:
    _append_at(engine, RECENT)
    # Someone deletes entry 1 and covers it with a properly chained marker cut off yesterday.
    hashes = _hashes(engine)
    with transaction(session_factory(engine)) as session:
        audit.append(
            session,
            actor="x",
            role="cli",
            action=audit.PURGE_ACTION,
            detail={"last_seq": 1, "anchor_hash": hashes[1], "cutoff": "2026-11-22T00:00:00Z"},
            at=NOW,
        )
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 1"))
    assert _verify(engine).ok  # a purge marker is trusted as to what it removed ...
    report = _verify(engine, retention_days=730)  # ... but not to have kept the retention period
    assert (report.ok, report.first_bad_seq) == (False, 3)


def test_a_broken_old_range_is_not_purged(engine: Engine) -> None:
    _append_at(engine, OLD + RECENT)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'x' WHERE seq = 2"))
    with pytest.raises(audit.ChainBrokenError, match="seq 2"):
        _purge(engine)
    assert sorted(_hashes(engine)) == [1, 2, 3, 4, 5]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'det' WHERE seq = 2"))
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    with pytest.raises(audit.ChainBrokenError, match="entry 3 is missing"):
        _purge(engine)


def test_truncation_before_the_anchor_is_accepted_with_a_recorded_head(engine: Engine) -> None:
    _append_at(engine, OLD + RECENT)
    head = _verify(engine)
    _purge(engine, NOW)  # removes everything, marker 6
    report = _verify(engine, expect_head=(5, head.head_hash))
    assert (report.ok, report.entries, report.anchor_seq) == (True, 1, 5)


def test_purge_while_others_append(engine: Engine) -> None:
    _append_at(engine, [CUTOFF - timedelta(hours=i + 1) for i in range(200)][::-1])
    errors: list[BaseException] = []

    def purge() -> None:
        try:
            _purge(engine)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=_append, args=(engine, 10, f"w{i}")) for i in range(3)]
    threads.append(threading.Thread(target=purge))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = _verify(engine)
    assert (report.ok, report.entries, report.anchor_seq) == (True, 31, 200)


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_purge_target_never_takes_an_entry_committed_while_it_reads(engine: Engine) -> None:
    """An append committed while the purge works out its range (the moment a second statement
    would see it) is new, so it is never part of the removed prefix. SQLite has no such moment:
    a purge holds the write lock."""
    _append_at(engine, [CUTOFF - timedelta(hours=i + 1) for i in range(5)][::-1])
    appended: list[bool] = []

    def append_once(conn: object, cursor: object, statement: str, *args: object) -> None:
        if not appended and "max(audit_log.seq)" in statement:
            appended.append(True)
            _append(engine, 1, "late")

    sa.event.listen(engine, "before_cursor_execute", append_once)
    try:
        with session_factory(engine)() as session:
            target = audit.purge_target(session, CUTOFF)
    finally:
        sa.event.remove(engine, "before_cursor_execute", append_once)
    assert (appended, target) == ([True], 5)


def test_a_purge_after_a_forged_marker_removes_nothing(engine: Engine) -> None:
    _append_at(engine, OLD + RECENT)
    done = _purge(engine)  # removes 1..3, marker 6
    assert done is not None
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE audit_log SET detail = :d WHERE seq = 6"), {"d": '{"removed": 3}'}
        )
    hashes = _hashes(engine)
    with pytest.raises(audit.ChainBrokenError, match="seq 6: the purge marker at seq 6"):
        _purge(engine, NOW + timedelta(days=1))
    assert _hashes(engine) == hashes


def _kept(engine: Engine, verifier: audit.ChainVerifier, now: datetime) -> audit.ChainReport:
    with session_factory(engine)() as session:
        report, _ = verifier.verify(session, now)
    return report


def test_the_kept_verification_walks_only_new_entries(engine: Engine) -> None:
    verifier = audit.ChainVerifier(full_every=timedelta(minutes=10))
    _append(engine, 3)
    first = _kept(engine, verifier, NOW)
    assert (first.ok, first.entries, first.head_seq, verifier.full_walks) == (True, 3, 3, 1)
    _append(engine, 2)
    later = _kept(engine, verifier, NOW + timedelta(minutes=1))
    assert (later.ok, later.entries, later.head_seq, verifier.full_walks) == (True, 5, 5, 1)
    assert later == _verify(engine)
    # Nothing new: still no full walk.
    assert _kept(engine, verifier, NOW + timedelta(minutes=2)) == later
    assert verifier.full_walks == 1


def test_the_kept_verification_finds_every_kind_of_tampering(engine: Engine) -> None:
    verifier = audit.ChainVerifier(full_every=timedelta(minutes=10))
    _append(engine, 4)
    _kept(engine, verifier, NOW)
    # An entry appended since, then edited: found by the incremental walk (and confirmed in full).
    _append(engine, 1)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'x' WHERE seq = 5"))
    report = _kept(engine, verifier, NOW + timedelta(minutes=1))
    assert (report.ok, report.first_bad_seq, verifier.full_walks) == (False, 5, 2)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 5"))
    assert _kept(engine, verifier, NOW + timedelta(minutes=2)).ok
    # The chain rewritten from entry 2 on (the last verified entry's hash changes): walked in full.
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET hash = :h WHERE seq = 4"), {"h": "f" * 64})
    report = _kept(engine, verifier, NOW + timedelta(minutes=3))
    assert (report.ok, report.first_bad_seq) == (False, 4)
    assert verifier.full_walks == 4


def test_an_edit_behind_the_verified_head_is_found_by_the_next_full_walk(engine: Engine) -> None:
    verifier = audit.ChainVerifier(full_every=timedelta(minutes=10))
    _append(engine, 4)
    _kept(engine, verifier, NOW)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else' WHERE seq = 2"))
    with session_factory(engine)() as session:
        report, walked_at = verifier.verify(session, NOW + timedelta(minutes=9))
    assert (report.ok, walked_at) == (True, NOW)  # the page says when the full walk was
    report = _kept(engine, verifier, NOW + timedelta(minutes=10))
    assert (report.ok, report.first_bad_seq, verifier.full_walks) == (False, 2, 2)


def test_a_purge_makes_the_kept_verification_walk_again(engine: Engine) -> None:
    verifier = audit.ChainVerifier()
    _append_at(engine, OLD + RECENT)
    _kept(engine, verifier, NOW)
    assert _purge(engine) is not None
    report = _kept(engine, verifier, NOW + timedelta(minutes=1))
    assert report == _verify(engine)
    assert report.ok
    assert report.anchor_seq == len(OLD)
    assert verifier.full_walks == 2
