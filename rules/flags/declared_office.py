"""DECLARED_OFFICE_UNVERIFIED: a declared office day whose adequate evidence lacks presence."""

from __future__ import annotations

from typing import Any

import polars as pl

from rules.daily import ADEQUATE, clip_segments, day_shifts
from rules.findings import Finding, make_finding
from rules.flags.context import FlagContext
from rules.masking import ON_DUTY_KINDS
from rules.records import DeclaredLocation

CODE = "DECLARED_OFFICE_UNVERIFIED"
RULE_VERSION = f"{CODE}/1"
MAX_INTERVALS = 20  # presence intervals listed in the evidence


def detect(ctx: FlagContext) -> list[Finding]:
    """Findings for officers who declared office on ``ctx.day`` and were decidedly not there.

    Raised when the day is declared office, the evidence is adequate, the day is not a verified
    office day, and even counting every unknown minute as presence the officer would fall short
    of min(office_day_min_hours, half the declared office shift time): so a short declared shift
    that was half spent at the station is not raised, and an undecided day never is.
    """
    rows = _short_days(ctx)
    if rows.is_empty():
        return []
    presence = (
        clip_segments(ctx.segments, ctx.day_windows)
        .filter(
            (pl.col("kind") == "presence")
            & pl.col("officer_id").is_in(rows["officer_id"].implode())
        )
        .sort("officer_id", "start_at")
    )
    by_officer = presence.partition_by("officer_id", as_dict=True, maintain_order=True)
    return [
        _finding(ctx, row, by_officer.get((row["officer_id"],), presence.clear()))
        for row in rows.iter_rows(named=True)
    ]


def _short_days(ctx: FlagContext) -> pl.DataFrame:
    """The daily rows of the day's declared office days with adequate evidence that are not
    verified and fall short even with every unknown minute counted (see detect), with each
    officer's office shifts (office_minutes, shift_ids, stations, first_start, last_end) and the
    minutes required (``required``)."""
    threshold = ctx.policy.office_day_min_hours * 60.0
    office = day_shifts(ctx.shifts, ctx.day, ctx.tz).filter(
        pl.col("kind").is_in(ON_DUTY_KINDS)
        & (pl.col("declared_location") == DeclaredLocation.OFFICE.value)
    )
    per_officer = office.group_by("officer_id").agg(
        office_minutes=(pl.col("end_at") - pl.col("start_at")).dt.total_microseconds().sum() / 60e6,
        shift_ids=pl.col("shift_id").sort(),
        stations=pl.col("station_id").drop_nulls().unique().sort(),
        first_start=pl.col("start_at").min(),
        last_end=pl.col("end_at").max(),
    )
    return (
        ctx.daily.filter(
            (pl.col("declared_location") == DeclaredLocation.OFFICE.value)
            & (pl.col("evidence") == ADEQUATE)
            & ~pl.col("verified_office_day")
        )
        .join(per_officer, on="officer_id")
        .with_columns(required=pl.min_horizontal(pl.lit(threshold), pl.col("office_minutes") / 2))
        .filter(
            pl.col("verified_presence_minutes") + pl.col("unknown_minutes") < pl.col("required")
        )
        .sort("officer_id")
    )


def _finding(ctx: FlagContext, row: dict[str, Any], presence: pl.DataFrame) -> Finding:
    """The finding for one short day (a row of _short_days) with the officer's presence
    segments of the day (the first MAX_INTERVALS listed in the evidence)."""
    policy = ctx.policy
    officer = row["officer_id"]
    intervals = [
        {
            "station_id": seg["station_id"],
            "start": ctx.local(seg["start_at"]),
            "end": ctx.local(seg["end_at"]),
            "n_fixes": seg["n_fixes"],
            "n_swipes": seg["n_swipes"],
        }
        for seg in presence.head(MAX_INTERVALS).iter_rows(named=True)
    ]
    decided = row["on_duty_minutes"] - row["unknown_minutes"]
    stations = list(row["stations"]) or ["(no station named)"]
    evidence = {
        **ctx.base_evidence(),
        "declared_stations": list(row["stations"]),
        "shift_ids": list(row["shift_ids"]),
        "shift_start": ctx.local(row["first_start"]),
        "shift_end": ctx.local(row["last_end"]),
        "verified_presence_minutes": row["verified_presence_minutes"],
        "away_minutes": row["away_minutes"],
        "mock_minutes": row["mock_minutes"],
        "unknown_minutes": row["unknown_minutes"],
        "on_duty_minutes": row["on_duty_minutes"],
        "n_fixes": row["n_fixes"],
        "n_swipes": row["n_swipes"],
        "presence_intervals": intervals,
        "thresholds": {
            "office_day_min_hours": policy.office_day_min_hours,
            "required_minutes": row["required"],
            "bridge_max_minutes": policy.bridge_max_minutes,
            "edge_credit_minutes": policy.edge_credit_minutes,
        },
    }
    summary = (
        f"Officer {officer} declared office at {', '.join(stations)} on {ctx.day.isoformat()} "
        f"but verified station presence was {row['verified_presence_minutes']:.0f} min, "
        f"short of the {row['required']:.0f} min required, while location evidence decided "
        f"{decided:.0f} of {row['on_duty_minutes']:.0f} on-duty minutes "
        f"({row['away_minutes']:.0f} min away from every station)."
    )
    return make_finding(
        CODE, RULE_VERSION, officer, ctx.day, summary, evidence, (tuple(row["shift_ids"]),)
    )
