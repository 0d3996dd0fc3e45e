"""Ghost fixes: positions far away that the device's own track contradicts (Wi-Fi ghosts)."""

from __future__ import annotations

import polars as pl

from rules.geodesy import haversine_m
from rules.policy import Policy


def _at(col: str, n: int) -> pl.Expr:
    """``col`` ``n`` rows away (negative: earlier) within the same window and device."""
    same = (pl.col("win_id").shift(-n) == pl.col("win_id")) & (
        pl.col("device_id").shift(-n).eq_missing(pl.col("device_id"))
    )
    return pl.when(same).then(pl.col(col).shift(-n))


def _round_trip(k: int, policy: Policy) -> pl.Expr:
    """Row starts a run of ``k`` ghost fixes: the fixes before and after the run agree (within
    ghost_same_place_m), the run's ends are at least ghost_min_distance_m from them, and going
    out and back would take faster than ghost_speed_kmh on average. Column ``step_m``: metres
    from the previous fix of the same window and device."""
    step = pl.col("step_m")
    out, back = step, _at("step_m", k)
    secs = (_at("ts", k) - _at("ts", -1)).dt.total_microseconds().cast(pl.Float64) / 1e6
    ends = haversine_m(_at("lat", -1), _at("lon", -1), _at("lat", k), _at("lon", k))
    run_tight = pl.lit(True) if k == 1 else _at("step_m", 1) <= policy.ghost_same_place_m
    no_gps = ~pl.col("gps") if k == 1 else ~(pl.col("gps") | _at("gps", 1).fill_null(False))
    return (
        (out >= policy.ghost_min_distance_m)
        & (back >= policy.ghost_min_distance_m)
        & run_tight
        & (ends <= policy.ghost_same_place_m)
        & (((out + back) / secs.clip(1.0, None) * 3.6 >= policy.ghost_speed_kmh) | no_gps)
    ).fill_null(False)


def ghost_fixes(fixes: pl.DataFrame, policy: Policy) -> pl.Series:
    """Whether each fix is a ghost; ``fixes`` sorted by (win_id, ts), with lat, lon, ts,
    win_id, device_id and source.

    A run of one or two fixes of one device (within one on-duty window) is a ghost when the
    device's fixes just before and just after it agree with each other and the run lies far from
    both, at a round-trip speed nobody travels in a city (a Wi-Fi access point registered
    kilometres away, reported with a small accuracy and often labelled fused; or multipath).
    Real travel out and back is slower, so it is kept, unless no fix of the run is labelled GPS:
    between a sparse phone's fixes (a throttled one reports every 15-90 minutes) any round trip
    looks slow, and one or two Wi-Fi or fused positions cannot show one was made (a hotspot
    registered elsewhere keeps giving the same confident position). A ghost is no evidence of anything;
    IMPOSSIBLE_TRAVEL judges jumps on its own terms (satellite fixes only).
    """
    if fixes.is_empty():
        return pl.Series("ghost", [], dtype=pl.Boolean)
    step = haversine_m(_at("lat", -1), _at("lon", -1), pl.col("lat"), pl.col("lon"))
    gps = pl.col("source").cast(pl.Utf8).str.strip_chars().str.to_lowercase() == "gps"
    frame = fixes.select(
        "win_id", "device_id", "ts", "lat", "lon", step_m=step, gps=gps.fill_null(False)
    )
    far = frame.select((pl.col("step_m") >= policy.ghost_min_distance_m).any()).item()
    if not far:
        return pl.Series("ghost", [False] * fixes.height, dtype=pl.Boolean)
    one = _round_trip(1, policy)
    two = _round_trip(2, policy)
    second = two.shift(1).fill_null(False) & _at("win_id", -1).is_not_null()
    return frame.select(ghost=one | two | second)["ghost"]
