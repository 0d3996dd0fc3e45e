"""The demo end to end on a small force: builds, computes and shows an officer with planted flags."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from rollcall.cli import app
from rollcall.settings import get_settings


@pytest.mark.slow
def test_demo_command(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLLCALL_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    result = CliRunner().invoke(
        app, ["demo", "--database", db_url, "--officers", "20", "--days", "3"]
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "What HR looks at first" in out
    assert "What an investigator looks at first" in out
    assert "Office attendance 2026-10-01 to 2026-10-03" in out
    assert "rollcall serve" in out
    assert "rollcall token --role hr --sub you" in out
    assert "ROLLCALL_EXPORT_KEY_FILE" in out
    assert "rollcall timeline verify export.json" in out
    assert "Flags (leads for a reviewer" in out
    assert "rollcall serve --dev-login" in out
    assert "http://127.0.0.1:8000/app/login" in out
