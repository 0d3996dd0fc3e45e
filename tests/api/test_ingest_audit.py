"""A batch's audit entry, appended right before its request commits: one per batch under
concurrent senders and reads, an intact chain, and a batch that waits on the chain lock past the
lock timeout stores nothing and is stored once when sent again."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api.auth import Principal, Role
from api.trail import record_at_commit
from store import audit
from store.db import make_engine, session_factory, transaction
from store.models import AuditEntry, Ping
from tests.api.helpers import INSIDE, Api, lock_held, running_app, seed_reference

SENDERS, BATCHES, FIXES = 4, 5, 20
FIRST_FIX = datetime.fromisoformat("2026-10-05T09:00:00+01:00")  # O1's shift: 08:00-16:00


def _batch(api: Api, sender: int, n: int) -> dict[str, Any]:
    first = (sender * BATCHES + n) * FIXES
    return {
        "pings": [
            api.ping((FIRST_FIX + timedelta(seconds=first + k)).isoformat(), INSIDE)
            for k in range(FIXES)
        ]
    }


def test_concurrent_batches_leave_one_entry_each_on_an_intact_chain(
    db_url: str, export_key_file: Path
) -> None:
    with running_app(db_url, export_key_file) as api:
        seed_reference(api)
        with api.factory() as session:
            before = int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
        ingest, auditor = api.headers("ingest"), api.headers("auditor")

        def send(sender: int) -> list[tuple[str, dict[str, Any]]]:
            answers = []
            for n in range(BATCHES):
                r = api.client.post("/v1/pings", json=_batch(api, sender, n), headers=ingest)
                assert r.status_code == 200, r.text
                answers.append((r.headers["x-request-id"], r.json()))
                # A read between batches: its entry is appended at once, in the endpoint.
                read = api.client.get("/v1/audit", params={"limit": 1}, headers=auditor)
                assert read.status_code == 200, read.text
            return answers

        with ThreadPoolExecutor(max_workers=SENDERS) as pool:
            answers = [a for part in pool.map(send, range(SENDERS)) for a in part]

        with api.factory() as session:
            report = audit.verify_chain(session)
            entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
            stored = session.scalar(select(func.count()).select_from(Ping))
    assert report.ok, report.reason
    assert report.entries == before + 2 * SENDERS * BATCHES
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    stamps = [e.at for e in entries]
    assert stamps == sorted(stamps)  # stamped under the lock, so in the chain's order
    batches = {e.request_id: e for e in entries if e.action == "ingest.pings"}
    assert len(batches) == SENDERS * BATCHES
    for request_id, answer in answers:
        entry = batches[request_id]
        assert entry.actor == "ingest-user"
        assert entry.role == "ingest"
        assert entry.detail == {
            "items": FIXES,
            **{k: answer[k] for k in ("accepted", "duplicate", "masked", "held", "rejected")},
        }
        assert answer["accepted"] == FIXES
    assert stored == SENDERS * BATCHES * FIXES
    reads = [e for e in entries[before:] if e.action != "ingest.pings"]
    assert len(reads) == SENDERS * BATCHES
    assert {e.role for e in reads} == {"auditor"}


def _hold_chain(db_url: str, held: threading.Event, release: threading.Event) -> None:
    """An audit entry appended in a transaction kept open until ``release``, then committed."""
    engine = make_engine(db_url)
    try:
        with transaction(session_factory(engine)) as session:
            audit.append(session, actor="holder", role="cli", action="hold.chain")
            held.set()
            release.wait(30)
    finally:
        engine.dispose()


def test_a_batch_waiting_on_the_chain_lock_stores_nothing_and_its_retry_stores_once(
    db_url: str, export_key_file: Path
) -> None:
    with running_app(db_url, export_key_file, db_lock_timeout_s=1.0) as api:
        seed_reference(api)
        batch = _batch(api, 0, 0)
        with lock_held(_hold_chain, db_url):
            t0 = time.monotonic()
            r = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
            waited = time.monotonic() - t0
            with api.factory() as session:
                stored_while_held = session.scalar(select(func.count()).select_from(Ping))
        assert r.status_code == 503, r.text
        assert "nothing was stored" in r.json()["error"]["message"]
        assert waited < 10
        assert stored_while_held == 0
        again = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
        assert again.status_code == 200, again.text
        assert again.json()["accepted"] == FIXES
        with api.factory() as session:
            assert session.scalar(select(func.count()).select_from(Ping)) == FIXES
            actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
            assert audit.verify_chain(session).ok
        assert actions[-2:] == ["hold.chain", "ingest.pings"]
        assert actions.count("ingest.pings") == 1


def test_an_entry_left_for_the_commit_needs_the_request_session(api: Api) -> None:
    caller = Principal(sub="ingest-user", role=Role.INGEST)
    with api.factory() as session:
        with pytest.raises(RuntimeError, match="get_session"):
            record_at_commit(session, caller, "req-1", "ingest.pings", detail={"items": 0})
