"""The service commands: token and audit verify (serve is exercised by the bench)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from typer.testing import CliRunner

from rollcall import wallclock
from rollcall.cli import app
from rollcall.settings import get_settings
from store import audit
from store.db import session_factory, transaction

SECRET = "cli-test-secret-0123456789abcdefghij"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLCALL_JWT_SECRET", SECRET)
    result = runner.invoke(
        app,
        ["token", "--role", "officer", "--sub", "pc1", "--officer-id", "O1", "--ttl-minutes", "5"],
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert (claims["role"], claims["sub"], claims["officer_id"]) == ("officer", "pc1", "O1")
    assert claims["exp"] - claims["iat"] == 300
    assert runner.invoke(app, ["token", "--role", "officer", "--sub", "x"]).exit_code == 2
    assert runner.invoke(app, ["token", "--role", "king", "--sub", "x"]).exit_code == 2


def test_token_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLCALL_JWT_SECRET", raising=False)
    result = runner.invoke(app, ["token", "--role", "hr", "--sub", "x"])
    assert result.exit_code == 2
    assert "ROLLCALL_JWT_SECRET" in result.output


def test_audit_verify(engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    with transaction(session_factory(engine)) as session:
        for i in range(3):
            audit.append(session, actor="a", role="auditor", action="read.audit", detail={"i": i})
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "3 entries" in ok.stdout
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET purpose = 'covered up' WHERE seq = 2"))
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "seq 2" in bad.output


def test_audit_verify_after_a_purge(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    old = wallclock.utc_now() - timedelta(days=800)
    with transaction(session_factory(engine)) as session:
        for i in range(3):
            at = old + timedelta(days=i) if i < 2 else None
            audit.append(session, actor="a", role="auditor", action="read.audit", at=at)
    purged = runner.invoke(app, ["purge"])
    assert purged.exit_code == 0, purged.output
    assert "entries 1..2 removed" in purged.stdout
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "2 entries after the recorded purge of seq 1..2" in ok.stdout
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 3"))
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "entry 3 is missing" in bad.output


def test_serve_refuses_a_bad_public_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("ROLLCALL_JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----\nnot a key")
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "ROLLCALL_JWT_PUBLIC_KEY" in result.output
