"""The machine a benchmark runs on, the ceilings it measures there, and the record of each run.

Every benchmark in bench/ reports its figures as ratios to what the same machine does with the
same rows in the plainest way (a binary ``COPY`` into a table without keys, ``COPY ... TO`` of the
day's rows, ``executemany`` into a bare SQLite table), measured in the same run and alternately
with the project's own path, so that other work on the machine slows both sides alike. Each JSON
line carries those ratios, the absolute figures and the machine: CPU, cores, memory, load average
and CPU time split (user, system, iowait, steal) over the run, a short disk write/fsync probe, a
fixed CPU probe, and PostgreSQL's version, settings and state (checkpoints, autovacuum, other
sessions). ``Run.finish`` prints the line and, when ``BENCH_RESULTS`` names a directory, writes it
there as one file per run.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

PG_ADMIN = os.environ.get(
    "ROLLCALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_SETTINGS = (
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "wal_level",
    "wal_buffers",
    "wal_compression",
    "wal_sync_method",
    "synchronous_commit",
    "fsync",
    "full_page_writes",
    "max_wal_size",
    "min_wal_size",
    "checkpoint_timeout",
    "checkpoint_completion_target",
    "autovacuum",
    "max_parallel_workers_per_gather",
    "jit",
)


def quick_mode() -> bool:
    """Whether ``BENCH_QUICK`` asks for the reduced sizes of ``make bench-quick``."""
    return os.environ.get("BENCH_QUICK", "") not in ("", "0")


def libpq_dsn(url: str = PG_ADMIN) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://...``) as a libpq connection string."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# ---- the machine --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _cpu_times() -> list[int] | None:
    """Aggregate jiffies from /proc/stat: user nice system idle iowait irq softirq steal."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    return [int(x) for x in first[1:9]]


def _cpu_split(before: list[int] | None, after: list[int] | None) -> dict[str, float] | None:
    """Shares of the machine's CPU time between two /proc/stat samples (all cores together)."""
    if before is None or after is None:
        return None
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    user, nice, system, idle, iowait, irq, softirq, steal = d
    return {
        "user": round((user + nice) / total, 3),
        "system": round((system + irq + softirq) / total, 3),
        "idle": round(idle / total, 3),
        "iowait": round(iowait / total, 3),
        "steal": round(steal / total, 3),
    }


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and the 1/5/15-minute load averages now."""
    return {
        "host": platform.node(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "polars": pl.__version__,
    }


def cpu_probe() -> dict[str, float]:
    """Milliseconds of two fixed single-core tasks (best of three): an interpreter loop of
    2 million additions and a numpy sort of 2 million floats. Slower here means a slower or
    shared core, not the benchmark's code."""
    rng = np.random.default_rng(1)
    values = rng.random(2_000_000)

    def loop() -> None:
        total = 0
        for i in range(2_000_000):
            total += i

    def sort() -> None:
        np.sort(values, kind="quicksort")

    out = {}
    for name, fn in (("python_loop_ms", loop), ("numpy_sort_ms", sort)):
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out[name] = round(best * 1000, 1)
    return out


def disk_probe(
    directory: str | Path | None = None, mb: int = 64, syncs: int = 100
) -> dict[str, Any]:
    """A short probe of the disk under ``directory`` (default: the temporary directory):
    ``mb`` MiB written in 1 MiB blocks then fsync'd (MB/s), and ``syncs`` 8 KiB writes each
    followed by fdatasync (median and 95th percentile in ms: what one WAL flush costs)."""
    block = os.urandom(1 << 20)
    page = os.urandom(8192)
    with tempfile.NamedTemporaryFile(dir=directory, prefix="rollcall-probe-") as f:
        fd = f.fileno()
        t0 = time.perf_counter()
        for _ in range(mb):
            os.write(fd, block)
        os.fsync(fd)
        write_s = time.perf_counter() - t0
        lat = []
        for _ in range(syncs):
            t = time.perf_counter()
            os.write(fd, page)
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
    lat.sort()
    return {
        "path": str(directory or tempfile.gettempdir()),
        "write_mb_s": round(mb * 1.048576 / write_s, 1),
        "fdatasync_ms_p50": round(lat[len(lat) // 2] * 1000, 3),
        "fdatasync_ms_p95": round(lat[int(len(lat) * 0.95)] * 1000, 3),
    }


def pg_info(url: str = PG_ADMIN, commits: int = 100) -> dict[str, Any]:
    """PostgreSQL's version, the settings that bound bulk work, its state now (checkpoints so
    far, autovacuum workers and other sessions at work), and the median time of ``commits``
    one-row commits into a scratch table (the WAL flush as the server sees it)."""
    import psycopg

    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        rows = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)",
            (list(PG_SETTINGS),),
        ).fetchall()
        settings = {name: _with_unit(setting, unit) for name, setting, unit in rows}
        bg = conn.execute(
            "SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint, buffers_backend "
            "FROM pg_stat_bgwriter"
        ).fetchone()
        activity = conn.execute(
            "SELECT count(*) FILTER (WHERE backend_type = 'autovacuum worker'), "
            "count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active' "
            "AND pid <> pg_backend_pid()), "
            "count(*) FILTER (WHERE backend_type = 'client backend') - 1 "
            "FROM pg_stat_activity"
        ).fetchone()
        databases = conn.execute("SELECT count(*) FROM pg_database").fetchone()
        # a logged table (a temporary one writes no WAL): each autocommit insert flushes it once
        probe = f"rollcall_bench_commit_probe_{os.getpid()}"
        conn.execute(f"CREATE TABLE IF NOT EXISTS {probe} (n int, at timestamptz)")
        lat = []
        try:
            for i in range(commits):
                t = time.perf_counter()
                conn.execute(f"INSERT INTO {probe} VALUES (%s, now())", (i,))
                lat.append(time.perf_counter() - t)
        finally:
            conn.execute(f"DROP TABLE {probe}")
    lat.sort()
    if version is None or bg is None or activity is None or databases is None:
        raise RuntimeError("PostgreSQL returned no row for a catalog query")
    return {
        "version": version[0],
        "settings": settings,
        "checkpoints_timed": bg[0],
        "checkpoints_requested": bg[1],
        "buffers_written_by_checkpoints": bg[2],
        "buffers_written_by_backends": bg[3],
        "autovacuum_workers": activity[0],
        "other_active_sessions": activity[1],
        "other_sessions": activity[2],
        "databases": databases[0],
        "commit_ms_p50": round(lat[len(lat) // 2] * 1000, 3),
    }


def _with_unit(setting: str, unit: str | None) -> str:
    """``shared_buffers`` 16384 x 8kB as '128 MB'; other settings as PostgreSQL shows them."""
    if unit in ("8kB", "kB", "MB"):
        factor = {"8kB": 8 / 1024, "kB": 1 / 1024, "MB": 1.0}[unit]
        mb = float(setting) * factor
        return f"{mb:g} MB" if mb < 1024 else f"{mb / 1024:g} GB"
    if unit:
        return f"{setting} {unit}"
    return setting


def pg_checkpoints(url: str = PG_ADMIN) -> tuple[int, int]:
    """Checkpoints started so far (timed, requested)."""
    import psycopg

    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        row = conn.execute(
            "SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# ---- ceilings: the plainest way the same machine does the same job ----------------------


def pg_copy_in(
    dsn: str,
    frame: pl.DataFrame,
    table: str = "rollcall_bench_ceiling",
    key: Sequence[str] = (),
    index: Sequence[str] = (),
) -> float:
    """Seconds to binary-COPY ``frame`` (Arrow encoded by pgpq, as the import does) into a fresh
    table of the same columns with no key, index or constraint (or only the primary key ``key``,
    to tell the key's cost from the rest), committed. With ``index`` as well, an index on those
    columns is built after the COPY, in the same transaction and timing: the table a bulk load
    gives a new day of pings. The table is dropped afterwards; creating it is not timed."""
    import psycopg
    from pgpq import ArrowToPostgresBinaryEncoder

    arrow = frame.to_arrow()
    encoder = ArrowToPostgresBinaryEncoder(arrow.schema)
    columns = ", ".join(
        f"{name} {kind}" for name, kind in zip(frame.columns, _pg_types(frame), strict=True)
    )
    if key:
        columns += f", PRIMARY KEY ({', '.join(key)})"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({columns})")
        try:
            t0 = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(
                    f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT binary)"
                ) as copy:
                    copy.write(encoder.write_header())
                    for batch in arrow.to_batches():
                        copy.write(encoder.write_batch(batch))
                    copy.write(encoder.finish())
                if index:
                    cur.execute(f"CREATE INDEX ON {table} ({', '.join(index)})")
            return time.perf_counter() - t0
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def _pg_types(frame: pl.DataFrame) -> list[str]:
    names = {
        pl.Utf8: "text",
        pl.Float64: "double precision",
        pl.Boolean: "boolean",
        pl.Int64: "bigint",
        pl.Int32: "integer",
    }
    out = []
    for dtype in frame.dtypes:
        if isinstance(dtype, pl.Datetime):
            out.append("timestamptz" if dtype.time_zone else "timestamp")
        else:
            out.append(names[dtype.base_type()])  # type: ignore[index]
    return out


def pg_copy_out(dsn: str, query: str) -> tuple[float, int]:
    """Seconds and bytes of ``COPY (query) TO STDOUT (FORMAT binary)`` read by one connection
    and thrown away: what sending the rows costs the server and the wire, with nothing decoded."""
    import psycopg

    size = 0
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        t0 = time.perf_counter()
        with cur.copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
            for chunk in copy:
                size += len(chunk)
        return time.perf_counter() - t0, size


def sqlite_bare_insert(
    path: str | Path, frame: pl.DataFrame, key: Sequence[str] = (), index: Sequence[str] = ()
) -> float:
    """Seconds to ``executemany`` the rows of ``frame`` (instants as integer microseconds, as
    the project stores them) into a bare table (rowid, no key, no index; or a WITHOUT ROWID
    table keyed on ``key``, to tell the key's cost from the rest; with ``index`` as well, an
    index on those columns kept as the rows go in, as the pings table has) of a fresh SQLite
    file, one statement per row, in one transaction, with the project's pragmas (WAL,
    synchronous NORMAL). Converting the frame to Python rows is not timed."""
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    data = frame.with_columns(
        pl.col(c).dt.epoch("us") for c, t in frame.schema.items() if isinstance(t, pl.Datetime)
    )
    rows = data.rows()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        keyed = f", PRIMARY KEY ({', '.join(key)})) WITHOUT ROWID" if key else ")"
        conn.execute(f"CREATE TABLE bare ({', '.join(data.columns)}{keyed}")
        if index:
            conn.execute(f"CREATE INDEX ix_bare ON bare ({', '.join(index)})")
        marks = ", ".join("?" for _ in data.columns)
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO bare VALUES ({marks})", rows)
        conn.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


# ---- alternation --------------------------------------------------------------------------


@dataclass
class Alternated:
    """Two measurements taken in the order A B B A A B ...: each pair's ratio ``a / b`` and the
    median of those ratios, with the medians of each side. Alternating puts both sides in the
    same moments of a shared machine, so the ratio holds where the absolute figures do not."""

    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [x / y for x, y in zip(self.a, self.b, strict=True) if y]

    def summary(self, digits: int = 3) -> dict[str, Any]:
        return {
            "a": [round(x, digits) for x in self.a],
            "b": [round(x, digits) for x in self.b],
            "a_median": round(statistics.median(self.a), digits),
            "b_median": round(statistics.median(self.b), digits),
            "ratios": [round(r, 3) for r in self.ratios],
            "ratio_median": round(statistics.median(self.ratios), 3),
        }


def alternate(a: Callable[[], float], b: Callable[[], float], pairs: int) -> Alternated:
    """Measure ``a`` and ``b`` ``pairs`` times each, alternately (A B, then B A, ...)."""
    out = Alternated()
    for i in range(pairs):
        if i % 2 == 0:
            out.a.append(a())
            out.b.append(b())
        else:
            out.b.append(b())
            out.a.append(a())
    return out


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


# ---- the record of a run ------------------------------------------------------------------


class Run:
    """One benchmark run: the machine and its state at the start, and ``finish`` at the end.

    ``postgres`` says whether PostgreSQL's version, settings and state are recorded (and how
    many checkpoints started during the run)."""

    def __init__(self, name: str, *, postgres: bool = True, probe_dir: str | Path | None = None):
        self.name = name
        self.postgres = postgres
        self.started_at = datetime.now(UTC)
        self.loadavg_start = loadavg()
        self._cpu_start = _cpu_times()
        self._t0 = time.perf_counter()
        self.machine: dict[str, Any] = machine_info()
        self.machine["disk"] = disk_probe(probe_dir)
        self.machine["cpu_probe"] = cpu_probe()
        self.machine["postgres"] = pg_info() if postgres else None
        self._checkpoints = self.machine["postgres"] and pg_checkpoints()

    def finish(self, figures: dict[str, Any]) -> dict[str, Any]:
        """Add the machine and its load to ``figures``, print them as ONE JSON line, and write
        them to ``$BENCH_RESULTS/<UTC time>-<name>.json`` when that variable is set."""
        machine = dict(self.machine)
        machine["loadavg_start"] = self.loadavg_start
        machine["loadavg_end"] = loadavg()
        machine["cpu_split"] = _cpu_split(self._cpu_start, _cpu_times())
        if self.postgres and self._checkpoints:
            timed, requested = pg_checkpoints()
            machine["checkpoints_during_run"] = (
                timed - self._checkpoints[0] + requested - self._checkpoints[1]
            )
        out = {
            "bench": self.name,
            "quick": quick_mode(),
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "wall_s": round(time.perf_counter() - self._t0, 1),
            **figures,
            "machine": machine,
        }
        line = json.dumps(out, default=str)
        target = os.environ.get("BENCH_RESULTS")
        if target:
            directory = Path(target)
            directory.mkdir(parents=True, exist_ok=True)
            stamp = self.started_at.strftime("%Y-%m-%dT%H%M%SZ")
            tag = "-quick" if quick_mode() else ""
            (directory / f"{stamp}-{self.name}{tag}.json").write_text(
                json.dumps(out, indent=1, default=str) + "\n"
            )
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return out


def describe(machine: dict[str, Any]) -> str:
    """One line of the machine for the printed table."""
    pg = machine.get("postgres") or {}
    disk = machine.get("disk") or {}
    parts = [
        f"{machine.get('cpu_model')}, {machine.get('cores')} cores, {machine.get('memory_gb')} GB",
        f"load {machine.get('loadavg_start')} -> {machine.get('loadavg_end')}",
        f"disk {disk.get('write_mb_s')} MB/s, fdatasync {disk.get('fdatasync_ms_p50')} ms",
    ]
    if pg:
        s = pg.get("settings", {})
        parts.append(
            f"PostgreSQL {pg.get('version')} shared_buffers {s.get('shared_buffers')} "
            f"synchronous_commit {s.get('synchronous_commit')} max_wal_size "
            f"{s.get('max_wal_size')} autovacuum {s.get('autovacuum')}, commit "
            f"{pg.get('commit_ms_p50')} ms"
        )
    return "; ".join(parts)
