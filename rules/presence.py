"""Presence segments: evidence events turned into presence, away and unknown intervals."""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from rules.evidence import AWAY, BADGE_IN, BADGE_OUT, MOCK, SOURCE_BITS
from rules.policy import Policy
from rules.schemas import PRESENCE

SEGMENTS: dict[str, pl.DataType] = {**PRESENCE, "win_id": pl.UInt32()}
_ZERO = timedelta(0)


def _near(col: str, n: int) -> pl.Expr:
    """Value ``n`` rows away (negative: below) in the same window, else null."""
    return pl.when(pl.col("win_id").shift(n) == pl.col("win_id")).then(pl.col(col).shift(n))


def _tmin(a: pl.Expr | timedelta, b: pl.Expr) -> pl.Expr:
    """Element-wise minimum of two durations."""
    return pl.min_horizontal(pl.lit(a) if isinstance(a, timedelta) else a, b)


def sources_text(bits: pl.Expr) -> pl.Expr:
    """Comma-separated source names ("badge,gps,wifi") of a SOURCE_BITS bitmask, alphabetical."""
    parts = [
        pl.when((bits & bit) > 0).then(pl.lit(name)) for name, bit in sorted(SOURCE_BITS.items())
    ]
    return pl.concat_str(parts, separator=",", ignore_nulls=True)


def decided_segments(events: pl.DataFrame, windows: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """Presence, away and mock segments from classified events (rules.evidence), per on-duty window.

    "mock" segments (simulated fixes) are decided time that is never presence; the public timeline
    shows them as "unknown" (see :func:`public_segments`).

    Rules (all on instants; gaps in minutes of policy):
    - consecutive events in the same state (same station, or both away) are joined when their gap is
      at most bridge_max_minutes, or, for presence, when a granted entry swipe anchors the stay
      (no exit swipe, away fix or other station since) and the gap ends within
      badge_anchor_max_hours of that swipe;
    - otherwise each event speaks for half the gap, at most presence_edge_credit_minutes
      (presence) or edge_credit_minutes (away and mock), on each side (an
      entry swipe for none of the time before it, an exit swipe for none after it);
    - the last event of an anchored stay speaks up to the end of the window's last shift;
    - nothing crosses an away fix, an exit swipe or another station.
    ``events`` must be sorted as rules.evidence.evidence_events returns them, and ``windows``
    be rules.masking.duty_windows (win_id = row number).

    One lazy query, built in named steps: each event's window and state (_states), its stay and
    badge anchor (_stays), whether it joins the next (_joins), the time it speaks for
    (_spans), then runs of the same state merged into segments (_runs).
    """
    if events.is_empty():
        return pl.DataFrame(schema=SEGMENTS)
    bridge, edge = (
        _by_kind(policy.presence_bridge_max_minutes, policy.bridge_max_minutes),
        _by_kind(policy.presence_edge_credit_minutes, policy.edge_credit_minutes),
    )
    dec = _states(events, windows)
    dec = _stays(dec, timedelta(hours=policy.badge_anchor_max_hours))
    dec = _joins(dec, bridge)
    decided = _runs(_spans(dec, edge)).collect()
    return decided.select(
        "officer_id",
        "start_at",
        "end_at",
        "kind",
        "station_id",
        "h3_cell",
        "n_fixes",
        "n_swipes",
        sources=sources_text(pl.col("bits")),
        win_id="win_id",
    ).cast(SEGMENTS)  # type: ignore[arg-type]


def _by_kind(presence_minutes: float, other_minutes: float) -> pl.Expr:
    """A duration that is ``presence_minutes`` for presence events, ``other_minutes`` otherwise."""
    return (
        pl.when(pl.col("kind") == "presence")
        .then(pl.lit(timedelta(minutes=presence_minutes)))
        .otherwise(pl.lit(timedelta(minutes=other_minutes)))
    )


def _states(events: pl.DataFrame, windows: pl.DataFrame) -> pl.LazyFrame:
    """Each event with its window's bounds, its kind, its state as a number (0 away, 1 mock, else
    2 + the station's category code) and the time, type and state of its neighbours in the
    window."""
    # windows are numbered 0..n-1 in order, so a gather finds each event's window bounds
    ids = events["win_id"].cast(pl.Int64)
    dec = events.lazy().with_columns(
        win_start=windows["win_start"].gather(ids),
        win_end=windows["win_end"].gather(ids),
        core_end=windows["core_end"].gather(ids),
    )
    is_away = pl.col("etype") == AWAY
    is_mock = pl.col("etype") == MOCK
    return dec.with_columns(
        kind=pl.when(is_away)
        .then(pl.lit("away"))
        .when(is_mock)
        .then(pl.lit("mock"))
        .otherwise(pl.lit("presence")),
        state=pl.when(is_away)
        .then(pl.lit(0, dtype=pl.UInt32))
        .when(is_mock)
        .then(pl.lit(1, dtype=pl.UInt32))
        .otherwise(pl.col("station_id").cast(pl.Categorical).to_physical().cast(pl.UInt32) + 2),
    ).with_columns(
        p_ts=_near("ts", 1),
        p_etype=_near("etype", 1),
        p_state=_near("state", 1),
        n_ts=_near("ts", -1),
        n_etype=_near("etype", -1),
        n_state=_near("state", -1),
    )


def _stays(dec: pl.LazyFrame, anchor_max: timedelta) -> pl.LazyFrame:
    """Whether each event continues the state of the one before or after (an exit swipe ends a
    stay, an entry swipe starts one), its stay's number, and, for presence after a granted entry
    swipe in the same stay, the instant up to which that swipe anchors it."""
    same_next = (
        (pl.col("n_state") == pl.col("state"))
        & (pl.col("etype") != BADGE_OUT)
        & (pl.col("n_etype") != BADGE_IN)
    ).fill_null(False)
    same_prev = (
        (pl.col("p_state") == pl.col("state"))
        & (pl.col("p_etype") != BADGE_OUT)
        & (pl.col("etype") != BADGE_IN)
    ).fill_null(False)
    dec = dec.with_columns(same_next=same_next, same_prev=same_prev).with_columns(
        stay=(~pl.col("same_prev")).cum_sum(),
    )
    return dec.with_columns(
        anc_ts=pl.when(pl.col("etype") == BADGE_IN).then(pl.col("ts")).forward_fill(),
        anc_stay=pl.when(pl.col("etype") == BADGE_IN).then(pl.col("stay")).forward_fill(),
    ).with_columns(
        anchor_until=pl.when(
            (pl.col("anc_stay") == pl.col("stay")) & (pl.col("kind") == "presence")
        ).then(pl.col("anc_ts") + anchor_max),
    )


def _joins(dec: pl.LazyFrame, bridge: pl.Expr) -> pl.LazyFrame:
    """Whether each event is joined to the next: same state, and the gap within ``bridge`` or
    ending while a badge anchors the stay."""
    gap_n = pl.col("n_ts") - pl.col("ts")
    joined = pl.col("same_next") & (
        (gap_n <= bridge) | (pl.col("n_ts") <= pl.col("anchor_until")).fill_null(False)
    )
    return dec.with_columns(joined=joined)


def _spans(dec: pl.LazyFrame, edge: pl.Expr) -> pl.LazyFrame:
    """The interval each event speaks for (``start_at``, ``end_at``): all of a joined gap, half of
    another at most ``edge``, none across its own swipe's door, to the end of the last shift for
    the last event of an anchored stay; clipped to the window."""
    gap_n = pl.col("n_ts") - pl.col("ts")
    gap_p = pl.col("ts") - pl.col("p_ts")
    p_joined = _near("joined", 1).fill_null(False)
    anchored_end = (
        pl.min_horizontal(pl.col("core_end"), pl.col("anchor_until")) - pl.col("ts")
    ).clip(lower_bound=_ZERO)
    last_tail = _tmin(edge, pl.col("win_end") - pl.col("ts"))
    tail = (
        pl.when(pl.col("etype") == BADGE_OUT)
        .then(_ZERO)
        .when(pl.col("n_ts").is_null())
        .then(
            pl.when(pl.col("anchor_until").is_not_null())
            .then(pl.max_horizontal(last_tail, anchored_end))
            .otherwise(last_tail)
        )
        .when(pl.col("joined"))
        .then(gap_n)
        .when(pl.col("n_etype") == BADGE_IN)
        .then(_tmin(edge, gap_n))
        .otherwise(_tmin(edge, gap_n / 2))
    )
    head = (
        pl.when(pl.col("etype") == BADGE_IN)
        .then(_ZERO)
        .when(pl.col("p_ts").is_null())
        .then(_tmin(edge, pl.col("ts") - pl.col("win_start")))
        .when(p_joined)
        .then(_ZERO)
        .when(pl.col("p_etype") == BADGE_OUT)
        .then(_tmin(edge, gap_p))
        .otherwise(_tmin(edge, gap_p / 2))
    )
    seg = dec.with_columns(
        start_at=pl.col("ts") - head,
        end_at=pl.min_horizontal(pl.col("ts") + tail, pl.col("win_end")),
    )
    # starts never decrease within a window (a head is at most half the gap before it)
    return seg.with_columns(start_at=pl.max_horizontal(pl.col("start_at"), pl.col("win_start")))


def _runs(seg: pl.LazyFrame) -> pl.LazyFrame:
    """Consecutive events of the same kind, station and cell whose spans touch, merged into one
    segment each, with their counts of fixes and swipes and their sources' bits."""
    key_changed = (
        (pl.col("kind") != _near("kind", 1))
        | (pl.col("station_id").ne_missing(_near("station_id", 1)))
        | (pl.col("h3_cell").ne_missing(_near("h3_cell", 1)))
        | (pl.col("start_at") > _near("end_at", 1))
    ).fill_null(True)
    return (
        seg.with_columns(run=key_changed.cum_sum().set_sorted())
        .group_by("run")
        .agg(
            pl.col("officer_id").first(),
            pl.col("win_id").first(),
            pl.col("start_at").min(),
            pl.col("end_at").max(),
            pl.col("kind").first(),
            pl.col("station_id").first(),
            pl.col("h3_cell").first(),
            n_fixes=pl.col("is_fix").sum(),
            n_swipes=(~pl.col("is_fix")).sum(),
            bits=pl.col("src_bits").bitwise_or(),
        )
        .filter(pl.col("end_at") > pl.col("start_at"))
    )


def unknown_segments(decided: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """The parts of each on-duty window that no decided segment covers, as "unknown" segments."""
    bounds = windows.select("officer_id", "win_id", "win_start", "win_end")
    dec = decided.select("win_id", "start_at", "end_at").sort("win_id", "start_at")
    with_prev = dec.join(bounds, on="win_id").with_columns(
        prev_end=pl.col("end_at").cum_max().shift(1).over("win_id"),
    )
    inner = with_prev.select(
        "officer_id",
        "win_id",
        start_at=pl.col("prev_end").fill_null(pl.col("win_start")),
        end_at=pl.col("start_at"),
    )
    last = with_prev.group_by("officer_id", "win_id").agg(
        start_at=pl.col("end_at").max(), end_at=pl.col("win_end").first()
    )
    empty_windows = bounds.join(dec.select("win_id").unique(), on="win_id", how="anti").select(
        "officer_id", "win_id", start_at="win_start", end_at="win_end"
    )
    gaps = pl.concat(
        [inner, last.select("officer_id", "win_id", "start_at", "end_at"), empty_windows],
        how="vertical_relaxed",
    ).filter(pl.col("end_at") > pl.col("start_at"))
    return gaps.select(
        "officer_id",
        "start_at",
        "end_at",
        kind=pl.lit("unknown"),
        station_id=pl.lit(None, dtype=pl.Utf8),
        h3_cell=pl.lit(None, dtype=pl.UInt64),
        n_fixes=pl.lit(0, dtype=pl.UInt32),
        n_swipes=pl.lit(0, dtype=pl.UInt32),
        sources=pl.lit(""),
        win_id="win_id",
    ).cast(SEGMENTS)  # type: ignore[arg-type]


def all_segments(
    events: pl.DataFrame, covering: pl.DataFrame, windows: pl.DataFrame, policy: Policy
) -> pl.DataFrame:
    """Presence, away and unknown segments covering each window of ``covering`` exactly, sorted.

    ``windows`` is every on-duty window (rules.masking.duty_windows, win_id = row number);
    ``covering`` the subset to cover (events outside it must not be given). Columns SEGMENTS
    (PRESENCE plus win_id). Sorted by (officer_id, start_at).
    """
    decided = decided_segments(events, windows, policy)
    unknown = unknown_segments(decided, covering)
    return pl.concat([decided, unknown], how="vertical").sort(
        "officer_id", "start_at", "kind", "station_id", "h3_cell", nulls_last=True
    )


def public_segments(segments: pl.DataFrame) -> pl.DataFrame:
    """PRESENCE columns only, with internal "mock" segments shown as "unknown" (sources "mock")."""
    is_mock = pl.col("kind") == "mock"
    return segments.with_columns(
        kind=pl.when(is_mock).then(pl.lit("unknown")).otherwise(pl.col("kind")),
        sources=pl.when(is_mock).then(pl.lit("mock")).otherwise(pl.col("sources")),
    ).select(list(PRESENCE))
