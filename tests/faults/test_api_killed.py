"""SIGKILL of `rollcall serve` while a batch is in flight, then the client's retry of the same
batch to the restarted server: the database ends exactly as after a clean run of that batch."""

from __future__ import annotations

import csv
import platform
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import issue_token
from rollcall.settings import Settings
from store.db import make_engine
from tests.faults.conftest import import_reference, scalar, snapshot
from tests.served import SECRET, Served, start_server

pytestmark = pytest.mark.slow

BATCH = 10_000
EVENT_KEYS = ("pings", "held", "masked_counts", "masked_keys", "partitions")
# What the fault leaves besides events: one receipt per device and one audit entry per batch.
ROWS = {
    "receipts": "SELECT count(*) FROM device_receipts",
    "batches": "SELECT count(*) FROM audit_log WHERE action = 'ingest.pings'",
}
# pg_advisory_xact_lock key of the audit chain (store/audit.py): a batch takes it last, after
# every event is written and before it commits.
AUDIT_CHAIN_KEY = 0x526F6C6C41756474


def _batch(force_dir: Path) -> bytes:
    with (force_dir / "pings.csv").open() as fh:
        rows = [r for _, r in zip(range(BATCH), csv.DictReader(fh), strict=False)]
    items = [
        {
            "device_id": r["device_id"],
            "ts": r["ts"],
            "lat": float(r["lat"]),
            "lon": float(r["lon"]),
            "accuracy_m": float(r["accuracy_m"]),
            "source": r["source"],
            "is_mock": r["is_mock"] == "true",
        }
        for r in rows
    ]
    return httpx.Request("POST", "/", json={"pings": items}).read()


def _headers() -> dict[str, str]:
    token = issue_token(SECRET, role="ingest", sub="gateway", ttl=timedelta(minutes=30))
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def _state(url: str) -> dict[str, Any]:
    events = {k: v for k, v in snapshot(url).items() if k in EVENT_KEYS}
    return {**events, **{name: scalar(url, sql) for name, sql in ROWS.items()}}


def _clean_run(url: str, body: bytes) -> dict[str, Any]:
    """The batch posted once to the app in this process (the wall clock, as the server's)."""
    settings = Settings(database_url=url, jwt_secret=SECRET, timezone="Europe/London")
    app = create_app(settings, clock=lambda: datetime.now(UTC))
    with TestClient(app) as client:
        answer = client.post("/v1/pings", content=body, headers=_headers())
    assert answer.status_code == 200, answer.text
    counts: dict[str, Any] = answer.json()
    return counts


@contextmanager
def _commit_held(url: str, backend: str) -> Iterator[sa.Connection]:
    """A transaction holding what a batch needs to commit: on PostgreSQL the audit chain's lock
    (the batch writes its events, then waits), on SQLite the database's write lock."""
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    conn = engine.connect()
    try:
        if backend == "postgis":
            conn.begin()
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_CHAIN_KEY})
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


# clock_nanosleep by machine: SQLite's busy handler sleeps through usleep, which glibc makes a
# relative CLOCK_REALTIME clock_nanosleep ("<nr> 0x0 0x0 ..." in /proc/<pid>/task/<tid>/syscall);
# Python's time.sleep is an absolute CLOCK_MONOTONIC one ("<nr> 0x1 0x1").
CLOCK_NANOSLEEP = {"x86_64": 230, "aarch64": 115}[platform.machine()]


def _threads(pid: int) -> Iterator[Path]:
    """The /proc task directories of ``pid`` and its descendants."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        yield task
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            yield from _threads(int(child))


def _in_busy_handler(pid: int) -> bool:
    """Whether a thread of the server sleeps in SQLite's busy handler: its write waits for the
    lock this test holds."""
    for task in _threads(pid):
        try:
            call = (task / "syscall").read_text().split()
        except OSError:
            continue  # the thread ended
        if call[:3] == [str(CLOCK_NANOSLEEP), "0x0", "0x0"]:
            return True
    return False


def _wait_until_blocked(
    conn: sa.Connection,
    backend: str,
    server: Served,
    sender: threading.Thread,
    answered: Callable[[], str],
) -> None:
    """Until the server's transaction waits for the held lock: on PostgreSQL seen in pg_locks
    (read live; pg_stat_activity is a snapshot within this transaction), on SQLite as a server thread sleeping in SQLite's busy handler."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert sender.is_alive(), f"the batch was answered before the fault: {answered()}"
        if backend == "postgis":
            waiting = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            if waiting:
                return
        elif _in_busy_handler(server.proc.pid):
            return
        time.sleep(0.02)
    pytest.fail("the batch never came to wait for the held lock")


def test_api_killed_mid_batch_then_retried_equals_a_clean_run(
    db_url: str, second_db_url: str, backend: str, force_dir: Path, tmp_path: Path
) -> None:
    body = _batch(force_dir)
    clean, faulty = second_db_url, db_url
    import_reference(faulty, force_dir)
    # The server starts (seconds of imports) while the clean run is made on the other database.
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(start_server, faulty, tmp_path / "serve.log")
        try:
            import_reference(clean, force_dir)
            clean_counts = _clean_run(clean, body)
        except BaseException:
            starting.result().stop()
            raise
        server = starting.result()
    assert clean_counts["accepted"] > 0
    outcome: dict[str, Any] = {}

    def answered() -> str:
        response = outcome.get("response")
        log = server.log.read_text()[-600:]
        return f"{response} {response.text if response else ''}; server log: {log}"

    def send() -> None:
        try:
            outcome["response"] = httpx.post(
                f"{server.base_url}/v1/pings", content=body, headers=_headers(), timeout=60
            )
        except httpx.TransportError as exc:
            outcome["error"] = exc

    try:
        with _commit_held(faulty, backend) as holder:
            sender = threading.Thread(target=send)
            sender.start()
            _wait_until_blocked(holder, backend, server, sender, answered)
            server.kill()
        sender.join(timeout=30)
    finally:
        server.stop()
    assert "response" not in outcome, outcome
    assert isinstance(outcome["error"], httpx.TransportError)
    assert scalar(faulty, "SELECT count(*) FROM pings") == 0

    # The client retries the same batch once the server is back.
    server = start_server(faulty, tmp_path / "serve.log")
    try:
        retry = httpx.post(
            f"{server.base_url}/v1/pings", content=body, headers=_headers(), timeout=60
        )
    finally:
        server.stop()
    assert retry.status_code == 200, retry.text
    assert {k: v for k, v in retry.json().items() if k != "errors"} == {
        k: v for k, v in clean_counts.items() if k != "errors"
    }
    assert _state(faulty) == _state(clean)
