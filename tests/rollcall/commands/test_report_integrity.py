"""`rollcall report roster-integrity` shows the leads the nightly run closing a month raises."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from rollcall.cli import app
from rollcall.settings import get_settings
from store.audit import entries
from tests.jobs.test_integrity import EXPECTED, flags, loaded  # noqa: F401 - fixture


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_report_raises_prints_and_audits(cli: CliRunner, loaded: sessionmaker[Session]) -> None:  # noqa: F811
    period = ["--from", "2026-03-01", "--to", "2026-03-31"]
    result = cli.invoke(app, ["report", "roster-integrity", *period, "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    got = sorted((f["code"], f["officer_id"], f["date"]) for f in doc["findings"])
    assert got == sorted((c, o, d.isoformat()) for c, o, d, _ in EXPECTED)
    assert doc["paid_hours"] > 0
    assert flags(loaded) == []  # a report writes no flag
    with loaded() as session:
        reads, _ = entries(session, action="read.roster_integrity")
    assert len(reads) == 1
    assert reads[0].detail is not None
    assert reads[0].detail["findings"] == 6
    table = cli.invoke(app, ["report", "roster-integrity", *period])
    assert table.exit_code == 0, table.output
    assert "ROSTER_EDIT_CLUSTER" in table.output


def test_nightly_closing_the_month_raises_them(
    cli: CliRunner,
    loaded: sessionmaker[Session],  # noqa: F811
) -> None:
    result = cli.invoke(app, ["nightly", "--date", "2026-03-31"])
    assert result.exit_code == 0, result.output
    assert flags(loaded) == EXPECTED
