"""Bulk writes of event frames: binary COPY on PostgreSQL, executemany on SQLite, idempotent on
the key."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from hashlib import blake2b
from typing import Any

import polars as pl
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rules.clock import local_date
from rules.records import PING, SWIPE
from store.models import MaskedCount, MaskedKey, MaskingSalt
from store.reader import dialect, engine_of
from store.types import stored_dtype

_INSTANT = pl.Datetime("us", "UTC")


def _stored(types: dict[str, pl.DataType]) -> dict[str, pl.DataType | type[pl.DataType]]:
    return {name: stored_dtype(dtype) for name, dtype in types.items()}


# The columns of the event tables (store.models), in table order.
PING_TYPES = _stored(PING.polars())
SWIPE_TYPES = _stored(
    SWIPE.polars(
        ("badge_id", "ts", "reader_id", "officer_id", "station_id", "direction", "granted")
    )
)
EVENT_TYPES = {
    "pings": PING_TYPES,
    "held_pings": {**PING_TYPES, "held_at": _INSTANT},
    "swipes": SWIPE_TYPES,
    "held_swipes": {**SWIPE_TYPES, "held_at": _INSTANT},
}
PING_COLUMNS = tuple(PING_TYPES)
SWIPE_COLUMNS = tuple(SWIPE_TYPES)
EVENT_COLUMNS = {table: tuple(types) for table, types in EVENT_TYPES.items()}


@dataclass
class DeferredIndexes:
    """The day partitions of ``pings`` a bulk load writes to. The partitions it creates get their
    (officer_id, ts) index when the load is over (one sorted build instead of an index insert per
    row); so does any it wrote to that lacks it (a load of that day cut off earlier).

    ``new_days`` (PostgreSQL): the load's days whose partition did not exist when it first
    reached them go instead into tables of its own, attached when the load is over
    (NewDayTables)."""

    partitions: set[str] = field(default_factory=set)
    new_days: NewDayTables | None = None

    def build(self, session: Session) -> list[str]:
        """Build the missing indexes; the caller commits. Returns the partitions indexed."""
        missing = [n for n in partitions_without_officer_index(session) if n in self.partitions]
        build_officer_indexes(session, missing)
        self.partitions.clear()
        return missing


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def partition_name(day: date) -> str:
    """The ``pings`` partition that holds the UTC day ``day`` (PostgreSQL)."""
    return f"pings_p{day:%Y%m%d}"


def officer_index_name(partition: str) -> str:
    return f"ix_{partition}_officer_ts"


def build_officer_indexes(session: Session, partitions: Sequence[str]) -> None:
    """The (officer_id, ts) index of each partition in ``partitions``, where it is missing."""
    for name in partitions:
        session.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {officer_index_name(name)} ON {name} (officer_id, ts)"
            )
        )


def partitions_without_officer_index(session: Session) -> list[str]:
    """Partitions of ``pings`` lacking their (officer_id, ts) index: a bulk load that was cut off
    before it built them (PostgreSQL; SQLite has none)."""
    if not dialect(session).postgres:
        return []
    names = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'pings'::regclass ORDER BY c.relname"
        )
    ).scalars()
    indexed = set(
        session.execute(
            text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_pings_p%_officer_ts'")
        ).scalars()
    )
    return [n for n in names if officer_index_name(n) not in indexed]


_ATTACHED = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = 'pings'::regclass AND NOT i.inhdetachpending "
    "AND c.relname = ANY(:names)"
)


class DetachedDayError(RuntimeError):
    """Events for a UTC day whose partition the retention purge is removing: never stored."""

    def __init__(self, day: date) -> None:
        self.day = day
        super().__init__(
            f"the pings of {day.isoformat()} (UTC) are being removed by the retention purge; "
            "events of that day are not stored"
        )


def ensure_ping_partitions(
    session: Session, days: Iterable[date], deferred: DeferredIndexes | None = None
) -> None:
    """Create the UTC-day partitions of ``pings`` that ``days`` need (PostgreSQL only).

    A new partition gets its (officer_id, ts) index at once, or, when ``deferred`` is given (a bulk
    load), when the load calls ``deferred.build``.
    """
    if not dialect(session).postgres:
        return
    wanted = {partition_name(d): d for d in days}
    if not wanted:
        return
    if deferred is not None:
        deferred.partitions.update(wanted)
    existing = set(session.execute(_ATTACHED, {"names": list(wanted)}).scalars())
    for name, day in sorted(wanted.items()):
        if name in existing:
            continue
        # Two writers can be first to reach a new day at once: the loser waits here until the
        # winner commits, then finds the partition there.
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
        if session.execute(_ATTACHED, {"names": [name]}).first() is not None:
            continue
        if session.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar():
            # The table is there but not a partition of pings (or being detached): a purge
            # is removing that day. Rows written into it would never be seen.
            raise DetachedDayError(day)
        session.execute(
            text(
                f"CREATE TABLE {name} PARTITION OF pings "
                f"FOR VALUES FROM ('{day.isoformat()} 00:00:00+00') "
                f"TO ('{(day + timedelta(days=1)).isoformat()} 00:00:00+00')"
            )
        )
        if deferred is None:
            build_officer_indexes(session, [name])


def _day_range(day: date) -> tuple[str, str]:
    """The bounds of the UTC day ``day`` as timestamptz literals (a partition's bounds)."""
    return (
        f"'{day.isoformat()} 00:00:00+00'",
        f"'{(day + timedelta(days=1)).isoformat()} 00:00:00+00'",
    )


# The pings table's columns as a CREATE TABLE lists them (type, NOT NULL, default), read from
# the catalog, which takes no lock on the table; generated columns become plain ones, as LIKE
# makes them.
_PINGS_COLUMNS = text(
    "SELECT string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod), "
    "CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END, "
    "CASE WHEN d.adbin IS NOT NULL AND a.attgenerated = '' "
    "THEN ' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid) ELSE '' END), ', ' ORDER BY a.attnum) "
    "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = 'pings'::regclass AND a.attnum > 0 AND NOT a.attisdropped"
)


class NewDayTables:
    """A bulk load's new days of ``pings`` (PostgreSQL): each UTC day whose partition does not
    exist when the load first reaches it is loaded into a table of its own, with no key or index
    and a CHECK of the day's range, by binary COPY on a connection of its own, in ONE transaction
    that lasts the whole load. ``finish`` then builds each table's primary key and (officer_id,
    ts) index in one sorted pass each, and, holding the day's advisory lock (the one
    ensure_ping_partitions takes to create a day), attaches it as the day's partition: the CHECK
    lets ATTACH skip its scan, and is dropped afterwards. A writer that created the day's
    partition in the meantime (HTTP ingest, another import) keeps it: the rows are then inserted
    into it, skipping stored keys. Until ``finish`` commits, nothing of the new days is visible;
    a load that fails or is killed leaves nothing of them (the transaction rolls back, the tables
    with it), and the file imported again loads them afresh. A key seen twice in the file (in two
    of its blocks) keeps its first row; ``finish`` counts the others as duplicates."""

    def __init__(self) -> None:
        self.tables: dict[date, str] = {}
        self._conn: Connection | None = None

    def claim(self, session: Session, days: Iterable[date]) -> set[date]:
        """Of ``days``, those this load writes into tables of its own: the days claimed before,
        and those whose partition is not there now (a table is created for each). Raises
        DetachedDayError for a day the retention purge is removing."""
        wanted = set(days)
        fresh = sorted(d for d in wanted if d not in self.tables)
        if fresh:
            names = [partition_name(d) for d in fresh]
            attached = set(session.execute(_ATTACHED, {"names": names}).scalars())
            for day in fresh:
                name = partition_name(day)
                if name in attached:
                    continue
                if session.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar():
                    raise DetachedDayError(day)
                self._create(session, day)
        return {d for d in wanted if d in self.tables}

    def _create(self, session: Session, day: date) -> None:
        if self._conn is None:
            self._conn = engine_of(session).connect()
            self._conn.begin()
        # A name of this load's own: two loads reaching the same new day never wait on a name.
        table = f"pings_load_{day:%Y%m%d}_{secrets.token_hex(4)}"
        lo, hi = _day_range(day)
        # The columns are spelled out from the catalog, not taken with LIKE pings: LIKE would
        # hold a lock on pings until this load commits, and a writer creating any day's
        # partition meanwhile (which needs pings to itself) would wait for the whole load, with
        # every other reader and writer of pings queued behind it.
        columns = self._conn.execute(_PINGS_COLUMNS).scalar_one()
        self._conn.execute(
            text(
                f"CREATE TABLE {table} ({columns}, "
                f"CONSTRAINT {table}_day CHECK (ts >= {lo} AND ts < {hi}))"
            )
        )
        self.tables[day] = table

    def write(self, day: date, data: pl.DataFrame) -> int:
        """COPY ``data`` (the pings columns, all of UTC day ``day``, a claimed day) into the
        day's table; the number of rows."""
        assert self._conn is not None
        with self._conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
            _copy(cur, self.tables[day], data, freeze=True)
        return data.height

    def finish(self) -> int:
        """Key, index and attach every table of the load, then commit; returns how many rows
        were not stored after all (keys seen earlier in the load or stored meanwhile)."""
        conn = self._conn
        if conn is None:
            return 0
        duplicates = 0
        for table in sorted(self.tables.values()):
            duplicates += _add_key(conn, table)
            conn.execute(text(f"CREATE INDEX {table}_officer ON {table} (officer_id, ts)"))
        # Days in date order, as ensure_ping_partitions takes their locks.
        for day, table in sorted(self.tables.items()):
            duplicates += _attach(conn, day, table)
        conn.commit()
        self.close()
        return duplicates

    def close(self) -> None:
        """Give up what was not finished: the new days' tables are rolled back."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.tables.clear()


def _add_key(conn: Connection, table: str) -> int:
    """The pings primary key on ``table``; a key loaded twice keeps its first row (the lowest
    ctid: the table only grew by COPY in this transaction). Returns the rows removed."""
    key = f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (ts, device_id)"
    try:
        with conn.begin_nested():
            conn.execute(text(key))
        return 0
    except IntegrityError:
        pass
    removed = conn.execute(
        text(
            f"DELETE FROM {table} a USING {table} b "
            "WHERE a.ts = b.ts AND a.device_id = b.device_id AND a.ctid > b.ctid"
        )
    ).rowcount
    conn.execute(text(key))
    return int(removed)


def _attach(conn: Connection, day: date, table: str) -> int:
    """Make ``table`` the partition of ``day``, or, if another writer created that partition
    since the load began, insert its rows there (stored keys skipped) and drop it. Returns the
    rows not stored."""
    name = partition_name(day)
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})
    if conn.execute(_ATTACHED, {"names": [name]}).first() is not None:
        columns = ", ".join(PING_COLUMNS)
        total = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
        inserted = conn.execute(
            text(
                f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {table} "
                "ON CONFLICT DO NOTHING"
            )
        ).rowcount
        conn.execute(text(f"DROP TABLE {table}"))
        return int(total) - int(inserted)
    if conn.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar():
        raise DetachedDayError(day)
    lo, hi = _day_range(day)
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {name}"))
    conn.execute(text(f"ALTER INDEX {table}_pkey RENAME TO {name}_pkey"))
    conn.execute(text(f"ALTER INDEX {table}_officer RENAME TO {officer_index_name(name)}"))
    conn.execute(
        text(f"ALTER TABLE pings ATTACH PARTITION {name} FOR VALUES FROM ({lo}) TO ({hi})")
    )
    conn.execute(text(f"ALTER TABLE {name} DROP CONSTRAINT {table}_day"))
    return 0


def insert_events(
    session: Session, table: str, frame: pl.DataFrame, deferred: DeferredIndexes | None = None
) -> int:
    """Insert event rows into ``table``, skipping rows whose key is already stored.

    ``frame`` has the table's columns (instants as Datetime UTC). Returns how many were inserted;
    the rest were duplicates. Only flushes: the caller's transaction commits. ``deferred``: see
    ``ensure_ping_partitions``.
    """
    types = EVENT_TYPES[table]
    if frame.is_empty():
        return 0
    # Time order keeps the (ts, ...) key growing at its right edge.
    data = frame.select([pl.col(c).cast(t) for c, t in types.items()]).sort("ts")
    session.flush()
    if table != "pings" or not dialect(session).postgres:
        return insert_rows(session, table, data)
    days = data.get_column("ts").dt.date()
    wanted = days.unique().to_list()
    new_days = deferred.new_days if deferred is not None else None
    own = new_days.claim(session, wanted) if new_days is not None else set()
    ensure_ping_partitions(session, [d for d in wanted if d not in own], deferred)
    # Each day straight into its partition (or the load's table of a new day): no per-row
    # routing through the parent.
    inserted = 0
    for day, part in _by_day(data, days, wanted):
        if new_days is not None and day in own:
            inserted += new_days.write(day, part)
        else:
            inserted += _insert_pg(session, partition_name(day), part)
    return inserted


def _by_day(
    data: pl.DataFrame, days: pl.Series, wanted: list[date]
) -> list[tuple[date, pl.DataFrame]]:
    """``data`` cut by UTC day (``days``, each row's), in order of first appearance; a batch of
    one day (the usual one) as it is, not copied."""
    if len(wanted) == 1:
        return [(wanted[0], data)]
    parts = data.with_columns(_day=days).partition_by(
        "_day", as_dict=True, include_key=False, maintain_order=True
    )
    return [(day, part) for (day,), part in parts.items()]


def insert_rows(session: Session, table: str, data: pl.DataFrame) -> int:
    """Insert ``data`` (columns named and typed as ``table``'s, instants as Datetime UTC) into
    ``table``, skipping rows whose key is already stored; how many were inserted. Binary COPY on
    PostgreSQL (_insert_pg), multi-row INSERT OR IGNORE on SQLite (_insert_sqlite, instants as
    the epoch microseconds it stores, true/false as the 1/0 it stores: the sqlite3 module binds
    a Python bool only after looking for an adapter, and failing, at every value). The caller
    flushes first and commits."""
    if dialect(session).postgres:
        return _insert_pg(session, table, data)
    stored = [
        pl.col(c).dt.epoch("us") if isinstance(t, pl.Datetime) else pl.col(c).cast(pl.Int64)
        for c, t in data.schema.items()
        if isinstance(t, pl.Datetime) or t == pl.Boolean
    ]
    return _insert_sqlite(session, table, tuple(data.columns), data.with_columns(stored))


def _insert_pg(session: Session, table: str, data: pl.DataFrame) -> int:
    """COPY straight into ``table``; if a key is already stored (a re-sent batch, an overlapping
    file, a concurrent writer), the COPY is undone and the rows go through a staging table and
    INSERT ... ON CONFLICT DO NOTHING instead."""
    import psycopg

    conn = _driver(session)
    with conn.cursor() as cur:
        try:
            with conn.transaction():
                _copy(cur, table, data)
            return data.height
        except psycopg.errors.UniqueViolation:
            pass
        return _insert_pg_staged(cur, table, data)


def _copy(cur: Any, table: str, data: pl.DataFrame, *, freeze: bool = False) -> None:
    """Binary COPY of ``data`` (columns named and typed as the table's) into ``table``;
    ``freeze``: rows written frozen and their pages all-visible (a table created in this
    transaction: no later pass sets their hint bits or freezes them)."""
    from pgpq import ArrowToPostgresBinaryEncoder

    arrow = data.to_arrow()
    encoder = ArrowToPostgresBinaryEncoder(arrow.schema)
    options = "FORMAT binary, FREEZE" if freeze else "FORMAT binary"
    with cur.copy(f"COPY {table} ({', '.join(data.columns)}) FROM STDIN ({options})") as copy:
        copy.write(encoder.write_header())
        for batch in arrow.to_batches():
            copy.write(encoder.write_batch(batch))
        copy.write(encoder.finish())


def _insert_pg_staged(cur: Any, table: str, data: pl.DataFrame) -> int:
    staging = f"_stage_{table}"
    cur.execute("SELECT to_regclass(%s)", (f"pg_temp.{staging}",))
    row = cur.fetchone()
    if row is None or row[0] is None:
        cur.execute(f"CREATE TEMP TABLE {staging} (LIKE {table}) ON COMMIT DELETE ROWS")
    _copy(cur, staging, data)
    col_list = ", ".join(data.columns)
    cur.execute(
        f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {staging} ON CONFLICT DO NOTHING"
    )
    inserted = int(cur.rowcount)
    cur.execute(f"TRUNCATE {staging}")
    return inserted


SQLITE_ROWS_PER_INSERT = 64


def _insert_sqlite(session: Session, table: str, columns: Sequence[str], data: pl.DataFrame) -> int:
    """INSERT OR IGNORE, SQLITE_ROWS_PER_INSERT rows per statement (one statement step per 64
    rows: about a fifth less CPU than a row per statement), the remainder a row at a time."""
    conn = _driver(session)
    row = "(" + ", ".join("?" for _ in columns) + ")"
    head = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES "
    k = SQLITE_ROWS_PER_INSERT
    whole = data.height - data.height % k
    values = [data.get_column(c).to_list() for c in data.columns]
    cur = conn.cursor()
    before = conn.total_changes
    cur.executemany(head + ", ".join([row] * k), _statements(values, whole, k))
    cur.executemany(head + row, zip(*(v[whole:] for v in values), strict=True))
    cur.close()
    return int(conn.total_changes - before)


def _statements(values: list[list[Any]], rows: int, k: int) -> Iterator[tuple[Any, ...]]:
    """The parameters of statements of ``k`` rows each for the first ``rows`` (a multiple of
    ``k``) of ``values`` (one list per column): row after row, column after column. Laid out in
    one list by a slice assignment per column, not a tuple per row."""
    width = len(values)
    flat: list[Any] = [None] * (rows * width)
    for j, column in enumerate(values):
        flat[j::width] = column[:rows]
    step = k * width
    return (tuple(flat[i : i + step]) for i in range(0, len(flat), step))


# A visit's key is (device_id, arrived_at), passed as ``ts`` (intake.visits.count_masked).
MASKED_KEYS = {
    "ping": ("device_id", "ts"),
    "swipe": ("badge_id", "ts", "reader_id"),
    "visit": ("device_id", "ts"),
}


def _masked_digests(session: Session, masked: pl.DataFrame, kind: str, tz: str) -> pl.DataFrame:
    """(day, digest) of each distinct masked event, in digest order: a keyed BLAKE2b of its
    natural key under this database's salt."""
    salt = session.execute(select(MaskingSalt.salt).where(MaskingSalt.salt_id == 1)).scalar_one()
    parts = [
        pl.col(c).dt.epoch("us").cast(pl.Utf8) if c == "ts" else pl.col(c).cast(pl.Utf8)
        for c in MASKED_KEYS[kind]
    ]
    keys = masked.select(
        day=local_date(pl.col("ts"), tz), key=pl.concat_str(parts, separator="\x1f")
    )
    digests = [
        blake2b(k.encode(), digest_size=16, key=salt).digest() for k in keys.get_column("key")
    ]
    return (
        keys.select("day")
        .with_columns(digest=pl.Series(digests, dtype=pl.Binary))
        .unique("digest")
        .sort("digest")
    )


def add_masked_counts(session: Session, masked: pl.DataFrame, kind: str, tz: str) -> int:
    """Count masked events (a frame with ``ts`` and the rest of the natural key of ``kind``) in
    the per-local-day counts, each key once: its digest is recorded (masked_keys) and only events
    whose digest is new are counted, so a retried file or batch adds nothing. Keys go in digest
    order and days in date order, so concurrent writers never wait on each other in a cycle.
    Returns how many were newly counted. Only flushes."""
    if masked.is_empty():
        return 0
    digests = _masked_digests(session, masked, kind, tz)
    stmt = (
        dialect(session)
        .insert(MaskedKey)
        .on_conflict_do_nothing(index_elements=["kind", "digest"])
        .returning(MaskedKey.day)
    )
    new_days: list[date] = []
    rows = [{"kind": kind, "day": d, "digest": g} for d, g in digests.iter_rows()]
    for start in range(0, len(rows), 10_000):
        new_days += session.scalars(stmt, rows[start : start + 10_000]).all()
    per_day = Counter(new_days)
    for day in sorted(per_day):
        upsert = dialect(session).insert(MaskedCount).values(day=day, kind=kind, count=per_day[day])
        upsert = upsert.on_conflict_do_update(
            index_elements=["day", "kind"],
            set_={"count": MaskedCount.count + upsert.excluded.count},
        )
        session.execute(upsert)
    return len(new_days)
