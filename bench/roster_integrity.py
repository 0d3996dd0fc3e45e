"""Benchmark of the roster-integrity period over a year of a large force's roster on PostgreSQL.

Usage: .venv/bin/python bench/roster_integrity.py [--officers 46000] [--days 365] [--keep]

A fresh database is filled inside PostgreSQL (generate_series; outside every timing): one shift a
day for every officer for a year (duty, rest, training, leave, sickness in a rotation), created
by the rostering office 20 days ahead, so about 17 million shift versions with the edits below;
about a million overtime claims (after a duty shift, approved by a unit supervisor); and
after-the-fact edits: unit administrators booking 1% of duty shifts an hour longer the next
morning, officers booking their own late finishes that presence supports, and planted abuse
(self-edits after going home, rings of four accounts, self-approved claims, the same hours
claimed twice, claims during rest days) whose number is known. Daily results are stored for the
days with late edits (the only ones the period reads, by primary key).

Then, in a fresh subprocess each (so the peak RSS is its own), jobs.integrity.run_period (read,
rules, flag writes): the year as one period, and for comparison the twelve calendar months one
after another (what `rollcall nightly` does at each month's end). The codes found are printed
beside the numbers planted, and the year's seconds per stage (``read_versions``, ``read_claims``,
``read_others``: the overlap probes, ``read_accounts``, ``read_support``, ``rules``, ``write``). ``BENCH_QUICK=1``: 4,600 officers. Ends with ONE JSON line of
figures on stdout (and a file in ``$BENCH_RESULTS`` when set).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TZ = "Europe/London"
PG_ADMIN = os.environ.get(
    "ROLLCALL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
YEAR = date(2026, 1, 1)


def log(msg: str) -> None:
    sys.stderr.write(f"[{datetime.now(UTC):%H:%M:%S}] {msg}\n")
    sys.stderr.flush()


# The roster: officer i, day d. Kinds in a rotation; a duty day with (i + d) % 10 = 0 has a claim.
KIND = """CASE
  WHEN (i + d) % 7 IN (5, 6) THEN 'rest'
  WHEN (i * 7 + d) % 53 = 0 THEN 'sick'
  WHEN (i * 3 + d) % 29 = 0 THEN 'leave'
  WHEN (i + d) % 17 = 0 THEN 'training'
  ELSE 'duty' END"""
DAY0 = "timestamptz '2026-01-01 00:00:00+00'"
DROP_INDEXES = (
    "ALTER TABLE shift_versions DROP CONSTRAINT pk_shift_versions",
    "DROP INDEX ix_shift_versions_officer_id",
    "ALTER TABLE shifts DROP CONSTRAINT pk_shifts",
    "DROP INDEX ix_shifts_officer_start",
)
VERSION_INDEXES = (
    "ALTER TABLE shift_versions ADD CONSTRAINT pk_shift_versions PRIMARY KEY (shift_id, version)",
    "CREATE INDEX ix_shift_versions_officer_id ON shift_versions (officer_id)",
)
SHIFT_INDEXES = (
    "ALTER TABLE shifts ADD CONSTRAINT pk_shifts PRIMARY KEY (shift_id)",
    "CREATE INDEX ix_shifts_officer_start ON shifts (officer_id, start_at)",
)


def fill(url: str, officers: int, days: int) -> dict[str, int]:
    """Load the year into the database at ``url``; returns what was planted."""
    import sqlalchemy as sa

    from store.db import make_engine

    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    steps = [
        (
            "officers",
            f"""INSERT INTO officers (officer_id, unit, office_based, account_id, updated_at)
            SELECT 'O' || lpad(i::text, 6, '0'), 'U' || (i % 400), true,
                   'acc-O' || lpad(i::text, 6, '0'), now()
            FROM generate_series(1, {officers}) i""",
        ),
        (
            "shift versions (first versions)",
            f"""INSERT INTO shift_versions (shift_id, version, officer_id, start_at, end_at, kind,
                station_id, declared_location, created_at, updated_at, edited_by, recorded_at)
            SELECT 'S' || i || '-' || d, 1, 'O' || lpad(i::text, 6, '0'),
                   CASE WHEN k IN ('duty', 'training') THEN s + interval '8 hours' ELSE s END,
                   CASE WHEN k IN ('duty', 'training') THEN s + interval '16 hours'
                        ELSE s + interval '1 day' END,
                   k, CASE WHEN k IN ('duty', 'training') THEN 'ST' || (i % 160) END,
                   CASE WHEN k = 'duty' THEN 'office' END,
                   s - interval '20 days', s - interval '20 days', 'rostering-team',
                   s - interval '20 days'
            FROM generate_series(1, {officers}) i, generate_series(0, {days - 1}) d,
                 LATERAL (SELECT {KIND} AS k, {DAY0} + make_interval(days => d) AS s) x""",
        ),
        (
            "overtime claims",
            """INSERT INTO overtime_claims (claim_id, officer_id, start_at, end_at, station_id,
                submitted_at, approved_by, approved_at)
            SELECT 'C' || substr(v.shift_id, 2), v.officer_id, v.end_at,
                   v.end_at + interval '2 hours', v.station_id, v.end_at + interval '20 hours',
                   'sup-U' || (substr(v.officer_id, 2)::int % 400), v.end_at + interval '1 day'
            FROM shift_versions v
            WHERE v.kind = 'duty'
              AND (substr(v.officer_id, 2)::int + split_part(v.shift_id, '-', 2)::int) % 10 = 0""",
        ),
    ]
    with engine.connect() as conn:
        # bulk load without the roster tables' indexes, built afterwards in one sort each (as a
        # restored backup has them); a year loaded row by row into them takes several times longer
        conn.execute(sa.text("SET maintenance_work_mem = '1GB'"))
        conn.execute(sa.text("SET synchronous_commit = off"))
        for sql in DROP_INDEXES:
            conn.execute(sa.text(sql))
        for name, sql in steps:
            t0 = time.perf_counter()
            conn.execute(sa.text(sql))
            log(f"{name}: {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        for sql in VERSION_INDEXES:
            conn.execute(sa.text(sql))
        log(f"shift_versions indexes: {time.perf_counter() - t0:.1f} s")
        planted = _edits(conn, officers)
        t0 = time.perf_counter()
        columns = (
            "shift_id, officer_id, start_at, end_at, kind, station_id, declared_location, "
            "created_at, updated_at, edited_by, version, recorded_at"
        )
        conn.execute(
            sa.text(
                f"INSERT INTO shifts ({columns}) SELECT {columns} FROM shift_versions "
                "WHERE version = 1"
            )
        )
        for sql in SHIFT_INDEXES:
            conn.execute(sa.text(sql))
        conn.execute(
            sa.text(
                """UPDATE shifts s SET end_at = v.end_at, updated_at = v.updated_at,
                    edited_by = v.edited_by, version = 2, recorded_at = v.recorded_at
                FROM shift_versions v WHERE v.version = 2 AND v.shift_id = s.shift_id"""
            )
        )
        log(f"current shifts: {time.perf_counter() - t0:.1f} s")
        for table in ("officers", "shift_versions", "shifts", "overtime_claims", "daily_results"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))
        conn.execute(sa.text("CHECKPOINT"))
        planted["shift_versions"] = conn.execute(
            sa.text("SELECT count(*) FROM shift_versions")
        ).scalar_one()
        planted["claims"] = conn.execute(
            sa.text("SELECT count(*) FROM overtime_claims")
        ).scalar_one()
    engine.dispose()
    return planted


def _edit_sql(pick: str, editor: str, hours: str, limit_per_officer: int, slot: int) -> str:
    """A second version of chosen duty shifts (no claim that day), ``hours`` longer, made by
    ``editor`` the next morning; ``pick`` filters officers ({o}: the officer's number). Each kind
    of edit takes its own ``slot`` of every officer's duty shifts (n % 7), so no shift is chosen
    twice."""
    o = "substr(v.officer_id, 2)::int"
    return f"""INSERT INTO shift_versions (shift_id, version, officer_id, start_at, end_at, kind,
            station_id, declared_location, created_at, updated_at, edited_by, recorded_at)
        SELECT shift_id, 2, officer_id, start_at, end_at + interval '{hours} hours', kind,
               station_id, declared_location, created_at, end_at + interval '17 hours',
               {editor}, end_at + interval '17 hours'
        FROM (
            SELECT v.*, substr(v.officer_id, 2)::int AS o,
                   split_part(v.shift_id, '-', 2)::int AS d,
                   row_number() OVER (PARTITION BY v.officer_id ORDER BY v.start_at) AS n
            FROM shift_versions v
            WHERE v.version = 1 AND v.kind = 'duty'
              AND (substr(v.officer_id, 2)::int + split_part(v.shift_id, '-', 2)::int) % 10 <> 0
              AND {pick.format(o=o)}
        ) c
        WHERE n % 7 = {slot} AND n <= {limit_per_officer * 7}"""


def _support(source: str, presence: str) -> str:
    return f"""INSERT INTO daily_results (officer_id, day, expected_office, declared_location,
            verified_presence_minutes, verified_office_day, evidence, policy_version,
            computed_at, details)
        SELECT v.officer_id, v.start_at::date, true, 'office', 480, true, 'adequate', 'bench',
               now(), jsonb_build_object('late_added_minutes', 60,
                                         'late_presence_minutes', {presence})
        FROM shift_versions v WHERE v.version = 2 AND {source}
        ON CONFLICT DO NOTHING"""


def _edits(conn: Any, officers: int) -> dict[str, int]:
    """After-the-fact edits, honest and planted; returns the planted counts."""
    import sqlalchemy as sa

    own = "'acc-' || officer_id"
    admin = "'adm-U' || (substr(officer_id, 2)::int % 400)"
    # rings of four officers from the middle of the force: member k edits member (k + 1)'s shifts
    base = officers // 2 + 1
    ring_editor = (
        f"'acc-O' || lpad(({base} + ((substr(officer_id, 2)::int - {base}) / 4) * 4"
        f" + ((substr(officer_id, 2)::int - {base}) % 4 + 3) % 4)::text, 6, '0')"
    )
    rings = max(1, min(10, officers // 400))
    ring_pick = f"{{o}} BETWEEN {base} AND {base + 4 * rings - 1}"
    not_ring = f"NOT ({ring_pick})"
    steps = [
        ("administrators' catch-ups", _edit_sql("{o} % 13 = 1", admin, "1", 40, 1)),
        ("honest self-edits", _edit_sql(f"{{o}} % 500 = 2 AND {not_ring}", own, "1", 4, 3)),
        ("planted self-edits", _edit_sql(f"{{o}} % 1000 = 3 AND {not_ring}", own, "2", 4, 4)),
        ("planted rings", _edit_sql(ring_pick, ring_editor, "1.5", 2, 5)),
        (
            "support: honest",
            _support(
                "v.edited_by = 'acc-' || v.officer_id AND substr(v.officer_id, 2)::int % 500 = 2",
                "58",
            ),
        ),
        (
            "support: planted",
            _support(
                "v.edited_by = 'acc-' || v.officer_id AND substr(v.officer_id, 2)::int % 1000 = 3",
                "0",
            ),
        ),
        (
            "planted self-approvals",
            """UPDATE overtime_claims SET approved_by = 'acc-' || officer_id
            WHERE claim_id IN (SELECT min(claim_id) FROM overtime_claims
                               WHERE substr(officer_id, 2)::int % 700 = 5 GROUP BY officer_id)""",
        ),
        (
            "planted double claims",
            """INSERT INTO overtime_claims (claim_id, officer_id, start_at, end_at, station_id,
                submitted_at, approved_by, approved_at)
            SELECT claim_id || '-B', officer_id, start_at, end_at, station_id,
                   submitted_at + interval '2 days', approved_by, approved_at
            FROM overtime_claims
            WHERE claim_id IN (SELECT min(claim_id) FROM overtime_claims
                               WHERE substr(officer_id, 2)::int % 900 = 7 GROUP BY officer_id)""",
        ),
        (
            "planted claims on rest days",
            """INSERT INTO overtime_claims (claim_id, officer_id, start_at, end_at, station_id,
                submitted_at, approved_by, approved_at)
            SELECT 'R' || shift_id, officer_id, start_at + interval '10 hours',
                   start_at + interval '14 hours', NULL, end_at, 'sup', end_at
            FROM shift_versions
            WHERE shift_id IN (SELECT min(shift_id) FROM shift_versions
                               WHERE kind = 'rest' AND substr(officer_id, 2)::int % 1100 = 9
                               GROUP BY officer_id)""",
        ),
    ]
    for name, sql in steps:
        t0 = time.perf_counter()
        rows = conn.execute(sa.text(sql)).rowcount
        log(f"{name}: {rows:,} rows, {time.perf_counter() - t0:.1f} s")
    count = lambda sql: int(conn.execute(sa.text(sql)).scalar_one())  # noqa: E731
    return {
        "self_edit_officers": count(
            "SELECT count(*) FROM (SELECT officer_id FROM shift_versions WHERE version = 2 "
            "AND edited_by = 'acc-' || officer_id AND substr(officer_id, 2)::int % 1000 = 3 "
            "GROUP BY officer_id HAVING count(*) > 2) x"
        ),
        "ring_members": 4 * rings,
        "self_approved": count(
            "SELECT count(*) FROM overtime_claims WHERE approved_by = 'acc-' || officer_id"
        ),
        "double_claim_officers": count(
            "SELECT count(*) FROM overtime_claims WHERE claim_id LIKE '%-B'"
        ),
        "rest_day_claims": count("SELECT count(*) FROM overtime_claims WHERE claim_id LIKE 'R%'"),
        "late_versions": count("SELECT count(*) FROM shift_versions WHERE version = 2"),
    }


# ---- the timed part, in a child -------------------------------------------------------------


def child(url: str, mode: str) -> dict[str, Any]:
    """Run the period(s) against ``url``; ``mode`` "year" or "months"."""
    import resource

    from jobs.integrity import run_period
    from rules.policy import load_policy
    from store.db import make_engine, session_factory, transaction

    policy = load_policy()
    factory = session_factory(make_engine(url))
    periods = (
        [(YEAR, date(2026, 12, 31))]
        if mode == "year"
        else [(date(2026, m, 1), date(2026 + m // 12, m % 12 + 1, 1)) for m in range(1, 13)]
    )
    from datetime import timedelta

    out: dict[str, Any] = {"periods": [], "codes": {}}
    t0 = time.perf_counter()
    for start, end in periods:
        end = end if mode == "year" else end - timedelta(days=1)
        with transaction(factory) as session:
            report = run_period(session, start, end, policy=policy, tz=TZ, now=datetime.now(UTC))
        out["periods"].append(
            {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "rows": report.rows,
                "timings": {k: round(v, 2) for k, v in report.timings.items()},
                "findings": len(report.findings),
            }
        )
        for f in report.findings:
            out["codes"][f.code] = out["codes"].get(f.code, 0) + 1
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def create_database() -> str:
    import sqlalchemy as sa

    from store.db import make_engine
    from store.migrate import upgrade

    name = f"rollcall_bench_integrity_{os.getpid()}"
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

    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    from bench.machine import quick_mode

    quick = quick_mode()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--officers", type=int, default=4600 if quick else 46000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--child", nargs=2, metavar=("URL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.stdout.write(json.dumps(child(*args.child)) + "\n")
        return 0
    from bench.machine import Run

    run = Run("roster_integrity")
    url = create_database()
    try:
        log(f"filling {args.officers:,} officers x {args.days} days")
        t0 = time.perf_counter()
        planted = fill(url, args.officers, args.days)
        figures: dict[str, Any] = {
            "officers": args.officers,
            "days": args.days,
            "fill_seconds": round(time.perf_counter() - t0, 1),
            "planted": planted,
            "expected_codes": {
                "OVERTIME_SELF_APPROVED": planted["self_approved"],
                "OVERLAPPING_CLAIM": 2 * planted["double_claim_officers"]
                + planted["rest_day_claims"],
                "ROSTER_SELF_EDIT": planted["self_edit_officers"],
                "ROSTER_EDIT_CLUSTER": planted["ring_members"],
            },
        }
        for mode in ("year", "months"):
            log(f"timing: {mode}")
            done = subprocess.run(
                [sys.executable, __file__, "--child", url, mode],
                check=True,
                capture_output=True,
                text=True,
            )
            figures[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            log(f"{mode}: {figures[mode]['seconds']} s, peak {figures[mode]['peak_rss_mb']} MB")
    finally:
        if not args.keep:
            drop_database(url)
    year = figures["year"]
    figures["targets_met"] = {
        "year_seconds<=60": year["seconds"] <= 60,
        "year_peak_rss_gb<=8": year["peak_rss_mb"] <= 8 * 1024,
    }
    stages = ", ".join(f"{k} {v} s" for k, v in year["periods"][0]["timings"].items())
    print(
        f"roster integrity, {args.officers:,} officers x {args.days} days "
        f"({planned_rows(figures)}): year {year['seconds']} s (target 60 s), peak RSS "
        f"{year['peak_rss_mb']} MB (target 8 GB); stages: {stages}; twelve months one after "
        f"another {figures['months']['seconds']} s"
    )
    run.finish(figures)
    return 0


def planned_rows(figures: dict[str, Any]) -> str:
    planted = figures["planted"]
    return f"{planted['shift_versions']:,} shift versions, {planted['claims']:,} claims"


if __name__ == "__main__":
    raise SystemExit(main())
