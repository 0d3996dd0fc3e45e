"""Import speed of pings.csv into PostgreSQL and SQLite, against the machine's own ceiling.

Builds a pings.csv for 2,000 officers on duty (plus reference files; 1,000,000 rows, 200,000 with
BENCH_QUICK=1), imports it with `intake.pipeline.ingest_file` into a fresh PostgreSQL database and a
fresh SQLite file, each in its own process so its peak memory can be read, and alternately (A B
B A ...) measures the ceiling of the same machine for the same rows: a plain binary COPY (pgpq,
as the import uses) into a PostgreSQL table with no key or index, and `executemany` into a bare
SQLite table. The figure that travels between machines is the import's share of that ceiling
(median of the pairs; target 0.70 on both). Next to each ceiling, the same load into a table with
only the pings' primary key tells how much of the gap the key explains. Repeats the import with a quarter-size file to show
memory does not grow with the file, and inserts some rows through the SQLAlchemy ORM for
comparison. Prints a table and ends with one JSON line carrying the machine (bench/machine.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import (  # noqa: E402
    Run,
    alternate,
    describe,
    libpq_dsn,
    median,
    quick_mode,
    sqlite_bare_insert,
)
from bench.machine import pg_copy_in as copy_ceiling  # noqa: E402
from intake.pipeline import ingest_file  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from store.db import make_engine, session_factory  # noqa: E402
from store.migrate import upgrade  # noqa: E402

TZ = "Europe/London"
DAY = datetime(2026, 10, 20, tzinfo=UTC)
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def write_files(out: Path, rows: int, officers: int = 2000, seed: int = 7) -> Path:
    """Reference files and a pings file of ``rows`` rows, all inside rostered duty shifts."""
    rng = np.random.default_rng(seed)
    ids = [f"O{i:05d}" for i in range(officers)]
    pl.DataFrame({"officer_id": ids, "office_based": ["true"] * officers}).write_csv(
        out / "officers.csv"
    )
    pl.DataFrame(
        {
            "device_id": [f"D{i:05d}" for i in range(officers)],
            "officer_id": ids,
            "valid_from": ["2026-01-01T00:00:00Z"] * officers,
        }
    ).write_csv(out / "devices.csv")
    start = DAY + timedelta(hours=6)
    pl.DataFrame(
        {
            "shift_id": [f"S{i:05d}" for i in range(officers)],
            "officer_id": ids,
            "start": [start.isoformat()] * officers,
            "end": [(start + timedelta(hours=12)).isoformat()] * officers,
            "kind": ["duty"] * officers,
            "declared_location": ["office"] * officers,
        }
    ).write_csv(out / "roster.csv")
    device = rng.integers(0, officers, rows)
    # Distinct (device, second) pairs inside the shift: seconds spread over 12 hours per device.
    order = np.argsort(device, kind="stable")
    rank = np.empty(rows, dtype=np.int64)
    counts = np.bincount(device, minlength=officers)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank[order] = np.arange(rows) - np.repeat(starts, counts)
    seconds = (rank * 43_200 // np.maximum(counts[device], 1)).astype(np.int64)
    ts = pl.Series(seconds * 1_000_000 + int(start.timestamp()) * 1_000_000).cast(
        pl.Datetime("us", "UTC")
    )
    frame = pl.DataFrame(
        {
            "device_id": pl.Series([f"D{i:05d}" for i in range(officers)])[device],
            "ts": ts.dt.convert_time_zone(TZ).dt.strftime("%Y-%m-%dT%H:%M:%S%:z"),
            "lat": np.round(rng.uniform(51.30, 51.68, rows), 6),
            "lon": np.round(rng.uniform(-0.50, 0.28, rows), 6),
            "accuracy_m": np.round(rng.gamma(2.0, 6.0, rows) + 1, 1),
            "source": rng.choice(["gps", "wifi", "fused", "cell"], rows, p=[0.6, 0.25, 0.1, 0.05]),
            "is_mock": ["false"] * rows,
        }
    )
    path = out / f"pings_{rows}.csv"
    frame.write_csv(path)
    return path


def _fresh_db(backend: str, work: Path, tag: str, *, migrate: bool = True) -> str:
    if backend == "sqlite":
        path = work / f"bench_{tag}.db"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        name = f"rollcall_bench_import_{tag}"
        admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    if migrate:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
    return url


def _drop_pg(tag: str) -> None:
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "rollcall_bench_import_{tag}" WITH (FORCE)'))
    admin.dispose()


def _import_job(url: str, work: str, pings: str, queue: Any) -> None:
    policy = load_policy()
    engine = make_engine(url)
    factory = session_factory(engine)
    now = DAY + timedelta(days=1)
    for kind in ("officers", "devices", "roster"):
        ingest_file(factory, kind, Path(work) / f"{kind}.csv", tz=TZ, policy=policy, now=now)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    report = ingest_file(factory, "pings", Path(pings), tz=TZ, policy=policy, now=now)
    elapsed = time.perf_counter() - t0
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM pings")).scalar_one()
        size_sql = (
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'pings'::regclass"
            if url.startswith("postgresql")
            else "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
        )
        stored_bytes = conn.execute(sa.text(size_sql)).scalar_one()
    engine.dispose()
    queue.put(
        {
            "stored_mb": round(int(stored_bytes or 0) / 1e6),
            "seconds": elapsed,
            "counts": report.counts,
            "stored": stored,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_before_mb": rss_before / 1024,
        }
    )


def run_import(backend: str, work: Path, pings: Path, tag: str) -> dict[str, Any]:
    url = _fresh_db(backend, work, tag)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_import_job, args=(url, str(work), str(pings), queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    if backend == "postgis":
        _drop_pg(tag)
    rows = result["counts"]["accepted"] + result["counts"]["duplicate"]
    result["rows_per_s"] = rows / result["seconds"]
    return result


def run_orm(backend: str, work: Path, pings: Path, rows: int) -> float:
    """Rows/s of the first ``rows`` pings through Session.add_all (the ORM's unit of work)."""
    from store.models import Ping

    url = _fresh_db(backend, work, "orm")
    frame = pl.read_csv(pings, n_rows=rows).with_columns(
        pl.col("ts")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_unit="us")
        .dt.convert_time_zone("UTC")
    )
    engine = make_engine(url)
    factory = session_factory(engine)
    from store.load import ensure_ping_partitions

    with factory() as session, session.begin():
        ensure_ping_partitions(session, frame["ts"].dt.date().unique().to_list())
    t0 = time.perf_counter()
    with factory() as session, session.begin():
        session.add_all(
            Ping(
                device_id=r["device_id"],
                ts=r["ts"],
                officer_id="O",
                lat=r["lat"],
                lon=r["lon"],
                accuracy_m=r["accuracy_m"],
                source=r["source"],
                is_mock=False,
                h3_cell=0,
            )
            for r in frame.iter_rows(named=True)
        )
    elapsed = time.perf_counter() - t0
    engine.dispose()
    if backend == "postgis":
        _drop_pg("orm")
    return rows / elapsed


def ceiling_frame(pings: Path) -> pl.DataFrame:
    """The rows of ``pings`` as the import stores them: the pings table's columns and types
    (officer from the device, the H3 cell computed), built outside every timing."""
    from geo.cells import cells
    from store.load import PING_TYPES

    frame = pl.read_csv(pings, infer_schema=False).with_columns(
        pl.col("ts")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_unit="us")
        .dt.convert_time_zone("UTC"),
        pl.col("lat", "lon", "accuracy_m").cast(pl.Float64),
        pl.col("is_mock") == "true",
        officer_id="O" + pl.col("device_id").str.slice(1),
    )
    frame = frame.with_columns(h3_cell=cells(frame).cast(pl.Int64))
    return frame.select([pl.col(c).cast(t) for c, t in PING_TYPES.items()]).sort("ts")


PING_KEY = ("ts", "device_id")
PING_INDEX = ("officer_id", "ts")


def ceiling(
    backend: str,
    work: Path,
    frame: pl.DataFrame,
    key: tuple[str, ...] = (),
    index: tuple[str, ...] = (),
) -> float:
    """Seconds of the machine's plainest load of ``frame`` on ``backend`` (with ``key``: the
    same into a table with only the pings' primary key; with ``index`` too: the same table the
    import writes, its (officer_id, ts) index built after the COPY on PostgreSQL as the import
    does for a new day, kept row by row on SQLite as the pings table has it)."""
    if backend == "sqlite":
        return sqlite_bare_insert(work / "ceiling.db", frame, key, index)
    url = _fresh_db(backend, work, "ceiling", migrate=False)
    try:
        return copy_ceiling(libpq_dsn(url), frame, key=key, index=index)
    finally:
        _drop_pg("ceiling")


def measure_backend(
    backend: str, work: Path, big: Path, small: Path, frame: pl.DataFrame, pairs: int, orm_rows: int
) -> dict[str, Any]:
    """The import alternated with the ceiling ``pairs`` times, one import of the small file, and
    the ORM's rate; rows/s, seconds and the import's share of the ceiling."""
    imports: list[dict[str, Any]] = []
    keyed: list[float] = []
    indexed: list[float] = []

    def one_import() -> float:
        imports.append(run_import(backend, work, big, "big"))
        return float(imports[-1]["seconds"])

    def one_ceiling() -> float:
        seconds = ceiling(backend, work, frame)
        # next to it, not alternated: how much of the gap the primary key alone explains
        keyed.append(ceiling(backend, work, frame, PING_KEY))
        # and with the same key and index as the import's table: the work the store needs
        indexed.append(ceiling(backend, work, frame, PING_KEY, PING_INDEX))
        return seconds

    pairs_ab = alternate(one_ceiling, one_import, pairs)
    res_small = run_import(backend, work, small, "small")
    orm = run_orm(backend, work, big, orm_rows)
    res = imports[-1]
    rows = res["counts"]["accepted"] + res["counts"]["duplicate"]
    summary = pairs_ab.summary()
    share = summary["ratio_median"]  # ceiling seconds / import seconds: the import's share
    import_rate = rows / summary["b_median"]
    return {
        "rows_per_s": round(import_rate),
        "rows_per_s_runs": [round(rows / x) for x in pairs_ab.b],
        "seconds": summary["b_median"],
        "stored": res["stored"],
        "stored_mb": res["stored_mb"],
        "ceiling": "binary COPY into a table without key or index"
        if backend == "postgis"
        else "executemany into a bare table",
        "ceiling_rows_per_s": round(rows / summary["a_median"]),
        "ceiling_rows_per_s_runs": [round(rows / x) for x in pairs_ab.a],
        "share_of_ceiling": share,
        "share_of_ceiling_pairs": summary["ratios"],
        "keyed_ceiling_rows_per_s": round(rows / median(keyed)),
        "share_of_keyed_ceiling": round(median(keyed) / summary["b_median"], 3),
        "indexed_ceiling": "the same load into a table with the pings' key and (officer_id, ts) "
        "index (PostgreSQL: index built after the COPY)",
        "indexed_ceiling_rows_per_s": round(rows / median(indexed)),
        "share_of_indexed_ceiling": round(median(indexed) / summary["b_median"], 3),
        "share_of_indexed_ceiling_runs": [
            round(c / b, 3) for c, b in zip(indexed, pairs_ab.b, strict=False)
        ],
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in imports)),
        "peak_rss_mb_small_file": round(res_small["peak_rss_mb"]),
        "rows_small_file": res_small["counts"]["accepted"],
        "orm_rows_per_s": round(orm),
        "speedup_vs_orm": round(import_rate / orm, 1),
    }


def main() -> None:
    quick = quick_mode()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000 if quick else 1_000_000)
    parser.add_argument("--small-rows", type=int, default=50_000 if quick else 250_000)
    parser.add_argument("--orm-rows", type=int, default=10_000 if quick else 50_000)
    parser.add_argument(
        "--pairs", type=int, default=2 if quick else 3, help="import/ceiling pairs per backend"
    )
    parser.add_argument("--backends", default="postgis,sqlite")
    args = parser.parse_args()
    run = Run("import_pings")
    with tempfile.TemporaryDirectory(prefix="rollcall_bench_") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        big = write_files(work, args.rows)
        small = write_files(work, args.small_rows)
        frame = ceiling_frame(big)
        print(
            f"generated {args.rows:,} + {args.small_rows:,} rows in {time.perf_counter() - t0:.1f} s "
            f"({big.stat().st_size / 1e6:.0f} MB)"
        )
        figures: dict[str, Any] = {"rows": args.rows, "pairs": args.pairs}
        for backend in args.backends.split(","):
            f = figures[backend] = measure_backend(
                backend, work, big, small, frame, args.pairs, args.orm_rows
            )
            print(
                f"{backend:8s} {f['rows_per_s']:>10,} rows/s ({f['seconds']} s, "
                f"{f['stored']:,} stored), ceiling {f['ceiling_rows_per_s']:,} rows/s "
                f"({f['ceiling']}): share {f['share_of_ceiling']:.2f} (pairs "
                f"{f['share_of_ceiling_pairs']}; with the key only {f['keyed_ceiling_rows_per_s']:,} rows/s, "
                f"share {f['share_of_keyed_ceiling']:.2f}; with the key and officer index "
                f"{f['indexed_ceiling_rows_per_s']:,} rows/s, share "
                f"{f['share_of_indexed_ceiling']:.2f}); peak RSS {f['peak_rss_mb']} MB (vs "
                f"{f['peak_rss_mb_small_file']} MB for {args.small_rows:,} rows); ORM add_all "
                f"{f['orm_rows_per_s']:,} rows/s -> {f['speedup_vs_orm']}x"
            )
        met: dict[str, bool] = {}
        if "postgis" in figures:
            met["postgis_share>=0.70"] = figures["postgis"]["share_of_ceiling"] >= 0.70
            met["postgis_200k_rows_per_s"] = figures["postgis"]["rows_per_s"] >= 200_000
            met["postgis_indexed_share>=0.70"] = (
                figures["postgis"]["share_of_indexed_ceiling"] >= 0.70
            )
        if "sqlite" in figures:
            met["sqlite_share>=0.70"] = figures["sqlite"]["share_of_ceiling"] >= 0.70
            met["sqlite_100k_rows_per_s"] = figures["sqlite"]["rows_per_s"] >= 100_000
            met["sqlite_indexed_share>=0.70"] = (
                figures["sqlite"]["share_of_indexed_ceiling"] >= 0.70
            )
        figures["targets_met"] = met
        out = run.finish(figures)
        print(describe(out["machine"]), file=sys.stderr)


if __name__ == "__main__":
    main()
