"""Report reads: compliance rows, an officer's days and flags, everyone's days, the flag list."""

from __future__ import annotations

import base64
from datetime import date
from typing import Any

import orjson
import polars as pl
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from rules.clock import DEFAULT_TIMEZONE, iso_local
from rules.policy import Policy
from store.models import DailyResult, Flag, Officer

COMPLIANCE_CODE = "BELOW_OFFICE_SHARE"
INSUFFICIENT = "insufficient_evidence"
WITHDRAWN = "withdrawn"

DAY_SCHEMA: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "date": pl.Date(),
    "expected_office": pl.Boolean(),
    "declared_location": pl.Utf8(),
    "verified_presence_minutes": pl.Float64(),
    "verified_office_day": pl.Boolean(),
    "evidence": pl.Utf8(),
}


class CursorError(ValueError):
    """A pagination cursor that this module did not issue (or that was altered)."""


def compliance_rows(
    session: Session, start: date, end: date, *, unit: str | None, policy: Policy
) -> list[dict[str, Any]]:
    """One row per office-based officer (CONTRACT §6), sorted by officer_id.

    Counts cover local days ``start``..``end`` inclusive, computed by rules.compliance (the same
    code that raises BELOW_OFFICE_SHARE): insufficient-evidence days are reported and left out of
    the share's denominator and counted in its bounds (``office_share_lower``/``_upper``);
    ``verified_office_share`` is None when too few days could be assessed, and ``meets_policy``
    is False only when even the upper bound is below the rule. Officers without any daily result appear with zeros. ``unit``
    None means every unit.
    """
    from rules.compliance import COMPLIANCE_INPUT, compliance
    from store.dayload import load_daily, load_officers

    officers = load_officers(session)
    if unit is not None:
        officers = officers.filter(pl.col("unit") == unit)
    # compliance() reports only the officers given, so other officers' days need no filtering.
    daily = load_daily(
        session, start, end, expected_only=True, ordered=False, columns=COMPLIANCE_INPUT
    )
    rows, _ = compliance(daily, officers, policy, end, with_findings=False)
    out: list[dict[str, Any]] = []
    for row in rows.iter_rows(named=True):
        share = row["verified_office_share"]
        out.append(
            {
                "officer_id": row["officer_id"],
                "unit": row["unit"],
                "from": start.isoformat(),
                "to": end.isoformat(),
                "expected_office_days": int(row["expected_office_days"]),
                "declared_office_days": int(row["declared_office_days"]),
                "verified_office_days": int(row["verified_office_days"]),
                "verified_office_share": round(share, 4) if share is not None else None,
                "meets_policy": bool(row["meets_policy"]),
                "insufficient_evidence_days": int(row["insufficient_evidence_days"]),
                "office_share_lower": _round(row["office_share_lower"]),
                "office_share_upper": _round(row["office_share_upper"]),
            }
        )
    return out


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def _day_dict(row: DailyResult) -> dict[str, Any]:
    return {
        "date": row.day.isoformat(),
        "expected_office": row.expected_office,
        "declared_location": row.declared_location,
        "verified_presence_minutes": round(float(row.verified_presence_minutes), 1),
        "verified_office_day": row.verified_office_day,
        "evidence": row.evidence,
    }


def flag_dict(flag: Flag, tz: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """A flag's public form (CONTRACT §5/§6); ``raised_at`` is ISO 8601 with ``tz``'s offset."""
    return {
        "flag_id": flag.flag_id,
        "officer_id": flag.officer_id,
        "code": flag.code,
        "date": flag.day.isoformat(),
        "status": flag.status,
        "summary": flag.summary,
        "evidence": flag.evidence,
        "rule_version": flag.rule_version,
        "policy_version": flag.policy_version,
        "misconduct": flag.misconduct,
        "withdrawn": flag.withdrawn_at is not None,
        "raised_at": iso_local(flag.raised_at, tz),
    }


def officer_report(
    session: Session,
    officer_id: str,
    start: date,
    end: date,
    *,
    include_misconduct: bool,
    tz: str,
) -> dict[str, Any] | None:
    """The officer's daily results and flags for local days ``start``..``end``; None if unknown.

    ``include_misconduct=False`` (the HR view) keeps only BELOW_OFFICE_SHARE flags. Withdrawn
    flags are included with ``withdrawn: true`` (they are history, never deleted).
    """
    if session.get(Officer, officer_id) is None:
        return None
    days = session.scalars(
        select(DailyResult)
        .where(
            DailyResult.officer_id == officer_id, DailyResult.day >= start, DailyResult.day <= end
        )
        .order_by(DailyResult.day)
    ).all()
    flag_query = (
        select(Flag)
        .where(Flag.officer_id == officer_id, Flag.day >= start, Flag.day <= end)
        .order_by(Flag.day, Flag.code, Flag.flag_id)
    )
    if not include_misconduct:
        flag_query = flag_query.where(Flag.code == COMPLIANCE_CODE)
    flags = session.scalars(flag_query).all()
    return {
        "officer_id": officer_id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": [_day_dict(d) for d in days],
        "flags": [flag_dict(f, tz) for f in flags],
    }


def day_rows(session: Session, start: date, end: date, *, unit: str | None) -> pl.DataFrame:
    """Every officer's daily results for local days ``start``..``end``: the officer report's day
    fields plus ``officer_id``, sorted by officer_id then date. ``unit`` None means every unit.
    """
    dr = DailyResult
    query = (
        select(
            dr.officer_id,
            dr.day,
            dr.expected_office,
            dr.declared_location,
            dr.verified_presence_minutes,
            dr.verified_office_day,
            dr.evidence,
        )
        .where(dr.day >= start, dr.day <= end)
        .order_by(dr.officer_id, dr.day)
    )
    if unit is not None:
        query = query.join(Officer, Officer.officer_id == dr.officer_id).where(Officer.unit == unit)
    rows = session.execute(query).all()
    frame = (
        pl.DataFrame([tuple(r) for r in rows], schema=DAY_SCHEMA, orient="row")
        if rows
        else pl.DataFrame(schema=DAY_SCHEMA)
    )
    return frame.with_columns(pl.col("verified_presence_minutes").round(1))


def _encode_cursor(day: date, flag_id: str) -> str:
    raw = orjson.dumps([day.isoformat(), flag_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[date, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        day_text, flag_id = orjson.loads(raw)
        return date.fromisoformat(day_text), str(flag_id)
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise CursorError("invalid cursor") from exc


def list_flags(
    session: Session,
    *,
    status: str | None = None,
    code: str | None = None,
    officer_id: str | None = None,
    misconduct: bool | None = None,
    after: str | None = None,
    limit: int = 100,
    tz: str = DEFAULT_TIMEZONE,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of flags, newest day first (ties by flag_id), and the cursor of the next page or None.

    ``status`` is a review status (open, under_review, dismissed, substantiated: withdrawn flags
    are then left out) or ``withdrawn`` (only flags whose finding disappeared); None means all.
    ``after`` is a cursor from a previous page; a cursor not issued here raises CursorError.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(Flag)
    if status == WITHDRAWN:
        query = query.where(Flag.withdrawn_at.is_not(None))
    elif status is not None:
        query = query.where(Flag.status == status, Flag.withdrawn_at.is_(None))
    if code is not None:
        query = query.where(Flag.code == code)
    if officer_id is not None:
        query = query.where(Flag.officer_id == officer_id)
    if misconduct is not None:
        query = query.where(Flag.misconduct.is_(misconduct))
    if after is not None:
        day, flag_id = _decode_cursor(after)
        query = query.where(or_(Flag.day < day, and_(Flag.day == day, Flag.flag_id < flag_id)))
    query = query.order_by(Flag.day.desc(), Flag.flag_id.desc()).limit(limit + 1)
    flags = session.scalars(query).all()
    page = flags[:limit]
    cursor = _encode_cursor(page[-1].day, page[-1].flag_id) if len(flags) > limit else None
    return [flag_dict(f, tz) for f in page], cursor
