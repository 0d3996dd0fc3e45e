"""Bulk day reads: the same frames, types and instants on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from store.dayload import (
    FIXES,
    SWIPES,
    _child_select_list,
    day_range,
    load_daily,
    load_day,
    load_fixes,
    load_fixes_by_officer,
    load_swipes,
)
from store.db import make_engine
from store.load import insert_events
from store.models import Officer, OvertimeClaim, Shift, ShiftVersion
from store.reader import dialect, piece_reader, read_frame
from store.reader import literal as _literal
from store.results import write_day

DAY = date(2026, 10, 25)  # 25 hours long in Europe/London
T0 = datetime(2026, 10, 25, 8, 0, tzinfo=UTC)


def _shift(sid: str, start: datetime, hours: float, version: int = 1) -> Shift:
    return Shift(
        shift_id=sid,
        officer_id="o1",
        start_at=start,
        end_at=start + timedelta(hours=hours),
        kind="duty",
        station_id="S1",
        declared_location="office",
        created_at=None,
        updated_at=start,
        version=version,
        recorded_at=start,
    )


def _seed(session: Session) -> None:
    session.add(Officer(officer_id="o1", unit="A", office_based=True, updated_at=T0))
    session.add(_shift("in", T0, 8))
    session.add(_shift("far", T0 + timedelta(days=5), 8))
    for v in (1, 2):
        session.add(
            ShiftVersion(
                shift_id="in",
                version=v,
                officer_id="o1",
                start_at=T0,
                end_at=T0 + timedelta(hours=8),
                kind="duty",
                station_id="S1",
                declared_location="office",
                created_at=None,
                updated_at=T0,
                recorded_at=T0 + timedelta(minutes=v),
            )
        )
    session.add(
        OvertimeClaim(
            claim_id="c1",
            officer_id="o1",
            start_at=T0,
            end_at=T0 + timedelta(hours=2),
            station_id="S1",
            submitted_at=T0 + timedelta(days=1),
        )
    )
    session.flush()
    ts = [T0 + timedelta(minutes=m) for m in (0, 30)] + [T0 + timedelta(days=4)]
    insert_events(
        session,
        "pings",
        pl.DataFrame(
            {
                "device_id": ["d1"] * 3,
                "ts": ts,
                "officer_id": ["o1"] * 3,
                "lat": [51.5, 51.50001, 51.6],
                "lon": [-0.1, -0.1, -0.2],
                "accuracy_m": [10.0, None, 20.0],
                "source": ["gps", None, "wifi"],
                "is_mock": [False, True, False],
                "h3_cell": [631, 632, 633],
            },
            schema_overrides={"ts": INSTANT},
        ),
    )
    insert_events(
        session,
        "swipes",
        pl.DataFrame(
            {
                "badge_id": ["b1"],
                "ts": [T0 + timedelta(minutes=5)],
                "reader_id": [""],
                "officer_id": ["o1"],
                "station_id": ["S1"],
                "direction": ["in"],
                "granted": [True],
            },
            schema_overrides={"ts": INSTANT},
        ),
    )
    session.flush()


def test_day_range_spans_neighbours() -> None:
    lo, hi = day_range(DAY, "Europe/London")
    assert lo == datetime(2026, 10, 23, 23, 0, tzinfo=UTC)
    assert hi == datetime(2026, 10, 27, 0, 0, tzinfo=UTC)


def test_load_day(session: Session) -> None:
    _seed(session)
    frames = load_day(session, DAY, "Europe/London")
    frames = replace(frames, fixes=frames.fixes.sort("ts"))
    assert frames.fixes.schema == pl.Schema(FIXES)
    assert frames.swipes.schema == pl.Schema(SWIPES)
    assert frames.fixes["ts"].to_list() == [T0, T0 + timedelta(minutes=30)]
    assert frames.fixes["is_mock"].to_list() == [False, True]
    assert frames.fixes["accuracy_m"].to_list() == [10.0, None]
    assert frames.fixes["source"].to_list() == ["gps", None]
    assert frames.fixes["h3_cell"].to_list() == [631, 632]
    assert frames.swipes.select("badge_id", "reader_id", "granted").rows() == [("b1", "", True)]
    assert frames.shifts["shift_id"].to_list() == ["in"]
    assert frames.shifts["end_at"][0] == T0 + timedelta(hours=8)
    assert frames.shifts["created_at"][0] is None
    assert frames.shift_history.select("version", "recorded_at").rows() == [
        (1, T0 + timedelta(minutes=1)),
        (2, T0 + timedelta(minutes=2)),
    ]
    assert frames.overtime["claim_id"].to_list() == ["c1"]
    assert frames.officers.rows() == [("o1", "A", True)]


def test_load_daily(session: Session) -> None:
    daily = pl.DataFrame(
        {
            "officer_id": ["o1"],
            "date": [DAY],
            "expected_office": [True],
            "declared_location": ["office"],
            "verified_presence_minutes": [250.5],
            "verified_office_day": [True],
            "evidence": ["adequate"],
            "policy_version": ["p"],
        }
    )
    write_day(session, DAY, daily, [], policy_version="p", run_id=None, now=T0)
    assert load_daily(session, DAY, DAY).rows() == daily.rows()
    assert load_daily(session, DAY + timedelta(days=1), DAY + timedelta(days=2)).is_empty()


def _committed_events(engine: Engine) -> pl.DataFrame:
    """Pings with awkward values, committed (other connections see them): nulls, a mock fix,
    ids with quotes, commas and non-ASCII letters, a full-size H3 cell, instants either side of
    the repeated hour of 2026-10-25 and on a range's edges."""
    edge = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)  # 01:00 UTC: the second 01:00 in London
    ts = [
        edge - timedelta(microseconds=1),
        edge,
        edge + timedelta(minutes=30, microseconds=7),
        T0,
        T0 + timedelta(hours=20),
    ]
    pings = pl.DataFrame(
        {
            "device_id": ["d'1", "d,2", "dé3", "d'1", "d,2"],
            "ts": ts,
            "officer_id": ["o'1", "o,2", "oé3", "o'1", "o,2"],
            "lat": [51.5, 51.500001, -33.9, 51.49999999, 0.0],
            "lon": [-0.1, -0.100001, 151.2, -0.2, 0.0],
            "accuracy_m": [10.0, None, 1500.0, 3.25, None],
            "source": ["gps", None, "cell", "wifi", "fused"],
            "is_mock": [False, True, False, False, True],
            "h3_cell": [0x8C195DA49A0DBFF, 0x8C195DA49A0D9FF, 1, 2, 0x8C195DA49A0DDFF],
        },
        schema_overrides={"ts": INSTANT},
    )
    with Session(engine) as s, s.begin():
        insert_events(s, "pings", pings)
    return pings


def test_parallel_read_matches_the_session_read(engine: Engine) -> None:
    stored = _committed_events(engine)
    lo, hi = day_range(DAY, "Europe/London")
    order = ("officer_id", "ts", "device_id")
    with Session(engine) as s:
        through_session = load_fixes(s, lo, hi, readers=1)
        parallel = load_fixes(s, lo, hi, readers=2)
        edge = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
        from_edge = load_fixes(s, edge, T0 + timedelta(hours=20), readers=3)
        nothing = load_fixes(s, lo - timedelta(days=9), lo - timedelta(days=8), readers=2)
    assert parallel.schema == pl.Schema(FIXES)
    assert_frame_equal(parallel.sort(order), through_session.sort(order))
    expected = stored.select(list(FIXES)).cast(FIXES)  # type: ignore[arg-type]
    assert_frame_equal(parallel.sort(order), expected.sort(order))
    # [lo, hi): the row at lo is read, the one at hi is not, nor the one just before lo
    assert sorted(from_edge["ts"].to_list()) == [
        edge,
        edge + timedelta(minutes=30, microseconds=7),
        T0,
    ]
    assert nothing.is_empty()
    assert nothing.schema == pl.Schema(FIXES)


def test_parallel_read_takes_only_instants_and_integers() -> None:
    assert _literal(7, postgres=True) == "7"
    assert _literal(T0, postgres=False) == str(int(T0.timestamp()) * 1_000_000)
    assert _literal(T0, postgres=True) == "'2026-10-25T08:00:00+00:00'::timestamptz"
    with pytest.raises(ValueError, match="naive"):
        _literal(datetime(2026, 10, 25, 8, 0), postgres=True)
    with pytest.raises(TypeError, match="str"):
        _literal("o1'; DROP TABLE pings; --", postgres=True)


def test_parallel_read_of_many_pages_reads_every_row_once(engine: Engine) -> None:
    # enough rows for several pieces (PostgreSQL: ranges of pages of two day partitions; SQLite:
    # hours), and rows either side of the range that must not be read
    n = 6_000
    start = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)
    ts = [start + timedelta(seconds=17 * i) for i in range(n)]
    pings = pl.DataFrame(
        {
            "device_id": [f"d{i % 37}" for i in range(n)],
            "ts": ts,
            "officer_id": [f"o{i % 37:02d}" for i in range(n)],
            "lat": [51.5 + i * 1e-6 for i in range(n)],
            "lon": [-0.1] * n,
            "accuracy_m": [None if i % 11 == 0 else 5.0 + i % 7 for i in range(n)],
            "source": [("gps", "wifi", None)[i % 3] for i in range(n)],
            "is_mock": [i % 101 == 0 for i in range(n)],
            "h3_cell": [0x8C195DA49A0DBFF + i for i in range(n)],
        },
        schema_overrides={"ts": INSTANT},
    )
    with Session(engine) as s, s.begin():
        insert_events(s, "pings", pings)
    lo, hi = ts[100], ts[-100]
    order = ("officer_id", "ts", "device_id")
    with Session(engine) as s:
        parallel = load_fixes(s, lo, hi, readers=2)
        cuts = ["o10", "o20", "o30"]
        parts = load_fixes_by_officer(s, lo, hi, cuts, readers=2)
    expected = pings.filter((pl.col("ts") >= lo) & (pl.col("ts") < hi)).select(list(FIXES))
    expected = expected.cast(FIXES).sort(order)  # type: ignore[arg-type]
    assert parallel.height == n - 200
    assert_frame_equal(parallel.sort(order), expected)
    assert [p.height for p in parts] == [
        expected.filter(pl.col("officer_id").is_between(pl.lit(a), pl.lit(b), closed="left")).height
        for a, b in zip(["", *cuts], [*cuts, "~"], strict=True)
    ]
    assert_frame_equal(pl.concat(parts).sort(order), expected)


def test_sqlite_session_read_is_the_hour_by_hour_read(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """The day's fixes and swipes read through the session in one query give the rows, order
    and types that reading them hour by hour (as the session did before) gave: the table's
    key order, blocks of rows put back in turn."""
    path = tmp_path / "day.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{path}")
    start = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)
    n = 9_000  # every 11 s for 27.5 hours: more rows than one block, the repeated hour included
    ts = [start + timedelta(seconds=11 * i) for i in range(n)]
    order = list(range(n))
    order.reverse()  # stored in reverse: the key orders them, not their arrival
    pings = pl.DataFrame(
        {
            "device_id": [f"d{i % 29}" for i in order],
            "ts": [ts[i] for i in order],
            "officer_id": [f"o{i % 29:02d}" for i in order],
            "lat": [51.5 + i * 1e-6 for i in order],
            "lon": [-0.1] * n,
            "accuracy_m": [None if i % 13 == 0 else 4.0 + i % 5 for i in order],
            "source": [("gps", None, "cell")[i % 3] for i in order],
            "is_mock": [i % 97 == 0 for i in order],
            "h3_cell": [0x8C195DA49A0DBFF + i for i in order],
        },
        schema_overrides={"ts": INSTANT},
    )
    swipes = pl.DataFrame(
        {
            "officer_id": [f"o{i % 29:02d}" for i in order],
            "badge_id": [f"b{i % 29}" for i in order],
            "ts": [ts[i] for i in order],
            "station_id": ["s1"] * n,
            "reader_id": [f"r{i % 3}" for i in order],
            "direction": [("in", "out")[i % 2] for i in order],
            "granted": [i % 7 != 0 for i in order],
        },
        schema_overrides={"ts": INSTANT},
    )
    with Session(engine) as s, s.begin():
        insert_events(s, "pings", pings)
        insert_events(s, "swipes", swipes)
    lo, hi = day_range(DAY, "Europe/London")
    hours = -(-int((hi - lo).total_seconds()) // 3600)
    step = (hi - lo) / hours
    cuts = [lo + step * k for k in range(hours)] + [hi]
    with Session(engine) as s:
        fixes, day_swipes = load_fixes(s, lo, hi), load_swipes(s, lo, hi)
        for table, schema, read in (("pings", FIXES, fixes), ("swipes", SWIPES, day_swipes)):
            sql = (
                f"SELECT {dialect(s).select_list(schema)} FROM {table} "
                "WHERE ts >= {p} AND ts < {p}"
            )
            by_hour = pl.concat(
                [read_frame(s, sql, [a, b], schema) for a, b in zip(cuts, cuts[1:], strict=False)]
            )
            assert read.height == by_hour.height == n
            assert_frame_equal(read, by_hour)
    engine.dispose()
    assert fixes["ts"].is_sorted()


def test_fixes_read_by_a_reader_started_ahead(engine: Engine) -> None:
    """A reader started before the span is known (store.reader.piece_reader: the SQLite child,
    nothing on PostgreSQL) reads the same frames as one started for the read."""
    stored = _committed_events(engine)
    lo, hi = day_range(DAY, "Europe/London")
    cuts = ["o,2"]
    with Session(engine) as s:
        with piece_reader(s, workers=2) as reader:
            assert (reader is not None) == (engine.dialect.name == "sqlite")
            ahead = load_fixes_by_officer(s, lo, hi, cuts, readers=2, reader=reader)
        fresh = load_fixes_by_officer(s, lo, hi, cuts, readers=2)
    assert [p.height for p in ahead] == [2, 3]
    for a, b in zip(ahead, fresh, strict=True):
        assert_frame_equal(a, b)
    expected = stored.select(list(FIXES)).cast(FIXES)  # type: ignore[arg-type]
    order = ("officer_id", "ts", "device_id")
    assert_frame_equal(pl.concat(ahead).sort(order), expected.sort(order))


def test_never_null_text_read_as_blobs_arrives_as_text(engine: Engine) -> None:
    """The reading child reads the NOT NULL text columns as BLOBs (cheaper in connectorx) and
    they arrive as the same text: empty, quoted and non-ASCII ids included; a nullable one
    (source) is read as text, its NULLs kept."""
    assert _child_select_list("pings", FIXES).split(", ")[:2] == [
        "CAST(officer_id AS BLOB) AS officer_id",
        "CAST(device_id AS BLOB) AS device_id",
    ]
    assert "source" in _child_select_list("pings", FIXES).split(", ")
    stored = _committed_events(engine)
    extra = stored.head(1).with_columns(
        device_id=pl.lit(""), officer_id=pl.lit("ü"), ts=pl.col("ts") + timedelta(seconds=1)
    )
    with Session(engine) as s, s.begin():
        insert_events(s, "pings", extra)
    lo, hi = day_range(DAY, "Europe/London")
    order = ("officer_id", "ts", "device_id")
    with Session(engine) as s:
        parallel = load_fixes(s, lo, hi, readers=2)
        through_session = load_fixes(s, lo, hi, readers=1)
    assert parallel.schema == pl.Schema(FIXES)
    assert sorted(parallel["device_id"].to_list()) == ["", "d'1", "d'1", "d,2", "d,2", "dé3"]
    assert_frame_equal(parallel.sort(order), through_session.sort(order))
