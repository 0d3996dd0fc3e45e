"""The audit chain: hashes link every entry; edits, deletions and forks are detected."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy import Engine

from store import audit
from store.db import session_factory, transaction


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
