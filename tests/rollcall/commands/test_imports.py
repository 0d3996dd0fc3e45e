"""`rollcall db upgrade` and `rollcall import` as a user runs them: exit codes, summaries, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text as sql
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from rollcall.cli import app
from rollcall.settings import get_settings
from store.db import make_engine
from store.load import DeferredIndexes, ensure_ping_partitions, partitions_without_officer_index
from store.migrate import alembic_config
from tests.intake.helpers import BADGES, DEVICES, OFFICERS, ROSTER, STATION


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str) -> tuple[int, str, str]:
    result = cli.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_db_upgrade_is_idempotent(cli: CliRunner, db_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    code, out, _ = run(cli, "db", "upgrade")
    assert code == 0
    assert f"up to date (revision {head})" in out
    assert "officer index" not in out


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_db_upgrade_builds_an_index_a_cut_off_import_left_unbuilt(
    cli: CliRunner, db_url: str
) -> None:
    engine = make_engine(db_url)
    with Session(engine) as session, session.begin():
        ensure_ping_partitions(session, [date(2026, 10, 24)], DeferredIndexes())
    code, out, _ = run(cli, "db", "upgrade")
    assert code == 0
    assert "Built the officer index of 1 ping partition(s)" in out
    assert "pings_p20261024" in out
    with Session(engine) as session:
        assert partitions_without_officer_index(session) == []
    engine.dispose()


def test_import_prints_counts_and_exits_zero(cli: CliRunner, tmp_path: Path) -> None:
    stations = tmp_path / "stations.geojson"
    stations.write_text(json.dumps({"type": "FeatureCollection", "features": [STATION]}))
    assert run(cli, "import", "stations", str(stations))[0] == 0
    officers = tmp_path / "officers.csv"
    officers.write_text(OFFICERS)
    code, out, _ = run(cli, "import", "officers", str(officers))
    assert code == 0
    assert "officers from officers.csv" in out
    assert "loaded" in out


def test_bad_rows_exit_one_and_name_file_row_column(cli: CliRunner, tmp_path: Path) -> None:
    for kind, text in (
        ("officers", OFFICERS),
        ("devices", DEVICES),
        ("badges", BADGES),
        ("roster", ROSTER),
    ):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text)
        assert run(cli, "import", kind, str(path))[0] == 0
    pings = tmp_path / "pings.csv"
    pings.write_text(
        "device_id,ts,lat,lon,accuracy_m\n"
        "D1,2026-10-24T12:00:00+01:00,51.508,-0.1245,8\n"
        "D1,2026-10-24T12:01:00+01:00,51.508,-0.1245,-1\n"
    )
    errors = tmp_path / "errors.csv"
    code, _, err = run(cli, "import", "pings", str(pings), "--errors", str(errors))
    assert code == 1
    assert "pings.csv: row 2, column accuracy_m: must be greater than 0 metres" in err
    assert errors.read_text().splitlines() == [
        "file,row,column,reason",
        "pings.csv,2,accuracy_m,must be greater than 0 metres",
    ]


def test_unreadable_file_exits_one_with_reason(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "officers.csv"
    path.write_text("officer_id,display_name\nO1,Alex\n")
    code, _, err = run(cli, "import", "officers", str(path))
    assert code == 1
    assert "missing required column(s) for officers: office_based" in err


def test_unknown_kind_is_a_usage_error(cli: CliRunner, tmp_path: Path) -> None:
    code, _, err = run(cli, "import", "parcels", str(tmp_path / "x.csv"))
    assert code == 2
    assert "unknown kind 'parcels'" in err


VISITS = (
    "device_id,arrived_at,departed_at,lat,lon,accuracy_m\n"
    "D1,2026-10-24T07:00:00+01:00,2026-10-24T12:00:00+01:00,51.508,-0.1245,40\n"
    "D1,2026-10-24T13:00:00+01:00,2026-10-24T12:30:00+01:00,51.508,-0.1245,40\n"
    "D2,2026-10-24T09:00:00+01:00,,51.508,-0.1245,40\n"
)


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_import_visits_from_csv_or_parquet(
    cli: CliRunner, db_url: str, tmp_path: Path, suffix: str
) -> None:
    import polars as pl

    for kind, text in (("officers", OFFICERS), ("devices", DEVICES), ("roster", ROSTER)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text)
        assert run(cli, "import", kind, str(path))[0] == 0
    path = tmp_path / f"visits.{suffix}"
    if suffix == "csv":
        path.write_text(VISITS)
    else:
        pl.read_csv(VISITS.encode(), infer_schema=False).write_parquet(path)
    code, out, err = run(cli, "import", "visits", str(path))
    assert code == 1
    assert f"visits.{suffix}: row 2, column departed_at: is at or before arrived_at" in err
    assert f"visits from visits.{suffix}" in out
    engine = make_engine(db_url)
    with Session(engine) as session:
        stored = session.execute(sql("SELECT arrived_at, departed_at FROM visits")).all()
        masked = session.execute(sql("SELECT sum(count) FROM masked_counts")).scalar()
    engine.dispose()
    assert len(stored) == 1  # D1 from 07:30 BST (the window's start); D2 on its rest day: masked
    assert masked == 1


def test_bad_setting_names_the_variable(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLLCALL_TIMEZONE", "Mars/Olympus")
    get_settings.cache_clear()
    code, _, err = run(cli, "db", "upgrade")
    assert code == 2
    assert "ROLLCALL_TIMEZONE" in err
