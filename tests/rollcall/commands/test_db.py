"""`rollcall db backup`: an online copy that holds writes still in the WAL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rollcall.cli import app
from rollcall.settings import get_settings


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_backup_holds_writes_still_in_the_wal(cli: CliRunner, db_url: str, tmp_path: Path) -> None:
    source = db_url.removeprefix("sqlite:///")
    writer = sqlite3.connect(source)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # the service's writes stay in the WAL
    writer.executemany(
        "INSERT INTO officers (officer_id, office_based, updated_at) VALUES (?, 1, 0)",
        [(f"O{i}",) for i in range(500)],
    )
    writer.commit()
    assert Path(source + "-wal").stat().st_size > 0
    target = tmp_path / "copy.db"
    result = cli.invoke(app, ["db", "backup", str(target)])
    assert result.exit_code == 0, result.stderr
    assert "Backed up to" in result.stdout
    copy = sqlite3.connect(target)
    assert copy.execute("SELECT count(*) FROM officers").fetchone() == (500,)
    assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    copy.close()
    # The writer was never stopped; an existing file is never overwritten.
    writer.execute("INSERT INTO officers (officer_id, office_based, updated_at) VALUES ('x', 1, 0)")
    writer.commit()
    writer.close()
    again = cli.invoke(app, ["db", "backup", str(target)])
    assert again.exit_code == 1
    assert "already exists" in again.stderr


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_backup_of_postgresql_points_to_pg_dump(cli: CliRunner, tmp_path: Path) -> None:
    result = cli.invoke(app, ["db", "backup", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "pg_dump --format=custom" in result.stderr
    assert not (tmp_path / "x.db").exists()
