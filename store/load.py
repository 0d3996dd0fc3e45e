"""Bulk writes of event frames: COPY on PostgreSQL, executemany on SQLite, idempotent on the key."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

from store.db import is_postgres

PING_COLUMNS = ("device_id", "ts", "officer_id", "lat", "lon", "accuracy_m", "source", "is_mock", "h3_cell")
SWIPE_COLUMNS = ("badge_id", "ts", "reader_id", "officer_id", "station_id", "direction", "granted")
EVENT_COLUMNS = {
    "pings": PING_COLUMNS,
    "held_pings": (*PING_COLUMNS, "held_at"),
    "swipes": SWIPE_COLUMNS,
    "held_swipes": (*SWIPE_COLUMNS, "held_at"),
}
INSTANT_COLUMNS = ("ts", "held_at")


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def ensure_ping_partitions(session: Session, days: Iterable[date]) -> None:
    """Create the UTC-day partitions of ``pings`` that ``days`` need (PostgreSQL only)."""
    if not is_postgres(session):
        return
    wanted = {f"pings_p{d:%Y%m%d}": d for d in days}
    if not wanted:
        return
    existing = set(
        session.execute(
            text("SELECT relname FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(wanted)},
        ).scalars()
    )
    for name, day in sorted(wanted.items()):
        if name in existing:
            continue
        session.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF pings "
                f"FOR VALUES FROM ('{day.isoformat()} 00:00:00+00') "
                f"TO ('{(day + timedelta(days=1)).isoformat()} 00:00:00+00')"
            )
        )


def _as_epoch_us(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    return frame.with_columns(
        [pl.col(c).dt.epoch("us").alias(c) for c in columns if c in INSTANT_COLUMNS]
    )


def insert_events(session: Session, table: str, frame: pl.DataFrame) -> int:
    """Insert event rows into ``table``, skipping rows whose key is already stored.

    ``frame`` has the table's columns (instants as Datetime UTC). Returns how many were inserted;
    the rest were duplicates. Only flushes: the caller's transaction commits.
    """
    columns = EVENT_COLUMNS[table]
    if frame.is_empty():
        return 0
    data = _as_epoch_us(frame.select(columns), columns)
    if table == "pings":
        ensure_ping_partitions(
            session, frame.select(pl.col("ts").dt.date().unique()).to_series().to_list()
        )
    session.flush()
    if is_postgres(session):
        return _insert_pg(session, table, columns, data)
    return _insert_sqlite(session, table, columns, data)


def _insert_pg(session: Session, table: str, columns: Sequence[str], data: pl.DataFrame) -> int:
    conn = _driver(session)
    staging = f"_stage_{table}"
    col_list = ", ".join(columns)
    select_list = ", ".join(
        f"timestamptz 'epoch' + {c} * interval '1 microsecond'" if c in INSTANT_COLUMNS else c
        for c in columns
    )
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"pg_temp.{staging}",))
        row = cur.fetchone()
        if row is None or row[0] is None:
            cur.execute(f"CREATE TEMP TABLE {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
            for c in columns:
                if c in INSTANT_COLUMNS:
                    cur.execute(f"ALTER TABLE {staging} ALTER COLUMN {c} TYPE bigint USING NULL")
        buffer = io.BytesIO()
        data.write_csv(buffer, include_header=False, null_value="")
        with cur.copy(f"COPY {staging} ({col_list}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(buffer.getbuffer())
        cur.execute(
            f"INSERT INTO {table} ({col_list}) SELECT {select_list} FROM {staging} "
            "ON CONFLICT DO NOTHING"
        )
        inserted = int(cur.rowcount)
        cur.execute(f"TRUNCATE {staging}")
    return inserted


def _insert_sqlite(session: Session, table: str, columns: Sequence[str], data: pl.DataFrame) -> int:
    conn = _driver(session)
    placeholders = ", ".join("?" for _ in columns)
    cur = conn.cursor()
    before = conn.total_changes
    cur.executemany(
        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
        data.iter_rows(),
    )
    cur.close()
    return int(conn.total_changes - before)
