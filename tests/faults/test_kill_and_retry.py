"""SIGKILL of an import, a nightly run and a purge, each followed by the command run again: the
database ends exactly as after a clean run (events, masked counts, results, flags, partitions)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from store.db import make_engine
from store.load import partition_name
from tests.faults.conftest import (
    DAYS,
    START,
    import_in_process,
    import_reference,
    kill_when,
    rollcall,
    rollcall_here,
    scalar,
    snapshot,
    start,
)

END = START + timedelta(days=DAYS - 1)
NIGHTLY = ("nightly", "--date", START.isoformat(), "--to", END.isoformat())
EVENT_KEYS = ("pings", "swipes", "held", "masked_counts", "masked_keys", "partitions")


def _count(url: str, table: str) -> int:
    return int(scalar(url, f"SELECT count(*) FROM {table}") or 0)


def _import_events(url: str, directory: Path) -> None:
    import_in_process(url, directory, (("pings", "pings.csv"), ("swipes", "swipes.csv")))


def _events(snap: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in snap.items() if k in EVENT_KEYS}


def test_killed_import_and_nightly_then_run_again_equal_a_clean_run(
    db_url: str, second_db_url: str, force_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean, faulty = second_db_url, db_url
    import_reference(clean, force_dir)
    _import_events(clean, force_dir)
    clean_events = snapshot(clean)
    code, output = rollcall_here(monkeypatch, clean, *NIGHTLY)
    assert code == 0, output
    clean_results = snapshot(clean)
    total = len(clean_events["pings"])

    # An import killed once its first block is committed, then imported again. (The block's
    # masked counts are committed with it; on PostgreSQL its pings of days that had no
    # partition wait in the load's own tables, attached only at the end: store.load.NewDayTables.)
    import_reference(faulty, force_dir)
    proc = start(faulty, "import", "pings", str(force_dir / "pings.csv"))
    kill_when(proc, lambda: _count(faulty, "masked_keys") > 0)
    assert _count(faulty, "pings") < total
    retry = rollcall(faulty, "import", "pings", str(force_dir / "pings.csv"))
    assert retry.returncode == 0, retry.stderr
    import_in_process(faulty, force_dir, (("swipes", "swipes.csv"),))
    assert _events(snapshot(faulty)) == _events(clean_events)

    # A nightly run killed once its first day is written, then run again.
    proc = start(faulty, *NIGHTLY)
    kill_when(proc, lambda: _count(faulty, "daily_results") > 0)
    rerun = rollcall(faulty, *NIGHTLY)
    assert rerun.returncode == 0, rerun.stderr
    assert snapshot(faulty) == clean_results
    runs = json.loads(rollcall(faulty, "jobs", "--format", "json").stdout)
    assert [r["outcome"] for r in runs if r["job"] == "nightly"] == ["ok", "abandoned"]


def test_killed_purge_then_run_again_equals_a_clean_purge(
    db_url: str,
    second_db_url: str,
    force_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Raw retention of one day: every event goes (the cutoff moves with the clock, so one inside
    # the data would differ between two runs seconds apart).
    policy = tmp_path / "policy.yaml"
    policy.write_text("retention_days_raw: 1\n")
    clean, faulty = second_db_url, db_url
    for url in (clean, faulty):
        import_reference(url, force_dir)
        _import_events(url, force_dir)
    before = _count(faulty, "pings")
    code, output = rollcall_here(monkeypatch, clean, "purge", ROLLCALL_POLICY=str(policy))
    assert code == 0, output
    assert before > 0
    assert _count(clean, "pings") == 0
    proc = start(faulty, "purge", ROLLCALL_POLICY=str(policy))
    kill_when(proc, lambda: _count(faulty, "pings") < before, timeout=120)
    again = rollcall(faulty, "purge", ROLLCALL_POLICY=str(policy))
    assert again.returncode == 0, again.stderr
    assert _events(snapshot(faulty)) == _events(snapshot(clean))


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_an_import_whose_connections_are_terminated_says_so_and_a_rerun_completes(
    db_url: str, second_db_url: str, force_dir: Path
) -> None:
    clean, faulty = second_db_url, db_url
    import_reference(clean, force_dir)
    import_in_process(clean, force_dir, (("pings", "pings.csv"),))
    import_reference(faulty, force_dir)
    database = scalar(faulty, "SELECT current_database()")
    proc = start(faulty, "import", "pings", str(force_dir / "pings.csv"))
    deadline = time.monotonic() + 240
    while _count(faulty, "masked_keys") == 0:
        assert proc.poll() is None, "the import ended before the fault point"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # The server ends every session of the import (an administrator, a failover, a restart).
    scalar(
        faulty,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()",
    )
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: the database connection was lost")
    assert "run the same command again" in lines[0]
    again = rollcall(faulty, "import", "pings", str(force_dir / "pings.csv"))
    assert again.returncode == 0, again.stderr
    assert _events(snapshot(faulty)) == _events(snapshot(clean))


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_an_import_killed_while_attaching_its_new_days_leaves_nothing_and_a_rerun_completes(
    db_url: str, second_db_url: str, force_dir: Path
) -> None:
    clean, faulty = second_db_url, db_url
    import_reference(clean, force_dir)
    import_in_process(clean, force_dir, (("pings", "pings.csv"),))
    import_reference(faulty, force_dir)
    engine = make_engine(faulty, poolclass=sa.pool.NullPool)
    days = [START + timedelta(days=k) for k in range(-1, DAYS + 1)]
    try:
        with engine.connect() as holder:
            # The day locks a writer takes to create a day's partition: the import has loaded,
            # keyed and indexed its new days and waits here to attach them.
            for day in days:
                holder.execute(
                    sa.text("SELECT pg_advisory_lock(hashtext(:name))"),
                    {"name": partition_name(day)},
                )
            holder.commit()
            proc = start(faulty, "import", "pings", str(force_dir / "pings.csv"))
            kill_when(proc, lambda: _waits_for_a_day_lock(faulty))
            holder.execute(sa.text("SELECT pg_advisory_unlock_all()"))
            holder.commit()
    finally:
        engine.dispose()
    assert _count(faulty, "pings") == 0
    assert scalar(faulty, "SELECT count(*) FROM pg_class WHERE relname LIKE 'pings\\_load%'") == 0
    again = rollcall(faulty, "import", "pings", str(force_dir / "pings.csv"))
    assert again.returncode == 0, again.stderr
    assert _events(snapshot(faulty)) == _events(snapshot(clean))


def _waits_for_a_day_lock(url: str) -> bool:
    waiting = scalar(
        url,
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()",
    )
    return bool(waiting)
