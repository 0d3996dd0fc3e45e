"""Fault tests: real `rollcall` processes killed mid-work, then the user's retry, compared exactly
with a clean run on a second database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fixtures.synth import generate_force
from store.db import make_engine
from tests.conftest import fresh_database

ROLLCALL = str(Path(sys.executable).with_name("rollcall"))
# Whole days a week back: older than the 24 h hold, well inside the 90-day raw retention.
START = (datetime.now(UTC) - timedelta(days=8)).date()
DAYS = 2
OFFICERS = 200  # about 5.6 MB of pings: two import blocks


@pytest.fixture(scope="session")
def force_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fault-force")
    generate_force(11, OFFICERS, START, DAYS, tz="Europe/London").write(out)
    return out


@pytest.fixture
def second_db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Another fresh migrated database of the same backend (the clean run's)."""
    with fresh_database(backend, request, tmp_path / "clean.db", "rollcall_c_") as url:
        yield url


def env_for(url: str, **extra: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ROLLCALL_")}
    environ.update(ROLLCALL_DATABASE_URL=url, **extra)
    return environ


def rollcall(url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run a command to its end, as a user would."""
    return subprocess.run(
        [ROLLCALL, *args],
        env=env_for(url, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def rollcall_here(
    monkeypatch: pytest.MonkeyPatch, url: str, *args: str, **extra: str
) -> tuple[int, str]:
    """Run a command in this process as `rollcall` would (same environment, the wall clock),
    without a process's start-up (seconds on a busy machine): for the clean run, where no fault
    is injected. Returns the exit code and what it printed."""
    from typer.testing import CliRunner

    from rollcall import wallclock
    from rollcall.cli import app
    from rollcall.settings import get_settings

    with monkeypatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("ROLLCALL_")]:
            patch.delenv(key)
        for key, value in {"ROLLCALL_DATABASE_URL": url, **extra}.items():
            patch.setenv(key, value)
        patch.setattr(wallclock, "utc_now", lambda: datetime.now(UTC))
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, list(args))
        finally:
            get_settings.cache_clear()
    return result.exit_code, result.output


def start(url: str, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [ROLLCALL, *args],
        env=env_for(url, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def scalar(url: str, sql: str) -> Any:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def kill_when(
    proc: subprocess.Popen[str], ready: Callable[[], bool], *, timeout: float = 240
) -> None:
    """Freeze ``proc`` (SIGSTOP) as soon as ``ready()`` holds, then SIGKILL it: what it had
    committed by then is all that stays."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the process ended before the fault point: {proc.stderr.read()[-500:]}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the fault point was not reached in time")
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGSTOP)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def snapshot(url: str) -> dict[str, Any]:
    """Everything a fault could lose or double: events, held events, masked counts and keys,
    results, flags, recompute marks and (PostgreSQL) ping partitions with their indexes."""
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    queries = {
        "pings": "SELECT device_id, ts, officer_id, lat, lon, h3_cell FROM pings ORDER BY 1, 2",
        "swipes": "SELECT badge_id, ts, reader_id FROM swipes ORDER BY 1, 2, 3",
        "held": "SELECT (SELECT count(*) FROM held_pings) + (SELECT count(*) FROM held_swipes)",
        "masked_counts": "SELECT day, kind, count FROM masked_counts ORDER BY 1, 2",
        "masked_keys": "SELECT count(*) FROM masked_keys",
        "daily": (
            "SELECT officer_id, day, evidence, verified_presence_minutes, verified_office_day "
            "FROM daily_results ORDER BY 1, 2"
        ),
        "flags": "SELECT fingerprint, code, status, withdrawn_at IS NULL FROM flags ORDER BY 1",
        "marks": "SELECT officer_id, day FROM recompute_marks ORDER BY 1, 2",
    }
    out: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            for name, sql in queries.items():
                out[name] = [tuple(r) for r in conn.execute(sa.text(sql))]
            if engine.dialect.name == "postgresql":
                out["partitions"] = [
                    tuple(r)
                    for r in conn.execute(
                        sa.text(
                            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_indexes x "
                            "WHERE x.tablename = c.relname AND x.indexname LIKE '%_officer_ts') "
                            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = 'pings'::regclass ORDER BY 1"
                        )
                    )
                ]
    finally:
        engine.dispose()
    return out


REFERENCE = (
    ("stations", "stations.geojson"),
    ("officers", "officers.csv"),
    ("devices", "devices.csv"),
    ("badges", "badges.csv"),
    ("roster", "roster.csv"),
    ("overtime", "overtime.csv"),
)


def import_in_process(url: str, directory: Path, kinds: tuple[tuple[str, str], ...]) -> None:
    """Import files as `rollcall import` does, in this process (no start-up cost): the steps
    no fault is injected into."""
    from intake.pipeline import ingest_file
    from rules.policy import load_policy
    from store.db import session_factory

    engine = make_engine(url)
    try:
        for kind, name in kinds:
            report = ingest_file(
                session_factory(engine),
                kind,
                directory / name,
                tz="Europe/London",
                policy=load_policy(),
                now=datetime.now(UTC),
            )
            assert report.counts["rejected"] == 0, report.errors[:3]
    finally:
        engine.dispose()


def import_reference(url: str, directory: Path) -> None:
    import_in_process(url, directory, REFERENCE)
