"""`rollcall serve --dev-login`: refused with the identity provider's key or several workers."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollcall.cli import app
from rollcall.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.delenv("ROLLCALL_JWT_PUBLIC_KEY", raising=False)
    get_settings.cache_clear()


def test_dev_login_is_refused_with_the_identity_providers_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROLLCALL_JWT_PUBLIC_KEY", "/etc/rollcall/idp.pem")
    result = runner.invoke(app, ["serve", "--port", "1", "--dev-login"])
    assert result.exit_code == 2
    assert "--dev-login is refused while ROLLCALL_JWT_PUBLIC_KEY is set" in result.output


def test_dev_login_runs_with_one_worker() -> None:
    result = runner.invoke(app, ["serve", "--port", "1", "--dev-login", "--workers", "2"])
    assert result.exit_code == 2
    assert "--dev-login runs with one worker" in result.output
