"""badge_without_device.contradicted_swipes against its definition, swipe by swipe (hypothesis):
the running counts it reads give the officers a pairing of every swipe with every fix gives."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.evidence import effective_accuracy, source_bits
from rules.flags.badge_without_device import contradicted_swipes
from rules.flags.context import FlagContext
from rules.geodesy import haversine_m
from tests.rules.rules_builders import (
    ST1,
    ST2,
    TEST_POLICY,
    at,
    fix,
    fixes,
    stations,
    swipe,
    swipes,
)

POLICY = TEST_POLICY
DAY = date(2026, 3, 29)  # the clocks go forward: a 23-hour day
WINDOW = timedelta(minutes=POLICY.conflict_window_minutes)
NOON = at(DAY, 12)
OFFICERS = ("o1", "o2", "o3")
# metres north of a station: inside, around badge_far_m beyond a 10-60 m accuracy, far away
DISTANCES = (0.0, 900.0, POLICY.badge_far_m + 10.0, POLICY.badge_far_m + 60.0, 5_000.0)
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def an_instant() -> st.SearchStrategy[datetime]:
    """Noon give or take whole minutes, the conflict window's edges and one microsecond
    either side of them among the likely values."""
    minutes = st.integers(-300, 300).map(lambda m: NOON + timedelta(minutes=m))
    edges = st.sampled_from([-1, 0, 1]).flatmap(
        lambda us: st.sampled_from([NOON - WINDOW, NOON + WINDOW]).map(
            lambda t: t + timedelta(microseconds=us)
        )
    )
    return st.one_of(minutes, edges)


def a_fix() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda officer, ts, station, metres, acc, source, mock, ghost: {
            **fix(
                officer,
                ts,
                where="far",
                station=station,
                metres=metres,
                accuracy_m=acc,
                source=source,
                is_mock=mock,
            ),
            "ghost": ghost,
        },
        st.sampled_from(OFFICERS),
        an_instant(),
        st.sampled_from([ST1, ST2]),
        st.sampled_from(DISTANCES),
        st.sampled_from([None, 10.0, 60.0, 149.0, 151.0, 400.0]),
        st.sampled_from(["gps", "wifi", "fused", "visit", None]),
        st.booleans(),
        st.booleans(),
    )


def a_swipe() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda officer, ts, station, granted: swipe(officer, ts, "in", station, granted),
        st.sampled_from(OFFICERS),
        st.sampled_from([NOON, NOON + timedelta(minutes=45), NOON - timedelta(hours=3)]),
        st.sampled_from(["ST1", "ST2", "ST9"]),  # ST9: no such station
        st.booleans(),
    )


def context(fix_rows: list[dict[str, Any]], swipe_rows: list[dict[str, Any]]) -> FlagContext:
    """A day's context holding only what contradicted_swipes reads."""
    day_windows = pl.DataFrame(
        {"officer_id": list(OFFICERS), "start_at": [at(DAY, 7)] * 3, "end_at": [at(DAY, 22)] * 3}
    )
    frame = fixes([{k: v for k, v in r.items() if k != "ghost"} for r in fix_rows])
    # as the engine holds them: each officer's window numbered in officer order, fixes sorted
    # by (win_id, ts)
    frame = frame.with_columns(
        ghost=pl.Series([r["ghost"] for r in fix_rows], dtype=pl.Boolean),
        win_id=pl.col("officer_id").replace_strict(
            {o: k for k, o in enumerate(OFFICERS)}, return_dtype=pl.UInt32
        ),
    ).sort("win_id", "ts")
    empty = pl.DataFrame()
    return FlagContext(
        day=DAY,
        tz="Europe/London",
        policy=POLICY,
        daily=empty,
        segments=empty,
        day_windows=day_windows,
        shifts=empty,
        shift_history=empty,
        fixes=frame,
        swipes=swipes(swipe_rows),
        overtime=empty,
        stations=stations(radius_m=80.0),
        windows=empty,
    )


def by_definition(ctx: FlagContext) -> list[str]:
    """Officers with a granted swipe inside a day window at a known station whose precise fixes
    within conflict_window_minutes (at least one) all lie badge_far_m beyond their accuracy."""
    frame = ctx.fixes.with_columns(source_bits(ctx.fixes["source"])).with_columns(
        acc=effective_accuracy(pl.col("accuracy_m"), pl.col("src_bits"))
    )
    precise = frame.filter(
        ~pl.col("ghost") & ~pl.col("is_mock") & (pl.col("acc") <= POLICY.badge_fix_max_accuracy_m)
    ).to_dicts()
    where = {r["station_id"]: (r["lat"], r["lon"]) for r in ctx.stations.to_dicts()}
    found: set[str] = set()
    for s in ctx.swipes.filter(pl.col("granted")).to_dicts():
        if s["station_id"] not in where or not at(DAY, 7) <= s["ts"] <= at(DAY, 22):
            continue
        near = [f for f in precise if f["officer_id"] == s["officer_id"]]
        near = [f for f in near if abs(f["ts"] - s["ts"]) <= WINDOW]
        lat, lon = where[s["station_id"]]
        far = [
            pl.select(
                haversine_m(pl.lit(f["lat"]), pl.lit(f["lon"]), pl.lit(lat), pl.lit(lon))
            ).item()
            - f["acc"]
            >= POLICY.badge_far_m
            for f in near
        ]
        if far and all(far):
            found.add(s["officer_id"])
    return sorted(found)


@SETTINGS
@given(st.lists(a_fix(), max_size=14), st.lists(a_swipe(), max_size=5))
def test_contradicted_swipes_match_the_definition(
    fix_rows: list[dict[str, Any]], swipe_rows: list[dict[str, Any]]
) -> None:
    ctx = context(fix_rows, swipe_rows)
    got = contradicted_swipes(ctx)
    assert (got["officer_id"].to_list() if got.height else []) == by_definition(ctx)


def test_a_fix_on_the_window_edge_counts_and_one_just_outside_does_not() -> None:
    far = POLICY.badge_far_m + 100.0
    near_rows = [fix("o1", NOON - WINDOW, where="far", station=ST1, metres=0.0)]
    far_rows = [fix("o1", NOON + timedelta(minutes=5), where="far", station=ST1, metres=far)]
    outside = [
        fix("o1", NOON - WINDOW - timedelta(microseconds=1), where="far", station=ST1, metres=0.0)
    ]
    swiped = [swipe("o1", NOON, "in", "ST1")]
    on_edge = context([{**r, "ghost": False} for r in near_rows + far_rows], swiped)
    beyond = context([{**r, "ghost": False} for r in outside + far_rows], swiped)
    assert contradicted_swipes(on_edge).height == 0  # the near fix on the edge speaks for it
    assert contradicted_swipes(beyond)["officer_id"].to_list() == ["o1"]
