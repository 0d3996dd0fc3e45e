"""Bulk reads for the nightly job: one local day's shifts, events and claims as Polars frames."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from rules import schemas as rules_schemas
from rules.clock import INSTANT, day_bounds
from store import pg_reader, sqlite_reader
from store.db import is_postgres
from store.types import to_epoch_us

# How one read is typed: column name -> Polars type. Instants are read as epoch microseconds.
Schema = dict[str, pl.DataType]
CLASSIFIED = ("station_id", "boundary_distance_m", "p_inside")
# PostgreSQL work_mem of the transactions that read events (see _text).
READ_WORK_MEM = pg_reader.READ_SETTINGS["work_mem"]

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
    readers: int = 1,
) -> pl.DataFrame:
    """Run ``sql`` (DB-API placeholders written as ``{p}``) into a frame of ``schema``.

    The select list must produce the columns of ``schema`` in order, instants as epoch
    microseconds and booleans as integers (``_select_list`` writes it). PostgreSQL streams the
    result with COPY (CSV); SQLite has each row rendered as one CSV line inside the database
    (group_concat of quote()), so Python never builds a tuple per row. Polars parses the text;
    no ORM objects are built.

    ``slices`` runs the query once per parameter list instead of ``params`` (SQLite strings stay
    below its 1 GB limit). ``readers`` > 1 runs the slices on that many extra connections at once
    (the drivers release the GIL while the database works): only for a session that has written
    nothing, since other connections do not see its uncommitted rows, and each connection reads
    its own snapshot (as separate statements on SQLite do anyway).
    """
    postgres = is_postgres(session)
    raw: Any = session.connection().connection.driver_connection
    types = _read_types(schema)
    given = [list(part) for part in (slices or [params])]
    parts = [[_param(p, postgres) for p in part] for part in given]
    if postgres:
        query = f"COPY ({sql.replace('{p}', '%s')}) TO STDOUT (FORMAT csv, NULL '\\N')"
        quote, null = '"', "\\N"
    else:
        line = "||','||".join(f"quote({name})" for name in schema)
        query = (
            f"SELECT CAST(group_concat({line}, char(10)) AS BLOB) FROM ({sql.replace('{p}', '?')})"
        )
        quote, null = "'", "NULL"

    def parse(text: bytes) -> pl.DataFrame | None:
        if not text:
            return None
        return pl.read_csv(
            text,
            has_header=False,
            new_columns=list(types),
            schema=types,
            quote_char=quote,
            null_values=[null],
            empty_string_is_null=False,
        )

    # Each slice is parsed as soon as it arrives, so the text of a whole day (gigabytes for a
    # large force) is never held at once.
    if readers > 1 and len(parts) > 1 and not _in_memory(session):
        if postgres:
            # PostgreSQL on extra connections through asyncpg (store.pg_reader: the rows arrive
            # in large chunks, not one by one); SQLite rendered by worker processes
            # (store.sqlite_reader), each parsed by the thread that asked for it
            address = pg_reader.dsn(_engine(session).url)
            pg_workers = [pg_reader.Reader(address) for _ in range(readers)]
            frames = _parallel_frames(pg_workers, pg_reader.numbered(sql), given, parse)
        else:
            path = str(_engine(session).url.database)
            sq_workers = [sqlite_reader.Reader(path) for _ in range(readers)]
            frames = _parallel_frames(sq_workers, query, parts, parse)
    else:
        frames = [parse(_text(raw, postgres, query, part)) for part in parts]
    present = [f for f in frames if f is not None]
    if not present:
        return pl.DataFrame(schema=schema)
    return _finish(pl.concat(present, rechunk=True), schema)


def _text(raw: Any, postgres: bool, query: str, params: list[Any]) -> bytes:
    """One slice's rows as CSV text, through a driver connection."""
    if postgres:
        out = io.BytesIO()
        with raw.cursor() as cur:
            # an officer partition's rows are found through a bitmap of the officer index: room
            # for one bit per row keeps it exact (the default 4 MB goes lossy at a few million
            # rows, and every row of a lossy page is checked again)
            cur.execute(f"SET LOCAL work_mem = '{READ_WORK_MEM}'")
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


def _round_robin(
    fetchers: Sequence[Callable[[list[Any]], bytes]],
    parts: list[list[Any]],
    parse: Callable[[bytes], pl.DataFrame | None],
) -> list[pl.DataFrame | None]:
    """Slice k fetched by fetcher k mod n on its own thread and parsed as it arrives; the frames
    returned in slice order."""
    n = len(fetchers)

    def work(i: int) -> list[tuple[int, pl.DataFrame | None]]:
        return [(k, parse(fetchers[i](parts[k]))) for k in range(i, len(parts), n)]

    with ThreadPoolExecutor(n) as pool:
        done = [item for chunk in pool.map(work, range(n)) for item in chunk]
    return [frame for _, frame in sorted(done, key=lambda kf: kf[0])]


def _parallel_frames(
    workers: Sequence[pg_reader.Reader | sqlite_reader.Reader],
    query: str,
    parts: list[list[Any]],
    parse: Callable[[bytes], pl.DataFrame | None],
) -> list[pl.DataFrame | None]:
    """Slices read by ``workers`` at once (round robin), each parsed as it arrives; the workers
    are closed after."""
    try:
        return _round_robin([partial(w.ask, query) for w in workers], parts, parse)
    finally:
        for worker in workers:
            worker.close()


def _hourly(lo: datetime, hi: datetime) -> list[list[datetime]]:
    out: list[list[datetime]] = []
    start = lo
    while start < hi:
        end = min(start + timedelta(hours=1), hi)
        out.append([start, end])
        start = end
    return out


def _even(lo: datetime, hi: datetime, parts: int) -> list[list[datetime]]:
    """[lo, hi) cut into ``parts`` slices of equal length (whole microseconds)."""
    step = (hi - lo) / parts
    cuts = [lo + step * k for k in range(parts)] + [hi]
    return [[a, b] for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def load_officers(session: Session) -> pl.DataFrame:
    """Every officer: officer_id, unit, office_based, sorted by officer_id."""
    pg = is_postgres(session)
    return read_frame(
        session,
        f"SELECT {_select_list(OFFICERS, pg)} FROM officers ORDER BY officer_id",
        [],
        OFFICERS,
    )


def load_fixes(
    session: Session,
    lo: datetime,
    hi: datetime,
    *,
    readers: int = 1,
    officer_ids: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Stored (on-duty) device fixes with lo <= ts < hi, in no particular order (the rules do
    not depend on row order, and sorting tens of millions of rows costs seconds).

    ``officer_ids`` (sorted, non-empty) limits the read to those officers' fixes: one officer
    partition of a day. It is read in slices of time (over ``readers`` connections), so each
    stored page is visited once: rows are stored in the order they arrive, every officer's
    spread over the whole day, and slicing the officers instead would have each slice visit
    every page of the day again (on PostgreSQL, more than the rows themselves cost). PostgreSQL
    reads two slices per reader, each finding its officers' rows through the (officer_id, ts)
    index (a probe per officer and slice: hourly slices would probe the index 24 times per
    officer); SQLite scans each hour keeping the rows between the first and last id (a scan
    costs a fraction of a row's rendering, an index probe per row several times it), then keeps
    exactly the ids given.
    """
    pg = is_postgres(session)
    sql = f"SELECT {_select_list(FIXES, pg)} FROM pings WHERE ts >= {{p}} AND ts < {{p}}"
    if officer_ids is None:
        return read_frame(session, sql, [lo, hi], FIXES, slices=_hourly(lo, hi), readers=readers)
    ids = list(officer_ids)
    if pg:
        sql += " AND officer_id = ANY({p})"
        slices = [[a, b, ids] for a, b in _even(lo, hi, 2 * max(1, readers))]
        return read_frame(session, sql, [], FIXES, slices=slices, readers=readers)
    # unary + keeps SQLite from answering the range through the officer index
    sql += " AND +officer_id >= {p} AND +officer_id <= {p}"
    slices = [[a, b, ids[0], ids[-1]] for a, b in _hourly(lo, hi)]
    frame = read_frame(session, sql, [], FIXES, slices=slices, readers=readers)
    return frame.filter(pl.col("officer_id").is_in(pl.Series(ids, dtype=pl.Utf8).implode()))


def load_swipes(session: Session, lo: datetime, hi: datetime, *, readers: int = 1) -> pl.DataFrame:
    """Stored (on-duty) badge swipes with lo <= ts < hi, in no particular order."""
    pg = is_postgres(session)
    sql = f"SELECT {_select_list(SWIPES, pg)} FROM swipes WHERE ts >= {{p}} AND ts < {{p}}"
    return read_frame(session, sql, [lo, hi], SWIPES, slices=_hourly(lo, hi), readers=readers)


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
    the fixes and swipes on that many connections at once (see read_frame: only for a session
    that has written nothing). ``with_fixes`` False leaves the fixes frame empty, for a caller
    that reads them per officer partition (load_fixes with ``officer_ids``).
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
