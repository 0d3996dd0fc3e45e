"""DEVICE_WITHOUT_BADGE in the nightly job asks the fortnight's swipes, not only the day's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from jobs.nightly import run_nightly
from store.dayload import load_swipers
from store.models import DailyResult, Flag
from tests.intake.helpers import NOW, STATION_LAT, STATION_LON, TZ, World

DAY = date(2026, 10, 24)
LONDON = ZoneInfo(TZ)
OFFICERS = """officer_id,display_name,rank,unit,home_station_id,office_based
O1,Alex Smith,PC,Unit A,ST1,true
O2,Sam Jones,PC,Unit A,ST1,true
O3,Kim Lee,PC,Unit A,ST1,true
"""
DEVICES = """device_id,officer_id,valid_from,valid_to
D1,O1,2026-01-01T00:00:00Z,
D2,O2,2026-01-01T00:00:00Z,
D3,O3,2026-01-01T00:00:00Z,
"""
BADGES = """badge_id,officer_id,valid_from,valid_to
B1,O1,2026-01-01T00:00:00Z,
B2,O2,2026-01-01T00:00:00Z,
B3,O3,2026-01-01T00:00:00Z,
"""
CREATED = "2026-10-01T09:00:00Z"


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


def _shift(shift_id: str, officer: str, day: date, kind: str = "duty") -> str:
    start, end = _local(day, 8), _local(day, 16)
    where = "office" if kind == "duty" else ""
    station = "ST1" if kind == "duty" else ""
    if kind != "duty":
        start, end = _local(day, 0), _local(day + timedelta(days=1), 0)
    return (
        f"{shift_id},{officer},{start.isoformat()},{end.isoformat()},{kind},{station},{where},"
        f"{CREATED},\n"
    )


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    """O1 swiped in on an office day ten days before DAY and had rest days either side of DAY;
    O2 never swipes; O3 swipes in at ST1 on DAY (so its readers worked). On DAY the phones of
    O1 and O2 sit inside ST1 all shift on clean satellite fixes, and neither of them swipes."""
    w = World(db_url, tmp_path)
    w.load_reference()
    for kind, text in (("officers", OFFICERS), ("devices", DEVICES), ("badges", BADGES)):
        assert w.load(kind, f"{kind}2.csv", text).counts["rejected"] == 0
    earlier = DAY - timedelta(days=10)
    roster = (
        "shift_id,officer_id,start,end,kind,station_id,declared_location,created_at,updated_at\n"
    )
    roster += _shift("E1", "O1", earlier)
    roster += _shift("R1", "O1", DAY - timedelta(days=1), "rest")
    roster += _shift("R2", "O1", DAY + timedelta(days=1), "rest")
    roster += "".join(_shift(f"D{n}", f"O{n}", DAY) for n in (1, 2, 3))
    report = w.load("roster", "roster2.csv", roster)
    assert report.counts["rejected"] == 0, report.errors
    swipes = "badge_id,ts,station_id,reader_id,direction,granted\n"
    swipes += f"B1,{_local(earlier, 8, 2).isoformat()},ST1,R1,in,true\n"
    swipes += f"B3,{_local(DAY, 8, 5).isoformat()},ST1,R1,in,true\n"
    report = w.load("swipes", "swipes2.csv", swipes)
    assert report.counts["accepted"] == 2, report.errors
    pings = "device_id,ts,lat,lon,accuracy_m,source,is_mock\n"
    for device in ("D1", "D2"):
        t = _local(DAY, 8, 5)
        while t < _local(DAY, 16):
            pings += f"{device},{t.isoformat()},{STATION_LAT},{STATION_LON},5,gps,false\n"
            t += timedelta(minutes=10)
    report = w.load("pings", "pings2.csv", pings)
    assert report.counts["rejected"] == 0, report.errors
    yield w
    w.engine.dispose()


def test_the_look_back_holds_the_officers_who_swiped_before_the_day(world: World) -> None:
    with world.factory() as session:
        assert load_swipers(session, DAY, TZ, 14)["officer_id"].to_list() == ["O1"]
        # ten days back is outside a look-back of nine; the day itself is never in it
        assert load_swipers(session, DAY, TZ, 9).is_empty()
        assert load_swipers(session, DAY + timedelta(days=1), TZ, 1)["officer_id"].to_list() == [
            "O3"
        ]
        assert load_swipers(session, DAY, TZ, 0).is_empty()


def test_nightly_raises_device_without_badge_for_an_officer_who_swipes(world: World) -> None:
    run_nightly(world.factory, DAY, DAY, policy=world.policy, tz=TZ, clock=lambda: NOW)
    with world.factory() as session:
        flagged = session.execute(
            select(Flag.officer_id, Flag.day).where(Flag.code == "DEVICE_WITHOUT_BADGE")
        ).all()
        evidence = dict(
            session.execute(
                select(DailyResult.officer_id, DailyResult.evidence).where(
                    DailyResult.day == DAY, DailyResult.officer_id.in_(["O1", "O2", "O3"])
                )
            ).all()
        )
    # O1 swiped ten days ago: a swiper whose day rests on a phone alone is the lead. O2 has
    # never swiped (an officer who rarely swipes, or one without a working badge): no lead.
    assert [tuple(r) for r in flagged] == [("O1", DAY)]
    assert evidence["O1"] == "insufficient_evidence"  # conflicting sources, not presence
    assert evidence["O3"] == "adequate"


def test_without_the_look_back_the_swiper_is_spared(world: World) -> None:
    """The same data with dwb_habit_days 0: the days either side hold no swipe of O1, so the
    nightly cannot tell O1 from O2 and raises nothing (the behaviour before the look-back)."""
    policy = world.policy.model_copy(update={"dwb_habit_days": 0})
    run_nightly(world.factory, DAY, DAY, policy=policy, tz=TZ, clock=lambda: NOW)
    with world.factory() as session:
        codes = session.scalars(select(Flag.code).where(Flag.day == DAY)).all()
    assert "DEVICE_WITHOUT_BADGE" not in codes
