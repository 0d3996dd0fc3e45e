"""Benchmark of the nightly job for one day of a large force, per stage, against its ceilings.

Usage: .venv/bin/python -m bench.nightly [--officers 5000,20000,46000] [--backends postgres,sqlite]
       [--pairs 2] [--db-state settled|loaded] [--fixes-interval-s 60] [--fix-loss 0]

One force of the largest size is generated once (fixtures.synth, on-duty fixes only); for each
size a fresh database of each backend is loaded with that many officers, fixes in time order as a
day's arrive (PostgreSQL: the import's bulk path for pings; outside every timing), and the
nightly job for the day runs in a fresh subprocess (so its peak RSS is its own). The job reads
the day's fixes once (four connections, ranges of pages or hours), then computes one officer
partition after another. Per stage: load (store -> frames), classify (geo), presence and flags
(rules: each flag rule is wrapped with a timer, presence is the rest of the engine), write
(store), and the end-to-end job time; peak RSS of the job and of its reader child (SQLite reads
run in a child process). Ceilings, in the same subprocess: each job run alternates with the plain
read of the same rows (``COPY ... TO`` on PostgreSQL; SQLite stepping through them itself, and
next to it connectorx reading them into Arrow columns on one thread, and the load stage's
CPU-seconds against the stepping's), and the job's partitions
are computed once more from frames already in memory. The same day's fixes are also classified
with geopandas ``sjoin`` for comparison. Ends with ONE JSON line of figures on stdout, with the
machine (bench/machine.py); BENCH_QUICK=1 runs 2,000 officers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# the rollcall package sets Polars' allocator as the rollcall command has it: before Polars loads
import rollcall  # noqa: E402,F401

# isort: split
import polars as pl  # noqa: E402

from bench.machine import Run, alternate, describe, quick_mode  # noqa: E402

DAY = date(2026, 10, 21)
TZ = "Europe/London"
PG_ADMIN = os.environ.get(
    "ROLLCALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def log(msg: str) -> None:
    sys.stderr.write(f"[{datetime.now(UTC):%H:%M:%S}] {msg}\n")
    sys.stderr.flush()


# ---- data ---------------------------------------------------------------------------------


def generate(
    officers: int, fixes_interval_s: int, seed: int, fix_loss: float, internal_doors: float
) -> Any:
    """The Met day: every officer rostered on (an 8 h duty, 9 h on-duty window with the grace,
    some overtime and training), on-duty fixes only, every due fix delivered unless ``fix_loss``,
    and badged internal doors passed on ``internal_doors`` of the moves between rooms."""
    from fixtures.synth import generate_force
    from geo.cells import cells

    force = generate_force(
        seed,
        officers,
        DAY,
        1,
        tz=TZ,
        fixes_interval_s=fixes_interval_s,
        only_on_duty=True,
        all_on_duty=True,
        fix_loss=fix_loss,
        internal_doors=internal_doors,
    )
    force.pings = force.pings.with_columns(h3_cell=cells(force.pings))
    return force


def officer_rank(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(_n=pl.col("officer_id").str.slice(1).cast(pl.Int64))


def subset(frame: pl.DataFrame, lo: int, hi: int) -> pl.DataFrame:
    """Rows of officers O{lo+1}..O{hi} (generator ids are O00001...)."""
    return officer_rank(frame).filter((pl.col("_n") > lo) & (pl.col("_n") <= hi)).drop("_n")


def create_database(backend: str, workdir: Path) -> str:
    import sqlalchemy as sa

    from store.db import make_engine
    from store.migrate import upgrade

    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        name = f"rollcall_bench_{os.getpid()}"
        admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_database(url: str) -> None:
    import sqlalchemy as sa

    from store.db import make_engine

    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        return
    name = url.rsplit("/", 1)[1]
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _copy_pg(conn: Any, table: str, frame: pl.DataFrame) -> None:
    out = frame.with_columns(
        pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime)
    )
    buffer = io.BytesIO()
    out.write_csv(buffer, include_header=False, null_value="")
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv)") as copy,
    ):
        copy.write(buffer.getbuffer())


def _insert_sqlite(conn: Any, table: str, frame: pl.DataFrame) -> None:
    out = frame.with_columns(
        pl.col(c).dt.epoch("us") for c, t in frame.schema.items() if isinstance(t, pl.Datetime)
    )
    marks = ", ".join("?" for _ in out.columns)
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(out.columns)}) VALUES ({marks})", out.iter_rows()
    )


def load_increment(
    url: str, force: Any, lo: int, hi: int, first: bool, settle: bool = True
) -> dict[str, int]:
    """Load the officers lo+1..hi of ``force`` (their shifts, claims, fixes, swipes) directly."""
    from store.db import make_engine, session_factory
    from store.load import DeferredIndexes, insert_events
    from store.stations import upsert_station

    engine = make_engine(url)
    factory = session_factory(engine)
    now = datetime.now(UTC)
    if first:
        with factory.begin() as s:
            for feature in force.stations_geojson["features"]:
                upsert_station(s, feature, now=now)
    officers = subset(force.officers, lo, hi).select(
        "officer_id",
        "display_name",
        "rank",
        "unit",
        "home_station_id",
        "office_based",
        updated_at=pl.lit(now),
    )
    roster = subset(force.roster, lo, hi)
    shifts = roster.select(
        "shift_id",
        "officer_id",
        start_at="start",
        end_at="end",
        kind="kind",
        station_id="station_id",
        declared_location="declared_location",
        created_at="created_at",
        updated_at="updated_at",
        version=pl.lit(1),
        recorded_at=pl.lit(now),
    ).unique("shift_id", keep="last")
    overtime = subset(force.overtime, lo, hi).select(
        "claim_id",
        "officer_id",
        start_at="start",
        end_at="end",
        station_id="station_id",
        submitted_at="submitted_at",
    )
    pings = (
        subset(force.pings, lo, hi)
        .select(
            "device_id",
            "ts",
            "officer_id",
            "lat",
            "lon",
            "accuracy_m",
            "source",
            pl.col("is_mock").fill_null(False),
            "h3_cell",
        )
        .unique(["device_id", "ts"])
        .sort("ts")  # devices upload roughly in time order
    )
    swipes = (
        subset(force.swipes, lo, hi)
        .select(
            "badge_id",
            "ts",
            reader_id=pl.col("reader_id").fill_null(""),
            officer_id="officer_id",
            station_id="station_id",
            direction=pl.col("direction").fill_null("unknown"),
            granted=pl.col("granted").fill_null(True),
        )
        .unique(["badge_id", "ts", "reader_id"])
        .sort("ts")
    )
    tables = {
        "officers": officers,
        "shifts": shifts,
        "shift_versions": shifts,
        "overtime_claims": overtime,
        "pings": pings,
        "swipes": swipes,
    }
    with engine.connect() as sa_conn:
        raw: Any = sa_conn.connection.driver_connection
        if url.startswith("sqlite"):
            raw.execute("PRAGMA synchronous=OFF")
        for table, frame in tables.items():
            if not frame.height or (table == "pings" and not url.startswith("sqlite")):
                continue
            if url.startswith("sqlite"):
                _insert_sqlite(raw, table, frame)
            else:
                _copy_pg(raw, table, frame)
        raw.commit()
    if not url.startswith("sqlite"):
        # as an import does: binary COPY into each day's partition, officer index built after
        deferred = DeferredIndexes()
        with factory.begin() as s:
            for offset in range(0, pings.height, 1_000_000):
                insert_events(s, "pings", pings.slice(offset, 1_000_000), deferred)
            deferred.build(s)
    with engine.connect() as sa_conn:
        raw = sa_conn.connection.driver_connection
        if settle and not url.startswith("sqlite"):
            raw.autocommit = True
            # as the database stands at night, hours after a day partition was filled: vacuumed
            # by autovacuum (inserts trigger it: hint bits set, statistics made, so the job's read
            # is not the first visit of every page) and checkpointed (the load's dirty pages
            # written out, not by the checkpointer in the middle of the job)
            raw.execute("VACUUM (ANALYZE)")
            raw.execute("CHECKPOINT")
    engine.dispose()
    return {k: v.height for k, v in tables.items() if k != "shift_versions"}


# ---- measurement (runs in a fresh subprocess) ---------------------------------------------


def time_flag_rules() -> list[float]:
    """Wrap each day flag rule of rules.engine so its time is summed (presence = the rest)."""
    import rules.engine as engine

    total = [0.0]

    def timed(rule: Any) -> Any:
        def run(ctx: Any) -> Any:
            t = time.perf_counter()
            try:
                return rule(ctx)
            finally:
                total[0] += time.perf_counter() - t

        return run

    engine.DAY_RULES = tuple(timed(r) for r in engine.DAY_RULES)
    return total


def peak_rss_gb() -> float:
    """This process's peak resident set (GB): VmHWM on Linux, which starts afresh at exec, unlike
    ru_maxrss, which there keeps the peak of the process that started this one (here the bench
    driver holding the whole generated force)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure(url: str, sjoin: bool, pairs: int) -> dict[str, Any]:
    """Run the nightly job for DAY ``pairs`` times, each alternated (A B B A ...) with the plain
    read of the same rows (load_ceiling), then compute the job's partitions once more from
    frames already in memory (compute_ceiling); returns the figures of the fastest job run."""
    from jobs.nightly import DayReport, run_nightly
    from rules.policy import load_policy
    from store.db import make_engine, session_factory

    policy = load_policy()
    engine = make_engine(url)
    factory = session_factory(engine)
    flag_seconds = time_flag_rules()
    runs: list[tuple[float, DayReport, float]] = []

    def job() -> float:
        reports: list[DayReport] = []
        flag_seconds[0] = 0.0
        t0 = time.perf_counter()
        run_nightly(factory, DAY, DAY, policy=policy, tz=TZ, on_day=reports.append)
        runs.append((time.perf_counter() - t0, reports[0], flag_seconds[0]))
        return float(reports[0].timings["load"])

    ceiling_info: dict[str, Any] = {}
    column_reads: list[float] = []

    def ceiling() -> float:
        seconds, info = load_ceiling(url, factory, policy)
        ceiling_info.update({k: v for k, v in info.items() if k != "cpu_s"})
        if url.startswith("sqlite"):
            column_reads.append(sqlite_column_read(url, factory, policy))
        return seconds

    load_pairs = alternate(job, ceiling, pairs)
    peak_gb = peak_rss_gb()
    # reaped children: the SQLite reader (store.sqlite_arrow); ru_maxrss is in KiB on Linux
    reader_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    job_s, day, flags_s = min(runs, key=lambda r: r[0])
    out: dict[str, Any] = {
        "job_s": round(job_s, 2),
        "job_s_runs": [round(r[0], 2) for r in runs],
        "peak_rss_gb": round(peak_gb, 2),
        "reader_peak_rss_gb": round(reader_gb, 2),
        "fixes": day.fixes,
        "swipes": day.swipes,
        "shifts": day.shifts,
        "daily_rows": day.daily_rows,
        "findings": day.findings,
        "parts": day.parts,
        "stages_s": {k: round(v, 2) for k, v in day.timings.items()},
    }
    evaluate = out["stages_s"].get("evaluate", 0.0)
    out["stages_s"]["flags"] = round(flags_s, 2)
    out["stages_s"]["presence"] = round(evaluate - flags_s, 2)
    summary = load_pairs.summary(2)
    out["load_ceiling"] = {
        **ceiling_info,
        "load_s_runs": summary["a"],
        "ceiling_s_runs": summary["b"],
        "ratio_pairs": summary["ratios"],
        "load_over_ceiling": summary["ratio_median"],
    }
    if column_reads:
        ratios = [round(a / b, 3) for a, b in zip(load_pairs.a, column_reads, strict=True)]
        out["load_ceiling"]["column_read"] = {
            "what": SQLITE_COLUMN_READ,
            "s_runs": [round(x, 3) for x in column_reads],
            "ratio_pairs": ratios,
            "load_over_column_read": round(statistics.median(ratios), 3),
        }
    if url.startswith("sqlite"):
        out["load_ceiling"]["cpu"] = load_cpu(url, factory, policy, max(4, pairs))
    out["load_parts_s"] = load_parts(factory, policy)
    computes = [float(r[1].timings["compute"]) for r in runs]
    in_memory = compute_ceiling(factory, policy, day.parts)
    out["compute_ceiling"] = {
        "what": "the job's officer partitions computed (jobs.compute.compute_part) from frames "
        "already in memory, one after another, outside the job",
        "compute_s_runs": [round(x, 2) for x in computes],
        "in_memory_s": round(in_memory, 2),
        "compute_over_in_memory": round(statistics.median(computes) / in_memory, 3),
    }
    if sjoin:
        out["geopandas"] = geopandas_sjoin(factory)
    engine.dispose()
    return out


def _fix_span(factory: Any, policy: Any) -> tuple[datetime, datetime, Any]:
    """The range of the day's fixes the job reads (jobs.nightly._fix_range) and the day's
    frames without fixes."""
    from jobs.nightly import _fix_range
    from store.dayload import load_day

    with factory() as s:
        base = load_day(s, DAY, TZ, with_fixes=False)
    span = _fix_range(base, DAY, TZ, policy)
    if span is None:
        raise RuntimeError("no on-duty window on the benchmark day")
    return span[0], span[1], base


def load_ceiling(url: str, factory: Any, policy: Any) -> tuple[float, dict[str, Any]]:
    """Seconds of the plainest read of the rows the job loads: the day's fixes (the columns and
    range the job reads) and swipes. PostgreSQL: ``COPY (SELECT ...) TO STDOUT (FORMAT binary)``
    on one connection, bytes thrown away. SQLite: the same SELECTs stepped through by SQLite
    itself with every column looked at (``count(column)``), nothing sent to Python."""
    from store.dayload import FIXES, SWIPES, day_range

    lo, hi, _ = _fix_span(factory, policy)
    day_lo, day_hi = day_range(DAY, TZ)
    reads = [("pings", list(FIXES), lo, hi), ("swipes", list(SWIPES), day_lo, day_hi)]
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            t0, cpu0 = time.perf_counter(), time.thread_time()
            rows = 0
            for table, cols, a, b in reads:
                counts = ", ".join(f"count({c})" for c in cols)
                row = conn.execute(
                    f"SELECT count(*), {counts} FROM {table} WHERE ts >= ? AND ts < ?",
                    (_epoch_us(a), _epoch_us(b)),
                ).fetchone()
                rows += int(row[0])
            return time.perf_counter() - t0, {
                "what": "SQLite steps through the same rows, count(column) of every column",
                "rows": rows,
                "cpu_s": time.thread_time() - cpu0,
            }
        finally:
            conn.close()
    from bench.machine import libpq_dsn, pg_copy_out

    total_s, total_bytes = 0.0, 0
    for table, cols, a, b in reads:
        seconds, size = pg_copy_out(
            libpq_dsn(url),
            f"SELECT {', '.join(cols)} FROM {table} "
            f"WHERE ts >= '{a.isoformat()}' AND ts < '{b.isoformat()}'",
        )
        total_s += seconds
        total_bytes += size
    return total_s, {
        "what": "COPY (SELECT the job's columns of the day's fixes and swipes) TO STDOUT "
        "(FORMAT binary), one connection",
        "mb": round(total_bytes / 1e6, 1),
    }


SQLITE_COLUMN_READ = (
    "connectorx reads the same SELECTs into Arrow columns, one query per table on one thread, "
    "in a process of its own (timed from the query to the table, start-up left out)"
)
# Run in a process of its own (connectorx's copy of SQLite must not share the bench's locks):
# reads {"address", "queries"} as JSON on stdin, prints the seconds of the reads.
_COLUMN_READ = """
import json, sys, time
import connectorx, pyarrow
request = json.load(sys.stdin)
t0 = time.perf_counter()
rows = sum(connectorx.read_sql(request["address"], q, return_type="arrow").num_rows
           for q in request["queries"])
print(json.dumps({"s": time.perf_counter() - t0, "rows": rows}))
"""


def _cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def load_cpu(url: str, factory: Any, policy: Any, pairs: int) -> dict[str, Any]:
    """SQLite: CPU-seconds of the job's load stage against the count(column) ceiling's,
    alternated ``pairs`` times. The load stage (jobs.nightly._load_day, as the job calls it) is
    counted over this process's threads and its reaped children (the reading child); the
    ceiling runs on this thread, inside SQLite. Other work on a shared machine takes cores from
    both and stretches their seconds of wall unevenly (a job of several threads and a ceiling of
    one); their CPU-seconds move much less, so this ratio says what the job costs against the
    plain read when the wall figures are lost in the load. It is not the target's (a job on two
    cores may take less wall than CPU)."""
    from jobs.nightly import _load_day
    from store.dayload import load_officers

    with factory() as s:
        officers = load_officers(s)

    def job() -> float:
        before = _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN)
        _load_day(factory, DAY, TZ, officers, policy, 1)
        return _cpu_s(resource.RUSAGE_SELF) + _cpu_s(resource.RUSAGE_CHILDREN) - before

    def ceiling() -> float:
        return float(load_ceiling(url, factory, policy)[1]["cpu_s"])

    summary = alternate(job, ceiling, pairs).summary(3)
    return {
        "what": "CPU-s of the load stage (this process and its reading child) over CPU-s of "
        "count(column), alternated",
        "load_cpu_s_runs": summary["a"],
        "ceiling_cpu_s_runs": summary["b"],
        "ratio_pairs": summary["ratios"],
        "load_cpu_over_ceiling_cpu": summary["ratio_median"],
    }


def sqlite_column_read(url: str, factory: Any, policy: Any) -> float:
    """Seconds for the plainest read of the rows the job loads into columns on SQLite: the same
    SELECTs as load_ceiling (the day's fixes over the job's span, the day's swipes) read by
    connectorx into Arrow, one query per table, one thread (RAYON_NUM_THREADS=1), in a process
    of its own. The values leave the engine and are built into columns, as the job's must; the
    child process, the pieces, the second core, the transfer to this process and the casts to
    the rules' types are the job's own (bench/README.md)."""
    from store.dayload import FIXES, SWIPES, day_range
    from store.reader import _arrow_address

    lo, hi, _ = _fix_span(factory, policy)
    day_lo, day_hi = day_range(DAY, TZ)
    reads = [("pings", list(FIXES), lo, hi), ("swipes", list(SWIPES), day_lo, day_hi)]
    queries = [
        f"SELECT {', '.join(cols)} FROM {table} WHERE ts >= {_epoch_us(a)} AND ts < {_epoch_us(b)}"
        for table, cols, a, b in reads
    ]
    with factory() as s:
        address = _arrow_address(s)
    proc = subprocess.run(
        [sys.executable, "-c", _COLUMN_READ],
        input=json.dumps({"address": address, "queries": queries}),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "RAYON_NUM_THREADS": "1"},
    )
    return float(json.loads(proc.stdout)["s"])


def load_parts(factory: Any, policy: Any) -> dict[str, float]:
    """Seconds of each read of the job's load stage (jobs.nightly._compute_day) made on its own,
    one after another, on the warm database the job has just read: where the load's time goes
    beside the plain read of the fixes and swipes. ``swipes_in_pieces``: the swipes read as the
    fixes are, in pieces on READERS connections. ``adbc_connect`` (PostgreSQL) is one connection
    of the parallel reads (store.reader.read_pieces) opened and asked ``SELECT 1``;
    ``reader_child`` (SQLite) is the reading child process (store.sqlite_arrow) started and
    answering a query of no rows; ``fixes_1_piece`` the same fixes as ``fixes`` read in one
    piece on one such connection or child thread."""
    from jobs.compute import officer_groups
    from jobs.nightly import PART_OFFICERS, READERS, _fix_range
    from store import dayload
    from store.clock import device_offsets
    from store.reader import _arrow_address, literal, read_pieces

    out: dict[str, float] = {}

    def timed(name: str, read: Any) -> Any:
        t = time.perf_counter()
        value = read()
        out[name] = round(time.perf_counter() - t, 3)
        return value

    lo, hi = dayload.day_range(DAY, TZ)
    with factory() as s:
        officers = dayload.load_officers(s)
        shifts = timed("shifts", lambda: dayload.load_shifts(s, lo, hi))
        timed("shift_history", lambda: dayload.load_shift_history(s, lo, hi))
        overtime = timed("overtime", lambda: dayload.load_overtime(s, lo, hi))
        timed("visits", lambda: dayload.load_visits(s, lo, hi))
        timed("swipes", lambda: dayload.load_swipes(s, lo, hi))
        timed("swipes_in_pieces", lambda: dayload.load_swipes(s, lo, hi, readers=READERS))
        timed("devices", lambda: device_offsets(s, hi, policy=policy))
        timed("swipers", lambda: dayload.load_swipers(s, DAY, TZ, policy.dwb_habit_days))
        base = dayload.DayFrames(
            DAY, lo, hi, officers, shifts, pl.DataFrame(), pl.DataFrame(), pl.DataFrame(), overtime
        )
        busy = shifts["officer_id"].n_unique() + overtime.height
        groups = officer_groups(base, -(-busy // PART_OFFICERS))
        span = _fix_range(base, DAY, TZ, policy)
        assert span is not None
        cuts = [g[0] for g in groups[1:]]
        timed(
            "fixes",
            lambda: dayload.load_fixes_by_officer(s, span[0], span[1], cuts, readers=READERS),
        )
        postgres = s.get_bind().dialect.name == "postgresql"
        address = _arrow_address(s)
        if postgres:
            import adbc_driver_postgresql.dbapi as adbc

            def connect() -> None:
                with adbc.connect(address) as conn, conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    cur.fetchall()

            timed("adbc_connect", connect)
        else:
            from store.sqlite_arrow import stream

            timed("reader_child", lambda: list(stream(address, ["SELECT 1 AS x WHERE 0"])))
        sql = (
            f"SELECT {', '.join(dayload.FIXES)} FROM pings WHERE ts >= "
            f"{literal(span[0], postgres=postgres)} AND ts < {literal(span[1], postgres=postgres)}"
        )
        timed("fixes_1_piece", lambda: list(read_pieces(s, [sql], dayload.FIXES, workers=1)))
    return out


def _column_read_note(r: dict[str, Any]) -> str:
    column = r["load_ceiling"].get("column_read")
    if column is None:
        return ""
    note = (
        f", {column['load_over_column_read']}x the read into columns "
        f"(pairs {column['ratio_pairs']})"
    )
    cpu = r["load_ceiling"].get("cpu")
    if cpu is not None:
        note += f", {cpu['load_cpu_over_ceiling_cpu']}x its CPU-s (pairs {cpu['ratio_pairs']})"
    return note


def _epoch_us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def compute_ceiling(factory: Any, policy: Any, parts: int) -> float:
    """Seconds to compute the day's officer partitions (as many as the job made) from frames
    read and cut beforehand: the job's compute without the job around it."""
    from dataclasses import replace

    from jobs.compute import compute_part, merge_parts, officer_groups, officer_part
    from jobs.nightly import _load_index
    from store.dayload import load_fixes

    lo, hi, base = _fix_span(factory, policy)
    with factory() as s:
        base = replace(base, fixes=load_fixes(s, lo, hi, readers=4))
    index = _load_index(factory)
    groups = officer_groups(base, parts)
    frames = [officer_part(base, groups, k) for k in range(len(groups))]
    del base
    t0 = time.perf_counter()
    merge_parts([compute_part(f, index, policy, TZ) for f in frames])
    return time.perf_counter() - t0


def geopandas_sjoin(factory: Any) -> dict[str, Any]:
    """The same day's fixes against the same fences with geopandas (points within polygons)."""
    import geopandas as gpd

    from store.dayload import day_range, load_fixes
    from store.stations import load_stations

    with factory() as s:
        lo, hi = day_range(DAY, TZ)
        fixes = load_fixes(s, lo, hi, readers=2)
        stations = load_stations(s)
    polys = gpd.GeoDataFrame(
        {"station_id": [st.station_id for st in stations]},
        geometry=[st.geometry for st in stations],
        crs="EPSG:4326",
    )
    t0 = time.perf_counter()
    points = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(fixes["lon"].to_numpy(), fixes["lat"].to_numpy()),
        crs="EPSG:4326",
    )
    t1 = time.perf_counter()
    joined = gpd.sjoin(points, polys, how="left", predicate="within")
    t2 = time.perf_counter()
    return {
        "points_s": round(t1 - t0, 2),
        "sjoin_s": round(t2 - t1, 2),
        "total_s": round(t2 - t0, 2),
        "inside": int(joined["station_id"].notna().sum()),
        "note": "exact point-in-polygon only: no accuracy model, no near-boundary distances",
    }


# ---- driver -------------------------------------------------------------------------------


def run_measure_subprocess(url: str, sjoin: bool, pairs: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--measure", url, "--pairs", str(pairs)]
    cmd += ["--sjoin"] if sjoin else []
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        return {"error": f"measure failed (exit {proc.returncode})"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    quick = quick_mode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--officers", default="2000" if quick else "5000,20000,46000")
    parser.add_argument(
        "--pairs",
        type=int,
        default=2,
        help="job runs per database, each alternated with the plain read of its rows",
    )
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument(
        "--fixes-interval-s",
        type=int,
        default=60,
        help="a fix every N s on duty (60: the target's rate, about 540 fixes per officer)",
    )
    parser.add_argument(
        "--fix-loss",
        type=float,
        default=0.0,
        help="scale of throttling gaps and indoor fix loss (0: every due fix arrives; 1: realistic)",
    )
    parser.add_argument(
        "--internal-doors",
        type=float,
        default=0.7,
        help="chance that a move between rooms in a station passes a badged internal door "
        "(0.7: about 200,000 swipes for 46,000 officers; 0: entrance swipes only)",
    )
    parser.add_argument(
        "--db-state",
        choices=("settled", "loaded"),
        default="settled",
        help="PostgreSQL after the load: settled (VACUUM (ANALYZE) and CHECKPOINT, as hours "
        "later) or loaded (neither: hint bits unset, the load's pages not yet written out)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-sjoin", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--sjoin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.sjoin, args.pairs)))
        return 0
    sizes = sorted(int(x) for x in args.officers.split(","))
    backends = [b for b in args.backends.split(",") if b]
    run = Run("nightly", postgres="postgres" in backends)
    started = time.perf_counter()
    log(
        f"generating {sizes[-1]:,} officers, one day, a fix every {args.fixes_interval_s} s on duty"
    )
    t = time.perf_counter()
    force = generate(
        sizes[-1], args.fixes_interval_s, args.seed, args.fix_loss, args.internal_doors
    )
    gen_s = time.perf_counter() - t
    log(
        f"generated in {gen_s:.0f} s: {force.pings.height:,} fixes, {force.swipes.height:,} swipes,"
        f" {force.roster.height:,} shifts"
    )
    figures: dict[str, Any] = {
        "day": DAY.isoformat(),
        "fixes_interval_s": args.fixes_interval_s,
        "fix_loss": args.fix_loss,
        "internal_doors": args.internal_doors,
        "generate_s": round(gen_s, 1),
        "pairs": args.pairs,
        "db_state": args.db_state,
        "targets": {
            "postgres_job_s": 60,
            "sqlite_job_s": 90,
            "peak_rss_gb": 8,
            "load_over_ceiling": 1.5,
        },
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="rollcall-bench-") as tmp:
        for backend in backends:
            runs: list[dict[str, Any]] = []
            for size in sizes:
                # a fresh database per size, its rows stored in the order they arrive (all
                # officers' interleaved in time), as a real day's are
                url = create_database(backend, Path(tmp))
                try:
                    t = time.perf_counter()
                    counts = load_increment(
                        url, force, 0, size, first=True, settle=args.db_state == "settled"
                    )
                    load_s = time.perf_counter() - t
                    log(f"{backend}: loaded officers 1..{size} in {load_s:.0f} s {counts}")
                    result = run_measure_subprocess(url, not args.no_sjoin, args.pairs)
                    result.update(officers=size, bulk_load_s=round(load_s, 1))
                    log(f"{backend} {size:,}: {json.dumps(result)}")
                    runs.append(result)
                finally:
                    drop_database(url)
            figures["runs"][backend] = runs
    for backend, runs in figures["runs"].items():
        ok = [r for r in runs if "job_s" in r]
        if len(ok) >= 2:
            per_k = [r["job_s"] / r["officers"] * 1000 for r in ok]
            figures.setdefault("seconds_per_1000_officers", {})[backend] = [
                round(x, 2) for x in per_k
            ]
        biggest = ok[-1] if ok else None
        target = figures["targets"][f"{backend}_job_s"]
        if biggest is not None:
            figures.setdefault("meets_target", {})[backend] = {
                "officers": biggest["officers"],
                "job_s": biggest["job_s"],
                "job_target_s": target,
                "time_ok": biggest["job_s"] <= target,
                "memory_ok": biggest["peak_rss_gb"] < 8,
                "load_over_ceiling": biggest["load_ceiling"]["load_over_ceiling"],
                "load_ratio_ok": biggest["load_ceiling"]["load_over_ceiling"] <= 1.5,
            }
    figures["bench_total_s"] = round(time.perf_counter() - started, 1)
    for backend, runs in figures["runs"].items():
        for r in runs:
            if "job_s" in r:
                log(
                    f"{backend} {r['officers']:,} officers: job {r['job_s']} s (runs "
                    f"{r['job_s_runs']}), load {r['stages_s']['load']} s = "
                    f"{r['load_ceiling']['load_over_ceiling']}x the plain read "
                    f"(pairs {r['load_ceiling']['ratio_pairs']}){_column_read_note(r)}, compute "
                    f"{r['compute_ceiling']['compute_over_in_memory']}x in memory; each read "
                    f"of the load on its own (s): {r.get('load_parts_s')}"
                )
    out = run.finish(figures)
    log(describe(out["machine"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
