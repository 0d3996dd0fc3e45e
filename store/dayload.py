"""Bulk reads for the nightly job: one local day's shifts, events and claims as Polars frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import String as SqlString
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.cells import cell_expr
from rules import schemas as rules_schemas
from rules import visits as rules_visits
from rules.clock import day_bounds
from rules.receipts import DEVICES
from store.load import partition_name
from store.models import Base
from store.reader import (
    Schema,
    dialect,
    in_memory,
    literal,
    read_frame,
    read_pieces,
    select_frame,
)
from store.sqlite_arrow import Ranges
from store.sqlite_arrow import Reader as SqliteReader
from store.types import to_epoch_us

CLASSIFIED = ("station_id", "boundary_distance_m", "p_inside")

OFFICERS: Schema = rules_schemas.OFFICERS
# Stored fixes: the rules' fix columns but those of geo's classification (with the stored H3
# cell, read back as rules.records.H3_CELL).
FIXES: Schema = {
    name: dtype for name, dtype in rules_schemas.FIXES.items() if name not in CLASSIFIED
}
SWIPES: Schema = rules_schemas.SWIPES
# Officers known to swipe (load_swipers): rules.engine.DayInputs.swipers.
SWIPERS: Schema = {"officer_id": pl.Utf8()}
# Stored on-duty visit pieces (store.models.Visit), as rules.visits.VISITS.
VISITS: Schema = rules_visits.VISITS
# A stored visit piece lies inside one on-duty window; reads look this far back for its arrival.
VISIT_LOOKBACK = timedelta(days=2)
SHIFTS: Schema = rules_schemas.SHIFTS
SHIFT_HISTORY: Schema = rules_schemas.SHIFT_HISTORY
OVERTIME: Schema = rules_schemas.OVERTIME
DAILY: Schema = rules_schemas.DAY_RESULT


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
    # officer_id of the officers with a granted on-duty swipe in the look-back (load_swipers)
    swipers: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SWIPERS))


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
    return select_frame(session, "officers", OFFICERS, "ORDER BY officer_id")


def _event_queries(
    session: Session, table: str, schema: Schema, lo: datetime, hi: datetime, parts: int
) -> tuple[list[str], Ranges | None]:
    """Queries that together read the rows of ``table`` with lo <= ts < hi once, in about
    ``parts`` pieces of equal work: ranges of pages on PostgreSQL (_page_range_queries), hours
    on SQLite (the table is stored in (ts, ...) order, so an hour is a range of its key); and
    on SQLite the hours' starts (read_pieces' ``ranges``: each piece known by its ``ts``)."""
    d = dialect(session)
    if d.postgres:
        return _page_range_queries(session, table, schema, lo, hi, parts), None
    hours = _hourly(lo, hi)
    columns = _child_select_list(table, schema)
    queries = [
        f"SELECT {columns} FROM {table} WHERE ts >= {d.literal(a)} AND ts < {d.literal(b)}"
        for a, b in hours
    ]
    return queries, ("ts", [to_epoch_us(a) for a, _ in hours])


def _child_select_list(table: str, schema: Schema) -> str:
    """The select list of a piece of ``table`` read by SQLite's reading child (read_pieces): a
    text column that is never NULL is read as a BLOB of the same bytes and made text again as
    the piece arrives (store.reader._finish). connectorx builds a text value with a UTF-8 check
    and two allocations, a blob with one copy: for officer_id and device_id, 629 instructions a
    row fewer in the child against 232 more for the cast back (callgrind, bench/README.md).
    Only NOT NULL columns: connectorx types an expression's column by its first value, and a
    NULL has no type."""
    stored = Base.metadata.tables[table].c
    return ", ".join(
        f"CAST({name} AS BLOB) AS {name}"
        if dtype == pl.Utf8()
        and name in stored
        and not stored[name].nullable
        and isinstance(stored[name].type, SqlString)
        else name
        for name, dtype in schema.items()
    )


def _page_range_queries(
    session: Session, table: str, schema: Schema, lo: datetime, hi: datetime, parts: int
) -> list[str]:
    """PostgreSQL: ranges of pages of each table holding [lo, hi) (the ``pings`` partitions of
    the UTC days it touches), read by TID range scans. A day's rows are stored as they arrive, so
    a slice of time would be balanced badly (most fixes fall in the day shift) and, selecting a
    large share of a partition, be read by a full scan of it: four slices of a day cost four
    scans. Pages of a range are read once, and a range of pages holds about as many rows as the
    next; the last range of each table is open, for pages added since its size was read."""
    cols = ", ".join(schema)
    where = f"ts >= {literal(lo, postgres=True)} AND ts < {literal(hi, postgres=True)}"
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
    Otherwise the range is read through the session in one query (read_frame): PostgreSQL's
    COPY streams the rows; SQLite's are fetched in blocks of rows (read_frame), so a long range
    holds no more of them at once than an hour would (reading hour by hour cost a fifth more
    CPU for a day's swipes: 25 queries and frames instead of one).
    """
    if readers > 1 and not in_memory(session):
        [rows] = _read_by_officer(session, table, schema, lo, hi, [], readers)
        return rows.rechunk()
    columns = dialect(session).select_list(schema)
    sql = f"SELECT {columns} FROM {table} WHERE ts >= {{p}} AND ts < {{p}}"
    return read_frame(session, sql, [lo, hi], schema)


def _read_by_officer(
    session: Session,
    table: str,
    schema: Schema,
    lo: datetime,
    hi: datetime,
    cuts: Sequence[str],
    readers: int,
    reader: SqliteReader | None = None,
) -> list[pl.DataFrame]:
    """The rows of ``table`` with lo <= ts < hi read in pieces (_event_queries, read_pieces,
    by ``reader`` if one was started ahead), each cut into the officer ranges of ``cuts`` as it
    arrives (split_by_officer_ranges). The pieces are put back in query order (stored order), so
    every run hands the rules the same rows in the same order, mostly sorted by time already."""
    queries, ranges = _event_queries(session, table, schema, lo, hi, 4 * readers)
    parts: list[list[tuple[int, pl.DataFrame]]] = [[] for _ in range(len(cuts) + 1)]
    pieces = read_pieces(session, queries, schema, workers=readers, reader=reader, ranges=ranges)
    for n, piece in pieces:
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
    session: Session,
    lo: datetime,
    hi: datetime,
    cuts: Sequence[str],
    *,
    readers: int = 2,
    reader: SqliteReader | None = None,
) -> list[pl.DataFrame]:
    """The fixes of load_fixes(readers=``readers``), cut into officer ranges as they arrive
    (split_by_officer_ranges): one pass over the stored rows, and the day's fixes are held once,
    already in their parts, instead of as a whole and again as parts. ``reader``: a SQLite reader
    of ``readers`` started ahead (store.reader.piece_reader), used instead of a new one."""
    if readers <= 1 or in_memory(session):
        return split_by_officer_ranges(load_fixes(session, lo, hi), cuts)
    return _read_by_officer(session, "pings", FIXES, lo, hi, cuts, readers, reader)


def load_visits(
    session: Session, lo: datetime, hi: datetime, officer_id: str | None = None
) -> pl.DataFrame:
    """Stored (on-duty) visit pieces overlapping [lo, hi), of one officer if given."""
    sql = (
        f"SELECT {dialect(session).select_list(VISITS)} FROM visits "
        "WHERE arrived_at >= {p} AND arrived_at < {p} AND departed_at > {p}"
    )
    params: list[Any] = [lo - VISIT_LOOKBACK, hi, lo]
    if officer_id is not None:
        sql += " AND officer_id = {p}"
        params.append(officer_id)
    # the stored columns: a bare arrived_at names the select list's epoch microseconds
    order = " ORDER BY visits.arrived_at, visits.device_id"
    return read_frame(session, sql + order, params, VISITS)


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


def habit_range(day: date, tz: str, days: int) -> tuple[datetime, datetime]:
    """[start of the local day ``days`` before ``day``, start of ``day``): the look-back in which
    a granted swipe makes an officer one who swipes (policy.dwb_habit_days). The day itself is
    left out: its swipes are in the day's own inputs, and an officer who swiped on the day is
    never a DEVICE_WITHOUT_BADGE suspect. Only days before it count, so a day computed again
    later, with later swipes stored, is judged on the same look-back."""
    lo, _ = day_bounds(day - timedelta(days=days), tz)
    hi, _ = day_bounds(day, tz)
    return lo, hi


def load_swipers(session: Session, day: date, tz: str, days: int) -> pl.DataFrame:
    """Officers (SWIPERS, sorted) with a granted stored (so on-duty) swipe in the ``days`` local
    days before ``day`` (habit_range): rules.engine.DayInputs.swipers.

    One query, asked per officer (``EXISTS`` over ``ix_swipes_officer_ts``: an index probe per
    officer that stops at their first swipe in the range), so its cost follows the officers,
    not the fortnight's swipes. Empty when ``days`` is 0."""
    if days <= 0:
        return pl.DataFrame(schema=SWIPERS)
    lo, hi = habit_range(day, tz, days)
    sql = (
        "SELECT o.officer_id FROM officers o WHERE EXISTS (SELECT 1 FROM swipes s "
        "WHERE s.officer_id = o.officer_id AND s.ts >= {p} AND s.ts < {p} AND s.granted)"
    )
    return read_frame(session, sql, [lo, hi], SWIPERS).sort("officer_id")


# Rows of a table with start_at and end_at overlapping [lo, hi): parameters [hi, lo].
_OVERLAPS = "WHERE start_at < {p} AND end_at > {p}"


def load_shifts(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Current versions of the shifts overlapping [lo, hi), ordered by officer and start."""
    frame = select_frame(session, "shifts", SHIFTS, _OVERLAPS, [hi, lo])
    return frame.sort("officer_id", "start_at", "shift_id")


def load_shift_history(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Every stored version of every shift whose current version overlaps [lo, hi)."""
    sql = (
        f"SELECT {dialect(session).select_list(SHIFT_HISTORY, 'v.')} FROM shift_versions v "
        f"WHERE v.shift_id IN (SELECT shift_id FROM shifts {_OVERLAPS})"
    )
    frame = read_frame(session, sql, [hi, lo], SHIFT_HISTORY)
    return frame.sort("shift_id", "version")


def load_overtime(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Overtime claims overlapping [lo, hi), ordered by officer and start."""
    frame = select_frame(session, "overtime_claims", OVERTIME, _OVERLAPS, [hi, lo])
    return frame.sort("officer_id", "start_at", "claim_id")


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
    d = dialect(session)
    schema = DAILY if columns is None else {c: DAILY[c] for c in columns}
    cols = ", ".join(
        ("day AS date" if c == "date" else d.boolean(c) if DAILY[c] == pl.Boolean() else c)
        for c in schema
    )
    sql = f"SELECT {cols} FROM daily_results WHERE day >= {{p}} AND day <= {{p}}"
    if expected_only:
        sql += " AND expected_office"
    frame = read_frame(session, sql, [start, end], schema)
    return frame.sort("officer_id", "date") if ordered else frame
