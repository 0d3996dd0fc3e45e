"""Property: off-duty pings leave no trace but a count, in storage, errors or logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from intake.pipeline import ingest_frame
from rules.policy import load_policy
from tests.intake.helpers import NOW, TZ, World

# O1's on-duty window on 2026-10-24 is 06:30-15:30 UTC (08:00-16:00 BST widened by 30 min); O2 is
# on a rest day. Off-duty instants: O1 outside the window, more than 24 h before "now" (masked at
# once), or any time on O2's rest day.
O1_OFF = st.one_of(
    st.datetimes(datetime(2026, 10, 20), datetime(2026, 10, 23, 19, 59), timezones=st.just(UTC)),
)
O2_REST = st.datetimes(
    datetime(2026, 10, 23, 23, 0), datetime(2026, 10, 24, 11, 59), timezones=st.just(UTC)
)
COORD = st.tuples(st.floats(51.28, 51.70, allow_nan=False), st.floats(-0.5, 0.3, allow_nan=False))
BAD_ACCURACY = st.sampled_from(["8", "0", "-4", "abc", "", "NaN"])


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def _digits(value: float) -> str:
    return f"{value:.4f}"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    events=st.lists(
        st.tuples(
            st.one_of(
                st.tuples(st.just("D1"), O1_OFF),
                st.tuples(st.just("D2"), O2_REST),
            ),
            COORD,
            BAD_ACCURACY,
        ),
        min_size=1,
        max_size=30,
    )
)
def test_off_duty_pings_leave_only_a_count(
    world: World,
    events: list[tuple[tuple[str, datetime], tuple[float, float], str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = pl.DataFrame(
        {
            "device_id": [d for (d, _), _, _ in events],
            "ts": [
                (t + timedelta(microseconds=i)).isoformat()
                for i, ((_, t), _, _) in enumerate(events)
            ],
            "lat": [str(lat) for _, (lat, _), _ in events],
            "lon": [str(lon) for _, (_, lon), _ in events],
            "accuracy_m": [a for _, _, a in events],
        }
    )
    caplog.set_level(logging.DEBUG)
    with Session(world.engine) as session, session.begin():
        report = ingest_frame(session, "pings", frame, tz=TZ, policy=load_policy(), now=NOW)
        stored = session.execute(text("SELECT count(*) FROM pings")).scalar_one()
        held = session.execute(text("SELECT count(*) FROM held_pings")).scalar_one()
        masked = session.execute(
            text("SELECT coalesce(sum(count), 0) FROM masked_counts")
        ).scalar_one()
        session.rollback()
    assert stored == 0
    assert held == 0
    assert report.counts["accepted"] == 0
    assert report.counts["masked"] + report.counts["rejected"] + report.counts["duplicate"] == len(
        events
    )
    assert masked == report.counts["masked"]
    visible = json.dumps([e.reason for e in report.errors]) + caplog.text
    for _, (lat, lon), _ in events:
        assert _digits(lat) not in visible
        assert _digits(lon) not in visible
