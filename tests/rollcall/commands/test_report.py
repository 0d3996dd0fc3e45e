"""The report and job commands end to end: nightly, report compliance|officer|days, flags, purge."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from rollcall import wallclock
from rollcall.cli import app
from rollcall.settings import get_settings
from store.audit import entries
from tests.jobs.conftest import factory, policy, small_force  # noqa: F401 - fixtures

PERIOD = ["--from", "2026-10-24", "--to", "2026-10-26"]


@pytest.fixture
def cli(
    db_url: str,
    factory: sessionmaker[Session],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[CliRunner]:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_reports(cli: CliRunner, factory: sessionmaker[Session], tmp_path: Path) -> None:  # noqa: F811
    """One nightly run, then every report on it (the nightly run dominates the cost)."""
    result = cli.invoke(app, ["nightly", "--date", "2026-10-24", "--to", "2026-10-26"])
    assert result.exit_code == 0, result.output
    assert "Nightly results" in result.output
    check_compliance(cli)
    check_compliance_xlsx(cli, tmp_path)
    check_officer_report(cli, factory)
    check_days_export(cli, tmp_path)
    check_flags(cli)


def check_compliance(cli: CliRunner) -> None:
    result = cli.invoke(app, ["report", "compliance", *PERIOD, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows
    assert set(rows[0]) >= {
        "officer_id",
        "unit",
        "expected_office_days",
        "declared_office_days",
        "verified_office_days",
        "verified_office_share",
        "meets_policy",
        "insufficient_evidence_days",
    }
    unit = rows[0]["unit"]
    only = json.loads(
        cli.invoke(
            app, ["report", "compliance", *PERIOD, "--unit", unit, "--format", "json"]
        ).stdout
    )
    assert {r["unit"] for r in only} == {unit}
    assert all(r["display_name"] and r["rank"] for r in rows)
    csv_out = cli.invoke(app, ["report", "compliance", *PERIOD, "--format", "csv"]).stdout
    assert csv_out.splitlines()[0].startswith("officer_id,display_name,rank,unit,")
    assert len(csv_out.splitlines()) == len(rows) + 1
    meets = {r["meets_policy"] for r in csv.DictReader(io.StringIO(csv_out))}
    assert meets <= {"true", "false"}
    assert meets
    table = cli.invoke(app, ["report", "compliance", *PERIOD])
    assert table.exit_code == 0
    assert "officers" in table.stdout
    assert "%" in table.stdout
    check_filters(cli, rows)


def check_filters(cli: CliRunner, rows: list[dict[str, object]]) -> None:
    unit, rank = str(rows[0]["unit"]), str(rows[0]["rank"])
    upper = json.loads(
        cli.invoke(
            app, ["report", "compliance", *PERIOD, "--unit", unit.upper(), "--format", "json"]
        ).stdout
    )
    assert [r["officer_id"] for r in upper] == [r["officer_id"] for r in rows if r["unit"] == unit]
    ranked = json.loads(
        cli.invoke(
            app, ["report", "compliance", *PERIOD, "--rank", rank.lower(), "--format", "json"]
        ).stdout
    )
    assert [r["officer_id"] for r in ranked] == [r["officer_id"] for r in rows if r["rank"] == rank]
    unknown = cli.invoke(app, ["report", "compliance", *PERIOD, "--unit", unit[:-1] + "#"])
    assert unknown.exit_code == 2
    assert f"unknown unit '{unit[:-1]}#'" in unknown.output
    assert unit in unknown.output
    by_unit = json.loads(
        cli.invoke(
            app, ["report", "compliance", *PERIOD, "--by", "unit", "--format", "json"]
        ).stdout
    )
    assert sorted(u["unit"] for u in by_unit) == sorted({str(r["unit"]) for r in rows})
    mine = next(u for u in by_unit if u["unit"] == unit)
    members = [r for r in rows if r["unit"] == unit]
    assert mine["officers"] == len(members)
    assessed = sorted(
        float(str(r["verified_office_share"]))
        for r in members
        if r["verified_office_share"] is not None
    )
    assert mine["officers_assessed"] == len(assessed)
    if assessed:
        assert mine["median_share"] == pytest.approx(
            float(pl.Series(assessed).median() or 0), abs=1e-4
        )
    table = cli.invoke(app, ["report", "compliance", *PERIOD, "--by", "unit"])
    assert table.exit_code == 0
    assert unit in table.stdout


def check_compliance_xlsx(cli: CliRunner, tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "units.xlsx"
    assert cli.invoke(app, ["report", "compliance", *PERIOD, "--format", "xlsx"]).exit_code == 2
    result = cli.invoke(
        app,
        ["report", "compliance", *PERIOD, "--by", "unit", "--format", "xlsx", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["units", "officers"]
    units, officers = book["units"], book["officers"]
    assert units.freeze_panes == "A2"
    header = [c.value for c in next(units.iter_rows(max_row=1))]
    assert header[:3] == ["unit", "officers", "officers_assessed"]
    # A workbook stores every number as a double: whole-number columns carry the format "0".
    counts = [row[1] for row in units.iter_rows(min_row=2)]
    assert counts
    assert all(c.data_type == "n" and c.number_format == "0" for c in counts)
    assert all(float(c.value).is_integer() for c in counts)
    officer_header = [c.value for c in next(officers.iter_rows(max_row=1))]
    meets = officer_header.index("meets_policy")
    assert {type(r[meets]) for r in officers.iter_rows(min_row=2, values_only=True)} == {bool}


def check_officer_report(cli: CliRunner, factory: sessionmaker[Session]) -> None:  # noqa: F811
    result = cli.invoke(
        app, ["report", "officer", "O00011", *PERIOD, "--format", "json", "--case-ref", "PSD-1"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [d["date"] for d in report["days"]] == ["2026-10-24", "2026-10-25", "2026-10-26"]
    assert set(report["days"][0]) == {
        "date",
        "expected_office",
        "declared_location",
        "verified_presence_minutes",
        "verified_office_day",
        "evidence",
        "adjustments",
    }
    assert "MOCK_LOCATION" in {f["code"] for f in report["flags"]}
    assert '"lat"' not in result.stdout
    with factory() as s:
        audited, _ = entries(s, officer_id="O00011")
    assert [(e.role, e.action, e.case_ref) for e in audited] == [
        ("cli", "read.attendance", "PSD-1")
    ]
    assert cli.invoke(app, ["report", "officer", "O00011", *PERIOD]).exit_code == 0
    missing = cli.invoke(app, ["report", "officer", "NOPE", *PERIOD])
    assert missing.exit_code == 1


def check_days_export(cli: CliRunner, tmp_path: Path) -> None:
    as_json = json.loads(cli.invoke(app, ["report", "days", *PERIOD, "--format", "json"]).stdout)
    out = tmp_path / "days.parquet"
    result = cli.invoke(
        app, ["report", "days", *PERIOD, "--format", "parquet", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.height == len(as_json)
    assert set(as_json[0]) == {
        "officer_id",
        "date",
        "expected_office",
        "declared_location",
        "verified_presence_minutes",
        "verified_office_day",
        "evidence",
    }
    csv_out = cli.invoke(app, ["report", "days", *PERIOD]).stdout
    assert len(csv_out.splitlines()) == len(as_json) + 1
    assert cli.invoke(app, ["report", "days", *PERIOD, "--format", "parquet"]).exit_code == 2


def check_flags(cli: CliRunner) -> None:
    every = json.loads(cli.invoke(app, ["flags", "--format", "json"]).stdout)
    assert isinstance(every, list)
    assert every
    assert set(every[0]) >= {"flag_id", "officer_id", "code", "date", "status", "evidence"}
    mock = json.loads(
        cli.invoke(app, ["flags", "--code", "MOCK_LOCATION", "--format", "json"]).stdout
    )
    assert mock
    assert {f["code"] for f in mock} == {"MOCK_LOCATION"}
    assert cli.invoke(app, ["flags", "--status", "open"]).exit_code == 0


def test_bad_input_and_purge(cli: CliRunner) -> None:
    assert (
        cli.invoke(
            app, ["report", "compliance", "--from", "yesterday", "--to", "2026-10-26"]
        ).exit_code
        == 2
    )
    assert cli.invoke(app, ["report", "compliance", *PERIOD, "--format", "xml"]).exit_code == 2
    assert cli.invoke(app, ["nightly", "--date", "2026-10-26", "--to", "2026-10-24"]).exit_code == 2
    purge = cli.invoke(app, ["purge"])
    assert purge.exit_code == 0, purge.output
    assert "daily_results" in purge.stdout


def test_timeline_show_in_three_formats_each_read_audited(
    cli: CliRunner,
    factory: sessionmaker[Session],  # noqa: F811
) -> None:
    base = ["timeline", "show", "O00011", "--from", "2026-10-24", "--to", "2026-10-25"]
    as_json = cli.invoke(app, [*base, "--format", "json", "--case-ref", "PSD-9"])
    assert as_json.exit_code == 0, as_json.output
    timeline = json.loads(as_json.stdout)
    assert (timeline["officer_id"], timeline["from"], timeline["to"]) == (
        "O00011",
        "2026-10-24T00:00:00+01:00",
        "2026-10-26T00:00:00+00:00",
    )
    types = {e["type"] for e in timeline["events"]}
    assert {"shift_start", "presence", "off_duty"} <= types
    assert '"lat"' not in as_json.stdout
    geo = json.loads(cli.invoke(app, [*base, "--format", "geojson"]).stdout)
    assert geo["type"] == "FeatureCollection"
    assert [f["properties"] for f in geo["features"]] == timeline["events"]
    presence = next(f for f in geo["features"] if f["properties"]["type"] == "presence")
    assert presence["geometry"]["type"] in ("Polygon", "MultiPolygon")
    table = cli.invoke(app, base)
    assert table.exit_code == 0, table.output
    assert "presence" in table.stdout
    with factory() as s:
        audited, _ = entries(s, officer_id="O00011")
    assert [(e.role, e.action, e.case_ref, e.detail["format"]) for e in audited] == [
        ("cli", "read.timeline", "PSD-9", "json"),
        ("cli", "read.timeline", None, "geojson"),
        ("cli", "read.timeline", None, "table"),
    ]
    assert (
        cli.invoke(
            app, ["timeline", "show", "NOPE", "--from", "2026-10-24", "--to", "2026-10-24"]
        ).exit_code
        == 1
    )
    too_long = cli.invoke(
        app, ["timeline", "show", "O00011", "--from", "2026-10-01", "--to", "2026-11-15"]
    )
    assert too_long.exit_code == 2
    assert "at most 31 days" in too_long.output
    assert cli.invoke(app, [*base, "--format", "xml"]).exit_code == 2


def test_nightly_yesterday_and_today_are_days_of_the_force(cli: CliRunner) -> None:
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    today = wallclock.utc_now().astimezone(ZoneInfo("Europe/London")).date()
    result = cli.invoke(app, ["nightly", "--date", "yesterday", "--to", "today"])
    assert result.exit_code == 0, result.output
    assert "2 day(s)" in result.stdout
    [run] = json.loads(cli.invoke(app, ["jobs", "--format", "json"]).stdout)
    assert (run["params"]["from"], run["params"]["to"]) == (
        str(today - timedelta(days=1)),
        str(today),
    )
    bad = cli.invoke(app, ["nightly", "--date", "tomorrow"])
    assert bad.exit_code == 2
    assert "not a date" in bad.output
