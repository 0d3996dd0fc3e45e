"""Masked events are counted once per event key, whatever the route or the retry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from intake.held import purge_expired_held
from store.db import transaction
from store.retention import purge_raw
from tests.intake.helpers import NOW, STATION_LAT, STATION_LON, TZ, World

HEADER = "device_id,ts,lat,lon,accuracy_m,source,is_mock\n"


def rest_day_pings(first: int, last: int) -> str:
    """O2's pings (D2: assigned until 12:00 UTC; a rest day): all masked."""
    return "".join(
        f"D2,2026-10-24T{10 + m // 60:02d}:{m % 60:02d}:00+01:00,{STATION_LAT},{STATION_LON},8,gps,false\n"
        for m in range(first, last)
    )


def masked_total(world: World) -> int:
    return int(world.scalar("SELECT coalesce(sum(count), 0) FROM masked_counts") or 0)


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def test_file_imported_again_after_a_cut_off_import_counts_once(world: World) -> None:
    # A killed import committed the first 50 rows; the user imports the whole file again.
    assert world.load("pings", "part.csv", HEADER + rest_day_pings(0, 50)).counts["masked"] == 50
    full = world.load("pings", "pings.csv", HEADER + rest_day_pings(0, 100))
    assert full.counts["masked"] == 100
    assert masked_total(world) == 100
    # A corrected copy of the file (other bytes, same events) adds nothing either.
    world.load("pings", "copy.csv", HEADER + rest_day_pings(0, 100).replace(",8,", ",8.0,"))
    assert masked_total(world) == 100


def test_two_imports_of_one_file_at_once_count_once(world: World) -> None:
    path = world.write("pings.csv", HEADER + rest_day_pings(0, 120))
    from intake.pipeline import ingest_file

    errors: list[BaseException] = []

    def load() -> None:
        try:
            ingest_file(world.factory, "pings", path, tz=TZ, policy=world.policy, now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert masked_total(world) == 120


def test_an_expired_held_event_sent_again_counts_once(world: World) -> None:
    # 17:00 local on the rostered day: no shift covers it, recent, so it is held.
    late = f"D1,2026-10-24T17:30:00+01:00,{STATION_LAT},{STATION_LON},8,gps,false\n"
    assert world.load("pings", "late.csv", HEADER + late).counts["held"] == 1
    later = NOW + timedelta(days=2)
    with transaction(world.factory) as session:
        assert purge_expired_held(session, policy=world.policy, now=later, tz=TZ) == 1
    assert masked_total(world) == 1
    again = world.load("pings", "late2.csv", HEADER + late, now=later)
    assert again.counts["masked"] == 1
    assert masked_total(world) == 1


def test_digests_hold_no_key_and_leave_with_raw_retention(world: World) -> None:
    world.load("pings", "pings.csv", HEADER + rest_day_pings(0, 3))
    assert world.count("masked_keys") == 3
    digest = world.scalar("SELECT digest FROM masked_keys LIMIT 1")
    assert isinstance(digest, bytes)
    assert len(digest) == 16
    assert b"D2" not in digest
    # purge_raw takes the raw cutoff (now - retention_days_raw): the day's events are not all
    # older than it yet, then they are.
    purge_raw(world.factory, NOW)
    assert world.count("masked_keys") == 3
    purge_raw(world.factory, NOW + timedelta(days=2))
    assert world.count("masked_keys") == 0
    assert masked_total(world) == 3  # the counts stay for retention_days_derived


def test_an_event_older_than_raw_retention_is_refused_per_item(world: World) -> None:
    late = NOW + timedelta(days=world.policy.retention_days_raw, hours=12)
    text = HEADER + rest_day_pings(0, 2) + rest_day_pings(0, 1).replace("D2,", "D1,")
    report = world.load("pings", "old.csv", text, now=late)
    assert report.counts == {"accepted": 0, "duplicate": 0, "masked": 0, "held": 0, "rejected": 3}
    assert {(e.row, e.column) for e in report.errors} == {(1, "ts"), (2, "ts"), (3, "ts")}
    assert report.errors[0].reason == "older than the raw retention period (90 days): not stored"
    assert world.count("pings") == 0
    assert masked_total(world) == 0
