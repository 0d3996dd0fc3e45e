"""`rollcall purge` on the audit log: progress per batch on stderr, the summary on stdout."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from rollcall import wallclock
from rollcall.cli import app
from rollcall.settings import get_settings
from store import audit
from store.db import session_factory, transaction


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
