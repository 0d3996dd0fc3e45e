"""The reader: a large read returns every stored row once, with its exact values and types."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import text
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from store import reader
from store.dayload import FIXES
from store.db import make_engine, session_factory
from store.load import insert_events
from store.reader import Schema, read_frame, select_frame

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


def test_a_read_longer_than_a_block_keeps_every_row_in_order(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's rows arrive in blocks (reader.SQLITE_FETCH_ROWS): a read of several blocks and a
    part gives every row once, in the query's order (PostgreSQL reads in one COPY: the same)."""
    monkeypatch.setattr(reader, "SQLITE_FETCH_ROWS", 997)
    written = _pings(5_000)
    insert_events(session, "pings", written)
    read = select_frame(
        session, "pings", FIXES, "WHERE ts >= {p} ORDER BY pings.ts, pings.device_id", [T0]
    )
    expected = written.select(list(FIXES)).cast(FIXES)  # type: ignore[arg-type]
    assert_frame_equal(read, expected, check_exact=True)


def test_sqlite_values_of_another_type_read_as_the_column_or_name_it(tmp_path: Path) -> None:
    """SQLite types values, not columns: an integer in a text column reads as its text, a whole
    float in an integer column as the integer, and a text in a number column is an error that
    names the column."""
    engine = make_engine(f"sqlite:///{tmp_path / 'mixed.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (name, n)"))
        conn.execute(text("INSERT INTO t VALUES ('a', 1), (2, 3.0), (NULL, NULL)"))
    schema: Schema = {"name": pl.Utf8(), "n": pl.Int64()}
    with session_factory(engine)() as session:
        read = read_frame(session, "SELECT name, n FROM t ORDER BY rowid", [], schema)
        assert read.to_dict(as_series=False) == {"name": ["a", "2", None], "n": [1, 3, None]}
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('c', 'four')"))
        with pytest.raises(ValueError, match="column 'n'"):
            read_frame(session, "SELECT name, n FROM t", [], schema)
    engine.dispose()
