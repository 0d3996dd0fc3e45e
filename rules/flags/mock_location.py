"""MOCK_LOCATION: on-duty fixes the device itself reports as simulated."""

from __future__ import annotations

import polars as pl

from rules.findings import Finding, make_finding
from rules.flags.context import FlagContext
from rules.masking import covered

CODE = "MOCK_LOCATION"
RULE_VERSION = f"{CODE}/1"


def detect(ctx: FlagContext) -> list[Finding]:
    """One finding per officer with at least mock_min_fixes mock fixes in the day's on-duty windows.

    Off-duty fixes never reach this rule (masked first). A single simulated fix (a test app
    left on for a moment) is below the default threshold of 3.
    """
    fixes = ctx.fixes.filter(pl.col("is_mock").fill_null(False))
    fixes = fixes.filter(covered(fixes, ctx.day_windows))
    per = (
        fixes.group_by("officer_id")
        .agg(
            n=pl.len(),
            first=pl.col("ts").min(),
            last=pl.col("ts").max(),
            devices=pl.col("device_id").drop_nulls().unique().sort(),
            stations=pl.col("station_id").drop_nulls().unique().sort(),
        )
        .filter(pl.col("n") >= ctx.policy.mock_min_fixes)
        .sort("officer_id")
    )
    findings: list[Finding] = []
    for row in per.iter_rows(named=True):
        stations = list(row["stations"])
        where = f", placed at {', '.join(stations)}" if stations else ""
        summary = (
            f"Officer {row['officer_id']}'s device reported {row['n']} simulated (mock) locations "
            f"on duty on {ctx.day.isoformat()} between {ctx.hhmm(row['first'])} and "
            f"{ctx.hhmm(row['last'])}{where}; they were not counted as presence."
        )
        evidence = {
            **ctx.base_evidence(),
            "n_mock_fixes": row["n"],
            "first": ctx.local(row["first"]),
            "last": ctx.local(row["last"]),
            "device_ids": list(row["devices"]),
            "stations_claimed": stations,
            "thresholds": {"mock_min_fixes": ctx.policy.mock_min_fixes},
        }
        findings.append(
            make_finding(
                CODE,
                RULE_VERSION,
                row["officer_id"],
                ctx.day,
                summary,
                evidence,
                (tuple(row["devices"]),),
            )
        )
    return findings
