"""Import speed of pings.csv into PostgreSQL and SQLite, against a plain ORM insert.

Builds a 1,000,000-row pings.csv for 2,000 officers on duty (plus reference files), imports it
with `store.ingest.ingest_file` into a fresh PostgreSQL database and a fresh SQLite file, each in
its own process so its peak memory can be read, repeats with a 250,000-row file to show memory
does not grow with the file, and inserts 50,000 of the rows through the SQLAlchemy ORM for
comparison. Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
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

from rules.policy import load_policy  # noqa: E402
from store.db import make_engine, session_factory  # noqa: E402
from store.ingest import ingest_file  # noqa: E402
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


def _fresh_db(backend: str, work: Path, tag: str) -> str:
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
    engine.dispose()
    queue.put(
        {
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


def run_orm(backend: str, work: Path, pings: Path, rows: int = 50_000) -> float:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=250_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rollcall_bench_") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        big = write_files(work, args.rows)
        small = write_files(work, args.small_rows)
        print(
            f"generated {args.rows:,} + {args.small_rows:,} rows in {time.perf_counter() - t0:.1f} s "
            f"({big.stat().st_size / 1e6:.0f} MB)"
        )
        figures: dict[str, Any] = {"rows": args.rows}
        for backend in ("postgis", "sqlite"):
            res = run_import(backend, work, big, "big")
            res_small = run_import(backend, work, small, "small")
            orm = run_orm(backend, work, big)
            figures[backend] = {
                "rows_per_s": round(res["rows_per_s"]),
                "seconds": round(res["seconds"], 2),
                "stored": res["stored"],
                "peak_rss_mb": round(res["peak_rss_mb"]),
                "peak_rss_mb_small_file": round(res_small["peak_rss_mb"]),
                "rows_small_file": args.small_rows,
                "orm_rows_per_s": round(orm),
                "speedup_vs_orm": round(res["rows_per_s"] / orm, 1),
            }
            f = figures[backend]
            print(
                f"{backend:8s} {f['rows_per_s']:>10,} rows/s  ({f['seconds']} s, {f['stored']:,} stored)  "
                f"peak RSS {f['peak_rss_mb']} MB (vs {f['peak_rss_mb_small_file']} MB for "
                f"{args.small_rows:,} rows)  ORM add_all {f['orm_rows_per_s']:,} rows/s  "
                f"-> {f['speedup_vs_orm']}x"
            )
        figures["targets_met"] = {
            "postgis_200k_rows_per_s": figures["postgis"]["rows_per_s"] >= 200_000,
            "sqlite_100k_rows_per_s": figures["sqlite"]["rows_per_s"] >= 100_000,
        }
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
