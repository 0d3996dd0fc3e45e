"""Reads of a period's roster versions, claims, accounts and late-edit support for rules.integrity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from time import perf_counter

import polars as pl
from sqlalchemy.orm import Session

from rules.clock import day_bounds, local_date
from rules.integrity import ACCOUNTS, CLAIMS, OTHERS, SUPPORT, VERSIONS, PeriodInputs
from rules.masking import ON_DUTY_KINDS
from rules.records import ShiftKind
from store.models import LATE_VERSION_SQL, LONG_SHIFT_HOURS, long_shift_sql
from store.reader import dialect, read_frame, without_jit

# A shift (leave, sickness, rest, duty) is looked up for a claim when it starts at most this long
# before the claim: longer rows (a fortnight's leave as one row) are found only when they start
# within it. Bounds the index range read per claim on (officer_id, start_at).
LOOKBACK = timedelta(days=14)
_PAID = ", ".join(f"'{k}'" for k in ON_DUTY_KINDS)
_NOT_OVERTIME = f"s.kind <> '{ShiftKind.OVERTIME.value}'"


def _period_instants(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """[first local midnight, midnight after the last day) of the period, as UTC instants."""
    return day_bounds(start, tz)[0], day_bounds(end, tz)[1]


def _edited_at(alias: str) -> str:
    return f"COALESCE({alias}.updated_at, {alias}.created_at, {alias}.recorded_at)"


def load_versions(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Versions of on-duty shifts starting in [lo, hi) edited at or after their start, each with
    the version before it (``prev_*``). Shifts entered in advance are left in the database: the
    late versions come from their partial index (ix_shift_versions_late), and on PostgreSQL each
    one's previous version is looked up by primary key, in key order (a hash of every version
    is what the planner picks otherwise, misled by its estimate of the late share)."""
    d = dialect(session)
    i = d.instant
    late = (
        "SELECT shift_id, version, officer_id, start_at, end_at, kind, station_id, "
        f"declared_location, {_edited_at('shift_versions')} AS edited_at, edited_by "
        "FROM shift_versions WHERE start_at >= {p} AND start_at < {p} "
        f"AND kind IN ({_PAID}) AND {LATE_VERSION_SQL}"
    )
    if d.postgres:
        source = (
            f"({late} ORDER BY shift_id, version OFFSET 0) v LEFT JOIN LATERAL "
            "(SELECT start_at, end_at, kind FROM shift_versions p "
            "WHERE p.shift_id = v.shift_id AND p.version = v.version - 1 LIMIT 1) p ON true"
        )
    else:
        source = (
            f"({late}) v LEFT JOIN shift_versions p "
            "ON p.shift_id = v.shift_id AND p.version = v.version - 1"
        )
    sql = (
        "SELECT v.shift_id, v.version, v.officer_id, "
        f"{i('v.start_at')} AS start_at, {i('v.end_at')} AS end_at, v.kind, v.station_id, "
        f"v.declared_location, {i('v.edited_at')} AS edited_at, v.edited_by, "
        f"{i('p.start_at')} AS prev_start_at, {i('p.end_at')} AS prev_end_at, p.kind AS prev_kind "
        f"FROM {source}"
    )
    with without_jit(session):
        return read_frame(session, sql, [lo, hi], VERSIONS)


def load_claims(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Claims starting in [lo, hi) with their approvals."""
    sql = (
        f"SELECT {dialect(session).select_list(CLAIMS)} "
        "FROM overtime_claims WHERE start_at >= {p} AND start_at < {p}"
    )
    with without_jit(session):
        return read_frame(session, sql, [lo, hi], CLAIMS)


def load_overlapping(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """The current shifts (other than ``overtime``) and the other claims of each claimant that
    intersect one of their claims starting in [lo, hi), each once."""
    if dialect(session).postgres:
        return _load_overlapping_pg(session, lo, hi)
    back = str(int(LOOKBACK.total_seconds() * 1_000_000))
    sql = (
        "SELECT DISTINCT s.officer_id AS officer_id, s.shift_id AS item_id, "
        "'shift' AS item_type, s.kind AS kind, s.start_at AS start_at, "
        "s.end_at AS end_at FROM overtime_claims c JOIN shifts s "
        "ON s.officer_id = c.officer_id AND s.start_at < c.end_at AND s.end_at > c.start_at "
        f"AND s.start_at > c.start_at - {back} "
        f"WHERE c.start_at >= {{p}} AND c.start_at < {{p}} AND {_NOT_OVERTIME} "
        "UNION SELECT d.officer_id, d.claim_id, 'claim', 'claim', d.start_at, "
        "d.end_at FROM overtime_claims c JOIN overtime_claims d "
        "ON d.officer_id = c.officer_id AND d.start_at < c.end_at AND d.end_at > c.start_at "
        f"AND d.start_at > c.start_at - {back} AND d.claim_id <> c.claim_id "
        "WHERE c.start_at >= {p} AND c.start_at < {p}"
    )
    return read_frame(session, sql, [lo, hi, lo, hi], OTHERS)


def _load_overlapping_pg(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """load_overlapping on PostgreSQL. Each claim probes the (officer_id, start_at) index for
    shifts starting at most a day and two hours before it (no shorter shift can reach into it)
    and the small partial index of long shifts (ix_shifts_long) LOOKBACK back, instead of reading
    a fortnight of shifts per claim; the planner may run the probes in parallel workers."""
    i = dialect(session).instant
    back = f"interval '{int(LOOKBACK.total_seconds())} seconds'"
    short = f"interval '{LONG_SHIFT_HOURS} hours'"
    overlaps = (
        "{t}.officer_id = c.officer_id AND {t}.start_at < c.end_at AND {t}.end_at > c.start_at"
    )
    period = "WHERE c.start_at >= {p} AND c.start_at < {p}"
    shifts = (
        "SELECT s.officer_id, s.shift_id AS item_id, 'shift' AS item_type, s.kind, s.start_at, "
        f"s.end_at FROM overtime_claims c JOIN shifts s ON {overlaps.format(t='s')} "
        f"AND {_NOT_OVERTIME} AND {{extra}} " + period
    )
    sql = (
        "SELECT DISTINCT officer_id, item_id, item_type, kind, "
        f"{i('start_at')} AS start_at, {i('end_at')} AS end_at FROM ("
        + shifts.replace("{extra}", f"s.start_at > c.start_at - {short}")
        + " UNION ALL "
        + shifts.replace("{extra}", f"s.start_at > c.start_at - {back} AND {long_shift_sql('s')}")
        + " UNION ALL SELECT d.officer_id, d.claim_id, 'claim', 'claim', d.start_at, d.end_at "
        f"FROM overtime_claims c JOIN overtime_claims d ON {overlaps.format(t='d')} "
        f"AND d.start_at > c.start_at - {back} AND d.claim_id <> c.claim_id {period}) found"
    )
    # JIT compiled these probe-bound plans for seconds (5 s of a minute's read at a load
    # average of 37) to save nothing.
    with without_jit(session):
        return read_frame(session, sql, [lo, hi] * 3, OTHERS)


def load_accounts(session: Session) -> pl.DataFrame:
    """officer_id and rostering account of every officer whose account is known."""
    sql = "SELECT officer_id, account_id FROM officers WHERE account_id IS NOT NULL"
    return read_frame(session, sql, [], ACCOUNTS)


def load_support(session: Session, versions: pl.DataFrame, tz: str) -> pl.DataFrame:
    """For the officer and local start day of each of ``versions``, the on-duty minutes the
    daily run found added after the fact and the station presence inside them (days where the
    daily run found nothing added late are left out). Primary-key reads of daily_results."""
    if versions.is_empty():
        return pl.DataFrame(schema=SUPPORT)
    keys = versions.select("officer_id", day=local_date(pl.col("start_at"), tz)).unique()
    keys = keys.sort("officer_id", "day")
    officers, days = keys["officer_id"].to_list(), keys["day"].to_list()
    d = dialect(session)
    added = d.json_float("d.details", "late_added_minutes")
    presence = d.json_float("d.details", "late_presence_minutes")
    source, on, params = d.join_pairs("d", ("officer_id", "day"), officers, days)
    sql = (
        f"SELECT d.officer_id AS officer_id, d.day AS date, {added} AS late_added_minutes, "
        f"{presence} AS late_presence_minutes FROM {source} JOIN daily_results d ON {on} "
        f"WHERE {added} IS NOT NULL"
    )
    return read_frame(session, sql, params, SUPPORT)


def load_period_inputs(
    session: Session,
    start: date,
    end: date,
    tz: str,
    timings: dict[str, float] | None = None,
) -> PeriodInputs:
    """Everything rules.integrity.evaluate_period reads for local days start..end (inclusive).

    No location event is read: the support of late edits comes from the stored daily results,
    which hold only on-duty presence. ``timings`` (when given) receives the seconds of each read
    as ``read_<frame>``.
    """
    lo, hi = _period_instants(start, end, tz)
    spent = timings if timings is not None else {}

    def timed(name: str, read: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        t0 = perf_counter()
        frame = read()
        spent[f"read_{name}"] = perf_counter() - t0
        return frame

    versions = timed("versions", lambda: load_versions(session, lo, hi))
    return PeriodInputs(
        start=start,
        end=end,
        tz=tz,
        versions=versions,
        claims=timed("claims", lambda: load_claims(session, lo, hi)),
        others=timed("others", lambda: load_overlapping(session, lo, hi)),
        accounts=timed("accounts", lambda: load_accounts(session)),
        support=timed("support", lambda: load_support(session, versions, tz)),
    )
