"""Bulk reads for the nightly job: one local day's shifts, events and claims as Polars frames."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rules import schemas as rules_schemas
from rules.clock import INSTANT, day_bounds
from store import sqlite_arrow
from store.db import is_postgres
from store.types import to_epoch_us

# How one read is typed: column name -> Polars type. Instants are read as epoch microseconds.
Schema = dict[str, pl.DataType]
CLASSIFIED = ("station_id", "boundary_distance_m", "p_inside")

OFFICERS: Schema = rules_schemas.OFFICERS
# Stored fixes: the rules' fix columns before classification, plus the stored H3 cell.
FIXES: Schema = {
    **{name: dtype for name, dtype in rules_schemas.FIXES.items() if name not in CLASSIFIED},
    "h3_cell": pl.UInt64(),
}
SWIPES: Schema = rules_schemas.SWIPES
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
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if dtype == INSTANT:
            exprs.append(col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(name))
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
    """The session's database as a connectorx address. PostgreSQL connections it opens run
    without JIT compilation (about half a second per query, for plans that spend their time
    reading pages); an SQLite file is named by its absolute path."""
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


def _conform_arrow(frame: pl.DataFrame, schema: Schema) -> pl.DataFrame:
    """connectorx's columns as ``schema`` has them: an instant arrives as an aware timestamp
    (PostgreSQL) or integer microseconds (SQLite); an unsigned cell as a signed integer."""
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        have = frame.schema[name]
        if dtype == INSTANT:
            if isinstance(have, pl.Datetime):
                expr = col.dt.cast_time_unit("us")
                expr = (
                    expr.dt.convert_time_zone("UTC")
                    if have.time_zone
                    else expr.dt.replace_time_zone("UTC")
                )
            else:
                expr = col.cast(pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
            exprs.append(expr.alias(name))
        else:
            exprs.append(col.cast(dtype).alias(name))
    return frame.select(exprs)


def read_parallel(
    session: Session,
    sql: str,
    slices: Sequence[Sequence[Any]],
    schema: Schema,
) -> pl.DataFrame:
    """Run ``sql`` (``{p}`` placeholders; instants and integers only) once per parameter list of
    ``slices``, all at once on connections of their own, into one frame of ``schema``.

    The select list names plain columns of ``schema`` (no expressions). connectorx reads each
    slice on its own connection and thread straight into Arrow columns (PostgreSQL's binary
    protocol; SQLite's C interface, in a child process: store.sqlite_arrow), which costs a
    fraction of rendering and parsing text. Other
    connections do not see the session's uncommitted rows, so this is only for a session that has
    written nothing; an in-memory SQLite database, which no other connection can open, is read
    through the session (read_frame) instead.
    """
    if _in_memory(session):
        cols = _select_list(schema, is_postgres(session))
        return read_frame(session, sql.replace("{cols}", cols), [], schema, slices=slices)
    import connectorx

    postgres = is_postgres(session)
    queries = []
    for params in slices:
        text = sql.replace("{cols}", ", ".join(schema))
        for value in params:
            text = text.replace("{p}", _literal(value, postgres), 1)
        queries.append(text)
    address = _arrow_address(session)
    if postgres:
        table = connectorx.read_sql(address, queries, return_type="arrow")
    else:
        # in a child process: connectorx's own copy of SQLite must not share this process's locks
        table = sqlite_arrow.read(address, queries)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    return _conform_arrow(frame, schema)


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


def _load_events(
    session: Session, table: str, schema: Schema, lo: datetime, hi: datetime, readers: int
) -> pl.DataFrame:
    """Rows of ``table`` with lo <= ts < hi, in no particular order (the rules do not depend on
    row order, and sorting tens of millions of rows costs seconds).

    ``readers`` > 1 reads the range in that many slices of time at once, on connections of their
    own (read_parallel: only for a session that has written nothing). A slice of time is read in
    one pass over the stored rows whatever officers they belong to: a day's rows are stored as
    they arrive, every officer's spread over the whole day, so reading the day once and splitting
    it by officer afterwards visits each stored page once, where reading it officer by officer
    visits every page again for each group. Otherwise the range is read hour by hour through the
    session (read_frame).
    """
    if readers > 1:
        sql = f"SELECT {{cols}} FROM {table} WHERE ts >= {{p}} AND ts < {{p}}"
        return read_parallel(session, sql, _even(lo, hi, 2 * readers), schema)
    pg = is_postgres(session)
    sql = f"SELECT {_select_list(schema, pg)} FROM {table} WHERE ts >= {{p}} AND ts < {{p}}"
    return read_frame(session, sql, [lo, hi], schema, slices=_hourly(lo, hi))


def load_fixes(session: Session, lo: datetime, hi: datetime, *, readers: int = 1) -> pl.DataFrame:
    """Stored (on-duty) device fixes with lo <= ts < hi (see _load_events)."""
    return _load_events(session, "pings", FIXES, lo, hi, readers)


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
    the fixes and swipes on connections of their own (read_parallel: only for a session that has
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
