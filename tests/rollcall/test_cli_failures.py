"""Failing commands, run as real processes: one line saying what is wrong and what to do."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.signing import generate_key_file
from store.db import make_engine
from tests.intake.helpers import OFFICERS

ROLLCALL = str(Path(sys.executable).with_name("rollcall"))


def rollcall(
    url: str, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ROLLCALL_") or k == "ROLLCALL_TEST_PG_URL"
    }
    environ.update(ROLLCALL_DATABASE_URL=url, **env)
    return subprocess.run(
        [ROLLCALL, *args], env=environ, capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    result = rollcall(f"sqlite:///{path}", "jobs")
    assert result.returncode == 1
    assert one_line(result).startswith(
        f"error: no database file at {path}: run `rollcall db upgrade`"
    )
    assert not path.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["audit", "checkpoint", "--out", "{tmp}/checkpoints.jsonl", "--key", "{tmp}/key.pem"],
        ["timeline", "show", "O1", "--from", "2026-10-05", "--to", "2026-10-06"],
    ],
    ids=["audit-checkpoint", "timeline-show"],
)
def test_every_command_refuses_a_missing_sqlite_file(tmp_path: Path, args: list[str]) -> None:
    generate_key_file(tmp_path / "key.pem")
    path = tmp_path / "nowhere.db"
    result = rollcall(f"sqlite:///{path}", *(a.format(tmp=tmp_path) for a in args))
    assert result.returncode == 1
    assert one_line(result).startswith(
        f"error: no database file at {path}: run `rollcall db upgrade`"
    )
    assert not path.exists()
    assert not (tmp_path / "checkpoints.jsonl").exists()


def test_an_unreachable_server_is_one_line() -> None:
    result = rollcall("postgresql+psycopg://nobody@127.0.0.1:1/none", "jobs")
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith("error: cannot reach the database:")
    assert "check ROLLCALL_DATABASE_URL" in line


def test_a_database_without_the_schema_says_to_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("DROP TABLE job_runs" + (" CASCADE" if "postgresql" in db_url else ""))
        )
    engine.dispose()
    result = rollcall(db_url, "jobs")
    assert result.returncode == 1
    assert one_line(result) == (
        "error: the database has no Rollcall schema or an older one; run `rollcall db upgrade` first"
    )


def _hold_write_lock(db_url: str, held: threading.Event, release: threading.Event) -> None:
    engine = make_engine(db_url)
    with engine.connect() as conn:
        if "postgresql" in db_url:
            conn.execute(sa.text("BEGIN"))
            conn.execute(sa.text("LOCK TABLE officers IN ACCESS EXCLUSIVE MODE"))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        conn.rollback()
    engine.dispose()


def test_an_import_blocked_by_a_lock_gives_up_after_the_timeout(
    db_url: str, tmp_path: Path
) -> None:
    officers = tmp_path / "officers.csv"
    officers.write_text(OFFICERS)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(db_url, held, release))
    holder.start()
    try:
        assert held.wait(10)
        t0 = time.monotonic()
        result = rollcall(
            db_url, "import", "officers", str(officers), ROLLCALL_DB_LOCK_TIMEOUT_S="1"
        )
        waited = time.monotonic() - t0
    finally:
        release.set()
        holder.join()
    assert result.returncode == 1
    assert "gave up after waiting 1 s for" in one_line(result)
    assert waited < 60  # process start-up included; without the timeout it waited for ever
    # Once the lock is gone the same command goes through.
    again = rollcall(db_url, "import", "officers", str(officers))
    assert again.returncode == 0, again.stderr
