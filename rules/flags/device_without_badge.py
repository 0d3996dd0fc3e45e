"""DEVICE_WITHOUT_BADGE: the device inside a station all day on clean satellite fixes, no swipe."""

from __future__ import annotations

import polars as pl

from rules.findings import Finding, make_finding
from rules.flags.context import FlagContext
from rules.masking import covered

CODE = "DEVICE_WITHOUT_BADGE"
RULE_VERSION = f"{CODE}/1"


def suspects(ctx: FlagContext) -> pl.DataFrame:
    """Officers whose day's presence rests on clean satellite fixes inside a station, without any
    granted swipe of theirs that day, at a station where others swiped that day, while they
    swiped on another on-duty day of the inputs or are among ``ctx.swipers`` (a granted on-duty
    swipe in the dwb_habit_days days before the day: the days either side are often rest or
    remote days).

    Per officer: presence >= office_day_min_hours; at least dwb_min_fixes fixes inside a station
    (negative boundary distance) in the day's on-duty windows, of which at least dwb_clean_share
    are labelled GPS with accuracy_m <= dwb_clean_accuracy_m (real phones indoors mostly lose
    satellites and fall back on Wi-Fi and cell positions of tens of metres; a spoofing app reports
    perfect satellite fixes without the mock flag). Columns: officer_id, station_id, n_inside,
    n_clean, presence_minutes, n_swipes_by_others.
    """
    policy = ctx.policy
    threshold = policy.office_day_min_hours * 60.0
    present = ctx.daily.filter(pl.col("verified_presence_minutes") >= threshold)
    if present.is_empty() or ctx.fixes.is_empty():
        return pl.DataFrame()
    granted = ctx.swipes.filter(pl.col("granted").fill_null(False))
    today = granted.filter(covered(granted, ctx.day_windows))
    # the cheap tests first; then, of the fixes left, those in the day's windows
    fixes = ctx.fixes.select(
        "officer_id", "ts", "station_id", "source", "accuracy_m", "boundary_distance_m", "is_mock"
    ).filter(
        (pl.col("boundary_distance_m") < 0)
        & pl.col("station_id").is_not_null()
        & ~pl.col("is_mock").fill_null(False)
        & pl.col("officer_id").is_in(present["officer_id"].implode())
        & ~pl.col("officer_id").is_in(today["officer_id"].implode())
    )
    fixes = fixes.filter(covered(fixes, ctx.day_windows))
    if fixes.is_empty():
        return pl.DataFrame()
    clean = (pl.col("source").str.to_lowercase() == "gps") & (
        pl.col("accuracy_m") <= policy.dwb_clean_accuracy_m
    )
    per = (
        fixes.group_by("officer_id")
        .agg(
            n_inside=pl.len(),
            n_clean=clean.fill_null(False).sum(),
            station_id=pl.col("station_id").mode().sort().first(),
        )
        .filter(
            (pl.col("n_inside") >= policy.dwb_min_fixes)
            & (pl.col("n_clean") >= policy.dwb_clean_share * pl.col("n_inside"))
        )
    )
    if per.is_empty():
        return pl.DataFrame()
    others = today.group_by("station_id").agg(
        n_swipes_by_others=pl.len(), _who=pl.col("officer_id").unique()
    )
    recent = ctx.recent_swipes if ctx.recent_swipes.width else ctx.swipes
    swiper = pl.concat(
        [
            recent.filter(pl.col("granted").fill_null(False))["officer_id"],
            pl.Series("officer_id", sorted(ctx.swipers), dtype=pl.Utf8),
        ]
    ).unique()
    return (
        per.join(others, on="station_id", how="inner")
        .with_columns(
            n_swipes_by_others=pl.col("n_swipes_by_others")
            - pl.col("_who").list.contains(pl.col("officer_id")).cast(pl.UInt32)
        )
        .filter((pl.col("n_swipes_by_others") > 0) & pl.col("officer_id").is_in(swiper.implode()))
        .join(present.select("officer_id", "verified_presence_minutes"), on="officer_id")
        .rename({"verified_presence_minutes": "presence_minutes"})
        .drop("_who")
        .sort("officer_id")
    )


def detect(ctx: FlagContext) -> list[Finding]:
    """One finding per suspect officer of the day."""
    found = suspects(ctx)
    if found.is_empty():
        return []
    policy = ctx.policy
    findings: list[Finding] = []
    for r in found.iter_rows(named=True):
        summary = (
            f"Officer {r['officer_id']}'s device placed them inside {r['station_id']} for "
            f"{r['presence_minutes']:.0f} min on {ctx.day.isoformat()} with {r['n_clean']} of "
            f"{r['n_inside']} fixes inside reported as precise satellite fixes, and their badge "
            f"was not swiped that day, while {r['n_swipes_by_others']} swipe(s) of others were "
            "recorded there."
        )
        evidence = {
            **ctx.base_evidence(),
            "station_id": r["station_id"],
            "presence_minutes": r["presence_minutes"],
            "n_fixes_inside": r["n_inside"],
            "n_clean_satellite_fixes": r["n_clean"],
            "n_own_swipes": 0,
            "n_swipes_by_others_at_station": r["n_swipes_by_others"],
            "thresholds": {
                "office_day_min_hours": policy.office_day_min_hours,
                "dwb_min_fixes": policy.dwb_min_fixes,
                "dwb_clean_share": policy.dwb_clean_share,
                "dwb_clean_accuracy_m": policy.dwb_clean_accuracy_m,
            },
        }
        findings.append(
            make_finding(
                CODE,
                RULE_VERSION,
                r["officer_id"],
                ctx.day,
                summary,
                evidence,
                (r["station_id"],),
            )
        )
    return findings
