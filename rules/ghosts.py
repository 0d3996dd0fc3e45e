"""Ghost fixes: positions far away that the device's own track contradicts (Wi-Fi ghosts)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rules.geodesy import haversine_m
from rules.policy import Policy

# Rows away (negative: earlier) whose values the round trips read, and the columns read there.
_OFFSETS = (-1, 1, 2)
_NEIGHBOUR_COLUMNS = ("ts", "lat", "lon", "step_m", "gps", "badge")


def _name(col: str, n: int) -> str:
    return col if n == 0 else f"{col}@{n}"


def _at(col: str, n: int) -> pl.Expr:
    """The value of ``col`` ``n`` rows away within the same window and device (null
    otherwise), as :func:`ghost_fixes` reads it for a run's first fix."""
    return pl.col(_name(col, n))


def _badge_here(fixes: pl.DataFrame, swipes: pl.DataFrame | None, policy: Policy) -> pl.Series:
    """Whether a granted swipe of the fix's officer at the station geo attributes the fix to
    precedes it in the same on-duty window, within badge_anchor_max_hours (Boolean, same rows)."""
    none = pl.Series("badge", [False] * fixes.height, dtype=pl.Boolean)
    if swipes is None or swipes.is_empty() or "station_id" not in fixes.columns:
        return none
    granted = (
        swipes.filter(pl.col("granted").fill_null(False) & pl.col("station_id").is_not_null())
        .select("officer_id", "win_id", "station_id", s_ts="ts")
        .sort("s_ts")
    )
    if granted.is_empty():
        return none
    here = (
        fixes.select("officer_id", "win_id", "station_id", "ts")
        .with_row_index("_i")
        .filter(pl.col("station_id").is_not_null())
        .sort("ts")
        .join_asof(
            granted,
            left_on="ts",
            right_on="s_ts",
            by=["officer_id", "win_id", "station_id"],
            strategy="backward",
            tolerance=timedelta(hours=policy.badge_anchor_max_hours),
            check_sortedness=False,
        )
        .filter(pl.col("s_ts").is_not_null())
    )
    return none.scatter(here["_i"], True) if here.height else none


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
    # the officer's badge at the station the run is attributed to shows the trip was made
    badged = pl.col("badge") if k == 1 else pl.col("badge") | _at("badge", 1).fill_null(False)
    return (
        (out >= policy.ghost_min_distance_m)
        & (back >= policy.ghost_min_distance_m)
        & run_tight
        & (ends <= policy.ghost_same_place_m)
        & (
            ((out + back) / secs.clip(1.0, None) * 3.6 >= policy.ghost_speed_kmh)
            | (no_gps & ~badged)
        )
    ).fill_null(False)


def ghost_fixes(
    fixes: pl.DataFrame, policy: Policy, swipes: pl.DataFrame | None = None
) -> pl.Series:
    """Whether each fix is a ghost; ``fixes`` sorted by (win_id, ts), with lat, lon, ts,
    win_id, device_id and source (officer_id and station_id to be read against ``swipes``,
    the window-tagged on-duty swipes).

    A run of one or two fixes of one device (within one on-duty window) is a ghost when the
    device's fixes just before and just after it agree with each other and the run lies far from
    both, at a round-trip speed nobody travels in a city (a Wi-Fi access point registered
    kilometres away, reported with a small accuracy and often labelled fused; or multipath).
    Real travel out and back is slower, so it is kept, unless no fix of the run is labelled GPS:
    between a sparse phone's fixes (a throttled one reports every 15-90 minutes) any round trip
    looks slow, and one or two Wi-Fi or fused positions cannot show one was made (a hotspot
    registered elsewhere keeps giving the same confident position), unless the officer's own
    granted swipe at the station the run is attributed to precedes it in the window (within
    badge_anchor_max_hours): the badge shows the trip was made. *Protects*: a throttled phone
    reports from home at 06:33, from the station at 07:53 and 09:11 (Wi-Fi) and from home again
    at 10:23; read as ghosts, the station fixes vanished, the swipe at 06:54 looked contradicted
    by a device that stayed home, and a short office day (declared office, under three hours
    at the station) became a BADGE_WITHOUT_DEVICE conflict instead of the absence finding it is.
    A ghost is no evidence of anything;
    IMPOSSIBLE_TRAVEL judges jumps on its own terms (satellite fixes only).
    """
    if fixes.is_empty():
        return pl.Series("ghost", [], dtype=pl.Boolean)
    gps = pl.col("source").cast(pl.Utf8).str.strip_chars().str.to_lowercase() == "gps"
    previous = (pl.col("win_id").shift(1) == pl.col("win_id")) & (
        pl.col("device_id").shift(1).eq_missing(pl.col("device_id"))
    )
    frame = fixes.select("win_id", "device_id", "ts", "lat", "lon", gps=gps.fill_null(False))
    frame = frame.with_columns(
        step_m=haversine_m(
            pl.when(previous).then(pl.col("lat").shift(1)),
            pl.when(previous).then(pl.col("lon").shift(1)),
            pl.col("lat"),
            pl.col("lon"),
        ),
        same_before=previous,
    )
    none = pl.Series("ghost", [False] * fixes.height, dtype=pl.Boolean)
    # a run starts only where the step out is long: the round trips are judged on those rows
    # alone, each reading its neighbours' values by position
    first = frame.select(
        pl.int_range(pl.len(), dtype=pl.Int64).filter(
            pl.col("step_m") >= policy.ghost_min_distance_m
        )
    ).to_series()
    if first.is_empty():
        return none
    last = fixes.height - 1
    # the badge is read at a run's first and second fix
    badge_rows = pl.concat([first, (first + 1).filter(first + 1 <= last)]).unique().sort()
    badge = pl.Series("badge", [False] * fixes.height, dtype=pl.Boolean).scatter(
        badge_rows, _badge_here(fixes[badge_rows], swipes, policy)
    )
    frame = frame.with_columns(badge=badge)
    starts = frame[first].with_columns(_i=first)
    for n in _OFFSETS:
        at = first + n
        inside = (at >= 0) & (at <= last)
        there = frame[at.clip(0, last)]
        same = (
            inside
            & (there["win_id"] == starts["win_id"])
            & there["device_id"].eq_missing(starts["device_id"])
        )
        starts = starts.with_columns(
            pl.when(same).then(there[col]).alias(_name(col, n)) for col in _NEIGHBOUR_COLUMNS
        )
    starts = starts.select("_i", one=_round_trip(1, policy), two=_round_trip(2, policy))
    # the second fix of a run of two, when it is of the run's window and device
    after_two = starts.filter("two")["_i"] + 1
    same_before = frame["same_before"].gather(after_two.clip(0, last)).fill_null(False)
    ghost = pl.concat(
        [starts.filter(pl.col("one") | pl.col("two"))["_i"], after_two.filter(same_before)]
    )
    return none.scatter(ghost, True) if ghost.len() else none


def ghost_mask(
    fixes: pl.DataFrame, policy: Policy, swipes: pl.DataFrame | None = None
) -> pl.Series:
    """:func:`ghost_fixes` of ``fixes``, read from its ``ghost`` column when :func:`with_ghosts`
    put one there (the day's fixes are judged once, then read by evidence and the flag rules)."""
    if "ghost" in fixes.columns:
        return fixes["ghost"]
    return ghost_fixes(fixes, policy, swipes)


def with_ghosts(
    fixes: pl.DataFrame, policy: Policy, swipes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``fixes`` (sorted by (win_id, ts), as :func:`ghost_fixes` reads them) with a Boolean
    ``ghost`` column, for :func:`ghost_mask`."""
    return fixes.with_columns(ghost_fixes(fixes, policy, swipes).alias("ghost"))
