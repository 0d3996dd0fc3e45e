"""The record declarations hold together, and the import kinds and frame schemas derived from them
say what they declare."""

from __future__ import annotations

import polars as pl
import pytest

from geo.errors_model import DEFAULT_ACCURACY_M, SOURCES, UNKNOWN, LocationSource
from intake.validate import KINDS, validate
from rules import schemas
from rules.clock import INSTANT
from rules.evidence import SOURCE_BITS, SOURCE_NAMES
from rules.masking import OFF_DUTY_KINDS, ON_DUTY_KINDS, SHIFT_KINDS
from rules.records import (
    H3_CELL,
    PING,
    RECORDS,
    SHIFT,
    STATION,
    SWIPE,
    Record,
    ShiftKind,
    SwipeDirection,
)

ALL = [*RECORDS.values(), STATION]


@pytest.mark.parametrize("record", ALL, ids=lambda r: r.name)
def test_a_record_is_consistent(record: Record) -> None:
    names = [f.name for f in record.fields]
    assert len(names) == len(set(names))
    assert set(record.key) <= set(names)
    for f in record.fields:
        assert f.description, f.name
        if f.values is not None:
            assert f.dtype == pl.Utf8(), f.name
        if f.default is not None:
            assert not f.nullable, f.name
            assert not f.allowed or f.default in f.allowed, f.name
    assert all(record[k].imported and not record[k].nullable for k in record.key)


@pytest.mark.parametrize("kind", list(RECORDS))
def test_import_kinds_are_the_records_imported_fields(kind: str) -> None:
    record, columns = RECORDS[kind], KINDS[kind].columns
    assert [c.name for c in columns] == [f.column for f in record.imported]
    for col, f in zip(columns, record.imported, strict=True):
        assert col.required == (not f.nullable and f.default is None)
        assert col.choices == f.allowed
        assert (col.type == "instant") == (f.dtype == INSTANT)
    assert KINDS[kind].key == tuple(record[k].column for k in record.key)


def test_an_enum_field_rejects_other_values_naming_them_in_declared_order() -> None:
    frame = pl.DataFrame(
        {
            "_row": [0, 1, 2],
            "badge_id": ["B1", "B1", "B1"],
            "ts": ["2026-10-05T08:00:00Z", "2026-10-05T09:00:00Z", "2026-10-05T10:00:00Z"],
            "station_id": ["ST-01", "ST-01", "ST-01"],
            "direction": ["IN", "sideways", None],
        }
    ).with_columns(pl.col("_row").cast(pl.UInt32))
    out = validate("swipes", frame, tz="Europe/London")
    assert out.errors.rows() == [(1, "direction", "must be one of in, out, unknown")]
    assert out.good["direction"].to_list() == ["in", SwipeDirection.UNKNOWN.value]
    assert out.good["reader_id"].to_list() == ["", ""]
    assert out.good["granted"].to_list() == [True, True]


def test_frame_schemas_take_their_types_from_the_records() -> None:
    for name, dtype in schemas.FIXES.items():
        if name in PING.polars():
            assert dtype == PING[name].dtype, name
    assert schemas.FIXES["h3_cell"] == H3_CELL
    assert schemas.SWIPES == SWIPE.polars(schemas.SWIPES)
    assert schemas.SHIFTS == SHIFT.polars(schemas.SHIFTS)
    assert schemas.SHIFT_HISTORY == SHIFT.polars(schemas.SHIFT_HISTORY)
    assert schemas.STATIONS == STATION.polars(schemas.STATIONS)


def test_one_vocabulary_per_concept() -> None:
    assert set(SHIFT_KINDS) == {k.value for k in ShiftKind}
    assert set(ON_DUTY_KINDS) | set(OFF_DUTY_KINDS) == set(SHIFT_KINDS)
    assert not set(ON_DUTY_KINDS) & set(OFF_DUTY_KINDS)
    assert SOURCES == (*(s.value for s in LocationSource), UNKNOWN)
    assert set(DEFAULT_ACCURACY_M) == set(SOURCES)
    assert {s.value for s in LocationSource} <= set(SOURCE_NAMES) <= set(SOURCE_BITS)
    assert PING["source"].allowed == tuple(s.value for s in LocationSource)
