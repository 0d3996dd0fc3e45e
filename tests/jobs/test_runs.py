"""Job runs left "running" by a process that is gone are found and marked abandoned."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from jobs.nightly import run_nightly
from jobs.runs import Heartbeat, current_owner, process_gone, reap_abandoned
from rollcall import wallclock
from rollcall.cli import app
from rollcall.settings import get_settings
from rules.policy import Policy
from store import job_runs
from store.db import session_factory, transaction
from store.job_runs import Owner, finish_run, start_run
from store.migrate import alembic_config, upgrade
from store.models import DailyResult, JobRun
from store.types import DOCUMENT, Instant
from tests.jobs.conftest import RUN_AT, START, TZ

REPO = Path(__file__).resolve().parents[2]
# A nightly run that stops for good in the middle of its first day's write, after saying so.
CHILD = """
import sys, time
from datetime import date
from jobs.nightly import run_nightly
from rules.policy import load_policy
from store.db import make_engine, session_factory

def hang(stage):
    if stage == "daily":
        print("writing", flush=True)
        time.sleep(600)

factory = session_factory(make_engine(sys.argv[1]))
run_nightly(factory, date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[2]),
            policy=load_policy(), tz="Europe/London", stage_hook=hang)
"""


def _run(factory: sessionmaker[Session], run_id: int) -> JobRun:
    with factory() as s:
        run = s.get(JobRun, run_id)
        assert run is not None
        return run


@pytest.mark.slow
def test_a_run_killed_mid_write_is_marked_abandoned_by_the_next_run(
    factory: sessionmaker[Session], policy: Policy, db_url: str
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, START.isoformat()],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([child.stdout], [], [], 300)
        assert ready, "the child run never reached its write"
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "writing"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=60)
    with factory() as s:
        left = s.scalars(sql_select(JobRun)).one()
        assert s.scalar(sql_select(func.count()).select_from(DailyResult)) == 0
    assert (left.outcome, left.owner_pid, left.finished_at) == ("running", child.pid, None)
    assert left.owner_host == current_owner().host

    report = run_nightly(factory, START, START, policy=policy, tz=TZ, clock=lambda: RUN_AT)
    assert report.abandoned_runs == [left.run_id]
    dead = _run(factory, left.run_id)
    assert dead.outcome == "abandoned"
    assert dead.error == f"abandoned: its process {left.owner_host}:{child.pid} has ended"
    assert dead.finished_at == RUN_AT
    assert _run(factory, report.run_id).outcome == "ok"


def _start(
    factory: sessionmaker[Session], owner: Owner | None, *, started: datetime, beat: datetime
) -> int:
    with transaction(factory) as s:
        run_id = start_run(s, job="nightly", params={}, policy_version="p", now=started)
        if owner is not None:
            job_runs.set_owner(s, run_id, owner, now=beat)
    return run_id


def test_stale_or_dead_owners_are_abandoned_live_ones_kept(engine: Engine) -> None:
    factory = session_factory(engine)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    fresh, stale = now - timedelta(minutes=2), now - timedelta(minutes=11)
    me = current_owner()
    elsewhere = Owner("another-host", me.pid, None)
    reused = Owner(me.host, me.pid, "another-boot/123")
    kept = {
        "live here": _start(factory, me, started=stale, beat=fresh),
        "elsewhere, beating": _start(factory, elsewhere, started=stale, beat=fresh),
        "no owner, just started": _start(factory, None, started=fresh, beat=fresh),
    }
    gone = {
        "elsewhere, silent": _start(factory, elsewhere, started=stale, beat=stale),
        "pid reused": _start(factory, reused, started=fresh, beat=fresh),
        "no owner, old": _start(factory, None, started=stale, beat=stale),
    }
    finished = _start(factory, Owner(me.host, 0x7FFFFFF0, None), started=stale, beat=stale)
    with transaction(factory) as s:
        finish_run(s, finished, outcome="ok", counts={}, now=fresh)

    assert reap_abandoned(factory, now=now) == sorted(gone.values())
    for name, run_id in kept.items():
        assert _run(factory, run_id).outcome == "running", name
    for run_id in gone.values():
        assert _run(factory, run_id).outcome == "abandoned"
    assert _run(factory, gone["elsewhere, silent"]).error == (
        "abandoned: no heartbeat since 2026-11-23T01:49:00+00:00 (stale after 600 s)"
    )
    assert _run(factory, gone["pid reused"]).error == (
        f"abandoned: its process {me.host}:{me.pid} has ended"
    )
    assert _run(factory, finished).outcome == "ok"
    assert reap_abandoned(factory, now=now) == []


def test_process_gone() -> None:
    me = current_owner()
    assert process_gone(me) is False
    assert process_gone(Owner("another-host", me.pid, None)) is None
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert process_gone(Owner(me.host, done.pid, None)) is True


def test_heartbeat_moves_while_running(engine: Engine) -> None:
    factory = session_factory(engine)
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    ticks = iter(start + timedelta(seconds=i) for i in range(1, 10_000))
    run_id = _start(factory, current_owner(), started=start, beat=start)
    beat = Heartbeat(factory, run_id, clock=lambda: next(ticks), interval=timedelta(seconds=0.02))
    beat.start()
    deadline = time.monotonic() + 30
    while _run(factory, run_id).heartbeat_at == start and time.monotonic() < deadline:
        time.sleep(0.02)
    with transaction(factory) as s:
        finish_run(s, run_id, outcome="ok", counts={}, now=start)
    beat.stop()
    last = _run(factory, run_id).heartbeat_at
    assert last is not None
    assert last > start
    time.sleep(0.1)
    assert _run(factory, run_id).heartbeat_at == last  # stopped; and a finished run never beats
    with transaction(factory) as s:
        assert job_runs.beat(s, run_id, now=start + timedelta(days=1)) is False


@pytest.fixture
def cli_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def test_rollcall_jobs_lists_and_marks_abandoned(cli_db: str, engine: Engine) -> None:
    factory = session_factory(engine)
    long_ago = wallclock.utc_now() - timedelta(hours=3)  # the command's clock
    silent = _start(factory, Owner("another-host", 1, None), started=long_ago, beat=long_ago)
    result = CliRunner().invoke(app, ["jobs", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["run_id"], r["outcome"], r["owner"]) for r in rows] == [
        (silent, "abandoned", "another-host:1")
    ]
    assert _run(factory, silent).outcome == "abandoned"
    table = CliRunner().invoke(app, ["jobs"])
    assert table.exit_code == 0, table.output
    assert "abandoned" in table.stdout
    assert f"run {silent}: abandoned: no heartbeat since" in table.stdout


def test_runs_recorded_before_the_migration_are_reaped_after_it(
    engine: Engine, db_url: str
) -> None:
    config = alembic_config(db_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    assert "heartbeat_at" not in {c["name"] for c in sa.inspect(engine).get_columns("job_runs")}
    old_runs = sa.table(
        "job_runs",
        sa.column("job"),
        sa.column("started_at", Instant()),
        sa.column("params", DOCUMENT),
        sa.column("outcome"),
    )
    started = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(old_runs).values(
                job="nightly", started_at=started, params={}, outcome="running"
            )
        )
    upgrade(engine)
    factory = session_factory(engine)
    (run_id,) = reap_abandoned(factory, now=started + timedelta(hours=1))
    assert _run(factory, run_id).error == (
        "abandoned: no heartbeat since 2026-11-22T02:00:00+00:00 (stale after 600 s)"
    )
