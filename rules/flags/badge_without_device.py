"""BADGE_WITHOUT_DEVICE: a granted swipe at a station while the officer's device is far from it."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from rules.evidence import GNSS_BITS, SOURCE_BITS, effective_accuracy, source_bits
from rules.findings import Finding, coarse_km, make_finding
from rules.flags.context import FlagContext
from rules.geodesy import haversine_m
from rules.ghosts import ghost_mask
from rules.masking import covered
from rules.ordering import sort_on_key, time_key
from rules.policy import Policy

CODE = "BADGE_WITHOUT_DEVICE"
RULE_VERSION = f"{CODE}/2"
MAX_SWIPES = 10


def far_swipes(ctx: FlagContext) -> pl.DataFrame:
    """Granted on-duty swipes of the day whose nearest precise fix before AND after are both far.

    Each fix must also lie at least clock_tolerance_minutes from the swipe, so that a phone
    clock a few minutes out cannot turn an arrival into one (rules.skew corrects what it can).
    Precise: a fix (not a visit row: operating systems report a visit's arrival and departure
    minutes late), not mock, not a ghost (rules.ghosts), accuracy (reported or geo's default)
    at most badge_fix_max_accuracy_m. Each of the two fixes must be within
    badge_device_window_minutes of the swipe and at least badge_far_m from the swiped
    station's centroid after subtracting its accuracy, and the two must lie within
    badge_same_place_m of each other (beyond their accuracies): the device stayed at one place
    elsewhere across the swipe, so an officer passing through (arriving from one place,
    leaving for another) is not raised; and that place must not be a ghost (_corroborated).
    One fix alone (before or after) proves nothing; a silent device never raises this.

    A sparse device (a throttled phone reports every 15-90 minutes) rarely has a fix within
    badge_device_window_minutes of a swipe; its swipe is raised when every precise fix of the
    swipe's on-duty window lies far at one place (_stayed_far): the device never came near the
    station that shift. The phone left at home and the lent badge look the same; the conflict
    itself is the lead. Computed once per day (FlagContext.once): the engine asks it when it
    marks conflicts and again when this rule runs.
    """
    return ctx.once(CODE, lambda: _far_swipes(ctx))


def _far_swipes(ctx: FlagContext) -> pl.DataFrame:
    policy = ctx.policy
    swipes = ctx.swipes.filter(pl.col("granted").fill_null(False))
    swipes = swipes.filter(covered(swipes, ctx.day_windows))
    if swipes.is_empty():
        return pl.DataFrame()
    swipes = swipes.join(
        ctx.stations.select("station_id", st_lat="lat", st_lon="lon"), on="station_id"
    ).sort("officer_id", "ts")
    good = _precise_fixes(ctx)
    window = timedelta(minutes=policy.badge_device_window_minutes)
    near = _bracketed(swipes, good, window, policy)
    if not near.is_empty():
        near = _corroborated(near, good, window, policy)
    stayed = _stayed_far(swipes, good, policy)
    if near.is_empty():
        return stayed
    if stayed.is_empty():
        return near.sort("officer_id", "ts", "station_id")
    both = pl.concat([near, stayed], how="diagonal_relaxed")
    return both.unique(["officer_id", "ts", "station_id"], keep="first", maintain_order=True).sort(
        "officer_id", "ts", "station_id"
    )


def _readable_fixes(ctx: FlagContext) -> pl.DataFrame:
    """The day's fixes a badge rule may read, in the day's order: not ghosts, not mock, accuracy
    (reported or geo's default: ``acc``) at most badge_fix_max_accuracy_m; with ``src_bits``
    and only the columns these rules read. Computed once per day (FlagContext.once): both
    far_swipes and contradicted_swipes read it."""
    return ctx.once("badge_readable_fixes", lambda: _select_readable(ctx))


def _select_readable(ctx: FlagContext) -> pl.DataFrame:
    policy = ctx.policy
    fixes = ctx.fixes
    return (
        fixes.select(
            "officer_id",
            "win_id",
            "ts",
            "lat",
            "lon",
            "accuracy_m",
            "is_mock",
            source_bits(fixes["source"]),
            ghost_mask(fixes, policy, ctx.swipes).alias("_ghost"),
        )
        .with_columns(acc=effective_accuracy(pl.col("accuracy_m"), pl.col("src_bits")))
        .filter(
            ~pl.col("_ghost")
            & ~pl.col("is_mock").fill_null(False)
            & (pl.col("acc") <= policy.badge_fix_max_accuracy_m)
        )
    )


def _precise_fixes(ctx: FlagContext) -> pl.DataFrame:
    """The fixes BADGE_WITHOUT_DEVICE reads, sorted by (officer_id, ts): not ghosts, not mock,
    not visit rows, accuracy at most badge_fix_max_accuracy_m. They are sorted by (win_id, ts),
    which is that order: window ids follow (officer_id, start) and an officer's on-duty windows
    never overlap (rules.masking)."""
    good = (
        _readable_fixes(ctx)
        .filter(pl.col("src_bits") != SOURCE_BITS["visit"])
        .select(
            "officer_id",
            "win_id",
            f_ts="ts",
            f_lat="lat",
            f_lon="lon",
            f_acc="acc",
            f_gps=(pl.col("src_bits") & GNSS_BITS) > 0,
        )
    )
    key = time_key(good["win_id"], good["f_ts"])
    return good.sort("officer_id", "f_ts") if key is None else sort_on_key(good, key, ())


def _bracketed(
    swipes: pl.DataFrame, good: pl.DataFrame, window: timedelta, policy: Policy
) -> pl.DataFrame:
    """Swipes whose nearest precise fix before and after (each within ``window`` and at least
    clock_tolerance_minutes from the swipe) are both badge_far_m from the station and within
    badge_same_place_m of each other (beyond their accuracies)."""
    # a clock left uncorrected (rules.skew) may be a few minutes out: the fixes that bracket
    # the swipe must do so even then, so each lies at least clock_tolerance_minutes from it
    slack = min(timedelta(minutes=policy.clock_tolerance_minutes), window)
    out = swipes.with_columns(_ts_before=pl.col("ts") - slack, _ts_after=pl.col("ts") + slack)
    for side, strategy in (("before", "backward"), ("after", "forward")):
        part = good.drop("win_id").rename(
            {c: f"{c}_{side}" for c in ("f_ts", "f_lat", "f_lon", "f_acc", "f_gps")}
        )
        out = out.join_asof(
            part,
            left_on=f"_ts_{side}",
            right_on=f"f_ts_{side}",
            by="officer_id",
            strategy=strategy,  # type: ignore[arg-type]
            tolerance=window - slack,
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
    return out.drop("_ts_before", "_ts_after").filter(
        (pl.col("dist_before_m") >= policy.badge_far_m)
        & (pl.col("dist_after_m") >= policy.badge_far_m)
        & (pl.col("apart_m") <= policy.badge_same_place_m)
    )


_PLACE = ["officer_id", "win_id", "st_lat", "st_lon"]


def _far_everywhere(swipes: pl.DataFrame, good: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """The ``swipes`` (same order) whose window holds at least two precise fixes, every one of
    them badge_far_m from the swiped station beyond its accuracy. Both depend on the window and
    the station alone, not on the swipe, so they are decided once per (window, station) before
    any swipe is paired with every fix of its window: for an officer who came in, nothing is."""
    far = haversine_m(
        pl.col("f_lat"), pl.col("f_lon"), pl.col("st_lat"), pl.col("st_lon")
    ) - pl.col("f_acc")
    # each (window, station) numbered, so the fixes are grouped on one integer
    places = swipes.select(_PLACE).unique().with_row_index("_place")
    decided = (
        places.select("_place", "win_id", "st_lat", "st_lon")
        .join(good.select("win_id", "f_lat", "f_lon", "f_acc"), on="win_id")
        .group_by("_place")
        .agg(n=pl.len(), all_far=(far >= policy.badge_far_m).all())
        .filter((pl.col("n") >= 2) & pl.col("all_far"))
    )
    kept = places.join(decided.select("_place"), on="_place", how="semi").drop("_place")
    return swipes.join(kept, on=_PLACE, how="semi", maintain_order="left")


def _stayed_far(swipes: pl.DataFrame, good: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Swipes around which the device stayed at one place far away: every precise fix of the
    swipe's on-duty window (at least two, one at least clock_tolerance_minutes from it) is
    badge_far_m from the station beyond its accuracy and within badge_same_place_m (beyond
    accuracies) of the fix nearest the swipe in time, and the place is no ghost (one of them
    labelled GPS, or badge_min_far_fixes of them). Columns as _bracketed's, with the nearest fix
    on each side (null where there is none)."""
    slack = timedelta(minutes=policy.clock_tolerance_minutes)
    swipes = _far_everywhere(swipes, good, policy)
    pairs = (
        swipes.with_row_index("_s")
        .join(good.drop("officer_id"), on="win_id")  # a window is one officer's
        .with_columns(
            dist=haversine_m(pl.col("f_lat"), pl.col("f_lon"), pl.col("st_lat"), pl.col("st_lon"))
            - pl.col("f_acc"),
            gap=(pl.col("f_ts") - pl.col("ts")).abs(),
        )
        .sort("_s", "gap", "f_ts")
    )
    if pairs.is_empty():
        return pl.DataFrame()
    pairs = pairs.with_columns(
        apart=haversine_m(
            pl.col("f_lat"),
            pl.col("f_lon"),
            pl.col("f_lat").first().over("_s"),
            pl.col("f_lon").first().over("_s"),
        )
        - pl.col("f_acc")
        - pl.col("f_acc").first().over("_s"),
    )
    keep = (
        pairs.group_by("_s")
        .agg(
            n=pl.len(),
            all_far=(pl.col("dist") >= policy.badge_far_m).all(),
            one_place=(pl.col("apart") <= policy.badge_same_place_m).all(),
            gps=pl.col("f_gps").any(),
            clear=(pl.col("gap") >= slack).any(),
        )
        .filter(
            (pl.col("n") >= 2)
            & pl.col("all_far")
            & pl.col("one_place")
            & pl.col("clear")
            & (pl.col("gps") | (pl.col("n") >= policy.badge_min_far_fixes))
        )
        .select("_s")
    )
    if keep.is_empty():
        return pl.DataFrame()
    chosen = pairs.join(keep, on="_s")
    base = swipes.with_row_index("_s").join(keep, on="_s")
    for side, pick in (
        ("before", pl.col("f_ts") <= pl.col("ts") - slack),
        ("after", pl.col("f_ts") >= pl.col("ts") + slack),
    ):
        nearest = (
            chosen.filter(pick)
            .sort("_s", "gap")
            .group_by("_s", maintain_order=True)
            .first()
            .select(
                "_s",
                pl.col("f_ts").alias(f"f_ts_{side}"),
                pl.col("f_lat").alias(f"f_lat_{side}"),
                pl.col("f_lon").alias(f"f_lon_{side}"),
                pl.col("f_acc").alias(f"f_acc_{side}"),
                pl.col("f_gps").alias(f"f_gps_{side}"),
                pl.col("dist").alias(f"dist_{side}_m"),
            )
        )
        base = base.join(nearest, on="_s", how="left")
    return base.with_columns(
        apart_m=haversine_m(
            pl.col("f_lat_before"),
            pl.col("f_lon_before"),
            pl.col("f_lat_after"),
            pl.col("f_lon_after"),
        )
        - pl.col("f_acc_before")
        - pl.col("f_acc_after")
    ).drop("_s")


def _corroborated(
    far: pl.DataFrame, good: pl.DataFrame, window: timedelta, policy: Policy
) -> pl.DataFrame:
    """The far swipes whose far place is not a ghost: the fix before or after is labelled GPS,
    or at least badge_min_far_fixes precise fixes within the window around the swipe lie at
    that place (a Wi-Fi access point registered elsewhere gives one or two confident positions
    kilometres away, labelled wifi or fused; a phone really left there keeps reporting it)."""
    keyed = far.with_row_index("_k")
    near = (
        keyed.select("_k", "officer_id", "ts", "f_lat_before", "f_lon_before", "f_acc_before")
        .join(good, on="officer_id")
        .filter(
            ((pl.col("f_ts") - pl.col("ts")).abs() <= window)
            & (
                haversine_m(
                    pl.col("f_lat"), pl.col("f_lon"), pl.col("f_lat_before"), pl.col("f_lon_before")
                )
                <= policy.badge_same_place_m + pl.col("f_acc") + pl.col("f_acc_before")
            )
        )
        .group_by("_k")
        .agg(n_far_fixes=pl.len())
    )
    return (
        keyed.join(near, on="_k", how="left")
        .with_columns(pl.col("n_far_fixes").fill_null(0))
        .filter(
            pl.col("f_gps_before")
            | pl.col("f_gps_after")
            | (pl.col("n_far_fixes") >= policy.badge_min_far_fixes)
        )
        .drop("_k")
    )


def contradicted_swipes(ctx: FlagContext) -> pl.DataFrame:
    """Granted on-duty swipes of the day that the device contradicts without proving anything:
    every precise fix of the officer within conflict_window_minutes of the swipe (at least one)
    is at least badge_far_m from the swiped station beyond its accuracy. Weaker than far_swipes
    (a throttled phone may report once an hour), so it raises nothing; it only makes the day
    conflicting evidence, never an absence (a phone left at home while the officer badges in).
    Columns: officer_id.

    Each precise fix is measured against each station its officer swiped at that day, once; a
    swipe then reads how many of the fixes at its station lie within the window, and how many
    of those are near, as differences of running counts (two as-of lookups), instead of pairing
    every swipe with every fix of its officer."""
    policy = ctx.policy
    swipes = ctx.swipes.filter(pl.col("granted").fill_null(False))
    swipes = swipes.filter(covered(swipes, ctx.day_windows))
    if swipes.is_empty() or ctx.fixes.is_empty():
        return pl.DataFrame()
    window = timedelta(minutes=policy.conflict_window_minutes)
    swipes = swipes.join(
        ctx.stations.select("station_id", st_lat="lat", st_lon="lon"), on="station_id"
    ).select("officer_id", "station_id", "ts", "st_lat", "st_lon")
    officers = swipes["officer_id"].implode()
    good = (
        _readable_fixes(ctx)
        .filter(pl.col("officer_id").is_in(officers))
        .select("officer_id", f_ts="ts", f_lat="lat", f_lon="lon", f_acc="acc")
    )
    # each (officer, swiped station) numbered; running counts of fixes, and of near ones, per
    # number in time order. The fixes are in (officer, ts) order (in (win_id, ts) order: window
    # ids follow officer and start), and the join keeps it, so each number's rows are in time
    # order without a sort.
    places = swipes.select("officer_id", "station_id", "st_lat", "st_lon").unique(
        ["officer_id", "station_id"]
    )
    places = places.sort("officer_id", "station_id").with_row_index("_p")
    measured = good.join(places, on="officer_id", maintain_order="left").select(
        "_p",
        "f_ts",
        near=~(
            haversine_m(pl.col("f_lat"), pl.col("f_lon"), pl.col("st_lat"), pl.col("st_lon"))
            - pl.col("f_acc")
            >= policy.badge_far_m
        ).fill_null(True),
    )
    if measured.is_empty():
        return pl.DataFrame()
    counts = measured.select(
        "_p",
        "f_ts",
        n=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("_p"),
        n_near=pl.col("near").cast(pl.Int64).cum_sum().over("_p"),
    )
    swipes = swipes.join(
        places.select("officer_id", "station_id", "_p"), on=["officer_id", "station_id"]
    )
    bounds = swipes.select(
        "officer_id", "_p", hi=pl.col("ts") + window, lo=pl.col("ts") - window
    ).sort("hi")
    upto_hi = bounds.join_asof(
        counts, left_on="hi", right_on="f_ts", by="_p", strategy="backward", check_sortedness=False
    ).select("officer_id", "_p", "lo", n_hi="n", near_hi="n_near")
    before_lo = upto_hi.sort("lo").join_asof(
        counts,
        left_on="lo",
        right_on="f_ts",
        by="_p",
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    inside = before_lo.select(
        "officer_id",
        n=pl.col("n_hi").fill_null(0) - pl.col("n").fill_null(0),
        n_near=pl.col("near_hi").fill_null(0) - pl.col("n_near").fill_null(0),
    )
    return (
        inside.filter((pl.col("n") >= 1) & (pl.col("n_near") == 0))
        .select("officer_id")
        .unique()
        .sort("officer_id")
    )


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
                "fix_before_at": _when(ctx, r["f_ts_before"]),
                "fix_before_distance_m": _metres(r["dist_before_m"]),
                "fix_before_accuracy_m": r["f_acc_before"],
                "fix_after_at": _when(ctx, r["f_ts_after"]),
                "fix_after_distance_m": _metres(r["dist_after_m"]),
                "fix_after_accuracy_m": r["f_acc_after"],
                "fixes_apart_m": None if r["apart_m"] is None else max(0, round(r["apart_m"])),
            }
            for r in rows.head(MAX_SWIPES).iter_rows(named=True)
        ]
        first = rows.row(0, named=True)
        near = coarse_km(
            min(d for d in (first["dist_before_m"], first["dist_after_m"]) if d is not None)
        )
        summary = (
            f"Officer {officer}'s badge was granted at {first['station_id']} at "
            f"{ctx.hhmm(first['ts'])} on {ctx.day.isoformat()} while their device placed them "
            f"about {near} km away, at one place, around the swipe; "
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


def _when(ctx: FlagContext, instant: datetime | None) -> str | None:
    return None if instant is None else ctx.local(instant)


def _metres(value: float | None) -> int | None:
    return None if value is None else round(value)
