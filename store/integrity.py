"""Reads of a period's roster versions, claims, accounts and late-edit support for rules.integrity."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from rules.clock import day_bounds, local_date
from rules.integrity import ACCOUNTS, CLAIMS, OTHERS, SUPPORT, VERSIONS, PeriodInputs
from rules.masking import ON_DUTY_KINDS
from store.dayload import _instant_sql, read_frame
from store.db import is_postgres

# A shift (leave, sickness, rest, duty) is looked up for a claim when it starts at most this long
# before the claim: longer rows (a fortnight's leave as one row) are found only when they start
# within it. Bounds the index range read per claim on (officer_id, start_at).
LOOKBACK = timedelta(days=14)
_PAID = ", ".join(f"'{k}'" for k in ON_DUTY_KINDS)


def _period_instants(start: date, end: date, tz: str) -> tuple[datetime, datetime]:
    """[first local midnight, midnight after the last day) of the period, as UTC instants."""
    return day_bounds(start, tz)[0], day_bounds(end, tz)[1]


def _edited_at(alias: str) -> str:
    return f"COALESCE({alias}.updated_at, {alias}.created_at, {alias}.recorded_at)"


def load_versions(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Versions of on-duty shifts starting in [lo, hi) edited at or after their start, each with
    the version before it (``prev_*``). Shifts entered in advance are left in the database."""
    pg = is_postgres(session)

    def i(column: str) -> str:
        return _instant_sql(column, pg)

    sql = (
        "SELECT v.shift_id, v.version, v.officer_id, "
        f"{i('v.start_at')} AS start_at, {i('v.end_at')} AS end_at, v.kind, v.station_id, "
        f"v.declared_location, {i(_edited_at('v'))} AS edited_at, v.edited_by, "
        f"{i('p.start_at')} AS prev_start_at, {i('p.end_at')} AS prev_end_at, p.kind AS prev_kind "
        "FROM shift_versions v LEFT JOIN shift_versions p "
        "ON p.shift_id = v.shift_id AND p.version = v.version - 1 "
        f"WHERE v.start_at >= {{p}} AND v.start_at < {{p}} AND v.kind IN ({_PAID}) "
        f"AND {_edited_at('v')} > v.start_at"
    )
    return read_frame(session, sql, [lo, hi], VERSIONS)


def load_claims(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """Claims starting in [lo, hi) with their approvals."""
    pg = is_postgres(session)
    sql = (
        f"SELECT claim_id, officer_id, {_instant_sql('start_at', pg)} AS start_at, "
        f"{_instant_sql('end_at', pg)} AS end_at, station_id, "
        f"{_instant_sql('submitted_at', pg)} AS submitted_at, "
        f"approved_by, {_instant_sql('approved_at', pg)} AS approved_at "
        "FROM overtime_claims WHERE start_at >= {p} AND start_at < {p}"
    )
    return read_frame(session, sql, [lo, hi], CLAIMS)


def load_overlapping(session: Session, lo: datetime, hi: datetime) -> pl.DataFrame:
    """The current shifts (other than ``overtime``) and the other claims of each claimant that
    intersect one of their claims starting in [lo, hi), each once."""
    pg = is_postgres(session)
    back = "interval '14 days'" if pg else str(int(LOOKBACK.total_seconds() * 1_000_000))
    i = _instant_sql
    sql = (
        "SELECT DISTINCT s.officer_id AS officer_id, s.shift_id AS item_id, "
        f"'shift' AS item_type, s.kind AS kind, {i('s.start_at', pg)} AS start_at, "
        f"{i('s.end_at', pg)} AS end_at FROM overtime_claims c JOIN shifts s "
        "ON s.officer_id = c.officer_id AND s.start_at < c.end_at AND s.end_at > c.start_at "
        f"AND s.start_at > c.start_at - {back} "
        "WHERE c.start_at >= {p} AND c.start_at < {p} AND s.kind <> 'overtime' "
        f"UNION SELECT d.officer_id, d.claim_id, 'claim', 'claim', {i('d.start_at', pg)}, "
        f"{i('d.end_at', pg)} FROM overtime_claims c JOIN overtime_claims d "
        "ON d.officer_id = c.officer_id AND d.start_at < c.end_at AND d.end_at > c.start_at "
        f"AND d.start_at > c.start_at - {back} AND d.claim_id <> c.claim_id "
        "WHERE c.start_at >= {p} AND c.start_at < {p}"
    )
    return read_frame(session, sql, [lo, hi, lo, hi], OTHERS)


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
    if is_postgres(session):
        added = "(d.details->>'late_added_minutes')::float8"
        presence = "(d.details->>'late_presence_minutes')::float8"
        source = "unnest({p}::text[], {p}::date[]) AS k(officer_id, day)"
        params: list[Any] = [officers, days]
        on = "d.officer_id = k.officer_id AND d.day = k.day"
    else:
        added = "json_extract(d.details, '$.late_added_minutes')"
        presence = "json_extract(d.details, '$.late_presence_minutes')"
        source = "json_each({p}) AS k"
        pairs = [[o, day.isoformat()] for o, day in zip(officers, days, strict=True)]
        params = [json.dumps(pairs)]
        on = (
            "d.officer_id = json_extract(k.value, '$[0]') AND d.day = json_extract(k.value, '$[1]')"
        )
    sql = (
        f"SELECT d.officer_id AS officer_id, d.day AS date, {added} AS late_added_minutes, "
        f"{presence} AS late_presence_minutes FROM {source} JOIN daily_results d ON {on} "
        f"WHERE {added} IS NOT NULL"
    )
    return read_frame(session, sql, params, SUPPORT)


def load_period_inputs(session: Session, start: date, end: date, tz: str) -> PeriodInputs:
    """Everything rules.integrity.evaluate_period reads for local days start..end (inclusive).

    No location event is read: the support of late edits comes from the stored daily results,
    which hold only on-duty presence.
    """
    lo, hi = _period_instants(start, end, tz)
    versions = load_versions(session, lo, hi)
    return PeriodInputs(
        start=start,
        end=end,
        tz=tz,
        versions=versions,
        claims=load_claims(session, lo, hi),
        others=load_overlapping(session, lo, hi),
        accounts=load_accounts(session),
        support=load_support(session, versions, tz),
    )
