"""Bulk writes of event frames: COPY on PostgreSQL, executemany on SQLite, idempotent on the key."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from rules.clock import local_date
from store.db import is_postgres
from store.models import MaskedCount

PING_COLUMNS = (
    "device_id",
    "ts",
    "officer_id",
    "lat",
    "lon",
    "accuracy_m",
    "source",
    "is_mock",
    "h3_cell",
)
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
        # Two writers can be first to reach a new day at once: the loser waits here until the
        # winner commits, then finds the partition there.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
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
    # Time order keeps both the (ts, ...) key and the (officer_id, ts) index growing at the edge.
    data = frame.select(columns).sort("ts")
    if table == "pings":
        ensure_ping_partitions(
            session, frame.select(pl.col("ts").dt.date().unique()).to_series().to_list()
        )
    session.flush()
    if is_postgres(session):
        return _insert_pg(session, table, columns, data)
    return _insert_sqlite(session, table, columns, _as_epoch_us(data, columns))


_KEYS = {
    "pings": ("device_id", "ts"),
    "held_pings": ("device_id", "ts"),
    "swipes": ("badge_id", "ts", "reader_id"),
    "held_swipes": ("badge_id", "ts", "reader_id"),
}


def _stored_keys(cur: Any, table: str, data: pl.DataFrame) -> pl.DataFrame:
    """Keys of ``data`` already in ``table``: the batch's keys joined to the table's primary key
    (an index probe per key, within the partitions of the batch's time span)."""
    key = _KEYS[table]
    others = [c for c in key if c != "ts"]
    lo, hi = data["ts_us"].min(), data["ts_us"].max()
    arrays = ", ".join(["%s::text[]" for _ in others] + ["%s::bigint[]"])
    names = ", ".join([*others, "us"])
    matches = " AND ".join(
        [f"t.{c} = k.{c}" for c in others]
        + ["t.ts = timestamptz 'epoch' + k.us * interval '1 microsecond'"]
    )
    cur.execute(
        f"SELECT {', '.join(f'k.{c}' for c in others)}, k.us FROM unnest({arrays}) AS k({names}) "
        f"JOIN {table} t ON {matches} "
        "WHERE t.ts BETWEEN timestamptz 'epoch' + %s * interval '1 microsecond' "
        "AND timestamptz 'epoch' + %s * interval '1 microsecond'",
        (*[data[c].to_list() for c in others], data["ts_us"].to_list(), lo, hi),
    )
    rows = cur.fetchall()
    schema = {**dict.fromkeys(others, pl.Utf8), "ts_us": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _insert_pg(session: Session, table: str, columns: Sequence[str], data: pl.DataFrame) -> int:
    """COPY straight into the table when none of the keys is stored yet (checked first), falling
    back to COPY into a staging table and INSERT ... ON CONFLICT DO NOTHING when some are, or when
    a concurrent writer stores one of them in between."""
    import psycopg

    conn = _driver(session)
    col_list = ", ".join(columns)
    keys = ["ts_us" if c == "ts" else c for c in _KEYS[table]]
    data = data.with_columns(ts_us=pl.col("ts").dt.epoch("us"))
    with conn.cursor() as cur:
        new = data.join(_stored_keys(cur, table, data), on=keys, how="anti").drop("ts_us")
        if new.is_empty():
            return 0
        text_instants = new.with_columns(
            [
                pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
                for c in columns
                if c in INSTANT_COLUMNS
            ]
        )
        try:
            with conn.transaction():
                _copy(cur, table, col_list, text_instants)
            return new.height
        except psycopg.errors.UniqueViolation:
            pass
    return _insert_pg_staged(session, table, columns, _as_epoch_us(new, columns))


def _copy(cur: Any, table: str, col_list: str, data: pl.DataFrame) -> None:
    buffer = io.BytesIO()
    data.write_csv(buffer, include_header=False, null_value="")
    with cur.copy(f"COPY {table} ({col_list}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buffer.getbuffer())


def _insert_pg_staged(
    session: Session, table: str, columns: Sequence[str], data: pl.DataFrame
) -> int:
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
        _copy(cur, staging, col_list, data)
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


def dialect_insert(session: Session, model: Any) -> Any:
    """An INSERT for ``model`` with ON CONFLICT support on either backend."""
    return (postgresql.insert if is_postgres(session) else sqlite.insert)(model)


def add_masked_counts(session: Session, masked: pl.DataFrame, kind: str, tz: str) -> None:
    """Add masked events (a frame with ``ts``) to the per-local-day counts of ``kind``: the only
    trace off-duty events leave."""
    if masked.is_empty():
        return
    per_day = masked.group_by(local_date(pl.col("ts"), tz).alias("day")).len()
    for day, count in per_day.iter_rows():
        stmt = dialect_insert(session, MaskedCount).values(day=day, kind=kind, count=count)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day", "kind"], set_={"count": MaskedCount.count + stmt.excluded.count}
        )
        session.execute(stmt)
