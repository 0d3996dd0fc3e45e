"""The reader: a large read returns every stored row once, with its exact values and types."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from store.dayload import FIXES
from store.load import insert_events
from store.reader import select_frame

T0 = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # three UTC days: three partitions on PostgreSQL
ROWS = 30_000


def _double(rng: random.Random) -> float:
    """Any finite double, from its bits: the full range of exponents and subnormals."""
    while True:
        value: float = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if value == value and abs(value) != float("inf"):
            return value


def _pings(rows: int) -> pl.DataFrame:
    rng = random.Random(17)
    # text that needs quoting in CSV and in SQL: commas, both quote marks, a backslash, the
    # NULL spellings of both backends, a line break
    names = ["d,1", "d'2", 'd"3', "d\\4", "\\N", "NULL", "d\n7", "d8"]
    return pl.DataFrame(
        {
            "device_id": [names[i % len(names)] for i in range(rows)],
            "ts": [T0 + timedelta(seconds=7 * i) for i in range(rows)],
            "officer_id": ["o1" if i % 3 else "o,2'" for i in range(rows)],
            "lat": [rng.uniform(-90.0, 90.0) for _ in range(rows)],
            "lon": [_double(rng) for _ in range(rows)],
            "accuracy_m": [None if i % 5 == 0 else _double(rng) for i in range(rows)],
            "source": [None if i % 4 == 0 else ("gps" if i % 2 else "wi'fi,") for i in range(rows)],
            "is_mock": [i % 6 == 0 for i in range(rows)],
            "h3_cell": [(1 << 62) + rng.getrandbits(61) for _ in range(rows)],
        },
        schema_overrides={"ts": INSTANT},
    )


def test_a_large_read_returns_every_row_once_exactly(session: Session) -> None:
    """Rows written by the session and not yet committed, read back through the session's own
    connection: each once, every value exactly (doubles of any exponent, nulls, text with
    quotes, commas and line breaks, 62-bit integers, microsecond instants), typed as asked."""
    written = _pings(ROWS)
    assert insert_events(session, "pings", written) == ROWS
    read = select_frame(
        session,
        "pings",
        FIXES,
        "WHERE ts >= {p} AND ts < {p} ORDER BY pings.ts, pings.device_id",
        [T0, T0 + timedelta(days=3)],
    )
    assert read.schema == pl.Schema(FIXES)
    assert read.height == ROWS
    expected = written.select(list(FIXES)).cast(FIXES)  # type: ignore[arg-type]
    assert_frame_equal(read, expected, check_exact=True)


def test_an_empty_read_is_typed(session: Session) -> None:
    read = select_frame(session, "pings", FIXES, "WHERE ts < {p}", [T0])
    assert read.is_empty()
    assert read.schema == pl.Schema(FIXES)
