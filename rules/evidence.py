"""Evidence events: each on-duty fix or swipe read as inside a station, away, or undecided."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from geo.cells import cell_expr
from geo.errors_model import DEFAULT_ACCURACY_M
from rules.clock import INSTANT
from rules.policy import Policy

# Event types, in the order used to break ties between events at the same instant.
BADGE_IN = 0  # granted swipe with direction "in": the officer entered the station at ts (anchor)
INSIDE = 1  # a fix placing the officer inside station_id, or a granted swipe of unknown direction
BADGE_OUT = 2  # granted swipe with direction "out": the officer left the station at ts
AWAY = 3  # a precise fix clearly outside every station
NEUTRAL = 4  # decides nothing: imprecise, ambiguous, outlier, or a denied swipe
MOCK = 5  # a fix the device reports as simulated: the whereabouts are hidden, never presence

FAR_M = 1.0e6  # boundary distance used when geo found no station near a fix

SOURCE_BITS: dict[str, int] = {
    "gps": 1,
    "wifi": 2,
    "cell": 4,
    "fused": 8,
    "unknown": 16,
    "badge": 32,
}

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


def _source_bits(source: pl.Expr) -> pl.Expr:
    """The SOURCE_BITS bit of a fix's source (null or unrecognised: "unknown")."""
    return (
        source.str.strip_chars()
        .str.to_lowercase()
        .replace_strict(
            {k: v for k, v in SOURCE_BITS.items() if k != "badge"},
            default=SOURCE_BITS["unknown"],
            return_dtype=pl.UInt8,
        )
        .fill_null(SOURCE_BITS["unknown"])
    )


def effective_accuracy(accuracy: pl.Expr, source: pl.Expr) -> pl.Expr:
    """accuracy_m where valid (> 0), else geo's conservative default for the source (metres)."""
    default = (
        source.str.strip_chars()
        .str.to_lowercase()
        .replace_strict(
            DEFAULT_ACCURACY_M, default=DEFAULT_ACCURACY_M["unknown"], return_dtype=pl.Float64
        )
        .fill_null(DEFAULT_ACCURACY_M["unknown"])
    )
    return pl.when(accuracy > 0).then(accuracy).otherwise(default)


def smoothed_distance(policy: Policy) -> pl.Expr:
    """Median signed boundary distance (metres) of the smooth_fixes usable fixes around each row.

    Rows must be usable fixes sorted by (win_id, ts); the window never crosses an on-duty window.
    A null distance (no station near) counts as FAR_M. The median ignores one or two wild fixes
    (multipath jumps whose reported accuracy is too small) and averages Wi-Fi scatter.
    """
    half = policy.smooth_fixes // 2
    dist = pl.col("boundary_distance_m").fill_null(FAR_M)
    parts = (
        [dist]
        + [_prev(dist, k) for k in range(1, half + 1)]
        + [_prev(dist, -k) for k in range(1, half + 1)]
    )
    return pl.concat_list(parts).list.median()


def fix_type(policy: Policy) -> pl.Expr:
    """Classify a usable fix (columns ``acc``, ``med_d``, ``boundary_distance_m``, ``station_id``).

    INSIDE: the smoothed distance is at most inside_max_distance_m, the fix itself is not clearly
    outside (below away_min_distance_m), it names a station and its accuracy is at most
    inside_max_accuracy_m. AWAY: both the smoothed distance and the fix's own distance are at least
    away_min_distance_m, its own distance is at least its accuracy, and its accuracy is at most
    away_max_accuracy_m. Anything else is NEUTRAL.
    """
    own = pl.col("boundary_distance_m").fill_null(FAR_M)
    inside = (
        (pl.col("med_d") <= policy.inside_max_distance_m)
        & (own < policy.away_min_distance_m)
        & pl.col("station_id").is_not_null()
        & (pl.col("acc") <= policy.inside_max_accuracy_m)
    )
    away = (
        (pl.col("med_d") >= policy.away_min_distance_m)
        & (own >= policy.away_min_distance_m)
        & (own >= pl.col("acc"))
        & (pl.col("acc") <= policy.away_max_accuracy_m)
    )
    return (
        pl.when(inside)
        .then(pl.lit(INSIDE))
        .when(away)
        .then(pl.lit(AWAY))
        .otherwise(pl.lit(NEUTRAL))
        .cast(pl.UInt8)
    )


def fix_events(fixes: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """On-duty, window-tagged fixes as EVENTS rows.

    Mock fixes become MOCK events (never presence). Fixes too imprecise to say anything
    (accuracy above both limits) are NEUTRAL and take no part in smoothing. Away events carry the
    coarse H3 cell at policy.timeline_cell_resolution, never coordinates.
    """
    worst = max(policy.inside_max_accuracy_m, policy.away_max_accuracy_m)
    frame = fixes.with_columns(
        acc=effective_accuracy(pl.col("accuracy_m"), pl.col("source")),
        mock=pl.col("is_mock").fill_null(False),
    ).with_columns(usable=~pl.col("mock") & (pl.col("acc") <= worst))
    usable = (
        frame.filter(pl.col("usable"))
        .sort("win_id", "ts", "boundary_distance_m", "acc", nulls_last=True)
        .with_columns(med_d=smoothed_distance(policy))
        .with_columns(etype=fix_type(policy))
    )
    rest = frame.filter(~pl.col("usable")).with_columns(
        med_d=pl.lit(None, dtype=pl.Float64),
        etype=pl.when(pl.col("mock")).then(pl.lit(MOCK)).otherwise(pl.lit(NEUTRAL)).cast(pl.UInt8),
    )
    both = pl.concat([usable, rest], how="vertical")
    return both.select(
        "officer_id",
        "win_id",
        "ts",
        "etype",
        station_id=pl.when(pl.col("etype") == INSIDE).then(pl.col("station_id")),
        h3_cell=pl.when(pl.col("etype") == AWAY).then(
            cell_expr("lat", "lon", policy.timeline_cell_resolution)
        ),
        is_fix=pl.lit(True),
        src_bits=_source_bits(pl.col("source")),
    ).cast(EVENTS)  # type: ignore[arg-type]


def swipe_events(swipes: pl.DataFrame) -> pl.DataFrame:
    """On-duty, window-tagged swipes as EVENTS rows.

    A granted "in" swipe is BADGE_IN (an anchor), "out" is BADGE_OUT, any other direction is a point
    INSIDE. A denied swipe, or one without a station, is NEUTRAL (someone was at a door, no more).
    """
    direction = pl.col("direction").str.strip_chars().str.to_lowercase()
    usable = pl.col("granted").fill_null(False) & pl.col("station_id").is_not_null()
    etype = (
        pl.when(~usable)
        .then(pl.lit(NEUTRAL))
        .when(direction == "in")
        .then(pl.lit(BADGE_IN))
        .when(direction == "out")
        .then(pl.lit(BADGE_OUT))
        .otherwise(pl.lit(INSIDE))
        .cast(pl.UInt8)
    )
    return swipes.select(
        "officer_id",
        "win_id",
        "ts",
        etype=etype,
        station_id=pl.when(usable).then(pl.col("station_id")),
        h3_cell=pl.lit(None, dtype=pl.UInt64),
        is_fix=pl.lit(False),
        src_bits=pl.lit(SOURCE_BITS["badge"], dtype=pl.UInt8),
    ).cast(EVENTS)  # type: ignore[arg-type]


def _prev(col: str | pl.Expr, n: int = 1) -> pl.Expr:
    """Value ``n`` rows up in the same window (rows sorted by window then time), else null."""
    expr = pl.col(col) if isinstance(col, str) else col
    return pl.when(pl.col("win_id").shift(n) == pl.col("win_id")).then(expr.shift(n))


def drop_outliers(events: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Turn lone contradicting fixes into NEUTRAL: one odd fix proves nothing.

    Among decisive events (not NEUTRAL) sorted by window and time, a fix whose previous and next
    decisive events agree with each other (same station, or both away) and disagree with it, with
    at most outlier_span_minutes between them, is an outlier: a multipath jump out of a station, or
    a neighbour's fix pulled onto one. ``events`` must be sorted by (win_id, ts, etype, ...).
    """
    span = timedelta(minutes=policy.outlier_span_minutes)
    decisive = events.with_row_index("_row").filter(
        pl.col("etype").is_in([BADGE_IN, INSIDE, BADGE_OUT, AWAY])
    )
    state = (
        pl.when(pl.col("etype") == AWAY).then(pl.lit("\x00away")).otherwise(pl.col("station_id"))
    )
    flagged = decisive.with_columns(_state=state).with_columns(
        _p_state=_prev("_state"),
        _n_state=_prev("_state", -1),
        _p_ts=_prev("ts"),
        _n_ts=_prev("ts", -1),
    )
    outliers = flagged.filter(
        pl.col("is_fix")
        & pl.col("etype").is_in([INSIDE, AWAY])
        & (pl.col("_p_state") == pl.col("_n_state"))
        & (pl.col("_p_state") != pl.col("_state"))
        & ((pl.col("_n_ts") - pl.col("_p_ts")) <= span)
    )["_row"]
    return (
        events.with_row_index("_row")
        .with_columns(
            etype=pl.when(pl.col("_row").is_in(outliers.implode()))
            .then(pl.lit(NEUTRAL, dtype=pl.UInt8))
            .otherwise(pl.col("etype")),
        )
        .with_columns(
            station_id=pl.when(pl.col("etype") == NEUTRAL)
            .then(pl.lit(None, dtype=pl.Utf8))
            .otherwise(pl.col("station_id")),
            h3_cell=pl.when(pl.col("etype") == NEUTRAL)
            .then(pl.lit(None, dtype=pl.UInt64))
            .otherwise(pl.col("h3_cell")),
        )
        .drop("_row")
    )


def evidence_events(fixes: pl.DataFrame, swipes: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Every on-duty event of the window-tagged ``fixes`` and ``swipes``, classified, no outliers.

    Sorted by (win_id, ts, etype, station_id, h3_cell, src_bits): a total order on the values, so
    input row order never changes a result.
    """
    events = pl.concat([fix_events(fixes, policy), swipe_events(swipes)], how="vertical")
    events = events.sort(
        "win_id", "ts", "etype", "station_id", "h3_cell", "src_bits", "is_fix", nulls_last=True
    )
    return drop_outliers(events, policy)
