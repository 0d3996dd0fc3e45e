"""Reaching a Dask scheduler: an unreachable one, or a tls:// one without certificates, ends
`rollcall nightly --scheduler` with one line saying what to do."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.executors import SchedulerUnreachable, connect_scheduler
from rollcall.cli import app
from rollcall.settings import get_settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # nothing listens on it once closed


def test_tls_scheduler_needs_all_three_files(tmp_path: Path) -> None:
    with pytest.raises(SchedulerUnreachable, match="ROLLCALL_DASK_TLS_CA_FILE"):
        connect_scheduler("tls://127.0.0.1:8786")
    missing = tmp_path / "ca.pem"
    with pytest.raises(SchedulerUnreachable, match=f"{missing} does not exist"):
        connect_scheduler(
            "tls://127.0.0.1:8786", ca_file=missing, cert_file=missing, key_file=missing
        )
    with pytest.raises(SchedulerUnreachable, match="is not tls://"):
        connect_scheduler("tcp://127.0.0.1:8786", ca_file=missing)


def test_unreachable_scheduler_is_one_line(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    monkeypatch.setenv("ROLLCALL_DASK_CONNECT_TIMEOUT_S", "2")
    get_settings.cache_clear()
    started = time.monotonic()
    try:
        result = CliRunner().invoke(
            app, ["nightly", "--date", "2026-10-24", "--scheduler", address]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot reach the Dask scheduler at {address} within 2 s")
    assert "start it (dask scheduler)" in lines[0]
    assert "Traceback" not in result.output
    assert time.monotonic() - started < 60
