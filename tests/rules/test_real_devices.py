"""Rules on what real phones report: OS visits, sparse phones contradicting a badge."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl

from rules.engine import evaluate_day
from rules.flags import badge_without_device, declared_office
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
    assert declared_office.CODE not in [f.code for f in out.findings]
    assert badge_without_device.CODE not in [f.code for f in out.findings]  # too little to say
    assert out.daily.select("evidence", "verified_office_day").rows() == [
        ("insufficient_evidence", False)
    ]
    # a phone reporting every 30 minutes from home without any swipe is an absence the data shows
    dense = fixes(
        [fix("o1", t, where="far", metres=6000) for t in every(at(DAY, 7), at(DAY, 17), 30)]
    )
    alone = evaluate_day(day_inputs(DAY, OFFICE, dense), POLICY)
    assert [f.code for f in alone.findings] == [declared_office.CODE]
