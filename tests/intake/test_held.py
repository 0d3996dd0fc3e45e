"""Events dated ahead: rejected beyond the policy's skew in files too; holds expire from the
time they were held, so nothing dated ahead outlives the purge with its coordinates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from intake.held import purge_expired_held
from rules.clock import iso_local
from store.db import transaction
from tests.intake.helpers import NOW, TZ, World


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def _pings(*rows: tuple[str, float]) -> str:
    lines = ["device_id,ts,lat,lon,accuracy_m"]
    lines += [f"D1,{ts},51.50825,{lon},10" for ts, lon in rows]
    return "\n".join(lines) + "\n"


def test_a_file_row_dated_beyond_the_skew_is_a_row_error(world: World) -> None:
    soon = iso_local(NOW + timedelta(minutes=10), TZ)  # within 15 min: held
    later = iso_local(NOW + timedelta(minutes=16), TZ)
    report = world.load(
        "pings",
        "pings.csv",
        _pings((soon, -0.12455), (later, -0.12456), ("2061-03-01T10:00:00Z", -0.12457)),
    )
    assert (report.counts["held"], report.counts["rejected"]) == (1, 2)
    assert [(e.row, e.column) for e in report.errors] == [(2, "ts"), (3, "ts")]
    assert all("more than 15 minutes in the future" in e.reason for e in report.errors)
    assert all("0.1245" not in e.reason for e in report.errors)
    assert world.count("held_pings") == 1


def test_holds_expire_from_when_they_were_held(world: World) -> None:
    ahead = NOW + timedelta(minutes=14)  # the latest a fix may be dated when it arrives
    report = world.load("pings", "pings.csv", _pings((iso_local(ahead, TZ), -0.12455)))
    assert report.counts["held"] == 1
    hold = timedelta(hours=world.policy.unrostered_hold_hours)
    with transaction(world.factory) as session:
        assert purge_expired_held(session, policy=world.policy, now=NOW + hold, tz=TZ) == 0
    assert world.count("held_pings") == 1
    # One minute past the hold counted from arrival; counted from the fix's own time (14 min
    # ahead) it would still have 13 minutes to run.
    with transaction(world.factory) as session:
        dropped = purge_expired_held(
            session, policy=world.policy, now=NOW + hold + timedelta(minutes=1), tz=TZ
        )
    assert dropped == 1
    assert world.count("held_pings") == 0
    assert world.scalar("SELECT sum(count) FROM masked_counts WHERE kind = 'ping'") == 1
