"""BADGE_WITHOUT_DEVICE: a granted swipe at a station while the officer's device is far from it."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rules.evidence import effective_accuracy, source_bits
from rules.findings import Finding, coarse_km, make_finding
from rules.flags.context import FlagContext
from rules.geodesy import haversine_m
from rules.masking import covered

CODE = "BADGE_WITHOUT_DEVICE"
RULE_VERSION = f"{CODE}/1"
MAX_SWIPES = 10


def far_swipes(ctx: FlagContext) -> pl.DataFrame:
    """Granted on-duty swipes of the day whose nearest precise fix before AND after are both far.

    Precise: not mock, accuracy (reported or geo's default) at most badge_fix_max_accuracy_m. Each
    of the two fixes must be within badge_device_window_minutes of the swipe and at least
    badge_far_m from the swiped station's centroid after subtracting its accuracy, and the two
    must lie within badge_same_place_m of each other (beyond their accuracies): the device stayed
    at one place elsewhere across the swipe, so an officer passing through (arriving from one
    place, leaving for another) is not raised. One fix alone (before or after) proves nothing;
    a silent device never raises this.
    """
    policy = ctx.policy
    window = timedelta(minutes=policy.badge_device_window_minutes)
    swipes = ctx.swipes.filter(pl.col("granted").fill_null(False))
    swipes = swipes.filter(covered(swipes, ctx.day_windows))
    if swipes.is_empty():
        return pl.DataFrame()
    swipes = swipes.join(
        ctx.stations.select("station_id", st_lat="lat", st_lon="lon"), on="station_id"
    ).sort("officer_id", "ts")
    fixes = ctx.fixes.with_columns(source_bits(ctx.fixes["source"]))
    good = (
        fixes.with_columns(acc=effective_accuracy(pl.col("accuracy_m"), pl.col("src_bits")))
        .filter(
            ~pl.col("is_mock").fill_null(False) & (pl.col("acc") <= policy.badge_fix_max_accuracy_m)
        )
        .select("officer_id", f_ts="ts", f_lat="lat", f_lon="lon", f_acc="acc")
    )  # still sorted by (officer_id, ts): the as-of join by officer needs no global sort
    out = swipes
    for side, strategy in (("before", "backward"), ("after", "forward")):
        part = good.rename({c: f"{c}_{side}" for c in ("f_ts", "f_lat", "f_lon", "f_acc")})
        out = out.join_asof(
            part,
            left_on="ts",
            right_on=f"f_ts_{side}",
            by="officer_id",
            strategy=strategy,  # type: ignore[arg-type]
            tolerance=window,
            check_sortedness=False,
        ).with_columns(
            **{
                f"dist_{side}_m": haversine_m(
                    pl.col(f"f_lat_{side}"),
                    pl.col(f"f_lon_{side}"),
                    pl.col("st_lat"),
                    pl.col("st_lon"),
                )
                - pl.col(f"f_acc_{side}")
            }
        )
    out = out.with_columns(
        apart_m=haversine_m(
            pl.col("f_lat_before"),
            pl.col("f_lon_before"),
            pl.col("f_lat_after"),
            pl.col("f_lon_after"),
        )
        - pl.col("f_acc_before")
        - pl.col("f_acc_after")
    )
    return out.filter(
        (pl.col("dist_before_m") >= policy.badge_far_m)
        & (pl.col("dist_after_m") >= policy.badge_far_m)
        & (pl.col("apart_m") <= policy.badge_same_place_m)
    ).sort("officer_id", "ts", "station_id")


def detect(ctx: FlagContext) -> list[Finding]:
    """One finding per officer with at least one such swipe on the day."""
    found = far_swipes(ctx)
    if found.is_empty():
        return []
    policy = ctx.policy
    findings: list[Finding] = []
    groups = found.partition_by("officer_id", as_dict=True, maintain_order=True)
    for (officer,), rows in sorted(groups.items(), key=lambda kv: str(kv[0][0])):
        listed = [
            {
                "swipe_at": ctx.local(r["ts"]),
                "station_id": r["station_id"],
                "reader_id": r["reader_id"],
                "direction": r["direction"],
                "fix_before_at": ctx.local(r["f_ts_before"]),
                "fix_before_distance_m": round(r["dist_before_m"]),
                "fix_before_accuracy_m": r["f_acc_before"],
                "fix_after_at": ctx.local(r["f_ts_after"]),
                "fix_after_distance_m": round(r["dist_after_m"]),
                "fix_after_accuracy_m": r["f_acc_after"],
                "fixes_apart_m": max(0, round(r["apart_m"])),
            }
            for r in rows.head(MAX_SWIPES).iter_rows(named=True)
        ]
        first = rows.row(0, named=True)
        near = coarse_km(min(first["dist_before_m"], first["dist_after_m"]))
        summary = (
            f"Officer {officer}'s badge was granted at {first['station_id']} at "
            f"{ctx.hhmm(first['ts'])} on {ctx.day.isoformat()} while their device placed them "
            f"about {near} km away, at one place, before and after the swipe; "
            f"{rows.height} such swipe(s) that day."
        )
        evidence = {
            **ctx.base_evidence(),
            "n_swipes": rows.height,
            "swipes": listed,
            "thresholds": {
                "badge_far_m": policy.badge_far_m,
                "badge_device_window_minutes": policy.badge_device_window_minutes,
                "badge_same_place_m": policy.badge_same_place_m,
                "badge_fix_max_accuracy_m": policy.badge_fix_max_accuracy_m,
            },
        }
        key = tuple(sorted({(r["station_id"], r["ts"]) for r in rows.iter_rows(named=True)}))
        findings.append(make_finding(CODE, RULE_VERSION, officer, ctx.day, summary, evidence, key))
    return findings
