"""Rules on what real phones report: OS visits, sparse phones contradicting a badge."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from rules.engine import evaluate_day
from rules.flags import badge_without_device, declared_office
from rules.geodesy import nearest_fence_lower_bound_m
from rules.ghosts import ghost_fixes
from rules.visits import VISITS, visit_fixes
from tests.rules.rules_builders import (
    ST1,
    TEST_POLICY,
    at,
    day_inputs,
    every,
    fix,
    fixes,
    north_of,
    shift,
    shifts,
    stations,
    swipe,
    swipes,
)

POLICY = TEST_POLICY
DAY = date(2026, 3, 2)
OFFICE = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))


def visit(
    arrived: datetime, departed: datetime | None, metres: float, accuracy_m: float
) -> pl.DataFrame:
    """One visit ``metres`` north of ST1's centroid."""
    lat, lon = north_of(ST1, metres)
    row = {
        "device_id": "D-o1",
        "officer_id": "o1",
        "arrived_at": arrived,
        "departed_at": departed,
        "lat": lat,
        "lon": lon,
        "accuracy_m": accuracy_m,
    }
    return pl.DataFrame([row], schema=VISITS)


def as_fixes(v: pl.DataFrame, where: str, metres: float) -> pl.DataFrame:
    """Visit rows classified as geo would: inside ST1, near it, or far from every station."""
    rows = visit_fixes(v, POLICY.visit_step_minutes)
    return fixes(
        [
            fix("o1", r["ts"], where=where, metres=metres, accuracy_m=r["accuracy_m"])
            | {"source": r["source"]}
            for r in rows.iter_rows(named=True)
        ]
    )


def test_visit_rows_cover_the_stay_every_step_and_its_departure() -> None:
    rows = visit_fixes(visit(at(DAY, 7, 50), at(DAY, 16, 5), 0, 40.0), 15)
    assert rows["ts"][0] == at(DAY, 7, 50)
    assert rows["ts"][-1] == at(DAY, 16, 5)
    assert rows.height == 34  # 07:50 .. 16:05 every 15 minutes (33 rows) and the departure
    assert set(rows["source"]) == {"visit"}
    still_there = visit_fixes(visit(at(DAY, 7, 50), None, 0, 40.0), 15)
    assert still_there["ts"].max() == at(DAY, 7, 50) + timedelta(hours=12)


def test_a_silent_phone_with_a_station_visit_has_a_verified_office_day() -> None:
    arrival = [fix("o1", at(DAY, 7, 40), where="far", metres=3000)]
    v = visit(at(DAY, 7, 50), at(DAY, 16, 5), 0, 40.0)
    inside = as_fixes(v, "near", 15.0)  # the visit's place 15 m outside the wall, 40 m accuracy
    out = evaluate_day(day_inputs(DAY, OFFICE, pl.concat([fixes(arrival), inside])), POLICY)
    assert out.daily.select("verified_office_day", "evidence").rows() == [(True, "adequate")]
    assert out.findings == []


def test_a_home_visit_near_a_station_is_not_presence() -> None:
    v = visit(at(DAY, 7, 0), at(DAY, 17, 0), 0, 80.0)
    home = as_fixes(v, "near", 60.0)  # 60 m outside the wall: beyond the 40 m cap
    out = evaluate_day(day_inputs(DAY, OFFICE, home), POLICY)
    assert out.daily["verified_presence_minutes"].to_list() == [0.0]


def test_a_throttled_phone_at_home_contradicting_a_badge_is_a_conflict_not_absence() -> None:
    sparse = fixes(
        [
            fix("o1", at(DAY, h, m), where="far", metres=6000)
            for h, m in ((7, 41), (8, 55), (10, 10), (11, 40), (13, 0), (14, 20), (15, 45))
        ]
    )
    sw = swipes([swipe("o1", at(DAY, 7, 42))])
    out = evaluate_day(day_inputs(DAY, OFFICE, sparse, sw), POLICY)
    # the conflict itself is the lead: the phone stayed at one place 6 km away around the swipe
    assert [f.code for f in out.findings] == [badge_without_device.CODE]
    assert out.daily.select("evidence", "verified_office_day").rows() == [
        ("insufficient_evidence", False)
    ]
    # one far fix near the swipe is too little to say anything: conflict, no lead
    lone = evaluate_day(day_inputs(DAY, OFFICE, fixes([sparse.row(0, named=True)]), sw), POLICY)
    assert lone.findings == []
    assert lone.daily["evidence"].to_list() == ["insufficient_evidence"]
    # a phone reporting every 30 minutes from home without any swipe is an absence the data shows
    dense = fixes(
        [fix("o1", t, where="far", metres=6000) for t in every(at(DAY, 7), at(DAY, 17), 30)]
    )
    alone = evaluate_day(day_inputs(DAY, OFFICE, dense), POLICY)
    assert [f.code for f in alone.findings] == [declared_office.CODE]


def test_a_far_imprecise_fix_is_away_at_its_real_distance() -> None:
    """Wi-Fi fixes of 80 m accuracy 9 km from every station: with the fences' radii known they
    are away (9 km is far more than two accuracies), so a day of them is a decided absence; a
    station list without radii leaves them at unmatched_distance_m (100 m), undecided."""
    far = fixes(
        [
            fix("o1", t, where="far", metres=9000, accuracy_m=80.0, source="wifi")
            for t in every(at(DAY, 7, 30), at(DAY, 16, 30), 30)
        ]
    )
    known = replace(day_inputs(DAY, OFFICE, far), stations=stations(radius_m=60.0))
    out = evaluate_day(known, POLICY)
    assert out.daily.select("away_minutes", "evidence").rows() == [(540.0, "adequate")]
    assert [f.code for f in out.findings] == [declared_office.CODE]
    unknown = evaluate_day(day_inputs(DAY, OFFICE, far), POLICY)
    assert unknown.daily.select("away_minutes", "evidence").rows() == [
        (0.0, "insufficient_evidence")
    ]
    assert unknown.findings == []


def test_a_badge_does_not_carry_presence_while_the_phone_is_far() -> None:
    """A granted entry swipe anchors presence only until evidence of leaving: Wi-Fi fixes of
    120 m accuracy 9 km away end it, though 100 m would never be three accuracies out."""
    far = fixes(
        [
            fix("o1", t, where="far", metres=9000, accuracy_m=120.0, source="wifi")
            for t in every(at(DAY, 9), at(DAY, 16), 20)
        ]
    )
    sw = swipes([swipe("o1", at(DAY, 7, 55))])
    out = evaluate_day(
        replace(day_inputs(DAY, OFFICE, far, sw), stations=stations(radius_m=60.0)), POLICY
    )
    presence = out.daily["verified_presence_minutes"].item()
    assert presence < 240.0
    assert out.daily["away_minutes"].item() >= 420.0


def test_the_fence_bound_is_centroid_distance_less_the_radius() -> None:
    lat, lon = north_of(ST1, 5000.0)
    bound = nearest_fence_lower_bound_m([lat, float("nan")], [lon, lon], stations(radius_m=80.0))
    assert bound[0] == pytest.approx(4920.0, rel=1e-3)
    assert bound[1] == 0.0
    assert nearest_fence_lower_bound_m([lat], [lon], stations())[0] == 0.0  # radius unknown


def test_imprecise_indoor_fixes_hold_a_badge_anchored_stay_until_lunch() -> None:
    """A throttled phone indoors: Wi-Fi fixes 40-80 m past the wall with 90-140 m accuracy every
    40-60 minutes, a lunch fix 300 m away at 12:30. With the entry swipe at 07:55 they keep
    the stay going (a verified office day); without any swipe they place nobody."""
    indoor = [
        fix("o1", at(DAY, h, m), where="near", metres=d, accuracy_m=a, source="wifi")
        for h, m, d, a in (
            (8, 40, 60.0, 120.0),
            (9, 35, 45.0, 90.0),
            (10, 30, 80.0, 140.0),
            (11, 20, 50.0, 100.0),
            (13, 40, 70.0, 110.0),
            (14, 30, 40.0, 95.0),
            (15, 30, 65.0, 130.0),
        )
    ]
    lunch = [fix("o1", at(DAY, 12, 30), where="far", metres=300.0, accuracy_m=8.0)]
    track = fixes(indoor + lunch)
    sw = swipes([swipe("o1", at(DAY, 7, 55)), swipe("o1", at(DAY, 13, 5))])
    out = evaluate_day(day_inputs(DAY, OFFICE, track, sw), POLICY)
    assert out.daily.select("verified_office_day", "evidence").rows() == [(True, "adequate")]
    assert out.daily["verified_presence_minutes"].item() >= 360.0
    alone = evaluate_day(day_inputs(DAY, OFFICE, track), POLICY)
    assert alone.daily["verified_presence_minutes"].item() == 0.0
    assert alone.findings == []


def test_a_lone_fused_fix_far_between_sparse_station_fixes_is_a_ghost() -> None:
    """A throttled phone at the station at 10:00 and 11:40 reports one fused position 6 km away
    at 10:50: a round trip that slow is possible, but one Wi-Fi-derived position cannot show
    it was made, so it is a ghost. The same position labelled GPS is kept (a real trip)."""
    far = fix("o1", at(DAY, 10, 50), where="far", metres=6000, accuracy_m=15.0, source="fused")
    track = [fix("o1", at(DAY, 10, 0)), far, fix("o1", at(DAY, 11, 40))]
    frame = fixes(track).with_columns(win_id=pl.lit(0, dtype=pl.UInt32))
    assert ghost_fixes(frame, POLICY).to_list() == [False, True, False]
    gps = fixes([track[0], far | {"source": "gps"}, track[2]])
    kept = ghost_fixes(gps.with_columns(win_id=pl.lit(0, dtype=pl.UInt32)), POLICY)
    assert kept.to_list() == [False, False, False]


def test_a_swipe_at_a_reader_without_direction_also_holds_the_stay() -> None:
    """A station whose readers record no direction: the granted swipe still places the officer
    there, and the imprecise fixes near it that follow keep the stay going (70 m out: alone,
    with their median beyond near_run_max_median_m, they place nobody)."""
    indoor = [
        fix("o1", t, where="near", metres=70.0, accuracy_m=110.0, source="wifi")
        for t in every(at(DAY, 8, 25), at(DAY, 15, 45), 40)  # every 40 min (bridged at 45)
    ]
    sw = swipes([swipe("o1", at(DAY, 7, 49), direction="unknown")])
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(indoor), sw), POLICY)
    assert out.daily.select("verified_office_day", "evidence").rows() == [(True, "adequate")]
    alone = evaluate_day(day_inputs(DAY, OFFICE, fixes(indoor)), POLICY)
    assert alone.daily["verified_office_day"].to_list() == [False]
