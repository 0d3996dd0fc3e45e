"""Bulk reads for the nightly job: one local day's shifts, events and claims as Polars frames."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from geo.cells import cell_expr
from rules import schemas as rules_schemas
from rules import visits as rules_visits
from rules.clock import INSTANT, day_bounds
from rules.receipts import DEVICES
from store import sqlite_arrow
from store.db import is_postgres
from store.load import partition_name
from store.types import to_epoch_us

# How one read is typed: column name -> Polars type. Instants are read as epoch microseconds.
Schema = dict[str, pl.DataType]
CLASSIFIED = ("station_id", "boundary_distance_m", "p_inside")

OFFICERS: Schema = rules_schemas.OFFICERS
# Stored fixes: the rules' fix columns but those of geo's classification (with the stored H3
# cell, read back as rules.records.H3_CELL).
FIXES: Schema = {
    name: dtype for name, dtype in rules_schemas.FIXES.items() if name not in CLASSIFIED
}
SWIPES: Schema = rules_schemas.SWIPES
# Stored on-duty visit pieces (store.models.Visit), as rules.visits.VISITS.
VISITS: Schema = rules_visits.VISITS
# A stored visit piece lies inside one on-duty window; reads look this far back for its arrival.
VISIT_LOOKBACK = timedelta(days=2)
SHIFTS: Schema = rules_schemas.SHIFTS
SHIFT_HISTORY: Schema = rules_schemas.SHIFT_HISTORY
OVERTIME: Schema = rules_schemas.OVERTIME
DAILY: Schema = {
    "officer_id": pl.Utf8(),
    "date": pl.Date(),
    "expected_office": pl.Boolean(),
    "declared_location": pl.Utf8(),
    "verified_presence_minutes": pl.Float64(),
    "verified_office_day": pl.Boolean(),
    "evidence": pl.Utf8(),
    "policy_version": pl.Utf8(),
}


@dataclass(frozen=True)
class DayFrames:
    """Everything the rules need for local ``day``: events and shifts of [lo, hi) (the day widened
    by a day on each side, so shifts crossing midnight and their events are whole)."""

    day: date
    lo: datetime
    hi: datetime
    officers: pl.DataFrame
    shifts: pl.DataFrame
    shift_history: pl.DataFrame
    fixes: pl.DataFrame
    swipes: pl.DataFrame
    overtime: pl.DataFrame
    visits: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=VISITS))
    # device_id, clock_offset_s: device clock offsets known from HTTP receipts (store.clock)
    devices: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DEVICES))


def _instant_sql(column: str, postgres: bool) -> str:
    """A backend-neutral select of an instant column as integer epoch microseconds."""
    if postgres:
        # date_part is double precision: exact to the microsecond for any date before 2255
        # (the product stays far below 2**53), and much cheaper than numeric extract().
        return f"round(date_part('epoch', {column}) * 1000000)::bigint"
    return column


def _bool_sql(column: str, postgres: bool) -> str:
    return f"{column}::int" if postgres else column


def _select_list(schema: Schema, postgres: bool, alias: str = "") -> str:
    parts = []
    for name, dtype in schema.items():
        col = f"{alias}{name}"
        if dtype == INSTANT:
            parts.append(f"{_instant_sql(col, postgres)} AS {name}")
        elif dtype == pl.Boolean():
            parts.append(f"{_bool_sql(col, postgres)} AS {name}")
        else:
            parts.append(f"{col} AS {name}")
    return ", ".join(parts)


def _read_types(schema: Schema) -> Schema:
    """The types as they arrive: instants as Int64, booleans as Int8, unsigned cells as Int64."""
    out: Schema = {}
    for name, dtype in schema.items():
        if dtype == INSTANT or dtype == pl.UInt64():
            out[name] = pl.Int64()
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


def _param(value: Any, postgres: bool) -> Any:
    if isinstance(value, datetime):
        return value if postgres else to_epoch_us(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def read_frame(
    session: Session,
    sql: str,
    params: Sequence[Any],
    schema: Schema,
    *,
    slices: Sequence[Sequence[Any]] | None = None,
) -> pl.DataFrame:
    """Run ``sql`` (DB-API placeholders written as ``{p}``) into a frame of ``schema``, on the
    session's own connection (so it sees what the session has written).

    The select list must produce the columns of ``schema`` in order, instants as epoch
    microseconds and booleans as integers (``_select_list`` writes it). PostgreSQL streams the
    result with COPY (CSV); SQLite has each row rendered as one CSV line inside the database
    (group_concat of quote()), so Python never builds a tuple per row. Polars parses the text;
    no ORM objects are built. ``slices`` runs the query once per parameter list instead of
    ``params`` (SQLite strings stay below its 1 GB limit), each parsed as it arrives.
    """
    postgres = is_postgres(session)
    raw: Any = session.connection().connection.driver_connection
    types = _read_types(schema)
    parts = [[_param(p, postgres) for p in part] for part in (slices or [params])]
    if postgres:
        query = f"COPY ({sql.replace('{p}', '%s')}) TO STDOUT (FORMAT csv, NULL '\\N')"
        quote_char, null = '"', "\\N"
    else:
        line = "||','||".join(f"quote({name})" for name in schema)
        query = (
            f"SELECT CAST(group_concat({line}, char(10)) AS BLOB) FROM ({sql.replace('{p}', '?')})"
        )
        quote_char, null = "'", "NULL"
    frames = []
    for part in parts:
        text = _text(raw, postgres, query, part)
        if text:
            frames.append(
                pl.read_csv(
                    text,
                    has_header=False,
                    new_columns=list(types),
                    schema=types,
                    quote_char=quote_char,
                    null_values=[null],
                    empty_string_is_null=False,
                )
            )
    if not frames:
        return pl.DataFrame(schema=schema)
    return _finish(pl.concat(frames, rechunk=True), schema)


def _text(raw: Any, postgres: bool, query: str, params: list[Any]) -> bytes:
    """One slice's rows as CSV text, through a driver connection."""
    if postgres:
        out = io.BytesIO()
        with raw.cursor() as cur, cur.copy(query, params) as copy:
            for block in copy:
                out.write(block)
        return out.getvalue()
    text = raw.execute(query, params).fetchone()[0]
    if not text:
        return b""
    return text.encode() if isinstance(text, str) else bytes(text)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _in_memory(session: Session) -> bool:
    return _engine(session).url.database in (None, "", ":memory:")


def _arrow_address(session: Session) -> str:
    """The session's database as a libpq URI (for ADBC), whose connections run without JIT
    compilation (about half a second per query, for plans that spend their time reading pages),
    or as a connectorx SQLite address (the file's absolute path)."""
    url = _engine(session).url
    if is_postgres(session):
        address = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return address + ("&" if "?" in address else "?") + "options=-c%20jit%3Doff"
    return "sqlite://" + quote(str(Path(str(url.database)).resolve()))


def _literal(value: Any, postgres: bool) -> str:
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


def read_pieces(
    session: Session, queries: Sequence[str], schema: Schema, *, workers: int = 2
) -> Iterator[tuple[int, pl.DataFrame]]:
    """Run ``queries`` (each selecting the plain columns of ``schema``, in order, with literals
    written by ``_literal``), up to ``workers`` at once on connections of their own; yields
    (query number, frame of ``schema``) as each piece arrives, in no particular order (SQLite
    may answer a query in several pieces).

    Each query is read on its own connection and thread straight into Arrow columns, which costs
    a fraction of rendering and parsing text: PostgreSQL by the ADBC driver (binary COPY decoded
    in C++), SQLite by connectorx in a child process (store.sqlite_arrow). Each piece is
    converted as it arrives and its Arrow buffers dropped, so the caller can keep or split it
    without the whole result being held twice. Other connections do not see the session's
    uncommitted rows, so this is only for a session that has written nothing.
    """
    address = _arrow_address(session)
    if not is_postgres(session):
        # in a child process: connectorx's own copy of SQLite must not share this process's locks
        for k, table in sqlite_arrow.stream(address, queries, workers=workers):
            yield k, _from_arrow(table, schema)
        return
    import adbc_driver_postgresql.dbapi as adbc

    def one(query: str) -> pl.DataFrame:
        with adbc.connect(address) as conn, conn.cursor() as cur:
            cur.execute(query)
            return _from_arrow(cur.fetch_arrow_table(), schema)

    with ThreadPoolExecutor(max(1, min(workers, len(queries)))) as pool:
        futures = {pool.submit(one, q): k for k, q in enumerate(queries)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _from_arrow(table: Any, schema: Schema) -> pl.DataFrame:
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return pl.DataFrame(schema=schema) if frame.is_empty() else _finish(frame, schema)


def split_by_officer_ranges(frame: pl.DataFrame, cuts: Sequence[str]) -> list[pl.DataFrame]:
    """``frame`` cut by ``officer_id`` into len(cuts) + 1 ranges: piece k holds the ids from
    ``cuts[k - 1]`` (inclusive; no lower bound for the first) up to ``cuts[k]`` (exclusive; no
    upper bound for the last). ``cuts`` must be sorted."""
    if not cuts:
        return [frame]
    part = pl.Series(list(cuts), dtype=pl.Utf8).search_sorted(frame["officer_id"], side="right")
    return [frame.filter(part == k) for k in range(len(cuts) + 1)]


def _even(lo: datetime, hi: datetime, parts: int) -> list[list[datetime]]:
    """[lo, hi) cut into ``parts`` slices of equal length (whole microseconds)."""
    step = (hi - lo) / parts
    cuts = [lo + step * k for k in range(parts)] + [hi]
    return [[a, b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def _hourly(lo: datetime, hi: datetime) -> list[list[datetime]]:
    return _even(lo, hi, max(1, -(-int((hi - lo).total_seconds()) // 3600)))


def load_officers(session: Session) -> pl.DataFrame:
    """Every officer: officer_id, unit, office_based, sorted by officer_id."""
    pg = is_postgres(session)
    return read_frame(
        session,
        f"SELECT {_select_list(OFFICERS, pg)} FROM officers ORDER BY officer_id",
        [],
        OFFICERS,
    )


def _event_queries(
    session: Session, table: str, schema: Schema, lo: datetime, hi: datetime, parts: int
) -> list[str]:
    """Queries that together read the rows of ``table`` with lo <= ts < hi once, in about
    ``parts`` pieces of equal work.

    PostgreSQL: ranges of pages of each table holding the range (the ``pings`` partitions of the
    UTC days it touches), read by TID range scans. A day's rows are stored as they arrive, so a
    slice of time would be balanced badly (most fixes fall in the day shift) and, selecting a
    large share of a partition, be read by a full scan of it: four slices of a day cost four
    scans. Pages of a range are read once, and a range of pages holds about as many rows as the
    next; the last range of each table is open, for pages added since its size was read. SQLite:
    hours (the table is stored in (ts, ...) order, so an hour is a range of its key).
    """
    cols = ", ".join(schema)
    bounds = "ts >= {lo} AND ts < {hi}"
    if not is_postgres(session):
        return [
            f"SELECT {cols} FROM {table} WHERE "
            + bounds.format(lo=_literal(a, False), hi=_literal(b, False))
            for a, b in _hourly(lo, hi)
        ]
    where = bounds.format(lo=_literal(lo, True), hi=_literal(hi, True))
    if table == "pings":
        first = lo.astimezone(UTC).date()
        last = (hi - timedelta(microseconds=1)).astimezone(UTC).date()
        names = [partition_name(first + timedelta(days=k)) for k in range((last - first).days + 1)]
    else:
        names = [table]
    sizes = session.execute(
        text(
            "SELECT relname, pg_relation_size(oid) / current_setting('block_size')::int "
            "FROM pg_class WHERE relkind = 'r' AND relname = ANY(:names) ORDER BY relname"
        ),
        {"names": names},
    ).all()
    per = max(1, -(-sum(int(b) for _, b in sizes) // max(1, parts)))
    queries = []
    for name, blocks in sizes:
        start = 0
        while True:
            ctid = f"ctid >= '({start},0)'::tid"
            if start + per < int(blocks):
                ctid += f" AND ctid < '({start + per},0)'::tid"
            queries.append(f"SELECT {cols} FROM {name} WHERE {where} AND {ctid}")
            start += per
            if start >= int(blocks):
                break
    return queries


def _load_events(
    session: Session, table: str, schema: Schema, lo: datetime, hi: datetime, readers: int
) -> pl.DataFrame:
    """Rows of ``table`` with lo <= ts < hi, in no particular order (the rules do not depend on
    row order, and sorting tens of millions of rows costs seconds).

    ``readers`` > 1 reads them in about 4 x ``readers`` pieces, ``readers`` at once, on
    connections of their own (_read_by_officer with no cuts: only for a session that has written
    nothing; not for an in-memory SQLite database, which no other connection can open).
    Otherwise the range is read hour by hour through the session (read_frame).
    """
    if readers > 1 and not _in_memory(session):
        [rows] = _read_by_officer(session, table, schema, lo, hi, [], readers)
        return rows.rechunk()
    pg = is_postgres(session)
    sql = f"SELECT {_select_list(schema, pg)} FROM {table} WHERE ts >= {{p}} AND ts < {{p}}"
    return read_frame(session, sql, [lo, hi], schema, slices=_hourly(lo, hi))


def _read_by_officer(
    session: Session,
    table: str,
    schema: Schema,
    lo: datetime,
    hi: datetime,
    cuts: Sequence[str],
    readers: int,
) -> list[pl.DataFrame]:
    """The rows of ``table`` with lo <= ts < hi read in pieces (_event_queries, read_pieces),
    each cut into the officer ranges of ``cuts`` as it arrives (split_by_officer_ranges). The
    pieces are put back in query order (stored order), so every run hands the rules the same
    rows in the same order, mostly sorted by time already."""
    queries = _event_queries(session, table, schema, lo, hi, 4 * readers)
    parts: list[list[tuple[int, pl.DataFrame]]] = [[] for _ in range(len(cuts) + 1)]
    for n, piece in read_pieces(session, queries, schema, workers=readers):
        for k, rows in enumerate(split_by_officer_ranges(piece, cuts)):
            if rows.height:
                parts[k].append((n, rows))
        del piece
    return [
        pl.concat([rows for _, rows in sorted(p, key=lambda nr: nr[0])], rechunk=False)
        if p
        else pl.DataFrame(schema=schema)
        for p in parts
    ]


def load_fixes(session: Session, lo: datetime, hi: datetime, *, readers: int = 1) -> pl.DataFrame:
    """Stored (on-duty) device fixes with lo <= ts < hi (see _load_events)."""
    return _load_events(session, "pings", FIXES, lo, hi, readers)


def load_fixes_by_officer(
    session: Session, lo: datetime, hi: datetime, cuts: Sequence[str], *, readers: int = 2
) -> list[pl.DataFrame]:
    """The fixes of load_fixes(readers=``readers``), cut into officer ranges as they arrive
    (split_by_officer_ranges): one pass over the stored rows, and the day's fixes are held once,
    already in their parts, instead of as a whole and again as parts."""
    if readers <= 1 or _in_memory(session):
        return split_by_officer_ranges(load_fixes(session, lo, hi), cuts)
    return _read_by_officer(session, "pings", FIXES, lo, hi, cuts, readers)


def load_visits(
    session: Session, lo: datetime, hi: datetime, officer_id: str | None = None
) -> pl.DataFrame:
    """Stored (on-duty) visit pieces overlapping [lo, hi), of one officer if given."""
    pg = is_postgres(session)
    sql = (
        f"SELECT {_select_list(VISITS, pg)} FROM visits "
        "WHERE arrived_at >= {p} AND arrived_at < {p} AND departed_at > {p}"
    )
    params: list[Any] = [lo - VISIT_LOOKBACK, hi, lo]
    if officer_id is not None:
        sql += " AND officer_id = {p}"
        params.append(officer_id)
    return read_frame(session, sql + " ORDER BY arrived_at, device_id", params, VISITS)


def with_visit_fixes(fixes: pl.DataFrame, visits: pl.DataFrame, step_minutes: int) -> pl.DataFrame:
    """``fixes`` (stored FIXES) and one fix-like row every ``step_minutes`` of each visit
    (rules.visits.visit_fixes: source "visit", its place and accuracy, with its H3 cell), so a
    visit counts as location evidence wherever fixes do."""
    if visits.is_empty():
        return fixes
    rows = rules_visits.visit_fixes(visits, step_minutes).with_columns(h3_cell=cell_expr())
    return pl.concat([fixes, rows.select(list(FIXES)).cast(FIXES)], rechunk=False)  # type: ignore[arg-type]


def load_swipes(session: Session, lo: datetime, hi: datetime, *, readers: int = 1) -> pl.DataFrame:
    """Stored (on-duty) badge swipes with lo <= ts < hi (see _load_events)."""
    return _load_events(session, "swipes", SWIPES, lo, hi, readers)


def load_shifts(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Current versions of the shifts overlapping [lo, hi), ordered by officer and start."""
    pg = is_postgres(session)
    sql = f"SELECT {_select_list(SHIFTS, pg)} FROM shifts WHERE start_at < {{p}} AND end_at > {{p}}"
    return read_frame(session, sql, [hi, lo], SHIFTS).sort("officer_id", "start_at", "shift_id")


def load_shift_history(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Every stored version of every shift whose current version overlaps [lo, hi)."""
    pg = is_postgres(session)
    sql = (
        f"SELECT {_select_list(SHIFT_HISTORY, pg, 'v.')} FROM shift_versions v "
        "WHERE v.shift_id IN (SELECT shift_id FROM shifts WHERE start_at < {p} AND end_at > {p})"
    )
    frame = read_frame(session, sql, [hi, lo], SHIFT_HISTORY)
    return frame.sort("shift_id", "version")


def load_overtime(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Overtime claims overlapping [lo, hi), ordered by officer and start."""
    pg = is_postgres(session)
    sql = (
        f"SELECT {_select_list(OVERTIME, pg)} FROM overtime_claims "
        "WHERE start_at < {p} AND end_at > {p}"
    )
    return read_frame(session, sql, [hi, lo], OVERTIME).sort("officer_id", "start_at", "claim_id")


def day_range(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start of the day before, start of the day after next): the range a day's rules look at."""
    lo, _ = day_bounds(day - timedelta(days=1), tz)
    _, hi = day_bounds(day + timedelta(days=1), tz)
    return lo, hi


def load_day(
    session: Session,
    day: date,
    tz: str,
    officers: pl.DataFrame | None = None,
    *,
    readers: int = 1,
    with_fixes: bool = True,
) -> DayFrames:
    """Everything stored for local ``day`` in zone ``tz`` (see DayFrames), read in bulk.

    ``officers`` may be passed in when already loaded for a multi-day run. ``readers`` > 1 reads
    the fixes and swipes on connections of their own (read_pieces: only for a session that has
    written nothing). ``with_fixes`` False leaves the fixes frame empty, for a caller that reads
    them over a narrower span (load_fixes).
    """
    lo, hi = day_range(day, tz)
    return DayFrames(
        day=day,
        lo=lo,
        hi=hi,
        officers=officers if officers is not None else load_officers(session),
        shifts=load_shifts(session, lo, hi),
        shift_history=load_shift_history(session, lo, hi),
        fixes=(
            load_fixes(session, lo, hi, readers=readers)
            if with_fixes
            else pl.DataFrame(schema=FIXES)
        ),
        swipes=load_swipes(session, lo, hi, readers=readers),
        overtime=load_overtime(session, lo, hi),
        visits=load_visits(session, lo, hi),
    )


def load_daily(
    session: Session,
    start: date,
    end: date,
    *,
    expected_only: bool = False,
    ordered: bool = True,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Stored daily results for local days start..end inclusive (the rules' DAILY columns, or
    only ``columns`` of them); with ``expected_only``, only expected office days (all that
    compliance counts); sorted by officer and date unless ``ordered`` is False (for
    order-independent aggregation)."""
    pg = is_postgres(session)
    schema = DAILY if columns is None else {c: DAILY[c] for c in columns}
    cols = ", ".join(
        ("day AS date" if c == "date" else _bool_sql(c, pg) if DAILY[c] == pl.Boolean() else c)
        for c in schema
    )
    sql = f"SELECT {cols} FROM daily_results WHERE day >= {{p}} AND day <= {{p}}"
    if expected_only:
        sql += " AND expected_office"
    frame = read_frame(session, sql, [start, end], schema)
    return frame.sort("officer_id", "date") if ordered else frame
