"""Every command-line read of people's data is audited, probes of unknown officer ids too."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from rollcall.cli import app
from rollcall.settings import get_settings
from store import audit
from store.models import AuditEntry, DailyResult, Flag, Officer

PERIOD = ["--from", "2026-10-05", "--to", "2026-10-06"]


@pytest.fixture
def cli(db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    now = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        session.add(Officer(officer_id="O1", unit="Unit A", office_based=True, updated_at=now))
        session.add(
            DailyResult(
                officer_id="O1",
                day=date(2026, 10, 5),
                expected_office=True,
                declared_location="office",
                verified_presence_minutes=300.0,
                verified_office_day=True,
                evidence="adequate",
                policy_version="p",
                run_id=None,
                computed_at=now,
                details=None,
            )
        )
        session.add(
            Flag(
                flag_id="f-1",
                fingerprint="fp-1",
                officer_id="O1",
                code="MOCK_LOCATION",
                day=date(2026, 10, 5),
                status="open",
                misconduct=True,
                summary="MOCK_LOCATION",
                evidence={"fixes": 4},
                rule_version="r1",
                policy_version="p",
                raised_at=now,
                last_seen_at=now,
                withdrawn_at=None,
            )
        )
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _log(engine: Engine) -> list[AuditEntry]:
    with Session(engine) as session:
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


@pytest.mark.parametrize(
    ("args", "action", "detail"),
    [
        (["report", "compliance", *PERIOD, "--format", "json"], "read.compliance", {"rows": 1}),
        (["report", "days", *PERIOD, "--format", "json"], "read.days", {"rows": 1}),
        (["flags", "--format", "json"], "read.flags", {"flags": 1, "officers": 1}),
    ],
)
def test_every_report_command_is_audited(
    cli: CliRunner, engine: Engine, args: list[str], action: str, detail: dict[str, int]
) -> None:
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "O1" in result.stdout
    [entry] = _log(engine)
    assert (entry.actor, entry.role, entry.action) == (getpass.getuser(), "cli", action)
    assert entry.detail is not None
    assert {k: entry.detail[k] for k in detail} == detail
    with Session(engine) as session:
        assert audit.verify_chain(session).ok


def test_a_probe_of_an_unknown_officer_is_audited(cli: CliRunner, engine: Engine) -> None:
    result = cli.invoke(app, ["report", "officer", "O-NOBODY", *PERIOD, "--case-ref", "C-9"])
    assert result.exit_code == 1
    assert "no officer" in result.output
    [entry] = _log(engine)
    assert (entry.action, entry.officer_id, entry.case_ref) == ("access.refused", "O-NOBODY", "C-9")
    assert entry.detail == {
        "command": "report officer",
        "status": "not_found",
        "reason": "no such officer",
    }
    found = cli.invoke(app, ["report", "officer", "O1", *PERIOD, "--format", "json"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["officer_id"] == "O1"
    assert [e.action for e in _log(engine)] == ["access.refused", "read.attendance"]
