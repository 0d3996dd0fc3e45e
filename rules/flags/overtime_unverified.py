"""OVERTIME_UNVERIFIED: an overtime claim with no presence evidence at its station."""

from __future__ import annotations

import polars as pl

from rules.findings import Finding, make_finding
from rules.flags.context import FlagContext
from rules.intervals import overlap_minutes

CODE = "OVERTIME_UNVERIFIED"
RULE_VERSION = f"{CODE}/2"


def assess(ctx: FlagContext) -> pl.DataFrame:
    """Each claim starting on the day with the minutes of evidence inside it and a verdict.

    Support: presence at the claimed station (swipes included) covering at least support_share of
    the claim (for a field claim, with no station: any decided on-duty location evidence, presence
    or away, covering that share). Staying a few minutes into the claim is not support. A claim
    without support is
    raised when either (a) the device placed the officer away from every station (or reported
    simulated fixes) for at least check_min_coverage of the claim, or (b) no on-duty shift covers
    at least check_min_coverage of the claim, so the roster itself gives the claimed time no duty
    to verify, while the officer's device and badge did report on duty that day (at least
    evidence_min_events events): a day with no data at all never raises anything. A silent device inside rostered time (neither (a) nor (b)) is never raised.
    """
    claims = ctx.overtime.filter(pl.col("end_at") > pl.col("start_at"))
    if claims.is_empty():
        return pl.DataFrame()
    queries = (
        claims.select("officer_id", q_id="claim_id", q_start="start_at", q_end="end_at")
        .unique("q_id", keep="first")
        .sort("q_id")
    )
    measured = overlap_minutes(queries, ctx.segments)
    swipes = (
        ctx.swipes.filter(pl.col("granted").fill_null(False))
        .join(
            claims.select(
                "claim_id", "officer_id", c_start="start_at", c_end="end_at", c_station="station_id"
            ),
            on="officer_id",
        )
        .filter(
            (pl.col("ts") >= pl.col("c_start"))
            & (pl.col("ts") <= pl.col("c_end"))
            & (pl.col("c_station").is_null() | (pl.col("station_id") == pl.col("c_station")))
        )
        .group_by("claim_id")
        .agg(n_swipes_at_station=pl.len())
    )
    share = ctx.policy.check_min_coverage
    frame = (
        measured.join(
            claims.select("claim_id", "station_id", "submitted_at"),
            left_on="q_id",
            right_on="claim_id",
        )
        .join(swipes, left_on="q_id", right_on="claim_id", how="left")
        .with_columns(pl.col("n_swipes_at_station").fill_null(0))
    )
    per_station = (
        frame.select("q_id", "station_id", "presence_by_station")
        .explode("presence_by_station", empty_as_null=True)
        .with_columns(
            ps=pl.col("presence_by_station").struct.field("station_id"),
            pm=pl.col("presence_by_station").struct.field("minutes"),
        )
        .group_by("q_id")
        .agg(at_station=pl.col("pm").filter(pl.col("ps") == pl.col("station_id")).sum())
    )
    frame = frame.join(per_station, on="q_id", how="left").with_columns(
        presence_at_station=pl.when(pl.col("station_id").is_null())
        .then(pl.col("presence_minutes") + pl.col("away_minutes"))
        .otherwise(pl.col("at_station").fill_null(0.0)),
        decided=pl.col("presence_minutes") + pl.col("away_minutes") + pl.col("mock_minutes"),
    )
    supported = pl.col("presence_at_station") >= ctx.policy.support_share * pl.col("q_minutes")
    elsewhere = pl.col("station_id").is_not_null() & (
        pl.col("away_minutes") + pl.col("mock_minutes") >= share * pl.col("q_minutes")
    )
    active = ctx.daily.select(
        "officer_id",
        device_active=(pl.col("n_fixes") + pl.col("n_swipes")) >= ctx.policy.evidence_min_events,
    )
    frame = frame.join(active, on="officer_id", how="left").with_columns(
        pl.col("device_active").fill_null(False)
    )
    unrostered = pl.col("device_active") & (
        pl.col("uncovered_minutes") >= share * pl.col("q_minutes")
    )
    return frame.with_columns(
        raised=~supported & (elsewhere | unrostered),
        reason=pl.when(elsewhere).then(pl.lit("elsewhere")).otherwise(pl.lit("unrostered")),
    ).sort("officer_id", "q_id")


def detect(ctx: FlagContext) -> list[Finding]:
    """One finding per unsupported claim starting on the day."""
    frame = assess(ctx)
    if frame.is_empty():
        return []
    policy = ctx.policy
    findings: list[Finding] = []
    conflicting = pl.col("officer_id").is_in(sorted(ctx.conflicts))
    for r in frame.filter(pl.col("raised") & ~conflicting).iter_rows(named=True):
        where = r["station_id"] or "any location (field claim)"
        if r["reason"] == "elsewhere":
            why = (
                f"the device placed them away from every station for {r['away_minutes']:.0f} min"
                + (
                    f" and reported simulated fixes for {r['mock_minutes']:.0f} min"
                    if r["mock_minutes"] > 0
                    else ""
                )
            )
        else:
            why = (
                f"no on-duty shift covers {r['uncovered_minutes']:.0f} of the claimed minutes, "
                "so no duty presence could be found for them"
            )
        summary = (
            f"Overtime claim {r['q_id']} by officer {r['officer_id']} for "
            f"{ctx.hhmm(r['q_start'])}-{ctx.hhmm(r['q_end'])} on {ctx.day.isoformat()} at {where} "
            f"has no presence evidence there: {why}."
        )
        evidence = {
            **ctx.base_evidence(),
            "claim_id": r["q_id"],
            "station_id": r["station_id"],
            "claimed_start": ctx.local(r["q_start"]),
            "claimed_end": ctx.local(r["q_end"]),
            "submitted_at": ctx.local(r["submitted_at"]) if r["submitted_at"] else None,
            "claimed_minutes": r["q_minutes"],
            "presence_minutes_at_station": r["presence_at_station"],
            "presence_minutes_any_station": r["presence_minutes"],
            "away_minutes": r["away_minutes"],
            "mock_minutes": r["mock_minutes"],
            "unknown_minutes": r["unknown_minutes"],
            "minutes_outside_on_duty_shifts": r["uncovered_minutes"],
            "swipes_at_station": r["n_swipes_at_station"],
            "reason": r["reason"],
            "thresholds": {
                "check_min_coverage": policy.check_min_coverage,
                "support_share": policy.support_share,
            },
        }
        findings.append(
            make_finding(
                CODE, RULE_VERSION, r["officer_id"], ctx.day, summary, evidence, (r["q_id"],)
            )
        )
    return findings
