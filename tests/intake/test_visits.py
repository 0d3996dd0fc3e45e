"""Importing operating-system visits: clipped to on-duty time, held, masked, completed, refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.report import ImportFileError
from tests.intake.helpers import NOW, STATION_LAT, STATION_LON, World

HEADER = "device_id,arrived_at,departed_at,lat,lon,accuracy_m\n"
# O1's shift: 08:00-16:00 BST on 2026-10-24, so on duty 07:30-16:30 BST (06:30-15:30 UTC).
WINDOW = (datetime(2026, 10, 24, 6, 30, tzinfo=UTC), datetime(2026, 10, 24, 15, 30, tzinfo=UTC))


def visit(arrived: str, departed: str = "", device: str = "D1", accuracy: str = "40") -> str:
    return f"{device},{arrived},{departed},{STATION_LAT},{STATION_LON},{accuracy}\n"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def stored(world: World, table: str = "visits") -> list[tuple[datetime, datetime, bool]]:
    from sqlalchemy import select

    from store.models import HeldVisit, Visit

    model = Visit if table == "visits" else HeldVisit
    with world.factory() as session:
        rows = session.execute(
            select(model.arrived_at, model.departed_at, model.departure_known).order_by(
                model.arrived_at
            )
        ).all()
    return [(a, d, k) for a, d, k in rows]


def test_a_visit_is_clipped_to_on_duty_time_and_the_rest_never_stored(world: World) -> None:
    text = HEADER + "".join(
        [
            # arrives off duty at 06:00 BST, stays into the shift: only 07:30-09:00 is kept
            visit("2026-10-24T06:00:00+01:00", "2026-10-24T09:00:00+01:00"),
            # inside the shift
            visit("2026-10-24T12:00:00+01:00", "2026-10-24T13:00:00+01:00"),
            # the day before, no shift, older than the hold: masked
            visit("2026-10-23T12:00:00+01:00", "2026-10-23T13:00:00+01:00"),
            # O2's rest day: masked
            visit("2026-10-24T09:00:00+01:00", "2026-10-24T10:00:00+01:00", device="D2"),
            # after the shift, no shift covers it, recent: held
            visit("2026-10-24T17:00:00+01:00", "2026-10-24T18:00:00+01:00"),
        ]
    )
    report = world.load("visits", "visits.csv", text)
    assert report.counts == {"accepted": 2, "duplicate": 0, "masked": 2, "held": 1, "rejected": 0}
    assert stored(world) == [
        (WINDOW[0], datetime(2026, 10, 24, 8, tzinfo=UTC), True),
        (datetime(2026, 10, 24, 11, tzinfo=UTC), datetime(2026, 10, 24, 12, tzinfo=UTC), True),
    ]
    # The uncovered hours are held like any unrostered event: the one after the shift, and the
    # first visit's part before the window (no shift says anything about 06:00-07:30).
    assert stored(world, "held") == [
        (datetime(2026, 10, 24, 5, tzinfo=UTC), WINDOW[0], True),
        (datetime(2026, 10, 24, 16, tzinfo=UTC), datetime(2026, 10, 24, 17, tzinfo=UTC), True),
    ]
    assert world.scalar("SELECT sum(count) FROM masked_counts WHERE kind = 'visit'") == 2
    # The same file again changes nothing and counts nothing again.
    again = world.load("visits", "again.csv", text)
    assert again.counts == {"accepted": 0, "duplicate": 3, "masked": 2, "held": 0, "rejected": 0}
    assert world.count("visits") == 2
    assert world.scalar("SELECT sum(count) FROM masked_counts WHERE kind = 'visit'") == 2


def test_an_open_visit_is_kept_to_the_window_edge_and_completed_by_its_departure(
    world: World,
) -> None:
    first = world.load("visits", "open.csv", HEADER + visit("2026-10-24T14:00:00+01:00"))
    assert first.counts["accepted"] == 1
    # Still there when reported: assumed to stay, but never past the on-duty window.
    assert stored(world) == [(datetime(2026, 10, 24, 13, tzinfo=UTC), WINDOW[1], False)]
    done = HEADER + visit("2026-10-24T14:00:00+01:00", "2026-10-24T15:10:00+01:00")
    assert world.load("visits", "done.csv", done).counts["accepted"] == 1
    assert stored(world) == [
        (
            datetime(2026, 10, 24, 13, tzinfo=UTC),
            datetime(2026, 10, 24, 14, 10, tzinfo=UTC),
            True,
        )
    ]
    assert world.load("visits", "done2.csv", done).counts["duplicate"] == 1


def test_bad_visit_rows_are_named_and_the_good_ones_still_load(world: World) -> None:
    text = HEADER + "".join(
        [
            visit("2026-10-24T12:00:00+01:00", "2026-10-24T11:00:00+01:00"),
            f"D1,2026-10-24T12:10:00+01:00,,{STATION_LON},{STATION_LAT},40\n",
            visit("", "2026-10-24T13:00:00+01:00"),
            visit("2026-10-24T12:20:00+01:00", device="D9"),
            visit("2026-10-24T12:30:00+01:00", accuracy="0"),
            visit("2026-10-24T13:00:00+01:00", "2026-10-24T14:00:00+01:00"),
            visit("2026-10-24T13:00:00+01:00", "2026-10-24T14:30:00+01:00"),
            visit("2026-10-24T21:30:00+01:00"),
        ]
    )
    report = world.load("visits", "bad.csv", text)
    assert [(e.row, e.column) for e in report.errors] == [
        (1, "departed_at"),
        (2, "lat"),
        (3, "arrived_at"),
        (4, "device_id"),
        (5, "accuracy_m"),
        (7, "arrived_at"),
        (8, "arrived_at"),
    ]
    reasons = {e.row: e.reason for e in report.errors}
    assert reasons[1] == "is at or before arrived_at"
    assert reasons[3] == "required value is empty"
    assert reasons[4] == "device D9 is not assigned to any officer at this time"
    assert reasons[7] == "same key as an earlier row of this batch with other values"
    assert reasons[8] == "more than 15 minutes in the future"
    assert report.counts["accepted"] == 1
    assert report.counts["rejected"] == 7


def test_a_visits_file_without_its_required_columns_is_refused(world: World) -> None:
    with pytest.raises(ImportFileError, match="missing required column"):
        world.load("visits", "v.csv", "device_id,lat,lon\nD1,51.5,-0.12\n")


LATE_ROSTER = """shift_id,officer_id,start,end,kind,station_id,declared_location,created_at,updated_at
S3,O1,2026-10-24T16:00:00+01:00,2026-10-24T20:00:00+01:00,overtime,ST1,office,2026-10-24T18:00:00Z,
"""
SHORTER = """shift_id,officer_id,start,end,kind,station_id,declared_location,created_at,updated_at
S1,O1,2026-10-24T08:00:00+01:00,2026-10-24T12:00:00+01:00,duty,ST1,office,2026-10-01T09:00:00Z,2026-10-24T18:00:00Z
"""


def test_a_held_visit_is_kept_when_a_late_shift_covers_it(world: World) -> None:
    text = HEADER + visit("2026-10-24T17:00:00+01:00", "2026-10-24T18:00:00+01:00")
    assert world.load("visits", "late.csv", text).counts["held"] == 1
    world.load("roster", "late_roster.csv", LATE_ROSTER)
    assert world.count("held_visits") == 0
    assert stored(world) == [
        (datetime(2026, 10, 24, 16, tzinfo=UTC), datetime(2026, 10, 24, 17, tzinfo=UTC), True)
    ]


def test_a_shortened_shift_takes_the_visit_time_it_no_longer_covers(world: World) -> None:
    text = HEADER + visit("2026-10-24T11:00:00+01:00", "2026-10-24T14:00:00+01:00")
    assert world.load("visits", "v.csv", text).counts["accepted"] == 1
    world.load("roster", "shorter.csv", SHORTER)
    # on duty now until 12:30 BST; the rest went to the hold (nothing covers it, recent)
    assert stored(world) == [
        (
            datetime(2026, 10, 24, 10, tzinfo=UTC),
            datetime(2026, 10, 24, 11, 30, tzinfo=UTC),
            True,
        )
    ]
    assert stored(world, "held") == [
        (
            datetime(2026, 10, 24, 11, 30, tzinfo=UTC),
            datetime(2026, 10, 24, 13, tzinfo=UTC),
            True,
        )
    ]


def _iso(t: datetime) -> str:
    return t.isoformat()


BASE = datetime(2026, 10, 24, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 24 * 60 - 1), st.integers(1, 16 * 60)), min_size=1, max_size=6
    )
)
def test_no_stored_visit_time_falls_outside_an_on_duty_window(
    world: World, spans: list[tuple[int, int]]
) -> None:
    """Whatever the visits, every stored minute of them is inside O1's on-duty window."""
    from sqlalchemy import text as sql

    with world.engine.begin() as conn:
        conn.execute(sql("DELETE FROM visits"))
        conn.execute(sql("DELETE FROM held_visits"))
    rows = "".join(
        visit(_iso(BASE + timedelta(minutes=a)), _iso(BASE + timedelta(minutes=a + d)))
        for a, d in spans
    )
    report = world.load("visits", "p.csv", HEADER + rows, now=NOW + timedelta(hours=4))
    assert {e.column for e in report.errors} <= {"arrived_at", "departed_at"}
    for arrived, departed, _ in stored(world):
        assert WINDOW[0] <= arrived < departed <= WINDOW[1]
    frame = pl.DataFrame(stored(world), schema=["a", "d", "k"], orient="row")
    assert frame.height == frame.unique("a").height
