"""``rollcall flags``: the list with the API's filters, ``show`` and ``review`` (two people
substantiate), each recorded in the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from rollcall.cli import app
from rollcall.settings import get_settings
from store.db import make_engine, session_factory, transaction
from store.models import AuditEntry, Flag, FlagResponse

DAY = date(2026, 10, 5)


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    engine = make_engine(db_url)
    now = datetime.now(UTC)
    with transaction(session_factory(engine)) as session:
        for flag_id, officer, code, misconduct in (
            ("f-1", "O1", "MOCK_LOCATION", True),
            ("f-2", "O1", "BELOW_OFFICE_SHARE", False),
            ("f-3", "O2", "IMPOSSIBLE_TRAVEL", True),
        ):
            session.add(
                Flag(
                    flag_id=flag_id,
                    fingerprint=f"fp-{flag_id}",
                    officer_id=officer,
                    code=code,
                    day=DAY,
                    status="open",
                    misconduct=misconduct,
                    summary=f"{code} on {DAY}",
                    evidence={"events": 4},
                    rule_version="r1",
                    policy_version="p-test",
                    raised_at=now,
                    last_seen_at=now,
                    withdrawn_at=None,
                )
            )
        session.flush()
        session.add(
            FlagResponse(
                flag_id="f-1",
                officer_id="O1",
                at=now,
                actor="pc.smith",
                category="device_problem",
                statement="Test app installed by IT.",
            )
        )
    engine.dispose()
    yield CliRunner()
    get_settings.cache_clear()


def _text(output: str) -> str:
    """Output with the terminal's line wrapping undone."""
    return " ".join(output.split())


def _as(monkeypatch: pytest.MonkeyPatch, user: str) -> None:
    monkeypatch.setenv("LOGNAME", user)


def test_filters_show_and_two_person_review(
    cli: CliRunner, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as(monkeypatch, "det.a")
    listed = json.loads(
        cli.invoke(app, ["flags", "--officer", "O1", "--misconduct", "--format", "json"]).stdout
    )
    assert [(f["flag_id"], f["responded"]) for f in listed] == [("f-1", True)]
    compliance = json.loads(cli.invoke(app, ["flags", "--compliance", "--format", "json"]).stdout)
    assert [f["flag_id"] for f in compliance] == ["f-2"]

    args = ["flags", "review", "f-1", "--status", "substantiated", "--case-ref", "CASE-9"]
    first = cli.invoke(app, [*args, "--note", "mock app on duty"])
    assert first.exit_code == 0, first.output
    assert "another investigator must confirm" in _text(first.stdout)
    again = cli.invoke(app, [*args, "--note", "me again"])
    assert again.exit_code == 1
    assert "another investigator must confirm it" in _text(again.stderr)
    _as(monkeypatch, "det.b")
    second = cli.invoke(app, [*args, "--note", "agreed"])
    assert second.exit_code == 0, second.output
    assert "under_review -> substantiated (confirmation)" in _text(second.stdout)

    shown = cli.invoke(app, ["flags", "show", "f-1", "--format", "json", "--case-ref", "CASE-9"])
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["flag"]["status"] == "substantiated"
    assert record["flag"]["last_reviewer"] == "det.b"
    assert [(r["actor"], r["kind"], r["case_ref"]) for r in record["reviews"]] == [
        ("det.a", "proposal", "CASE-9"),
        ("det.b", "confirmation", "CASE-9"),
    ]
    assert [a["statement"] for a in record["responses"]] == ["Test app installed by IT."]
    table = cli.invoke(app, ["flags", "show", "f-1"])
    assert table.exit_code == 0
    assert "agreed" in table.stdout
    assert "pc.smith" in table.stdout
    missing = cli.invoke(app, ["flags", "show", "nope"])
    assert missing.exit_code == 1
    assert "no flag 'nope'" in _text(missing.stderr)

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        audited = [
            (e.action, e.actor, e.case_ref, e.officer_id)
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))
        ]
    engine.dispose()
    assert audited == [
        ("read.flags", "det.a", None, "O1"),
        ("read.flags", "det.a", None, None),
        ("flag.review", "det.a", "CASE-9", "O1"),
        ("flag.review", "det.b", "CASE-9", "O1"),
        ("read.flag", "det.b", "CASE-9", "O1"),
        ("read.flag", "det.b", None, "O1"),
        ("access.refused", "det.b", None, None),
    ]


def test_dismissal_by_one(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    _as(monkeypatch, "det.c")
    result = cli.invoke(
        app,
        ["flags", "review", "f-3", "--status", "dismissed", "--note", "n", "--case-ref", "C-1"],
    )
    assert result.exit_code == 0, result.output
    assert "open -> dismissed (change)" in _text(result.stdout)
    bad = cli.invoke(
        app, ["flags", "review", "f-3", "--status", "closed", "--note", "n", "--case-ref", "C-1"]
    )
    assert bad.exit_code == 2
    assert "status must be one of" in _text(bad.stderr)
