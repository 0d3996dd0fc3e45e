"""The tables of the CONTRACT §2 records store what the records declare: every imported field has
its column, nullable only where the record lets it be missing, long enough for its vocabulary."""

from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import BigInteger, String

from rules.records import BADGE, CLAIM, DEVICE, OFFICER, PING, SHIFT, STATION, SWIPE, VISIT, Record
from store.load import EVENT_TYPES
from store.models import (
    BadgeAssignment,
    Base,
    DeviceAssignment,
    HeldPing,
    HeldSwipe,
    HeldVisit,
    Officer,
    OvertimeClaim,
    Ping,
    Shift,
    ShiftVersion,
    Station,
    Swipe,
    Visit,
)

TABLES: list[tuple[type[Base], Record]] = [
    (Station, STATION),
    (Officer, OFFICER),
    (DeviceAssignment, DEVICE),
    (BadgeAssignment, BADGE),
    (Shift, SHIFT),
    (ShiftVersion, SHIFT),
    (OvertimeClaim, CLAIM),
    (Ping, PING),
    (HeldPing, PING),
    (Swipe, SWIPE),
    (HeldSwipe, SWIPE),
    (Visit, VISIT),
    (HeldVisit, VISIT),
]
# Stored complete although the record may arrive without it: an open visit is stored with its
# assumed end (store.models.Visit).
FILLED_WHEN_STORED = {("visits", "departed_at")}


@pytest.mark.parametrize(("model", "record"), TABLES, ids=lambda x: getattr(x, "__name__", ""))
def test_columns_follow_the_record(model: type[Base], record: Record) -> None:
    columns = model.__table__.columns  # type: ignore[attr-defined]
    assert {f.name for f in record.imported} <= set(columns.keys())
    for f in record.fields:
        if f.name not in columns:
            continue
        column = columns[f.name]
        may_be_missing = f.nullable and (record.name, f.name) not in FILLED_WHEN_STORED
        assert column.nullable == may_be_missing, f.name
        if isinstance(column.type, String):
            assert f.dtype == pl.Utf8(), f.name
            assert max(map(len, f.allowed), default=0) <= (column.type.length or 0), f.name


def test_h3_cells_are_stored_signed_and_read_unsigned() -> None:
    assert isinstance(Ping.__table__.columns["h3_cell"].type, BigInteger)  # type: ignore[attr-defined]
    assert PING["h3_cell"].dtype == pl.UInt64()
    for table in ("pings", "held_pings"):
        types = EVENT_TYPES[table]
        assert types["h3_cell"] == pl.Int64()
        assert {n: t for n, t in types.items() if n not in ("h3_cell", "held_at")} == {
            n: t for n, t in PING.polars().items() if n != "h3_cell"
        }
