"""Device clock offsets: estimated from arrivals against the badge, given, bounded, removed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
import pytest

from rules.engine import evaluate_day
from rules.flags import badge_without_device
from rules.skew import apply_offsets, clock_offsets
from tests.rules.rules_builders import (
    TEST_POLICY,
    at,
    day_inputs,
    fix,
    fixes,
    shift,
    shifts,
    swipe,
    swipes,
)

POLICY = TEST_POLICY
DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]


def commute(day: date, skew: timedelta) -> list[dict[str, object]]:
    """Fixes every 2 minutes (stamped by a clock ``skew`` out) of a walk from 1.2 km north of
    ST1 that crosses into its surroundings at 07:59, then the day inside."""
    rows: list[dict[str, object]] = []
    for k in range(12):
        true = at(day, 7, 37) + timedelta(minutes=2 * k)  # 07:37 .. 07:59
        metres = max(0.0, 1200.0 - 100.0 * k)
        where = "far" if metres > 100 else ("near" if metres > 0 else "in")
        rows.append(fix("o1", true + skew, where=where, metres=metres))
    rows += [fix("o1", at(day, 8, 1) + timedelta(minutes=2 * k) + skew) for k in range(5)]
    return rows


def test_a_fast_clock_is_estimated_from_arrivals_and_removed() -> None:
    skew = timedelta(minutes=6)
    fx = fixes([r for d in DAYS for r in commute(d, skew)])
    sw = swipes([swipe("o1", at(d, 8, 0)) for d in DAYS])
    offsets = clock_offsets(fx, sw, POLICY)
    assert offsets["device"].to_list() == ["D-o1"]
    assert offsets["n_arrivals"].to_list() == [3]
    assert offsets["clock_offset_s"].item() == pytest.approx(360.0 - 60.0, abs=61.0)
    fixed = apply_offsets(fx, offsets)
    moved = (fx["ts"] - fixed["ts"]).dt.total_seconds().unique().to_list()
    assert moved == [int(offsets["clock_offset_s"].item())]
    # two arrivals are too few to say; a given offset wins and is bounded
    assert clock_offsets(fx.filter(pl.col("ts") < at(DAYS[2], 0)), sw, POLICY).is_empty()
    given = pl.DataFrame({"device_id": ["D-o1"], "clock_offset_s": [7200.0]})
    bounded = clock_offsets(fx, sw, POLICY, given)
    assert bounded.select("clock_offset_s", "n_arrivals").rows() == [
        (POLICY.skew_max_offset_minutes * 60.0, 0)
    ]


def test_an_uncorrected_skew_does_not_turn_an_arrival_into_badge_without_device() -> None:
    """A phone 4 minutes fast reports from home at 07:58 and 08:01 by its clock (07:54 and
    07:57 really); the officer lives 1.2 km away, swipes in at 08:00 and stays. Nothing is
    raised: the fixes bracketing a swipe must lie clock_tolerance_minutes from it."""
    day = DAYS[0]
    skew = timedelta(minutes=4)
    home = [
        fix("o1", at(day, 7, 30) + timedelta(minutes=2 * k) + skew, where="far", metres=1200)
        for k in range(14)
    ]  # 07:30 .. 07:56 really
    inside = [fix("o1", at(day, 8, 1) + timedelta(minutes=2 * k) + skew) for k in range(60)]
    office = shifts(shift("s1", "o1", at(day, 8), at(day, 16)))
    sw = swipes([swipe("o1", at(day, 8, 0))])
    out = evaluate_day(day_inputs(day, office, fixes(home + inside), sw), POLICY)
    assert badge_without_device.CODE not in [f.code for f in out.findings]
    strict = POLICY.model_copy(update={"clock_tolerance_minutes": 0.0})
    # without the tolerance the same data would have raised it
    raised = evaluate_day(day_inputs(day, office, fixes(home + inside), sw), strict)
    assert badge_without_device.CODE in [f.code for f in raised.findings]


def test_offsets_of_a_device_without_arrivals_are_unknown() -> None:
    fx = fixes([fix("o1", datetime(2026, 3, 2, 9, tzinfo=at(DAYS[0], 0).tzinfo))])
    assert clock_offsets(fx, swipes(), POLICY).is_empty()
    assert apply_offsets(fx, clock_offsets(fx, swipes(), POLICY))["ts"].equals(fx["ts"])
