"""The demo: a synthetic force generated, imported and computed, and what to look at first."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

import polars as pl
from sqlalchemy import make_url

from jobs.imports import import_directory
from jobs.nightly import DayReport, NightlyReport, run_nightly
from rules.clock import day_bounds
from rules.flags.below_office_share import CODE as COMPLIANCE_CODE
from rules.policy import Policy
from store.db import make_engine, session_factory
from store.migrate import upgrade

DEMO_DATABASE_URL = "sqlite:///./rollcall-demo.db"
DEMO_START = date(2026, 10, 1)  # October 2026 spans the 25-hour day 2026-10-25
DEMO_DAYS = 31
DEMO_SEED = 7


@dataclass
class DemoResult:
    """What the demo built and which unit and officer it suggests looking at first."""

    database_url: str
    first: date
    last: date
    officers: int
    imported: dict[str, dict[str, int]]
    nightly: NightlyReport
    unit: str
    officer_id: str
    officer_codes: list[str]
    seconds: dict[str, float] = field(default_factory=dict)


def fresh_sqlite(url: str) -> None:
    """Delete an SQLite database file (and its WAL files) so the demo starts from nothing."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return
    for suffix in ("", "-wal", "-shm"):
        Path(parsed.database + suffix).unlink(missing_ok=True)


def _pick(
    force_truth: pl.DataFrame, flags: list[dict[str, Any]], officers: pl.DataFrame
) -> tuple[str, str]:
    """The officer with the most raised misconduct flags among those the generator planted, and
    the office-based unit to show (that officer's unit if office-based, else the largest)."""
    planted = set(force_truth.filter(pl.col("code") != COMPLIANCE_CODE)["officer_id"].to_list())
    counts: dict[str, int] = {}
    for f in flags:
        if f["misconduct"] and not f["withdrawn"] and f["officer_id"] in planted:
            counts[f["officer_id"]] = counts.get(f["officer_id"], 0) + 1
    officer = max(sorted(counts), key=lambda o: counts[o]) if counts else sorted(planted)[0]
    row = officers.filter(pl.col("officer_id") == officer)
    office_units = (
        officers.filter(pl.col("office_based"))
        .group_by("unit")
        .len()
        .sort("len", "unit", descending=True)
    )
    if row.height and bool(row["office_based"][0]):
        unit = str(row["unit"][0])
    else:
        unit = str(office_units["unit"][0])
    return officer, unit


def run_demo(
    *,
    policy: Policy,
    tz: str,
    database_url: str = DEMO_DATABASE_URL,
    officers: int = 150,
    days: int = DEMO_DAYS,
    on_step: Callable[[str], None] | None = None,
    on_day: Callable[[DayReport], None] | None = None,
) -> DemoResult:
    """Build the demo database at ``database_url`` (an SQLite file is recreated from nothing).

    Generates ``officers`` officers over ``days`` days from 2026-10-01 (default: October 2026) (fixtures.synth, seeded), imports the files
    (intake.pipeline), runs the nightly job over the month and picks what to show.
    """
    from store.reports import list_flags

    def step(text: str) -> None:
        if on_step is not None:
            on_step(text)

    seconds: dict[str, float] = {}
    t = perf_counter()
    fresh_sqlite(database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    factory = session_factory(engine)
    step(f"schema created in {database_url}")
    from fixtures.synth import generate_force

    force = generate_force(DEMO_SEED, officers, DEMO_START, days, tz=tz)
    first, last = force.period
    seconds["generate"] = perf_counter() - t
    step(
        f"generated {force.officers.height} officers, {len(force.station_geometries)} stations, "
        f"{force.pings.height:,} device pings, {force.swipes.height:,} badge swipes, "
        f"{force.roster.height:,} shifts ({first} to {last})"
    )
    t = perf_counter()
    # "Now" for the import: three days after the period, as if it were imported then (events of
    # a period long past would be refused as older than the raw retention).
    now = day_bounds(last, tz)[1] + timedelta(days=3)
    with tempfile.TemporaryDirectory(prefix="rollcall-demo-") as tmp:
        force.write(Path(tmp))
        imported = import_directory(factory, Path(tmp), tz=tz, policy=policy, now=now)
    seconds["import"] = perf_counter() - t
    pings = imported.get("pings", {})
    step(
        f"imported: {pings.get('accepted', 0):,} on-duty pings kept, "
        f"{pings.get('masked', 0):,} off-duty pings masked (only counted)"
    )
    t = perf_counter()
    nightly = run_nightly(
        factory, first, last, policy=policy, tz=tz, on_day=on_day, clock=lambda: datetime.now(UTC)
    )
    seconds["nightly"] = perf_counter() - t
    with factory() as session:
        flags, _ = list_flags(session, misconduct=True, limit=100_000, tz=tz)
    officer, unit = _pick(force.truth_misconduct, flags, force.officers)
    codes = sorted({f["code"] for f in flags if f["officer_id"] == officer})
    engine.dispose()
    return DemoResult(
        database_url=database_url,
        first=first,
        last=last,
        officers=force.officers.height,
        imported=imported,
        nightly=nightly,
        unit=unit,
        officer_id=officer,
        officer_codes=codes,
        seconds=seconds,
    )
