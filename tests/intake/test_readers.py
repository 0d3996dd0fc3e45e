"""Malformed files: every bad row is a row error without its values and the rest loads; a file
that cannot be read to its end says exactly what was stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import intake.pipeline
import intake.readers
from intake.report import ImportFileError, ImportStoppedError
from tests.intake.helpers import NOW, STATION_LAT, STATION_LON, World

HEADER = "device_id,ts,lat,lon,accuracy_m,source,is_mock\n"
# An off-duty officer's position (O2 is on a rest day): it must never be repeated.
SECRET_LAT, SECRET_LON = "51.4987654", "-0.1765432"


def ping(minute: int, device: str = "D1") -> str:
    return f"{device},2026-10-24T12:{minute:02d}:00+01:00,{STATION_LAT},{STATION_LON},8,gps,false\n"


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(db_url, tmp_path)
    w.load_reference()
    yield w
    w.engine.dispose()


def _no_values(report_text: str) -> None:
    assert SECRET_LAT not in report_text
    assert SECRET_LON not in report_text


def test_a_row_short_a_column_is_a_row_error_and_the_rest_loads(world: World) -> None:
    short = f"D2,2026-10-24T11:00:00+01:00,{SECRET_LAT},{SECRET_LON},8,gps\n"
    report = world.load("pings", "pings.csv", HEADER + ping(0) + short + ping(2))
    assert report.counts == {"accepted": 2, "duplicate": 0, "masked": 0, "held": 0, "rejected": 1}
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (2, None, "expected 7 fields, found 6")
    ]
    _no_values(repr(report.errors))
    assert world.count("pings") == 2


def test_extra_field_and_latin1_byte_keep_later_row_numbers(world: World) -> None:
    extra = f"D2,2026-10-24T11:00:00+01:00,{SECRET_LAT},{SECRET_LON},8,gps,false,x\n"
    latin1 = f"D\xe92,2026-10-24T11:01:00+01:00,{SECRET_LAT},{SECRET_LON},8,gps,false\n"
    bad_accuracy = ping(5).replace(",8,", ",-1,")
    text = HEADER + ping(0) + extra + ping(1) + latin1 + bad_accuracy + ping(6)
    path = world.tmp / "pings.csv"
    path.write_bytes(text.encode("latin-1"))
    report = intake.pipeline.ingest_file(
        world.factory, "pings", path, tz="Europe/London", policy=world.policy, now=NOW
    )
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (2, None, "expected 7 fields, found 8"),
        (4, "device_id", "not UTF-8"),
        (5, "accuracy_m", "must be greater than 0 metres"),
    ]
    assert report.counts["accepted"] == 3
    assert report.counts["rejected"] == 3
    _no_values(repr(report.errors))


def test_an_unclosed_quote_is_a_row_error(world: World) -> None:
    text = HEADER + ping(0) + f'D2,"2026-10-24T11:00:00+01:00,{SECRET_LAT},{SECRET_LON}\n'
    report = world.load("pings", "pings.csv", text)
    assert report.counts["accepted"] == 1
    assert [(e.row, e.reason) for e in report.errors] == [
        (2, "expected 7 fields, found 2"),
    ]
    _no_values(repr(report.errors))


def test_a_duplicated_column_name_refuses_the_file(world: World) -> None:
    with pytest.raises(ImportFileError, match="named more than once in the header: lat"):
        world.load(
            "pings", "pings.csv", "device_id,ts,lat,lat,lon\nD1,2026-10-24T12:00:00Z,1,2,3\n"
        )
    assert world.count("pings") == 0


def test_a_huge_header_line_refuses_the_file(world: World) -> None:
    with pytest.raises(ImportFileError, match="header row cannot be read"):
        world.load("pings", "pings.csv", "device_id," + "x" * 200_000 + "\n")


def test_a_ten_megabyte_field_is_a_row_error_and_the_rest_loads(world: World) -> None:
    good = [ping(m) for m in range(40)]
    huge = f"D2,2026-10-24T11:00:00+01:00,{SECRET_LAT},{SECRET_LON},8,{'x' * (10 << 20)},false\n"
    text = HEADER + "".join(good[:30]) + huge + "".join(good[30:])
    report = world.load("pings", "pings.csv", text)
    assert report.counts["accepted"] == 40
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (31, None, f"longer than {intake.readers.MAX_ROW_BYTES:,} bytes: not read")
    ]
    _no_values(repr(report.errors))
    assert world.count("pings") == 40


def test_long_rows_anywhere_keep_later_row_numbers(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long rows first, last (without a final newline), side by side and across read chunks."""
    monkeypatch.setattr(intake.readers, "MAX_ROW_BYTES", 300)
    monkeypatch.setattr(intake.readers, "SCAN_CHUNK_BYTES", 1000)
    long = f"D2,2026-10-24T11:00:00+01:00,{SECRET_LAT},{SECRET_LON},8,{'y' * 700},false\n"
    bad_accuracy = ping(5).replace(",8,", ",-1,")
    rows = [long, ping(0), long, long, ping(1), *(ping(m) for m in range(6, 20))]
    rows += [bad_accuracy, long, ping(2), long.rstrip("\n")]
    report = world.load("pings", "pings.csv", HEADER + "".join(rows))
    reason = "longer than 300 bytes: not read"
    assert [(e.row, e.reason) for e in report.errors] == [
        (1, reason),
        (3, reason),
        (4, reason),
        (20, "must be greater than 0 metres"),
        (21, reason),
        (23, reason),
    ]
    assert report.counts["accepted"] == 17
    _no_values(repr(report.errors))


def test_a_row_cut_across_blocks_says_what_was_stored_and_a_fixed_file_completes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quoted field of many short lines longer than a read block stops the file."""
    monkeypatch.setattr(intake.readers, "BATCH_BYTES", 4096)
    good = [ping(m) for m in range(40)]
    lines = "x\n" * 2500
    huge = f'D2,2026-10-24T11:00:00+01:00,{SECRET_LAT},{SECRET_LON},8,"{lines}",false\n'
    text = HEADER + "".join(good[:30]) + huge + "".join(good[30:])
    with pytest.raises(ImportStoppedError) as caught:
        world.load("pings", "pings.csv", text)
    message = str(caught.value)
    stored = caught.value.report.counts["accepted"]
    assert 0 < stored < 40
    assert world.count("pings") == stored
    assert f"Stored before that: {stored:,} accepted" in message
    assert "import it again" in message
    _no_values(message)
    # The user corrects the file and imports it again: everything is in, nothing twice.
    fixed = world.load("pings", "fixed.csv", HEADER + "".join(good))
    assert fixed.counts["accepted"] == 40 - stored
    assert fixed.counts["duplicate"] == stored
    assert world.count("pings") == 40


def test_a_corrupted_parquet_page_says_what_was_stored(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake.readers, "PARQUET_BATCH_ROWS", 40)  # batches of 10 rows
    table = pa.table(
        {
            "device_id": ["D1"] * 60,
            "ts": [f"2026-10-24T12:{m:02d}:00+01:00" for m in range(60)],
            "lat": [STATION_LAT] * 60,
            "lon": [STATION_LON] * 60,
        }
    )
    path = tmp_path / "pings.parquet"
    pq.write_table(table, path, row_group_size=10, compression="snappy")
    column = pq.ParquetFile(path).metadata.row_group(3).column(1)
    data = bytearray(path.read_bytes())
    start, size = column.data_page_offset, column.total_compressed_size
    data[start : start + size] = b"\xff" * size  # the fourth row group's `ts` pages
    path.write_bytes(bytes(data))
    with pytest.raises(ImportStoppedError) as caught:
        intake.pipeline.ingest_file(
            world.factory, "pings", path, tz="Europe/London", policy=world.policy, now=NOW
        )
    assert caught.value.report.counts["accepted"] == 30
    assert "reading stopped at data row 31" in str(caught.value)
    assert world.count("pings") == 30
