"""Stored visits count in the nightly job and show on the timeline as on-duty presence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from api.timeline import build_timeline
from jobs.nightly import run_nightly
from store.models import DailyResult
from tests.intake.helpers import NOW, STATION_LAT, STATION_LON, TZ, World

DAY = date(2026, 10, 24)
HEADER = "device_id,arrived_at,departed_at,lat,lon,accuracy_m\n"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def _day(world: World) -> tuple[float, bool, str]:
    run_nightly(world.factory, DAY, DAY, policy=world.policy, tz=TZ, clock=lambda: NOW)
    with world.factory() as session:
        row = session.execute(
            select(
                DailyResult.verified_presence_minutes,
                DailyResult.verified_office_day,
                DailyResult.evidence,
            ).where(DailyResult.officer_id == "O1", DailyResult.day == DAY)
        ).one()
    return float(row[0]), bool(row[1]), str(row[2])


def test_a_station_visit_of_a_silent_phone_makes_a_verified_office_day(world: World) -> None:
    minutes, verified, _ = _day(world)
    assert (minutes, verified) == (0.0, False)  # no pings, no swipes: nothing verified
    # The phone reported only a visit: arrived at the station before the shift, left after.
    text = HEADER + (
        f"D1,2026-10-24T07:50:00+01:00,2026-10-24T16:05:00+01:00,{STATION_LAT},{STATION_LON},30\n"
    )
    assert world.load("visits", "visits.csv", text).counts["accepted"] == 1
    minutes, verified, evidence = _day(world)
    assert verified
    assert evidence == "adequate"
    assert minutes >= 8 * 60

    timeline = build_timeline(
        world.factory(),
        "O1",
        datetime(2026, 10, 24, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, tzinfo=UTC),
        policy=world.policy,
        tz=TZ,
    )
    presence = [e for e in timeline["events"] if e["type"] == "presence"]
    assert [e["station_id"] for e in presence] == ["ST1"]
    assert "visit" in presence[0]["evidence"]["sources"]
    # never before the on-duty window (07:30 BST), though the visit began at 07:50 BST
    assert presence[0]["start"] >= "2026-10-24T07:30:00+01:00"
