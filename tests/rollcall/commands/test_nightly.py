"""`rollcall nightly`, `jobs` and `purge`: summaries readable at 80 columns in a pipe or as JSON,
and the purge's progress per audit batch on stderr with its summary on stdout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from rollcall import wallclock
from rollcall.cli import app
from rollcall.settings import get_settings
from store import audit
from store.db import session_factory, transaction
from tests.jobs.conftest import factory, policy, small_force  # noqa: F401 - fixtures

ROLLCALL = str(Path(sys.executable).with_name("rollcall"))


def test_purge_reports_each_audit_batch(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    old = wallclock.utc_now() - timedelta(days=800)
    with transaction(session_factory(engine)) as session:
        for i in range(4):
            at = old + timedelta(days=i) if i < 3 else None
            audit.append(session, actor="a", role="auditor", action="read.audit", at=at)
    result = CliRunner().invoke(app, ["purge"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "audit log: entries 1..3 removed, marker entry 5; 0 to go" in result.stderr
    assert "entries 1..3 removed (" in result.stdout
    with session_factory(engine)() as session:
        chain = audit.verify_chain(session, retention_days=730)
    assert (chain.ok, chain.anchor_seq, chain.entries) == (True, 3, 2)


def _piped(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``rollcall ARGS`` as a real process whose stdout is a pipe, with COLUMNS unset."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k != "COLUMNS" and (not k.startswith("ROLLCALL_") or k == "ROLLCALL_TEST_PG_URL")
    }
    environ["ROLLCALL_DATABASE_URL"] = db_url
    return subprocess.run(
        [ROLLCALL, *args], env=environ, capture_output=True, text=True, timeout=300, check=False
    )


def test_nightly_summary_and_jobs_read_at_80_columns_or_as_json(
    db_url: str,
    factory: sessionmaker[Session],  # noqa: F811
) -> None:
    table = _piped(db_url, "nightly", "--date", "2026-10-24")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    [row] = [line for line in lines if line.startswith("2026-10-24 ")]
    cells = row.split()  # every number whole: none cut short or folded onto another line
    assert len(cells) == 9
    assert all(re.fullmatch(r"[1-9][\d,]*|0", cell) for cell in cells[1:5]), row
    assert re.fullmatch(r"\d+\.\d", cells[8]), row

    document = _piped(db_url, "nightly", "--date", "2026-10-25", "--format", "json")
    assert document.returncode == 0, document.stderr
    summary = json.loads(document.stdout)
    [day] = summary["days"]
    assert day["day"] == "2026-10-25"
    assert day["officers"] > 0
    assert day["daily_rows"] > 0
    assert summary["policy_version"]
    assert summary["run_id"] > 0

    runs = _piped(db_url, "jobs")
    assert runs.returncode == 0, runs.stderr
    lines = runs.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    newest = next(line for line in lines if line.split()[:1] == [str(summary["run_id"])])
    assert newest.split()[1:3] == ["nightly", "ok"]
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", newest)

    listed = json.loads(_piped(db_url, "jobs", "--format", "json").stdout)
    assert [(r["run_id"], r["job"], r["outcome"]) for r in listed[:1]] == [
        (summary["run_id"], "nightly", "ok")
    ]
    assert listed[0]["params"]["from"] == "2026-10-25"
