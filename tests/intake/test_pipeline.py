"""Importing contract files: keys, masking, holding and one test per kind of bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from intake.report import ImportFileError, RowError
from tests.intake.helpers import NOW, STATION, STATION_LAT, STATION_LON, World

HEADER = "device_id,ts,lat,lon,accuracy_m,source,is_mock\n"


def ping(
    ts: str,
    device: str = "D1",
    lat: float = STATION_LAT,
    lon: float = STATION_LON,
    accuracy: str = "8",
    source: str = "gps",
) -> str:
    return f"{device},{ts},{lat},{lon},{accuracy},{source},false\n"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def only_error(errors: list[RowError]) -> tuple[int, str | None, str]:
    assert len(errors) == 1, errors
    return errors[0].row, errors[0].column, errors[0].reason


def test_reference_files_load_with_natural_keys(world: World) -> None:
    assert world.count("stations") == 1
    assert world.count("officers") == 2
    assert world.count("device_assignments") == 2
    assert world.count("shifts") == 2
    assert world.count("shift_versions") == 2


def test_on_duty_kept_off_duty_masked_unrostered_held(world: World) -> None:
    text = HEADER + "".join(
        [
            ping("2026-10-24T07:45:00+01:00"),  # within the 30 min grace before the shift
            ping("2026-10-24T12:00:00+01:00"),  # on duty
            ping("2026-10-24T16:31:00+01:00"),  # after grace, no shift covers it, recent: held
            ping("2026-10-23T12:00:00+01:00"),  # no shift, older than 24 h before now: masked
            ping("2026-10-24T11:00:00+01:00", device="D2"),  # O2's rest day: masked
        ]
    )
    report = world.load("pings", "pings.csv", text)
    assert report.counts == {"accepted": 2, "duplicate": 0, "masked": 2, "held": 1, "rejected": 0}
    assert world.count("pings") == 2
    assert world.count("held_pings") == 1
    assert world.scalar("SELECT sum(count) FROM masked_counts WHERE kind = 'ping'") == 2
    cell = world.scalar("SELECT h3_cell FROM pings LIMIT 1")
    import h3

    assert cell == h3.str_to_int(h3.latlng_to_cell(STATION_LAT, STATION_LON, 12))


OFFICER_INDEX = "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_pings_p20261024_officer_ts'"


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_a_ping_file_leaves_its_new_day_indexed_and_a_rerun_repairs_a_cut_off_load(
    world: World,
) -> None:
    text = HEADER + ping("2026-10-24T12:00:00+01:00") + ping("2026-10-24T12:01:00+01:00")
    assert world.load("pings", "pings.csv", text).counts["accepted"] == 2
    assert world.scalar(OFFICER_INDEX) == 1
    # A load killed before its last step leaves the day without the index; importing the file
    # again (its rows now duplicates) builds it.
    with world.engine.begin() as conn:
        from sqlalchemy import text as sql

        conn.execute(sql("DROP INDEX ix_pings_p20261024_officer_ts"))
    assert world.load("pings", "again.csv", text).counts["duplicate"] == 2
    assert world.scalar(OFFICER_INDEX) == 1
    assert world.count("pings") == 2


def test_a_file_of_many_blocks_numbers_rows_and_reports_progress(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import intake.pipeline
    import intake.readers

    monkeypatch.setattr(intake.readers, "BATCH_BYTES", 4096)
    rows = [ping(f"2026-10-24T12:{m:02d}:{s:02d}+01:00") for m in range(5) for s in range(60)]
    rows[287] = ping("2026-10-24T12:59:00+01:00", accuracy="-3")
    path = world.write("pings.csv", HEADER + "".join(rows))
    seen: list[tuple[int, float]] = []
    report = intake.pipeline.ingest_file(
        world.factory,
        "pings",
        path,
        tz="Europe/London",
        policy=world.policy,
        now=NOW,
        progress=lambda done, fraction: seen.append((done, fraction)),
    )
    assert report.counts == {"accepted": 299, "duplicate": 0, "masked": 0, "held": 0, "rejected": 1}
    assert [(e.row, e.column) for e in report.errors] == [(288, "accuracy_m")]
    assert world.count("pings") == 299
    assert len(seen) > 3
    done = [d for d, _ in seen]
    fractions = [f for _, f in seen]
    assert done == sorted(done)
    assert done[-1] == 300
    assert fractions == sorted(fractions)
    assert 0 < fractions[0] < fractions[-1] <= 1.0
    # The first batch is the small one, so writing starts early.
    assert done[0] < done[1] - done[0]


def test_a_key_in_two_blocks_of_a_file_is_stored_once_and_counted_a_duplicate(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import intake.readers

    monkeypatch.setattr(intake.readers, "BATCH_BYTES", 4096)
    rows = [ping(f"2026-10-24T12:{m:02d}:{s:02d}+01:00") for m in range(5) for s in range(60)]
    # The first row again, many blocks later (on PostgreSQL the new day is keyed at the end).
    rows.append(rows[0])
    report = world.load("pings", "pings.csv", HEADER + "".join(rows))
    assert report.counts == {"accepted": 300, "duplicate": 1, "masked": 0, "held": 0, "rejected": 0}
    assert world.count("pings") == 300


def test_reimport_of_the_same_file_changes_nothing(world: World) -> None:
    text = (
        HEADER + ping("2026-10-24T12:00:00+01:00") + ping("2026-10-24T11:00:00+01:00", device="D2")
    )
    first = world.load("pings", "pings.csv", text)
    second = world.load("pings", "pings.csv", text)
    assert first.counts["accepted"] == 1
    assert second.counts == {"accepted": 0, "duplicate": 1, "masked": 1, "held": 0, "rejected": 0}
    assert world.count("pings") == 1
    assert world.scalar("SELECT sum(count) FROM masked_counts") == 1
    again = world.load("officers", "officers.csv", "officer_id,office_based\nO1,true\n")
    assert again.counts["accepted"] == 1  # display name etc. now empty: an update
    same = world.load("officers", "officers2.csv", "officer_id,office_based\nO1,true\n")
    assert same.counts["duplicate"] == 1


def test_missing_required_column_names_it(world: World) -> None:
    with pytest.raises(ImportFileError, match="missing required column.*lon"):
        world.load("pings", "pings.csv", "device_id,ts,lat\nD1,2026-10-24T12:00:00Z,51.5\n")
    assert world.count("pings") == 0


def test_wrong_type_is_reported_and_the_rest_loads(world: World) -> None:
    text = (
        HEADER
        + ping("2026-10-24T12:00:00+01:00")
        + "D1,2026-10-24T12:01:00+01:00,north,-0.12,8,gps,false\n"
    )
    report = world.load("pings", "pings.csv", text)
    assert only_error(report.errors) == (2, "lat", "not a number")
    assert report.counts["accepted"] == 1
    assert world.count("pings") == 1


def test_empty_file(world: World) -> None:
    with pytest.raises(ImportFileError, match="file is empty"):
        world.load("pings", "pings.csv", "")


def test_header_only(world: World) -> None:
    with pytest.raises(ImportFileError, match="header row but no data rows"):
        world.load("pings", "pings.csv", HEADER)


def test_latitude_out_of_range(world: World) -> None:
    report = world.load("pings", "pings.csv", HEADER + ping("2026-10-24T12:00:00+01:00", lat=95.0))
    assert only_error(report.errors) == (1, "lat", "latitude outside -90..90")


def test_longitude_out_of_range(world: World) -> None:
    report = world.load(
        "pings", "pings.csv", HEADER + ping("2026-10-24T12:00:00+01:00", lon=-181.0)
    )
    assert only_error(report.errors) == (1, "lon", "longitude outside -180..180")


def test_nan_coordinate(world: World) -> None:
    report = world.load(
        "pings", "pings.csv", HEADER + "D1,2026-10-24T12:00:00+01:00,NaN,-0.12,8,gps,false\n"
    )
    assert only_error(report.errors) == (1, "lat", "not a number")


def test_swapped_coordinates(world: World) -> None:
    report = world.load(
        "pings",
        "pings.csv",
        HEADER + ping("2026-10-24T12:00:00+01:00", lat=STATION_LON, lon=STATION_LAT),
    )
    row, column, reason = only_error(report.errors)
    assert (row, column) == (1, "lat")
    assert reason.startswith("lat and lon look swapped")


@pytest.mark.parametrize("accuracy", ["0", "-3"])
def test_accuracy_zero_or_negative(world: World, accuracy: str) -> None:
    report = world.load(
        "pings", "pings.csv", HEADER + ping("2026-10-24T12:00:00+01:00", accuracy=accuracy)
    )
    assert only_error(report.errors) == (1, "accuracy_m", "must be greater than 0 metres")


def test_unknown_device(world: World) -> None:
    report = world.load(
        "pings", "pings.csv", HEADER + ping("2026-10-24T12:00:00+01:00", device="D9")
    )
    assert only_error(report.errors) == (
        1,
        "device_id",
        "device D9 is not assigned to any officer at this time",
    )


def test_device_not_assigned_at_that_time(world: World) -> None:
    # D2's assignment to O2 ended at 12:00 UTC.
    report = world.load(
        "pings", "pings.csv", HEADER + ping("2026-10-24T13:30:00+01:00", device="D2")
    )
    assert only_error(report.errors) == (
        1,
        "device_id",
        "device D2 is not assigned to any officer at this time",
    )


def test_duplicate_rows_within_a_file(world: World) -> None:
    row = ping("2026-10-24T12:00:00+01:00")
    conflicting = ping("2026-10-24T12:00:00+01:00", accuracy="30")
    report = world.load("pings", "pings.csv", HEADER + row + row + conflicting)
    assert report.counts["accepted"] == 1
    assert report.counts["duplicate"] == 1
    assert only_error(report.errors) == (
        3,
        "ts",
        "same key as an earlier row of this batch with other values",
    )
    assert world.count("pings") == 1


def test_duplicate_rows_across_files(world: World) -> None:
    world.load("pings", "a.csv", HEADER + ping("2026-10-24T12:00:00+01:00"))
    report = world.load(
        "pings",
        "b.csv",
        HEADER + ping("2026-10-24T12:00:00+01:00") + ping("2026-10-24T12:05:00+01:00"),
    )
    assert report.counts == {"accepted": 1, "duplicate": 1, "masked": 0, "held": 0, "rejected": 0}
    assert world.count("pings") == 2


def test_local_time_in_spring_forward_gap(world: World) -> None:
    report = world.load("pings", "pings.csv", HEADER + ping("2026-03-29T01:30:00"))
    row, column, reason = only_error(report.errors)
    assert (row, column) == (1, "ts")
    assert (
        reason == "local time does not exist in Europe/London (clocks skip it); give a UTC offset"
    )


def test_local_time_in_repeated_autumn_hour(world: World) -> None:
    report = world.load("pings", "pings.csv", HEADER + ping("2026-10-25T01:30:00"))
    row, column, reason = only_error(report.errors)
    assert (row, column) == (1, "ts")
    assert reason == "ambiguous local time in Europe/London (repeated hour); give a UTC offset"


def test_naive_local_time_is_taken_in_the_force_zone(world: World) -> None:
    world.load("pings", "pings.csv", HEADER + ping("2026-10-24T12:00:00"))
    stored = world.scalar("SELECT count(*) FROM pings")
    assert stored == 1


def test_self_intersecting_station_polygon(world: World) -> None:
    bowtie = json.loads(json.dumps(STATION))
    bowtie["properties"]["station_id"] = "ST2"
    bowtie["geometry"]["coordinates"] = [
        [
            [-0.1250, 51.5080],
            [-0.1241, 51.5085],
            [-0.1241, 51.5080],
            [-0.1250, 51.5085],
            [-0.1250, 51.5080],
        ]
    ]
    good = json.loads(json.dumps(STATION))
    good["properties"]["station_id"] = "ST3"
    doc = {"type": "FeatureCollection", "features": [bowtie, good]}
    report = world.load("stations", "stations.geojson", json.dumps(doc))
    row, column, reason = only_error(report.errors)
    assert (row, column) == (1, "geometry")
    assert reason.startswith("station ST2: ")
    assert "self-intersection" in reason.lower()
    assert report.counts["accepted"] == 1
    assert world.count("stations") == 2


def test_shift_ending_before_it_starts(world: World) -> None:
    text = (
        "shift_id,officer_id,start,end,kind\nS9,O1,2026-10-26T16:00:00Z,2026-10-26T08:00:00Z,duty\n"
    )
    report = world.load("roster", "roster.csv", text)
    assert only_error(report.errors) == (1, "end", "ends at or before its start")


def test_unknown_shift_kind(world: World) -> None:
    text = "shift_id,officer_id,start,end,kind\nS9,O1,2026-10-26T08:00:00Z,2026-10-26T16:00:00Z,holiday\n"
    report = world.load("roster", "roster.csv", text)
    assert only_error(report.errors) == (
        1,
        "kind",
        "must be one of duty, overtime, training, leave, sick, rest",
    )


def test_roster_edit_keeps_every_version(world: World) -> None:
    edit = (
        "shift_id,officer_id,start,end,kind,station_id,declared_location,created_at,updated_at\n"
        "S1,O1,2026-10-24T08:00:00+01:00,2026-10-24T18:00:00+01:00,duty,ST1,office,2026-10-01T09:00:00Z,2026-10-24T19:00:00Z\n"
    )
    report = world.load("roster", "roster2.csv", edit)
    assert report.counts["accepted"] == 1
    assert world.count("shift_versions") == 3
    assert world.scalar("SELECT version FROM shifts WHERE shift_id = 'S1'") == 2
    assert world.scalar("SELECT count(*) FROM recompute_marks WHERE officer_id = 'O1'") == 1


def test_late_roster_entry_promotes_held_pings(world: World) -> None:
    world.load("pings", "pings.csv", HEADER + ping("2026-10-24T17:30:00+01:00"))
    assert world.count("held_pings") == 1
    late = "shift_id,officer_id,start,end,kind\nS5,O1,2026-10-24T17:00:00+01:00,2026-10-24T19:00:00+01:00,overtime\n"
    world.load("roster", "late.csv", late)
    assert world.count("held_pings") == 0
    assert world.count("pings") == 1


def test_parquet_loads_like_csv(world: World, tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "device_id": ["D1", "D1"],
            "ts": [
                datetime(2026, 10, 24, 11, 0, tzinfo=UTC),
                datetime(2026, 10, 24, 11, 1, tzinfo=UTC),
            ],
            "lat": [STATION_LAT, 91.0],
            "lon": [STATION_LON, STATION_LON],
            "accuracy_m": [5.0, 5.0],
            "source": ["gps", "gps"],
            "is_mock": [False, False],
        }
    )
    path = tmp_path / "pings.parquet"
    frame.write_parquet(path)
    from intake.pipeline import ingest_file
    from tests.intake.helpers import TZ

    report = ingest_file(world.factory, "pings", path, tz=TZ, policy=world.policy, now=NOW)
    assert report.counts["accepted"] == 1
    assert only_error(report.errors) == (2, "lat", "latitude outside -90..90")


def test_swipes_resolve_badges_and_mask(world: World) -> None:
    text = (
        "badge_id,ts,station_id,reader_id,direction,granted\n"
        "B1,2026-10-24T08:02:00+01:00,ST1,R1,in,true\n"
        "B1,2026-10-24T08:02:00+01:00,ST1,R1,in,true\n"
        "B1,2026-10-22T08:02:00+01:00,ST1,R1,in,true\n"
        "B1,2026-10-24T09:00:00+01:00,ST9,R1,in,true\n"
        "B7,2026-10-24T09:00:00+01:00,ST1,R1,in,true\n"
    )
    report = world.load("swipes", "swipes.csv", text)
    assert report.counts == {"accepted": 1, "duplicate": 1, "masked": 1, "held": 0, "rejected": 2}
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (4, "station_id", "unknown station ST9"),
        (5, "badge_id", "badge B7 is not assigned to any officer at this time"),
    ]
