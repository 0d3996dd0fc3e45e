"""The fairness report over HTTP and the command line, and the devices.csv platform it groups by."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from intake.pipeline import ingest_frame
from rollcall.cli import app
from rollcall.settings import get_settings
from rules.policy import load_policy
from store.db import transaction
from store.models import DeviceAssignment
from tests.api.helpers import TZ, Api

PERIOD = {"from": "2026-10-05", "to": "2026-10-07"}


def _platforms(api: Api) -> None:
    rows = [
        {
            "device_id": "D1",
            "officer_id": "O1",
            "valid_from": "2026-06-01T00:00:00Z",
            "platform": "ios",
        },
        {
            "device_id": "D9",
            "officer_id": "O2",
            "valid_from": "2026-06-01T00:00:00Z",
            "platform": "blackberry",
        },
    ]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.Utf8))
    with transaction(api.factory) as session:
        report = ingest_frame(
            session, "devices", frame, tz=TZ, policy=load_policy(), now=datetime.now(UTC)
        )
    assert report.counts["accepted"] == 1
    assert [(e.row, e.column) for e in report.errors] == [(2, "platform")]
    with api.factory() as session:
        stored = session.scalars(
            select(DeviceAssignment.platform).where(DeviceAssignment.device_id == "D1")
        ).all()
    assert set(stored) == {None, "ios"}  # the first assignment (no platform) and the new one


def test_fairness_over_http(world: Api) -> None:
    _platforms(world)
    r = world.client.get("/v1/fairness", params=PERIOD, headers=world.headers("auditor"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["from"], report["to"], report["min_count"]) == ("2026-10-05", "2026-10-07", 10)
    assert report["force"]["flag_rate"] == {
        "count": 1,
        "of": 3,
        "rate": None,
        "low": None,
        "high": None,
        "shown_as": "counts",
    }
    assert [(x["code"], x["raised"], x["reviewed"]) for x in report["rules"]] == [
        ("BELOW_OFFICE_SHARE", 1, 0),
        ("IMPOSSIBLE_TRAVEL", 1, 0),
        ("MOCK_LOCATION", 1, 0),
    ]
    groups = report["groups"]
    assert [(g["group"], g["officer_days"], g["flagged_days"]) for g in groups["unit"]] == [
        ("Unit A", 3, 1)
    ]
    assert [(g["group"], g["flagged_days"]) for g in groups["platform"]] == [("ios", 1)]
    assert [(g["group"], g["officer_days"]) for g in groups["shift_pattern"]] == [
        ("day", 1),
        (None, 2),
    ]
    assert [
        (u["unit"], u["below_share"]["count"], u["below_share"]["of"])
        for u in report["below_office_share_by_unit"]
    ] == [("Unit A", 1, 1), ("Unit B", 0, 1)]
    assert "O1" not in r.text  # aggregates only
    inv = world.client.get("/v1/fairness", params=PERIOD, headers=world.headers("investigator"))
    assert inv.json() == report
    for role in ("hr", "officer", "admin", "ingest"):
        headers = world.headers(role, "O1" if role == "officer" else None)
        assert world.client.get("/v1/fairness", params=PERIOD, headers=headers).status_code == 403
    backwards = world.client.get(
        "/v1/fairness",
        params={"from": "2026-10-07", "to": "2026-10-05"},
        headers=world.headers("auditor"),
    )
    assert backwards.status_code == 400


def test_fairness_on_the_command_line(
    world: Api, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        cli = CliRunner()
        args = ["report", "fairness", "--from", PERIOD["from"], "--to", PERIOD["to"]]
        out = cli.invoke(app, [*args, "--format", "json"])
        assert out.exit_code == 0, out.output
        report = json.loads(out.stdout)
        table = cli.invoke(app, args)
        assert table.exit_code == 0, table.output
    finally:
        get_settings.cache_clear()
    assert report["force"]["flagged_days"] == 1
    assert "1 of 3" in table.stdout
    assert "MOCK_LOCATION" in table.stdout
