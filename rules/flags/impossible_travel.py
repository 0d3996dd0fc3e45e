"""IMPOSSIBLE_TRAVEL: corroborated precise fixes of one device implying speed > max_speed_kmh."""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl

from rules.evidence import GNSS_BITS, SOURCE_BITS, effective_accuracy, source_bits
from rules.findings import Finding, coarse_km, make_finding
from rules.flags.context import FlagContext
from rules.geodesy import haversine_m
from rules.masking import covered

CODE = "IMPOSSIBLE_TRAVEL"
RULE_VERSION = f"{CODE}/2"
MAX_JUMPS = 10  # jumps listed in the evidence
_TO = ("ts", "lat", "lon", "acc", "station_id", "source", "sat")
_CONFIRM = ("ts", "lat", "lon", "sat")


def _near(col: str, n: int) -> pl.Expr:
    """Value ``n`` rows away on the same device and window (rows sorted by officer, ts)."""
    same = (pl.col("device_id").shift(n) == pl.col("device_id")) & (
        pl.col("win_id").shift(n) == pl.col("win_id")
    )
    return pl.when(same).then(pl.col(col).shift(n))


def _neighbours(
    frame: pl.DataFrame, rows: pl.Series, step: int, columns: tuple[str, ...], suffix: str
) -> pl.DataFrame:
    """``columns`` of the row ``step`` rows after each of ``rows`` (positions in ``frame``,
    sorted by officer and ts), null unless that row exists and is on the same device and window;
    named ``<column>_<suffix>``."""
    target = rows.cast(pl.Int64) + step
    there = frame.select("device_id", "win_id", *columns)[target.clip(0, frame.height - 1)]
    here = frame.select("device_id", "win_id")[rows]
    same = (
        (target >= 0)
        & (target < frame.height)
        & (there["device_id"] == here["device_id"]).fill_null(False)
        & (there["win_id"] == here["win_id"]).fill_null(False)
    )
    return there.with_columns(_same=same).select(
        pl.when(pl.col("_same")).then(pl.col(c)).alias(f"{c}_{suffix}") for c in columns
    )


def jumps(ctx: FlagContext) -> pl.DataFrame:
    """Corroborated impossible jumps between consecutive precise fixes of one device on the day.

    A fix is precise when not mock, not a cell position, and its accuracy (reported, or geo's
    default for its source) is at most flag_fix_max_accuracy_m. A jump from fix A to the next
    precise fix B of the same device counts when the distance minus both accuracies is at least
    travel_min_distance_m and implies more than max_speed_kmh, and both ends are corroborated: the
    precise fix before A lies within travel_confirm_share of the jump distance from A, and the one
    after B as near B, each within travel_confirm_minutes; and each end's pair includes a
    fix labelled GPS, so a jump made only of Wi-Fi, fused or unlabelled positions (an access
    point registered in the wrong place gives confident fused positions kilometres away) is
    never raised. A lone multipath fix (out and straight
    back) is never a jump: its neighbour is back on the far side. Fixes are taken in officer and
    time order, so two devices of one officer reporting at once are compared only with their own
    next fix when no other device's fix falls between.
    """
    policy = ctx.policy
    confirm = timedelta(minutes=policy.travel_confirm_minutes)
    fixes = ctx.fixes.with_columns(source_bits(ctx.fixes["source"]))
    good = (
        fixes.with_columns(acc=effective_accuracy(pl.col("accuracy_m"), pl.col("src_bits")))
        .filter(
            ~pl.col("is_mock").fill_null(False)
            & (pl.col("src_bits") != SOURCE_BITS["cell"])
            & (pl.col("acc") <= policy.flag_fix_max_accuracy_m)
        )
        .with_columns(sat=(pl.col("src_bits") & GNSS_BITS) > 0)
    )
    if good.is_empty():
        return pl.DataFrame()
    # cheap screen (equirectangular metres, never above the true distance by more than the 10%
    # margin) before any trigonometry on millions of rows; only the rows that pass it gather
    # their neighbours' columns
    m_lat = 111_195.0
    top_lat: float = good.select(pl.col("lat").abs().max()).item() or 0.0
    m_lon = m_lat * math.cos(math.radians(min(top_lat, 89.0)))
    approx = (
        ((_near("lat", -1) - pl.col("lat")) * m_lat).pow(2)
        + ((_near("lon", -1) - pl.col("lon")) * m_lon).pow(2)
    ).sqrt()
    rows = (
        good.select(approx_m=approx)
        .with_row_index("_i")
        .filter((pl.col("approx_m") >= 0.9 * policy.travel_min_distance_m).fill_null(False))
    )
    if rows.is_empty():
        return pl.DataFrame()
    frame = pl.concat(
        [
            good[rows["_i"]],
            rows.select("approx_m"),
            _neighbours(good, rows["_i"], 1, _TO, "b"),  # the jump's other end
            _neighbours(good, rows["_i"], -1, _CONFIRM, "a0"),  # the fix confirming its start
            _neighbours(good, rows["_i"], 2, _CONFIRM, "b1"),  # the fix confirming its end
        ],
        how="horizontal",
    )
    frame = frame.filter(covered(frame, ctx.day_windows))
    if frame.is_empty():
        return pl.DataFrame()
    frame = (
        frame.with_columns(
            raw_m=haversine_m(pl.col("lat"), pl.col("lon"), pl.col("lat_b"), pl.col("lon_b")),
            conf_a_m=haversine_m(pl.col("lat_a0"), pl.col("lon_a0"), pl.col("lat"), pl.col("lon")),
            conf_b_m=haversine_m(
                pl.col("lat_b"), pl.col("lon_b"), pl.col("lat_b1"), pl.col("lon_b1")
            ),
            secs=(pl.col("ts_b") - pl.col("ts")).dt.total_microseconds().cast(pl.Float64) / 1e6,
        )
        .with_columns(
            dist_m=pl.col("raw_m") - pl.col("acc") - pl.col("acc_b"),
        )
        .with_columns(
            speed_kmh=pl.when(pl.col("secs") > 0)
            .then(pl.col("dist_m") / pl.col("secs") * 3.6)
            .otherwise(float("inf")),
        )
    )
    near = policy.travel_confirm_share * pl.col("raw_m")
    corroborated = (
        (pl.col("conf_a_m") <= near)
        & ((pl.col("ts") - pl.col("ts_a0")) <= confirm)
        & (pl.col("conf_b_m") <= near)
        & ((pl.col("ts_b1") - pl.col("ts_b")) <= confirm)
        & (pl.col("sat") | pl.col("sat_a0"))
        & (pl.col("sat_b") | pl.col("sat_b1"))
    ).fill_null(False)
    return frame.filter(
        (pl.col("dist_m") >= policy.travel_min_distance_m)
        & (pl.col("speed_kmh") > policy.max_speed_kmh)
        & corroborated
    ).sort("officer_id", "ts", "device_id")


def detect(ctx: FlagContext) -> list[Finding]:
    """One finding per officer with at least one corroborated impossible jump on the day."""
    found = jumps(ctx)
    if found.is_empty():
        return []
    policy = ctx.policy
    findings: list[Finding] = []
    groups = found.partition_by("officer_id", as_dict=True, maintain_order=True)
    for (officer,), rows in sorted(groups.items(), key=lambda kv: str(kv[0][0])):
        listed = [
            {
                "device_id": r["device_id"],
                "from_at": ctx.local(r["ts"]),
                "to_at": ctx.local(r["ts_b"]),
                "seconds": r["secs"],
                "distance_m": round(r["dist_m"]),
                "speed_kmh": round(r["speed_kmh"], 1) if r["secs"] > 0 else None,
                "from_accuracy_m": r["acc"],
                "to_accuracy_m": r["acc_b"],
                "from_source": r["source"],
                "to_source": r["source_b"],
                "from_station_id": r["station_id"],
                "to_station_id": r["station_id_b"],
                "from_confirmed_within_m": round(r["conf_a_m"]),
                "to_confirmed_within_m": round(r["conf_b_m"]),
            }
            for r in rows.head(MAX_JUMPS).iter_rows(named=True)
        ]
        first = rows.row(0, named=True)
        summary = (
            f"Officer {officer}'s device {first['device_id']} moved about "
            f"{coarse_km(first['dist_m'])} km "
            f"in {first['secs'] / 60:.0f} min at {ctx.hhmm(first['ts'])} on {ctx.day.isoformat()} "
            f"(faster than {policy.max_speed_kmh:.0f} km/h even allowing for both fixes' "
            "accuracy), "
            f"with both positions confirmed by a second fix; {rows.height} such jump(s) that day."
        )
        evidence = {
            **ctx.base_evidence(),
            "n_jumps": rows.height,
            "jumps": listed,
            "thresholds": {
                "max_speed_kmh": policy.max_speed_kmh,
                "travel_min_distance_m": policy.travel_min_distance_m,
                "travel_confirm_share": policy.travel_confirm_share,
                "travel_confirm_minutes": policy.travel_confirm_minutes,
                "flag_fix_max_accuracy_m": policy.flag_fix_max_accuracy_m,
            },
        }
        devices = tuple(sorted(set(rows["device_id"].drop_nulls().to_list())))
        findings.append(
            make_finding(CODE, RULE_VERSION, officer, ctx.day, summary, evidence, (devices,))
        )
    return findings
