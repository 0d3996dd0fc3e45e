"""Benchmark: what HR and investigators take away, at the size of the Met.

- unit roll-up of 46,000 office-based officers over a month (compliance + roll-up per unit);
- the same month as an .xlsx workbook (units and officers sheets) from the query to the bytes;
- one officer's month of timeline as GeoJSON with 600 station fences, through the ASGI app,
  every request timed, over two start-ups: one that builds the station index (once, on the
  service's warm-up thread) and a restart that reads it from the cache directory.

Prints the figures against their targets and ends with ONE JSON line with the machine and its
load (bench/machine.py; also written to $BENCH_RESULTS); ``--backend`` sqlite, postgres or both
(default both). ``BENCH_QUICK=1``: 4,600 officers, fewer runs (the same 600 fences).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import polars as pl
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api import signing  # noqa: E402
from api.app import create_app  # noqa: E402
from api.auth import issue_token  # noqa: E402
from bench.machine import Run, quick_mode  # noqa: E402
from geo.fences import Station  # noqa: E402
from geo.synthetic import random_stations  # noqa: E402
from intake.pipeline import ingest_frame  # noqa: E402
from rollcall.settings import Settings  # noqa: E402
from rollcall.tabular import to_xlsx  # noqa: E402
from rules.policy import load_policy  # noqa: E402
from store.db import make_engine, session_factory, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.reports import compliance_frame, unit_rollup  # noqa: E402
from store.results import replace_daily  # noqa: E402
from store.stations import upsert_station  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TZ = "Europe/London"
SECRET = "bench-reporting-secret-0123456789abcdef"
MONTH = date(2026, 10, 1)
DAYS = 31
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Acceptance: the roll-up and the workbook of 46,000 officers over a month, the timeline p95.
ROLLUP_S, XLSX_S, TIMELINE_P95_MS = 1.0, 5.0, 100.0
RANKS = ("Constable", "Sergeant", "Inspector", "Chief Inspector", "Superintendent")


def log(message: str) -> None:
    print(f"[reporting] {message}", file=sys.stderr, flush=True)


def _text_frame(rows: list[dict[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict.fromkeys(rows[0], pl.Utf8))


def _feature(station: Station) -> dict[str, Any]:
    from geo.geojson import station_feature

    # shapely's mapping gives tuples; the importer reads GeoJSON as parsed JSON (lists).
    feature: dict[str, Any] = orjson.loads(orjson.dumps(station_feature(station)))
    return feature


def seed(url: str, officers: int, stations: list[Station]) -> None:
    """Stations, officers in 400 units, a month of daily results for all, and one officer with a
    month of on-duty fixes (a fix a minute on weekday shifts, mornings at a station)."""
    # "Now" for the import: three days after the month, as if imported then (the month's fixes
    # would be refused as older than the raw retention once it is more than 90 days ago).
    now = datetime.combine(MONTH + timedelta(days=DAYS + 3), datetime.min.time(), tzinfo=UTC)
    policy = load_policy()
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    t0 = time.perf_counter()
    ids = [f"O{i:06d}" for i in range(officers)]
    with transaction(factory) as session:
        for station in stations:
            upsert_station(session, _feature(station), now=now)
        people = [
            {
                "officer_id": o,
                "display_name": f"Officer {i}",
                "rank": RANKS[i % len(RANKS)],
                "unit": f"Unit {i % 400:03d}",
                "office_based": "true",
            }
            for i, o in enumerate(ids)
        ]
        ingest_frame(session, "officers", _text_frame(people), tz=TZ, policy=policy, now=now)
    for d in range(DAYS):
        day = MONTH + timedelta(days=d)
        weekend = day.weekday() >= 5
        minutes = [0.0 if weekend else float(150 + (i * 7 + d * 13) % 400) for i in range(officers)]
        daily = pl.DataFrame(
            {
                "officer_id": ids,
                "date": [day] * officers,
                "expected_office": [not weekend] * officers,
                "declared_location": [None if weekend else "office"] * officers,
                "verified_presence_minutes": minutes,
                "verified_office_day": [m >= 240 for m in minutes],
                "evidence": [
                    "insufficient_evidence" if (i + d) % 37 == 0 else "adequate"
                    for i in range(officers)
                ],
                "policy_version": [policy.version] * officers,
            }
        )
        with transaction(factory) as session:
            replace_daily(session, day, daily, run_id=None, now=now)
    log(
        f"seeded {len(stations)} stations, {officers:,} officers x {DAYS} days in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    _seed_timeline(factory, stations[0], policy, now)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()


def _seed_timeline(factory: Any, station: Station, policy: Any, now: datetime) -> None:
    inside = station.geometry.representative_point()
    with transaction(factory) as session:
        ingest_frame(
            session,
            "devices",
            _text_frame(
                [{"device_id": "D0", "officer_id": "O000000", "valid_from": "2026-01-01T00:00:00Z"}]
            ),
            tz=TZ,
            policy=policy,
            now=now,
        )
        shifts, pings = [], []
        for d in range(DAYS):
            day = MONTH + timedelta(days=d)
            if day.weekday() >= 5:
                continue
            shifts.append(
                {
                    "shift_id": f"S{d}",
                    "officer_id": "O000000",
                    "start": f"{day}T08:00:00",
                    "end": f"{day}T16:00:00",
                    "kind": "duty",
                    "station_id": station.station_id,
                    "declared_location": "office",
                    "created_at": "2026-09-01T09:00:00Z",
                }
            )
            for m in range(8 * 60):
                away = m >= 300  # the afternoon a few km away
                lat = inside.y + (0.03 if away else 0.0)
                lon = inside.x + (0.03 if away else 0.0)
                ts = datetime.fromisoformat(f"{day}T08:00:00").replace(
                    tzinfo=ZoneInfo(TZ)
                ) + timedelta(minutes=m)
                pings.append(
                    {
                        "device_id": "D0",
                        "ts": ts.isoformat(),
                        "lat": str(lat),
                        "lon": str(lon),
                        "accuracy_m": "12",
                        "source": "gps",
                        "is_mock": "false",
                    }
                )
        ingest_frame(session, "roster", _text_frame(shifts), tz=TZ, policy=policy, now=now)
        report = ingest_frame(session, "pings", _text_frame(pings), tz=TZ, policy=policy, now=now)
    log(f"timeline officer: {len(shifts)} shifts, {report.counts.get('accepted', 0):,} fixes")


def _median_max(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), max(values)


def bench_rollup(url: str, runs: int) -> dict[str, Any]:
    policy = load_policy()
    engine = make_engine(url)
    factory = session_factory(engine)
    first, last = MONTH, MONTH + timedelta(days=DAYS - 1)
    rollup, workbook = [], []
    size = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        with factory() as session:
            frame = compliance_frame(session, first, last, unit=None, policy=policy)
        units = unit_rollup(frame)
        rollup.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with factory() as session:
            frame = compliance_frame(session, first, last, unit=None, policy=policy)
        data = to_xlsx({"units": unit_rollup(frame), "officers": frame})
        workbook.append(time.perf_counter() - t0)
        size = len(data)
    engine.dispose()
    r_med, r_max = _median_max(rollup)
    x_med, x_max = _median_max(workbook)
    log(
        f"roll-up of {frame.height:,} officers into {units.height} units: median {r_med:.2f} s, "
        f"slowest {r_max:.2f} s (target {ROLLUP_S:.0f} s)"
    )
    log(
        f"xlsx ({size / 1e6:.1f} MB): median {x_med:.2f} s, slowest {x_max:.2f} s (target {XLSX_S:.0f} s)"
    )
    return {
        "officers": frame.height,
        "units": units.height,
        "rollup_s_median": round(r_med, 3),
        "rollup_s_max": round(r_max, 3),
        "xlsx_s_median": round(x_med, 3),
        "xlsx_s_max": round(x_max, 3),
        "xlsx_bytes": size,
    }


def _timeline_series(
    settings: Settings, requests: int, *, wait_for_index: bool
) -> tuple[list[float], dict[str, Any], float, dict[str, int]]:
    """Latencies of ``requests`` timeline requests to a freshly started app (the first one sent
    as soon as start-up ends, or once the index is ready with ``wait_for_index``), the last
    body, the seconds start-up plus any wait took, and the catalog's builds and loads."""
    token = issue_token(SECRET, role="investigator", sub="bench")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/geo+json"}
    params = {"from": "2026-10-01", "to": "2026-10-31", "case_ref": "BENCH-1"}
    t0 = time.perf_counter()
    app = create_app(settings)
    latencies: list[float] = []
    with TestClient(app) as client:
        catalog = app.state.rollcall.stations
        if wait_for_index:
            catalog.warmed.wait()
        startup = time.perf_counter() - t0
        for _ in range(requests):
            t = time.perf_counter()
            r = client.get("/v1/officers/O000000/timeline", params=params, headers=headers)
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        body = orjson.loads(r.content)
    return latencies, body, startup, {"builds": catalog.builds, "loads": catalog.loads}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def bench_timeline(
    url: str, requests: int, key_file: Path, cache_dir: Path, fences: int
) -> dict[str, Any]:
    """Two start-ups of the service on the same database and index cache directory: the first
    builds the station index (on the warm-up thread; the requests start once it is ready) and
    stores it; the second, a restart, reads it back and is asked as soon as start-up ends. The
    acceptance figure is the p95 over both series, first requests included."""
    settings = Settings(
        database_url=url,
        jwt_secret=SECRET,
        timezone=TZ,
        export_key_file=key_file,
        cache_dir=cache_dir,
    )
    cold, body, build_s, cold_counts = _timeline_series(settings, requests, wait_for_index=True)
    warm, _, restart_s, warm_counts = _timeline_series(settings, requests, wait_for_index=False)
    both = cold + warm
    p95 = _p95(both)
    features = len(body["features"])
    log(
        f"timeline GeoJSON, {fences} fences, {features} features, {len(both)} requests over two "
        f"start-ups: p95 {p95 * 1000:.0f} ms (target 100 ms), median "
        f"{statistics.median(both) * 1000:.0f} ms; first request after the index build "
        f"{cold[0] * 1000:.0f} ms, first after a restart {warm[0] * 1000:.0f} ms"
    )
    log(
        f"station index: built on the warm-up thread, start-up to ready {build_s:.1f} s "
        f"({cold_counts['builds']} build); restart to ready {restart_s:.2f} s reading it from the "
        f"cache directory ({warm_counts['loads']} load, {warm_counts['builds']} builds)"
    )
    return {
        "timeline_p95_ms": round(p95 * 1000, 1),
        "timeline_median_ms": round(statistics.median(both) * 1000, 1),
        "timeline_first_ms": round(cold[0] * 1000, 1),
        "timeline_first_after_restart_ms": round(warm[0] * 1000, 1),
        "timeline_features": features,
        "index_build_s": round(build_s, 2),
        "restart_s": round(restart_s, 2),
        "index_builds": cold_counts["builds"] + warm_counts["builds"],
        "index_loads": warm_counts["loads"],
    }


def _database(backend: str, tmp: Path) -> tuple[str, Any]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'reporting.db'}", None
    name = f"rollcall_bench_rep_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def main() -> None:
    quick = quick_mode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--officers", type=int, default=4_600 if quick else 46_000)
    parser.add_argument("--stations", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3 if quick else 5)
    parser.add_argument("--requests", type=int, default=20 if quick else 40)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument(
        "--database", help="measure this database, seeded before by this script (no seeding)"
    )
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    if args.database:
        backends = ("postgres" if args.database.startswith("postgresql") else "sqlite",)
    run = Run("reporting", postgres="postgres" in backends)
    stations = random_stations(args.stations, seed=7, min_spacing_m=250.0)
    out: dict[str, Any] = {"officers": args.officers, "stations": args.stations}
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        key_file = tmp / "export-key.pem"
        signing.generate_key_file(key_file)
        for backend in backends:
            url, drop = (args.database, None) if args.database else _database(backend, tmp)
            try:
                log(f"== {backend}")
                if not args.database:
                    seed(url, args.officers, stations)
                out[backend] = {
                    **bench_rollup(url, args.runs),
                    **bench_timeline(
                        url, args.requests, key_file, tmp / f"cache-{backend}", args.stations
                    ),
                }
            finally:
                if drop is not None:
                    drop()
    results = [out[b] for b in backends]
    out["targets"] = {"rollup_s": ROLLUP_S, "xlsx_s": XLSX_S, "timeline_p95_ms": TIMELINE_P95_MS}
    out["met"] = all(
        r["rollup_s_max"] <= ROLLUP_S
        and r["xlsx_s_max"] <= XLSX_S
        and r["timeline_p95_ms"] <= TIMELINE_P95_MS
        for r in results
    )
    run.finish(out)


if __name__ == "__main__":
    main()
