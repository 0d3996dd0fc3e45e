"""Evidence events: each on-duty fix or swipe read as inside a station, away, or undecided."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from geo.cells import timeline_cell_expr
from geo.errors_model import DEFAULT_ACCURACY_M, UNKNOWN, LocationSource
from rules.clock import INSTANT
from rules.geodesy import nearest_fence_lower_bound_m
from rules.ghosts import ghost_mask
from rules.ordering import sort_by_group_time
from rules.policy import Policy
from rules.visits import VISIT_SOURCE

# Event types, in the order used to break ties between events at the same instant.
BADGE_IN = 0  # granted swipe with direction "in": the officer entered the station at ts (anchor)
INSIDE = 1  # a fix placing the officer inside station_id, or a granted swipe of unknown direction
BADGE_OUT = 2  # granted swipe with direction "out": the officer left the station at ts
AWAY = 3  # a precise fix clearly outside every station
NEUTRAL = 4  # decides nothing: imprecise, ambiguous, outlier, or a denied swipe (never emitted)
MOCK = 5  # a fix the device reports as simulated: the whereabouts are hidden, never presence
# A fix attributed to a station that neither places the officer inside nor away (an indoor Wi-Fi
# position tens of metres out, within its accuracy): presence only inside a badge-anchored stay
# at that station (:func:`anchored_near`), otherwise dropped. Never returned by evidence_events.
NEAR = 6

SOURCE_NAMES: tuple[str, ...] = (*(s.value for s in LocationSource), VISIT_SOURCE)
SOURCE_BITS: dict[str, int] = {
    LocationSource.GPS.value: 1,
    LocationSource.WIFI.value: 2,
    LocationSource.CELL.value: 4,
    LocationSource.FUSED.value: 8,
    UNKNOWN: 16,
    "badge": 32,
    VISIT_SOURCE: 64,  # a row of an operating-system visit (rules.visits)
}
SATELLITE_BITS = SOURCE_BITS["gps"] | SOURCE_BITS["fused"] | SOURCE_BITS["unknown"]
# Fixes labelled GPS: the only ones that cannot come from a Wi-Fi database ("fused" positions can,
# and a hotspot registered elsewhere gives a confident fused position kilometres away).
GNSS_BITS = SOURCE_BITS["gps"]

EVENTS: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "win_id": pl.UInt32(),
    "ts": INSTANT,
    "etype": pl.UInt8(),
    "station_id": pl.Utf8(),
    "h3_cell": pl.UInt64(),
    "is_fix": pl.Boolean(),
    "src_bits": pl.UInt8(),
}
# Inside evidence_events only: each fix's own signed boundary distance (metres; null for swipes
# and mock fixes), read by held_near and dropped before the events are returned.
_WITH_DISTANCE: dict[str, pl.DataType] = {**EVENTS, "dist_m": pl.Float64()}


def source_bits(source: pl.Series) -> pl.Series:
    """The SOURCE_BITS bit of each fix's source (null or unrecognised: "unknown"), UInt8.

    Exact lower-case names are matched with cheap comparisons; only when some value is not an
    exact name is the whole column trimmed and lower-cased (case and spaces are then ignored).
    """
    frame = pl.DataFrame({"s": source.cast(pl.Utf8)})

    def by_name(col: pl.Expr) -> pl.Expr:
        expr: pl.Expr = pl.lit(None, dtype=pl.UInt8)
        for name in reversed(SOURCE_NAMES):
            expr = (
                pl.when(col == name).then(pl.lit(SOURCE_BITS[name], dtype=pl.UInt8)).otherwise(expr)
            )
        return expr

    exact = frame.select(by_name(pl.col("s")).alias("b"))["b"]
    dirty = (exact.is_null() & frame["s"].is_not_null()).any()
    if dirty:
        exact = frame.select(by_name(pl.col("s").str.strip_chars().str.to_lowercase()).alias("b"))[
            "b"
        ]
    return exact.fill_null(SOURCE_BITS["unknown"]).alias("src_bits")


def effective_accuracy(accuracy: pl.Expr, bits: pl.Expr) -> pl.Expr:
    """accuracy_m where valid (> 0), else geo's conservative default for the source (metres).

    ``bits`` is the SOURCE_BITS column of :func:`source_bits`.
    """
    default: pl.Expr = pl.lit(DEFAULT_ACCURACY_M["unknown"])
    for name in (n for n in SOURCE_NAMES if n in DEFAULT_ACCURACY_M):
        default = (
            pl.when(bits == SOURCE_BITS[name])
            .then(pl.lit(DEFAULT_ACCURACY_M[name]))
            .otherwise(default)
        )
    return pl.when(accuracy > 0).then(accuracy).otherwise(default)


def _near(col: str | pl.Expr, n: int) -> pl.Expr:
    """Value ``n`` rows away (negative: below) in the same window (rows sorted by window, time)."""
    expr = pl.col(col) if isinstance(col, str) else col
    return pl.when(pl.col("win_id").shift(n) == pl.col("win_id")).then(expr.shift(n))


def _med3(a: pl.Expr, b: pl.Expr, c: pl.Expr) -> pl.Expr:
    """Element-wise median of three."""
    return pl.max_horizontal(pl.min_horizontal(a, b), pl.min_horizontal(pl.max_horizontal(a, b), c))


def smoothed_distance(frame: pl.DataFrame, policy: Policy) -> pl.Series:
    """Median signed boundary distance (metres) of the smooth_fixes fixes centred on each row.

    ``frame`` holds usable fixes sorted by (win_id, ts); the window never crosses an on-duty
    window: near a window's edge the missing neighbours are mirrored from the other side (and,
    with no neighbour at all, the fix stands alone). Each fix's distance is column ``own_d``
    (:func:`own_distance`). The median ignores one (of 3) or two (of 5) wild fixes: multipath
    jumps whose reported accuracy is too small, and Wi-Fi scatter across a station wall.
    """
    own = pl.col("d")
    work = frame.select("win_id", d=pl.col("own_d"))
    if policy.smooth_fixes == 1:
        return work["d"].alias("med_d")
    work = work.with_columns(
        p1=_near(own, 1), n1=_near(own, -1), p2=_near(own, 2), n2=_near(own, -2)
    )
    work = work.with_columns(
        p1=pl.col("p1").fill_null(pl.col("n1")).fill_null(own),
        n1=pl.col("n1").fill_null(pl.col("p1")).fill_null(own),
    )
    if policy.smooth_fixes == 3:
        return work.select(med_d=_med3(pl.col("p1"), own, pl.col("n1")))["med_d"]
    work = work.with_columns(
        p2=pl.col("p2").fill_null(pl.col("n2")).fill_null(pl.col("p1")),
        n2=pl.col("n2").fill_null(pl.col("p2")).fill_null(pl.col("n1")),
    )
    # median of five: drop the least and the greatest of four, then the median of three
    work = work.with_columns(
        lo=pl.max_horizontal(pl.min_horizontal("p2", "p1"), pl.min_horizontal("n1", "n2")),
        hi=pl.min_horizontal(pl.max_horizontal("p2", "p1"), pl.max_horizontal("n1", "n2")),
    )
    return work.select(med_d=_med3(pl.col("lo"), pl.col("hi"), own))["med_d"]


def own_distance(frame: pl.DataFrame, policy: Policy, stations: pl.DataFrame | None) -> pl.Series:
    """Each fix's signed distance to the nearest station boundary in metres (``own_d``).

    geo's ``boundary_distance_m`` where it attributed the fix to a station (within its near_m).
    Beyond that, the real distance matters: a fix 9 km from every station with an accuracy of
    80 m is away, though 100 m would not be two accuracies out. It is bounded below from
    ``stations`` (rules.geodesy.nearest_fence_lower_bound_m: centroid distance minus the fence's
    radius), never less than policy.unmatched_distance_m (geo's near_m: no fix beyond it was
    attributed). Without stations or radii, unmatched_distance_m: nothing more is known. Only
    fixes whose verdict the bound can change (accuracy above unmatched_distance_m divided by
    the away factor) are measured; the rest keep unmatched_distance_m.
    """
    known = pl.col("boundary_distance_m")
    base = frame.select(own_d=known.fill_null(policy.unmatched_distance_m))["own_d"]
    if stations is None or stations.is_empty() or "radius_m" not in stations.columns:
        return base
    factor = max(policy.away_accuracy_factor, policy.away_indoor_accuracy_factor)
    need = frame.select(
        known.is_null() & (pl.col("acc") * factor > policy.unmatched_distance_m)
    ).to_series()
    if not need.any():
        return base
    rows = frame.filter(need)
    bound = nearest_fence_lower_bound_m(rows["lat"].to_numpy(), rows["lon"].to_numpy(), stations)
    idx = need.arg_true()
    values = base.to_numpy().copy()
    values[idx.to_numpy()] = np.maximum(bound, policy.unmatched_distance_m)
    return pl.Series("own_d", values, dtype=pl.Float64)


def fix_type(policy: Policy) -> pl.Expr:
    """Classify a usable fix (columns ``acc``, ``med_d``, ``own_d``, ``station_id``).

    INSIDE: the smoothed distance is at most inside_accuracy_share of the fix's accuracy, but never
    less than inside_max_distance_m nor more than inside_cap_m (the median of five noisy fixes
    of someone inside scatters by about a third of their accuracy), the fix itself is not clearly
    outside (below away_min_distance_m), it names a station and its accuracy is at most
    inside_max_accuracy_m. AWAY: both the smoothed distance and the fix's own distance are at
    least away_min_distance_m, its own distance is at least away_accuracy_factor times its accuracy
    (a Wi-Fi fix scattered out of a station rarely lands two 68% radii away), its accuracy is
    at most away_max_accuracy_m; a Wi-Fi or cell fix must lie away_indoor_accuracy_factor
    times its accuracy out: Wi-Fi and cell positions stray further from where the phone is than
    satellite ones (reflections indoors, routers registered at the wrong place), wherever the
    fix falls (a factor that changed at geo's near_m would make a fix 101 m out away and one
    99 m out not). A visit row (rules.visits) is judged on its own distance (no
    smoothing) and is inside when that is at most visit_inside_share of its accuracy, clamped
    to [inside_max_distance_m, visit_inside_cap_m]: the operating system's place of a stay is
    the centre of many fixes, so a visit 30 m outside a wall with 80 m accuracy is a stay
    inside. NEAR: neither, but attributed to a station and within away factor times its
    accuracy of it (consistent with being there; see :func:`anchored_near`). Anything else is
    NEUTRAL.
    """
    own = pl.col("own_d")
    fix_limit = (policy.inside_accuracy_share * pl.col("acc")).clip(
        policy.inside_max_distance_m, max(policy.inside_max_distance_m, policy.inside_cap_m)
    )
    visit_limit = (policy.visit_inside_share * pl.col("acc")).clip(
        policy.inside_max_distance_m, max(policy.inside_max_distance_m, policy.visit_inside_cap_m)
    )
    is_visit = pl.col("src_bits") == SOURCE_BITS["visit"]
    inside_limit = pl.when(is_visit).then(visit_limit).otherwise(fix_limit)
    inside = (
        (pl.col("med_d") <= inside_limit)
        & (own < policy.away_min_distance_m)
        & pl.col("station_id").is_not_null()
        & (pl.col("acc") <= policy.inside_max_accuracy_m)
    )
    # Wi-Fi and cell positions (and visits, placed by them) stray further: their error reaches
    # several accuracy radii (reflections, a router registered at the wrong place)
    indoor_like = (pl.col("src_bits") & SATELLITE_BITS) == 0
    factor = (
        pl.when(indoor_like)
        .then(pl.lit(policy.away_indoor_accuracy_factor))
        .otherwise(pl.lit(policy.away_accuracy_factor))
    )
    away = (
        (pl.col("med_d") >= policy.away_min_distance_m)
        & (own >= policy.away_min_distance_m)
        & (own >= factor * pl.col("acc"))
        & (pl.col("acc") <= policy.away_max_accuracy_m)
    )
    near = (
        pl.col("station_id").is_not_null()
        & (own < factor * pl.col("acc"))
        & (pl.col("acc") <= policy.away_max_accuracy_m)
    )
    return (
        pl.when(inside)
        .then(pl.lit(INSIDE))
        .when(away)
        .then(pl.lit(AWAY))
        .when(near)
        .then(pl.lit(NEAR))
        .otherwise(pl.lit(NEUTRAL))
        .cast(pl.UInt8)
    )


def fix_events(
    fixes: pl.DataFrame,
    policy: Policy,
    stations: pl.DataFrame | None = None,
    *,
    with_distance: bool = False,
    swipes: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Decisive events (INSIDE, AWAY, MOCK) of on-duty fixes sorted by (win_id, ts), same order.

    Mock fixes become MOCK events (never presence). Ghost fixes (rules.ghosts) and fixes less
    precise than both accuracy limits take no part in smoothing; they and the undecided fixes (NEUTRAL) are not returned. Away
    events carry the coarse H3 cell at policy.timeline_cell_resolution (geo.cells.
    timeline_cell_expr: the ancestor of the fix's stored cell), never coordinates. ``stations``
    (rules.schemas.STATIONS with radius_m) bound the distance of fixes far from every station
    (:func:`own_distance`). ``with_distance`` adds column ``dist_m``, each fix's own signed
    boundary distance (null for mock fixes), for :func:`held_near`. ``swipes`` (window-tagged,
    on duty) keep a badge-corroborated trip from being read as a ghost (rules.ghosts).
    """
    worst = max(policy.inside_max_accuracy_m, policy.away_max_accuracy_m)
    frame = fixes.with_columns(source_bits(fixes["source"])).with_columns(
        acc=effective_accuracy(pl.col("accuracy_m"), pl.col("src_bits")),
        mock=pl.col("is_mock").fill_null(False),
    )
    ghost = ghost_mask(frame, policy, swipes)
    usable = frame.filter(~pl.col("mock") & (pl.col("acc") <= worst) & ~ghost)
    visit = pl.col("src_bits") == SOURCE_BITS["visit"]
    usable = usable.with_columns(own_distance(usable, policy, stations))
    usable = (
        usable.with_columns(smoothed_distance(usable, policy))
        .with_columns(  # a visit already summarises a stay: its own place decides
            med_d=pl.when(visit).then(pl.col("own_d")).otherwise(pl.col("med_d"))
        )
        .with_columns(etype=fix_type(policy))
        .filter(pl.col("etype") != NEUTRAL)
    )
    mocks = frame.filter(pl.col("mock")).with_columns(
        own_d=pl.lit(None, dtype=pl.Float64),
        med_d=pl.lit(None, dtype=pl.Float64),
        etype=pl.lit(MOCK, dtype=pl.UInt8),
    )
    both = pl.concat([usable, mocks], how="vertical")
    stored = both["h3_cell"].null_count() == 0
    out = both.select(
        "officer_id",
        "win_id",
        "ts",
        "etype",
        station_id=pl.when(pl.col("etype").is_in([INSIDE, NEAR])).then(pl.col("station_id")),
        h3_cell=pl.when(pl.col("etype") == AWAY).then(
            timeline_cell_expr(policy.timeline_cell_resolution, stored=stored)
        ),
        is_fix=pl.lit(True),
        src_bits="src_bits",
        dist_m=pl.col("own_d").cast(pl.Float64),
    ).cast(_WITH_DISTANCE)  # type: ignore[arg-type]
    return out if with_distance else out.drop("dist_m")


def swipe_events(swipes: pl.DataFrame, *, with_distance: bool = False) -> pl.DataFrame:
    """Decisive events of on-duty, window-tagged swipes.

    A granted "in" swipe is BADGE_IN (an anchor), "out" is BADGE_OUT, any other direction is a
    point INSIDE. A denied swipe, or one without a station, decides nothing and is not returned.
    """
    direction = pl.col("direction").str.strip_chars().str.to_lowercase()
    usable = pl.col("granted").fill_null(False) & pl.col("station_id").is_not_null()
    etype = (
        pl.when(direction == "in")
        .then(pl.lit(BADGE_IN))
        .when(direction == "out")
        .then(pl.lit(BADGE_OUT))
        .otherwise(pl.lit(INSIDE))
        .cast(pl.UInt8)
    )
    out = (
        swipes.filter(usable)
        .select(
            "officer_id",
            "win_id",
            "ts",
            etype=etype,
            station_id="station_id",
            h3_cell=pl.lit(None, dtype=pl.UInt64),
            is_fix=pl.lit(False),
            src_bits=pl.lit(SOURCE_BITS["badge"], dtype=pl.UInt8),
            dist_m=pl.lit(None, dtype=pl.Float64),
        )
        .cast(_WITH_DISTANCE)  # type: ignore[arg-type]
    )
    return out if with_distance else out.drop("dist_m")


def drop_outliers(events: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Remove lone contradicting fixes: one odd fix proves nothing.

    Among decisive events sorted by window and time, a fix whose previous and next events agree
    with each other (same station, both away, or both mock) and disagree with it, with at most
    outlier_span_minutes between them, is an outlier: a multipath jump out of a station, or a
    neighbour's fix pulled onto one. A NEAR event (a fix within its accuracy of a station) is a
    neighbour at that station but never an outlier itself: between a badge-in and an indoor
    Wi-Fi fix near the same station, one confident fix 250 m out is the odd one (a multipath
    position whose accuracy is understated), not the end of the stay.
    """
    span = timedelta(minutes=policy.outlier_span_minutes)
    state = (
        pl.when(pl.col("etype") == AWAY)
        .then(pl.lit("\x00away"))
        .when(pl.col("etype") == MOCK)
        .then(pl.lit("\x00mock"))
        .otherwise(pl.col("station_id"))
    )
    flagged = events.with_columns(_state=state).with_columns(
        _p_state=_near("_state", 1),
        _n_state=_near("_state", -1),
        _span=_near("ts", -1) - _near("ts", 1),
    )
    outlier = (
        pl.col("is_fix")
        & pl.col("etype").is_in([INSIDE, AWAY])
        & (pl.col("_p_state") == pl.col("_n_state"))
        & (pl.col("_p_state") != pl.col("_state"))
        & (pl.col("_span") <= span)
    ).fill_null(False)
    return flagged.filter(~outlier).select(events.columns)


def held_near(events: pl.DataFrame, policy: Policy) -> pl.Series:
    """Whether each event is a NEAR fix in a long stay near one station (Boolean, same rows).

    A stay is a run of consecutive events of a window at one station (NEAR or INSIDE fixes,
    swipes other than exits) with no away, mock or exit event and no gap over
    presence_bridge_max_minutes between them. It holds its NEAR fixes when it has at least
    near_run_min_fixes fixes over at least near_run_min_minutes and the median of its fixes'
    own boundary distances (column ``dist_m``) is at most near_run_max_median_m.

    *Protects*: a throttled phone indoors without a swipe reports a Wi-Fi position every 15-90
    minutes, each tens of metres past the wall at 30-150 m accuracy; none alone places the
    officer inside, and the day came out insufficient or, with one walk at lunch decided, short
    of the threshold (DECLARED_OFFICE_UNVERIFIED for an officer at the desk all morning). Fixes
    that agree with the station for an hour or more, with nothing away between them and most of
    them within 50 m of the wall, are the stay. A cafe or a home next door stays outside: its
    fixes scatter around a point beyond the wall, so their median lies further out.
    """
    if "dist_m" not in events.columns:
        return pl.Series("held", [False] * events.height, dtype=pl.Boolean)
    bridge = timedelta(minutes=policy.presence_bridge_max_minutes)
    breaks = pl.col("etype").is_in([AWAY, BADGE_OUT, MOCK])
    key = pl.when(breaks).then(pl.lit(None, dtype=pl.Utf8)).otherwise(pl.col("station_id"))
    fix_at = pl.col("is_fix") & pl.col("etype").is_in([NEAR, INSIDE])
    runs = (
        events.select("win_id", "ts", "etype", "is_fix", "dist_m", _key=key)
        .with_columns(
            _new=(
                (pl.col("win_id") != pl.col("win_id").shift(1))
                | pl.col("_key").ne_missing(pl.col("_key").shift(1))
                | (pl.col("ts") - pl.col("ts").shift(1) > bridge)
            ).fill_null(True)
        )
        .with_columns(_run=pl.col("_new").cum_sum())
    )
    # runs are numbered 1, 2, ... in row order: each row reads its run's figures by position
    stats = (
        runs.group_by("_run")
        .agg(
            n=fix_at.sum(),
            first=pl.col("ts").filter(fix_at).min(),
            last=pl.col("ts").filter(fix_at).max(),
            med=pl.col("dist_m").filter(fix_at).median(),
        )
        .sort("_run")
    )
    at = runs["_run"].cast(pl.Int64) - 1
    joined = runs.with_columns(stats.drop("_run")[at].get_columns())
    held = (
        (pl.col("etype") == NEAR)
        & pl.col("_key").is_not_null()
        & (pl.col("n") >= policy.near_run_min_fixes)
        & (pl.col("last") - pl.col("first") >= timedelta(minutes=policy.near_run_min_minutes))
        & (pl.col("med") <= policy.near_run_max_median_m)
    ).fill_null(False)
    return joined.select(held=held)["held"]


def anchored_near(events: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """NEAR events read inside a badge-anchored stay: INSIDE when a granted swipe at the same
    station (an entry, or at a reader that records no direction) precedes them in the window,
    within badge_anchor_max_hours, with no away fix, exit swipe or mock fix since, or when they
    belong to a long stay near one station (:func:`held_near`); every other NEAR event is
    dropped.

    *Protects*: indoors, satellites are lost and Wi-Fi positions scatter tens of metres past the
    wall with accuracies of 30-150 m; too imprecise to place anyone inside on their own, they
    still agree with the badge that let the officer in. Without them, a throttled phone's first
    outdoor fix at lunch ended the stay the badge began half an hour after the swipe, and an
    office day indoors came out insufficient far more often than a remote day at home (missing
    data falling on one side). Alone, such fixes place nobody: a cafe across the road is not the
    station.
    """
    if events.is_empty() or not (events["etype"] == NEAR).any():
        return events
    resets = pl.col("etype").is_in([AWAY, BADGE_OUT, MOCK])
    # a granted swipe that is not an exit: an entry, or a reader that records no direction
    anchor = (pl.col("etype") == BADGE_IN) | ((pl.col("etype") == INSIDE) & ~pl.col("is_fix"))
    # events are sorted by window: a window's first event starts afresh (no anchor: "") unless
    # it is one, so one forward fill over all rows never carries an anchor into the next window
    first = pl.col("win_id").ne_missing(pl.col("win_id").shift(1))
    marked = events.with_columns(
        _run_held=held_near(events, policy),
        _a_station=pl.when(anchor)
        .then(pl.col("station_id"))
        .when(resets | first)
        .then(pl.lit(""))
        .forward_fill(),
        _a_ts=pl.when(anchor | resets | first).then(pl.col("ts")).forward_fill(),
    )
    held = (
        (pl.col("etype") == NEAR)
        & (pl.col("_a_station") == pl.col("station_id"))
        & (pl.col("ts") - pl.col("_a_ts") <= timedelta(hours=policy.badge_anchor_max_hours))
    ).fill_null(False) | pl.col("_run_held")
    return (
        marked.filter((pl.col("etype") != NEAR) | held)
        .with_columns(etype=pl.when(held).then(pl.lit(INSIDE, dtype=pl.UInt8)).otherwise("etype"))
        .select(events.columns)
    )


def evidence_events(
    fixes: pl.DataFrame,
    swipes: pl.DataFrame,
    policy: Policy,
    stations: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Decisive events of the window-tagged on-duty ``fixes`` and ``swipes``, outliers removed.

    ``stations`` (optional, rules.schemas.STATIONS) measure fixes far from every station.

    ``fixes`` must be sorted by (win_id, ts) (rules.masking.mask_off_duty returns them so). The
    result is sorted by (win_id, ts, etype, station_id, h3_cell, src_bits, is_fix): a total order
    on the values, so input row order never changes a result.
    """
    events = pl.concat(
        [
            fix_events(fixes, policy, stations, with_distance=True, swipes=swipes),
            swipe_events(swipes, with_distance=True),
        ],
        how="vertical",
    )
    ties = ("etype", "station_id", "h3_cell", "src_bits", "is_fix", "dist_m")
    events = sort_by_group_time(events, "win_id", events["win_id"], ties)
    # outliers first, with NEAR fixes as neighbours at their station; then NEAR fixes are held
    # (anchored or in a long stay) or dropped
    return anchored_near(drop_outliers(events, policy), policy).select(list(EVENTS))
