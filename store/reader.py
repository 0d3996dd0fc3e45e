"""The store's one seam to its two backends: SELECTs read into Polars frames, and the SQL that
PostgreSQL and SQLite spell differently (instants, booleans, id lists, JSON, upserts, locks).

Every store module reads and spells through here, so a query is written once for both backends;
where the backends really do different work (PostgreSQL's COPY, page-range reads, partitions and
advisory locks) it is one named function that asks ``Dialect.postgres``.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
from sqlalchemy import BigInteger, Engine, func, text, type_coerce
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from rules.clock import INSTANT
from store import sqlite_arrow
from store.db import is_postgres
from store.types import stored_dtype, to_epoch_us

# How one read is typed: column name -> Polars type. Instants are read as epoch microseconds.
Schema = dict[str, pl.DataType]


def literal(value: Any, *, postgres: bool) -> str:
    """An SQL literal of an instant or an integer (the only parameters the parallel reads take)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in a read")
        if postgres:
            return f"'{value.astimezone(UTC).isoformat()}'::timestamptz"
        return str(to_epoch_us(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"unsupported literal in a parallel read: {type(value).__name__}")


@dataclass(frozen=True)
class Dialect:
    """How one backend spells what differs. SQLite stores instants as integer epoch
    microseconds, booleans as integers and dates as ISO text; PostgreSQL has timestamptz,
    boolean, date, arrays and jsonb."""

    postgres: bool

    def instant(self, column: str) -> str:
        """A select of an instant column as integer epoch microseconds."""
        if self.postgres:
            # date_part is double precision: exact to the microsecond for any date before 2255
            # (the product stays far below 2**53), and much cheaper than numeric extract().
            return f"round(date_part('epoch', {column}) * 1000000)::bigint"
        return column

    def boolean(self, column: str) -> str:
        """A select of a boolean column as an integer."""
        return f"{column}::int" if self.postgres else column

    def select_list(self, schema: Schema, alias: str = "") -> str:
        """The select list of ``schema``'s columns (of table ``alias``, e.g. ``"v."``), in order,
        as read_frame takes them: instants as epoch microseconds, booleans as integers."""
        parts = []
        for name, dtype in schema.items():
            col = f"{alias}{name}"
            if dtype == INSTANT:
                parts.append(f"{self.instant(col)} AS {name}")
            elif dtype == pl.Boolean():
                parts.append(f"{self.boolean(col)} AS {name}")
            else:
                parts.append(f"{col} AS {name}")
        return ", ".join(parts)

    def param(self, value: Any) -> Any:
        """A parameter as the driver takes it: instants as epoch microseconds on SQLite, dates
        as ISO text."""
        if isinstance(value, datetime):
            return value if self.postgres else to_epoch_us(value)
        if isinstance(value, date):
            return value.isoformat()
        return value

    def literal(self, value: Any) -> str:
        """An SQL literal of an instant or an integer (module function ``literal``)."""
        return literal(value, postgres=self.postgres)

    def in_ids(self, column: str, ids: Collection[str]) -> tuple[str, Any]:
        """A one-parameter `` AND column IN ids`` and its parameter: an array, or on SQLite a
        JSON list."""
        values = sorted(set(ids))
        if self.postgres:
            return f" AND {column} = ANY({{p}})", values
        return f" AND {column} IN (SELECT value FROM json_each({{p}}))", json.dumps(values)

    def join_pairs(
        self, alias: str, keys: tuple[str, str], first: list[str], second: list[date]
    ) -> tuple[str, str, list[Any]]:
        """A source of (text, date) pairs zipped from ``first`` and ``second``, the condition
        joining table ``alias`` on its columns ``keys`` to them, and the parameters: for
        ``FROM {source} JOIN table alias ON {condition}`` (an array pair, or a JSON list)."""
        a, b = keys
        if self.postgres:
            source = f"unnest({{p}}::text[], {{p}}::date[]) AS k({a}, {b})"
            return source, f"{alias}.{a} = k.{a} AND {alias}.{b} = k.{b}", [first, second]
        pairs = [[x, y.isoformat()] for x, y in zip(first, second, strict=True)]
        on = (
            f"{alias}.{a} = json_extract(k.value, '$[0]') "
            f"AND {alias}.{b} = json_extract(k.value, '$[1]')"
        )
        return "json_each({p}) AS k", on, [json.dumps(pairs)]

    def json_float(self, column: str, key: str) -> str:
        """The number at top-level ``key`` of JSON ``column``, or NULL."""
        if self.postgres:
            return f"({column}->>'{key}')::float8"
        return f"json_extract({column}, '$.{key}')"

    def insert(self, model: Any) -> Any:
        """An INSERT for ``model`` with ON CONFLICT support."""
        return (postgresql.insert if self.postgres else sqlite.insert)(model)

    def geometry(self, wkt: str) -> str:
        """A WGS 84 geometry value from its WKT (EWKT on PostGIS)."""
        return f"SRID=4326;{wkt}" if self.postgres else wkt

    def instant_sum(self, column: Any) -> Any:
        """The sum of an instant column as a number (a fingerprint, not an instant): epoch
        seconds on PostgreSQL, the stored microseconds on SQLite."""
        if self.postgres:
            return func.sum(func.extract("epoch", column))
        return type_coerce(func.sum(type_coerce(column, BigInteger)), BigInteger)

    def lock_until_commit(self, session: Session, key: int, table: str, column: str) -> None:
        """Serialise this transaction with others taking the same lock, until it ends.

        PostgreSQL: the transaction-scoped advisory lock ``key``. SQLite: the database's single
        write lock, taken now by a no-op UPDATE of ``table`` (setting ``column`` to itself).
        """
        if self.postgres:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        else:
            session.execute(text(f"UPDATE {table} SET {column} = {column} WHERE 1 = 0"))

    def lock_then_first(
        self, session: Session, key: int, table: str, column: str, sql: str
    ) -> tuple[Any, ...] | None:
        """Take ``lock_until_commit``'s lock, then run ``sql`` (a SELECT without parameters) and
        return its first row (None when it has none). The SELECT reads after the lock is
        granted (its own statement, so its own snapshot). PostgreSQL: both statements in one
        simple query, one round trip to the server instead of two.
        """
        if not self.postgres:
            self.lock_until_commit(session, key, table, column)
            row = session.execute(text(sql)).first()
            return None if row is None else tuple(row)
        raw: Any = session.connection().connection.driver_connection
        with raw.cursor() as cur:
            cur.execute(f"SELECT pg_advisory_xact_lock({int(key)}); {sql}")
            cur.nextset()
            first = cur.fetchone()
        return None if first is None else tuple(first)


def dialect(session_or_engine: Session | Engine) -> Dialect:
    """The dialect of a session's or engine's database."""
    return Dialect(postgres=is_postgres(session_or_engine))


@contextmanager
def postgres_setting(session: Session, name: str, value: str) -> Iterator[None]:
    """PostgreSQL's setting ``name`` at ``value`` for the block, restored after, within the
    session's transaction (nothing on SQLite)."""
    if not is_postgres(session):
        yield
        return
    before = session.execute(text("SELECT current_setting(:n)"), {"n": name}).scalar_one()
    session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    try:
        yield
    finally:
        session.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": before})


def without_jit(session: Session) -> AbstractContextManager[None]:
    """PostgreSQL's JIT compiler off for one read, restored after: for probe-bound plans it
    compiles for seconds to save nothing. SQLite has none."""
    return postgres_setting(session, "jit", "off")


def read_frame(
    session: Session,
    sql: str,
    params: Sequence[Any],
    schema: Schema,
) -> pl.DataFrame:
    """Run ``sql`` (DB-API placeholders written as ``{p}``) into a frame of ``schema``, on the
    session's own connection (so it sees what the session has written).

    The select list must produce the columns of ``schema`` in order, instants as epoch
    microseconds and booleans as integers (``Dialect.select_list`` writes it). PostgreSQL streams
    the result with COPY (CSV), which Polars parses; SQLite's rows are fetched in blocks of
    SQLITE_FETCH_ROWS and each block's columns built as typed Series (_sqlite_frames), so no ORM
    object is built and memory stays bounded by a block.
    """
    d = dialect(session)
    raw: Any = session.connection().connection.driver_connection
    types = _read_types(schema)
    values = [d.param(p) for p in params]
    frames: list[pl.DataFrame] = []
    if d.postgres:
        # CSV's own NULL: an unquoted empty field (an empty text is written quoted, "")
        text = _copy_text(raw, f"COPY ({sql.replace('{p}', '%s')}) TO STDOUT (FORMAT csv)", values)
        if text:
            frames.append(
                pl.read_csv(
                    text,
                    has_header=False,
                    new_columns=list(types),
                    schema=types,
                    # an unquoted empty field is NULL, a quoted one an empty text; no
                    # spelling of NULL is given, so a text "NULL" or "\\N" stays that text
                    empty_string_is_null=True,
                )
            )
    else:
        frames.extend(_sqlite_frames(raw, sql.replace("{p}", "?"), values, types))
    if not frames:
        return pl.DataFrame(schema=schema)
    return _finish(pl.concat(frames, rechunk=True), schema)


# SQLite rows are fetched this many at a time: a block of Python tuples is short-lived, so a read
# of millions of rows holds one block of objects, not millions.
SQLITE_FETCH_ROWS = 65_536


def _sqlite_frames(
    raw: Any, query: str, params: Sequence[Any], types: Schema
) -> Iterator[pl.DataFrame]:
    """The rows of ``query`` on the sqlite3 connection ``raw``, one frame of ``types`` per block
    of SQLITE_FETCH_ROWS rows: each column built from the block's values as a typed Series."""
    cursor = raw.execute(query, params)
    try:
        while rows := cursor.fetchmany(SQLITE_FETCH_ROWS):
            yield pl.DataFrame(
                [
                    _sqlite_column(name, dtype, values)
                    for (name, dtype), values in zip(
                        types.items(), zip(*rows, strict=True), strict=True
                    )
                ]
            )
    finally:
        cursor.close()


def _sqlite_column(name: str, dtype: pl.DataType, values: Sequence[Any]) -> pl.Series:
    """A Series of ``dtype`` from SQLite values. SQLite types values, not columns, so a column
    may hold an integer where text is read (or a whole float where an integer is): such values
    are converted one by one, as the text of a CSV would have read them; a value that is not
    one (a text in a number column) is an error naming the column."""
    try:
        return pl.Series(name, values, dtype=dtype)
    except TypeError:
        convert: Any = str if dtype == pl.Utf8() else float if dtype.is_float() else int
        try:
            converted = [None if v is None else convert(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"column {name!r}: a stored value is not {dtype}: {exc}") from None
        return pl.Series(name, converted, dtype=dtype)


def select_frame(
    session: Session, table: str, schema: Schema, where: str = "", params: Sequence[Any] = ()
) -> pl.DataFrame:
    """``schema``'s columns of the rows of ``table`` (``where``: the rest of the statement after
    FROM, with ``{p}`` placeholders for ``params``), by read_frame."""
    sql = f"SELECT {dialect(session).select_list(schema)} FROM {table} {where}".rstrip()
    return read_frame(session, sql, params, schema)


def _read_types(schema: Schema) -> Schema:
    """The types as they arrive: instants as Int64, booleans as Int8, unsigned cells as Int64."""
    out: Schema = {}
    for name, dtype in schema.items():
        if dtype == INSTANT:
            out[name] = pl.Int64()
        elif stored_dtype(dtype) != dtype:
            out[name] = stored_dtype(dtype)
        elif dtype == pl.Boolean():
            out[name] = pl.Int8()
        elif dtype == pl.Date():
            out[name] = pl.Utf8()
        else:
            out[name] = dtype
    return out


def _finish(frame: pl.DataFrame, schema: Schema) -> pl.DataFrame:
    """``frame``'s columns as ``schema`` has them. An instant arrives as integer epoch
    microseconds (CSV reads, SQLite's Arrow reads) or as a timestamp (PostgreSQL's Arrow reads);
    a date as text; an unsigned cell as a signed integer."""
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        have = frame.schema[name]
        if dtype == INSTANT and isinstance(have, pl.Datetime):
            cast = col.dt.cast_time_unit("us")
            exprs.append(
                (
                    cast.dt.convert_time_zone("UTC")
                    if have.time_zone
                    else cast.dt.replace_time_zone("UTC")
                ).alias(name)
            )
        elif dtype == INSTANT:
            exprs.append(
                col.cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(name)
            )
        elif dtype == pl.Date():
            exprs.append(col.str.slice(0, 10).str.to_date("%Y-%m-%d").alias(name))
        else:
            exprs.append(col.cast(dtype).alias(name))
    return frame.select(exprs)


def _copy_text(raw: Any, query: str, params: list[Any]) -> bytes:
    """One slice's rows as CSV text, by PostgreSQL's COPY on a driver connection."""
    out = io.BytesIO()
    with raw.cursor() as cur, cur.copy(query, params) as copy:
        for block in copy:
            out.write(block)
    return out.getvalue()


def _from_arrow(table: Any, schema: Schema) -> pl.DataFrame:
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return pl.DataFrame(schema=schema) if frame.is_empty() else _finish(frame, schema)


def engine_of(session: Session) -> Engine:
    """The engine a session is bound to."""
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def in_memory(session: Session) -> bool:
    """Whether the session's database is an in-memory SQLite one (no other connection sees it)."""
    return engine_of(session).url.database in (None, "", ":memory:")


def _arrow_address(session: Session) -> str:
    """The session's database as a libpq URI (for ADBC), whose connections run without JIT
    compilation (about half a second per query, for plans that spend their time reading pages),
    or as a connectorx SQLite address (the file's absolute path)."""
    url = engine_of(session).url
    if is_postgres(session):
        address = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return address + ("&" if "?" in address else "?") + "options=-c%20jit%3Doff"
    return "sqlite://" + quote(str(Path(str(url.database)).resolve()))


@contextmanager
def piece_reader(session: Session, *, workers: int = 2) -> Iterator[sqlite_arrow.Reader | None]:
    """A reader for a later read_pieces of ``workers``, started now: on SQLite the reading child
    process (store.sqlite_arrow.Reader), whose start-up then overlaps what the caller reads
    meanwhile instead of delaying the pieces; None on PostgreSQL (each reading thread opens its
    connection as it starts) and for an in-memory database (read_pieces cannot read it). Ended
    on leaving the block if it was not used."""
    if is_postgres(session) or in_memory(session):
        yield None
        return
    with sqlite_arrow.Reader(workers=workers) as reader:
        yield reader


def read_pieces(
    session: Session,
    queries: Sequence[str],
    schema: Schema,
    *,
    workers: int = 2,
    reader: sqlite_arrow.Reader | None = None,
    ranges: sqlite_arrow.Ranges | None = None,
) -> Iterator[tuple[int, pl.DataFrame]]:
    """Run ``queries`` (each selecting the plain columns of ``schema``, in order, with literals
    written by ``literal``), up to ``workers`` at once on connections of their own; yields
    (query number, frame of ``schema``) as each piece arrives, in no particular order (SQLite
    may answer a query in several pieces).

    Each query is read on a thread straight into Arrow columns, which costs a fraction of
    rendering and parsing text: PostgreSQL by the ADBC driver (binary COPY decoded in C++), on
    one connection per thread kept for all its queries (opening one, with the driver's reading of
    the server's types, costs more than reading a small piece: measured 0.17 s at a load average
    of 10); SQLite by connectorx in a child process (store.sqlite_arrow). Each piece is
    converted as it arrives and its Arrow buffers dropped, so the caller can keep or split it
    without the whole result being held twice. Other connections do not see the session's
    uncommitted rows, so this is only for a session that has written nothing. ``reader``: a
    SQLite reader started ahead (piece_reader, of the same ``workers``), used instead of a new
    one. ``ranges`` (column, starts): on SQLite, query k reads only the rows whose ``column``
    lies in [starts[k], starts[k + 1]), so its rows are known by that column
    (store.sqlite_arrow.stream).
    """
    address = _arrow_address(session)
    if not is_postgres(session):
        # in a child process: connectorx's own copy of SQLite must not share this process's locks
        answers = (
            reader.stream(address, queries, ranges=ranges)
            if reader is not None
            else sqlite_arrow.stream(address, queries, workers=workers, ranges=ranges)
        )
        for k, table in answers:
            yield k, _from_arrow(table, schema)
        return
    import adbc_driver_postgresql.dbapi as adbc

    local = threading.local()
    opened: list[Any] = []

    def one(query: str) -> pl.DataFrame:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = adbc.connect(address, autocommit=True)
            opened.append(conn)
        with conn.cursor() as cur:
            cur.execute(query)
            return _from_arrow(cur.fetch_arrow_table(), schema)

    try:
        with ThreadPoolExecutor(max(1, min(workers, len(queries)))) as pool:
            futures = {pool.submit(one, q): k for k, q in enumerate(queries)}
            for future in as_completed(futures):
                yield futures[future], future.result()
    finally:
        for conn in opened:
            conn.close()
