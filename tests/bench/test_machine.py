"""bench/machine.py: the machine record, the ceilings on real databases, alternation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest

from bench import machine
from tests.conftest import require_postgis


def _rows(n: int) -> pl.DataFrame:
    start = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    return pl.DataFrame(
        {
            "device_id": [f"D{i % 7}" for i in range(n)],
            "ts": [start + timedelta(seconds=i) for i in range(n)],
            "lat": [51.5 + i * 1e-6 for i in range(n)],
            "is_mock": [i % 2 == 0 for i in range(n)],
            "h3_cell": list(range(n)),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


def test_alternate_runs_each_side_in_turn_and_pairs_ratios() -> None:
    order: list[str] = []
    a_values = iter([2.0, 4.0, 6.0])
    b_values = iter([1.0, 1.0, 3.0])

    def a() -> float:
        order.append("a")
        return next(a_values)

    def b() -> float:
        order.append("b")
        return next(b_values)

    result = machine.alternate(a, b, 3)
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert result.ratios == [2.0, 4.0, 2.0]
    summary = result.summary()
    assert summary["ratio_median"] == 2.0
    assert summary["a_median"] == 4.0
    assert summary["b_median"] == 1.0


def test_sqlite_bare_insert_stores_every_row_and_leaves_no_file(tmp_path: Path) -> None:
    frame = _rows(5_000)
    seconds = machine.sqlite_bare_insert(tmp_path / "ceiling.db", frame)
    assert seconds > 0
    assert list(tmp_path.iterdir()) == []


def test_disk_and_cpu_probes_measure_something(tmp_path: Path) -> None:
    disk = machine.disk_probe(tmp_path, mb=4, syncs=10)
    assert disk["write_mb_s"] > 0
    assert 0 < disk["fdatasync_ms_p50"] <= disk["fdatasync_ms_p95"]
    assert list(tmp_path.iterdir()) == []
    cpu = machine.cpu_probe()
    assert cpu["python_loop_ms"] > 0
    assert cpu["numpy_sort_ms"] > 0


@pytest.mark.postgis
def test_copy_ceilings_on_postgresql() -> None:
    require_postgis()
    dsn = machine.libpq_dsn(machine.PG_ADMIN)
    frame = _rows(3_000)
    table = "rollcall_test_ceiling"
    assert machine.pg_copy_in(dsn, frame, table=table) > 0
    with psycopg.connect(dsn) as conn:
        left = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
    assert left == (None,)  # dropped after the measurement
    seconds, size = machine.pg_copy_out(dsn, "SELECT g, g::text FROM generate_series(1, 1000) g")
    assert seconds > 0
    # binary COPY: 19-byte header, per row 2 (field count) + 4+4 (int) + 4+len(text), 2 trailer
    text_bytes = sum(len(str(g)) for g in range(1, 1001))
    assert size == 19 + 1000 * (2 + 8 + 4) + text_bytes + 2


@pytest.mark.postgis
def test_run_records_the_machine_and_writes_one_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    require_postgis()
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path))
    monkeypatch.setenv("BENCH_QUICK", "1")
    run = machine.Run("probe", probe_dir=tmp_path)
    out = run.finish({"figure": 1})
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(json.dumps(out, default=str))
    assert line["bench"] == "probe"
    assert line["quick"] is True
    assert line["figure"] == 1
    m = line["machine"]
    assert m["cores"] >= 1
    assert len(m["loadavg_start"]) == 3
    assert len(m["loadavg_end"]) == 3
    assert set(m["cpu_split"]) == {"user", "system", "idle", "iowait", "steal"}
    pg = m["postgres"]
    for key in ("shared_buffers", "synchronous_commit", "max_wal_size", "wal_level"):
        assert pg["settings"][key]
    assert pg["commit_ms_p50"] > 0
    assert m["checkpoints_during_run"] >= 0
    [written] = list(tmp_path.glob("*-probe-quick.json"))
    assert json.loads(written.read_text()) == line
