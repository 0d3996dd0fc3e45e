"""Imprecise fixes near a station: long stays without a swipe, and lone confident fixes out."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from rules.engine import evaluate_day
from rules.evidence import AWAY, INSIDE, NEAR, held_near
from tests.rules.rules_builders import (
    TEST_POLICY,
    at,
    day_inputs,
    every,
    fix,
    fixes,
    shift,
    shifts,
    swipe,
    swipes,
)

POLICY = TEST_POLICY
DAY = date(2026, 3, 2)
OFFICE = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))


def indoor(metres: float, start: tuple[int, int], end: tuple[int, int], step: int) -> list:
    """Wi-Fi fixes ``metres`` past ST1's wall every ``step`` minutes, accuracy 60 / 120 m."""
    times = every(at(DAY, *start), at(DAY, *end), step)
    return [
        fix(
            "o1", t, where="near", metres=metres, accuracy_m=60.0 if i % 2 else 120.0, source="wifi"
        )
        for i, t in enumerate(times)
    ]


def test_indoor_fixes_agreeing_for_hours_are_a_stay_without_a_swipe() -> None:
    """A throttled phone at the desk, no swipe: a Wi-Fi position 35 m past the wall every 40
    minutes from 08:00 to 15:20. Each alone places nobody; together, for hours with nothing
    away between them, they are the stay: presence from 07:45 (15 minutes' edge credit) to
    15:35, a verified office day, no finding."""
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(indoor(35.0, (8, 0), (15, 20), 40))), POLICY)
    assert out.daily.select("verified_office_day", "evidence").rows() == [(True, "adequate")]
    assert out.daily["verified_presence_minutes"].item() == 470.0
    assert out.findings == []


def test_fixes_around_a_cafe_across_the_road_are_no_stay() -> None:
    """The same fixes 70 m past the wall (a cafe across the road, a home next door): their
    median lies beyond near_run_max_median_m, so they place nobody; the day is insufficient,
    never an absence finding."""
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(indoor(70.0, (8, 0), (15, 20), 40))), POLICY)
    assert out.daily.select("verified_presence_minutes", "evidence").rows() == [
        (0.0, "insufficient_evidence")
    ]
    assert out.findings == []


def test_a_stay_needs_an_hour_of_fixes() -> None:
    """Three fixes 35 m out over 40 minutes (a walk past, a delivery at the gate) are no stay;
    five over 80 minutes are."""
    short = evaluate_day(day_inputs(DAY, OFFICE, fixes(indoor(35.0, (9, 0), (9, 40), 20))), POLICY)
    assert short.daily["verified_presence_minutes"].item() == 0.0
    long = evaluate_day(day_inputs(DAY, OFFICE, fixes(indoor(35.0, (9, 0), (10, 20), 20))), POLICY)
    # 08:45 (edge credit) to 10:35
    assert long.daily["verified_presence_minutes"].item() == 110.0


def test_held_near_breaks_at_an_away_fix_and_at_a_long_gap() -> None:
    """held_near on hand-made events: a run at ST1 of four NEAR fixes over 90 minutes is held;
    split by an away fix, or by a gap longer than presence_bridge_max_minutes, each part is too
    short, and nothing is held."""

    def events(types: list[int], minutes: list[int]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "win_id": [0] * len(types),
                "ts": [at(DAY, 9) + timedelta(minutes=m) for m in minutes],
                "etype": types,
                "station_id": [None if t == AWAY else "ST1" for t in types],
                "is_fix": [True] * len(types),
                "dist_m": [500.0 if t == AWAY else 30.0 for t in types],
            },
            schema_overrides={"win_id": pl.UInt32, "etype": pl.UInt8},
        )

    run = events([NEAR, NEAR, INSIDE, NEAR], [0, 30, 60, 90])
    assert held_near(run, POLICY).to_list() == [True, True, False, True]
    split = events([NEAR, NEAR, AWAY, NEAR, NEAR], [0, 30, 45, 60, 90])
    assert held_near(split, POLICY).to_list() == [False] * 5
    gap = events([NEAR, NEAR, NEAR, NEAR], [0, 40, 100, 140])
    assert held_near(gap, POLICY).to_list() == [False] * 4


def test_a_lone_confident_fix_out_between_a_badge_and_indoor_fixes_is_an_outlier() -> None:
    """Badge-in at 07:55, indoor Wi-Fi fixes 70 m out (alone no stay) every 40 minutes, and at
    10:05 one fused fix 250 m away reported at 8 m (multipath with an understated accuracy):
    between two indoor fixes near ST1 35 minutes apart it is the odd one, so the stay the badge
    began runs to the end of the shift. Two fixes out in a row are a real walk and end it."""
    sw = swipes([swipe("o1", at(DAY, 7, 55))])
    inside = indoor(70.0, (8, 40), (15, 20), 40)
    lone = [fix("o1", at(DAY, 10, 5), where="far", metres=250.0, accuracy_m=8.0, source="fused")]
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(lone + inside), sw), POLICY)
    # 07:55 to the end of the shift, 16:00
    assert out.daily["verified_presence_minutes"].item() == 485.0
    walk = lone + [fix("o1", at(DAY, 10, 15), where="far", metres=260.0, accuracy_m=8.0)]
    ended = evaluate_day(day_inputs(DAY, OFFICE, fixes(walk + inside), sw), POLICY)
    assert ended.daily["verified_presence_minutes"].item() < 485.0


def test_station_fixes_after_the_officers_own_swipe_are_no_ghost() -> None:
    """A throttled phone: at home (3.2 km away) at 07:30, the badge granted at ST1 at 07:52,
    two Wi-Fi positions near ST1 at 08:50 and 10:10, then home again from 11:20. Without the
    badge the two station positions between agreeing home fixes are a Wi-Fi ghost; after the
    officer's own swipe there they are the trip the badge shows: the stay runs from the swipe
    to 10:25 (15 minutes' edge credit before the first home fix), no BADGE_WITHOUT_DEVICE (the
    device did come to the station), and the short office day is raised as one."""
    home = [
        fix("o1", t, where="far", metres=3200.0, accuracy_m=12.0)
        for t in [at(DAY, 7, 30), *every(at(DAY, 11, 20), at(DAY, 16, 20), 40)]
    ]
    station = [
        fix("o1", at(DAY, h, m), where="near", metres=34.0, accuracy_m=110.0, source="wifi")
        for h, m in ((8, 50), (10, 10))
    ]
    sw = swipes([swipe("o1", at(DAY, 7, 52))])
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(home + station), sw), POLICY)
    assert out.daily.select("verified_presence_minutes", "evidence").rows() == [(153.0, "adequate")]
    assert [f.code for f in out.findings] == ["DECLARED_OFFICE_UNVERIFIED"]
    alone = evaluate_day(day_inputs(DAY, OFFICE, fixes(home + station)), POLICY)
    assert alone.daily["verified_presence_minutes"].item() == 0.0
