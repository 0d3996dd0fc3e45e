"""Report reads: compliance rows, an officer's days and flags, everyone's days, the flag list."""

from __future__ import annotations

import base64
import difflib
from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
import polars as pl
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from rules.clock import DEFAULT_TIMEZONE, iso_local
from rules.daily import INSUFFICIENT
from rules.findings import coarsen
from rules.flags.below_office_share import CODE as COMPLIANCE_CODE
from rules.policy import Policy
from rules.records import DeclaredLocation
from store.dayload import DAILY
from store.models import Adjustment, DailyResult, Flag, Officer
from store.reader import postgres_setting, read_frame, select_frame

WITHDRAWN = "withdrawn"

# A stored day as reports show it: the daily result without its policy version.
DAY_SCHEMA: dict[str, pl.DataType] = {c: t for c, t in DAILY.items() if c != "policy_version"}


class CursorError(ValueError):
    """A pagination cursor that this module did not issue (or that was altered)."""


class FilterError(ValueError):
    """A unit or rank filter that matches no officer; names the nearest known values."""

    def __init__(self, field: str, value: str, nearest: list[str]) -> None:
        hint = f"; nearest known: {', '.join(nearest)}" if nearest else "; none are known"
        super().__init__(f"unknown {field} {value!r}{hint}")
        self.field, self.value, self.nearest = field, value, nearest


def _known(session: Session, column: Any) -> list[str]:
    return [v for v in session.scalars(select(column).distinct().order_by(column)) if v]


def match_filter(session: Session, field: str, value: str | None) -> list[str] | None:
    """The stored spellings of officers' ``field`` (``unit`` or ``rank``) equal to ``value``
    ignoring case; None when ``value`` is None. Raises FilterError naming up to five nearest
    known values (by similarity, ignoring case) when none matches."""
    if value is None:
        return None
    column = Officer.unit if field == "unit" else Officer.rank
    known = _known(session, column)
    wanted = value.strip().casefold()
    matches = [k for k in known if k.casefold() == wanted]
    if matches:
        return matches
    folded: dict[str, list[str]] = {}
    for k in known:
        folded.setdefault(k.casefold(), []).append(k)
    close = difflib.get_close_matches(wanted, list(folded), n=5, cutoff=0.4)
    nearest = [spelling for c in close for spelling in folded[c]]
    nearest += [k for k in known if wanted in k.casefold() and k not in nearest]
    raise FilterError(field, value, nearest[:5] or known[:5])


_PEOPLE: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "unit": pl.Utf8(),
    "office_based": pl.Boolean(),
    "display_name": pl.Utf8(),
    "rank": pl.Utf8(),
}
_COUNTS: dict[str, pl.DataType] = {
    "officer_id": pl.Utf8(),
    "expected_office_days": pl.Int64(),
    "declared_office_days": pl.Int64(),
    "verified_office_days": pl.Int64(),
    "insufficient_evidence_days": pl.Int64(),
    "_verified_declared": pl.Int64(),
}
# rules.compliance.period_counts in SQL, over expected office days (one row per officer and day:
# the primary key, so a count of rows is a count of distinct days). A NULL condition counts the
# day in neither side, as a null does in Polars' filter.
_OFFICE = f"declared_location = '{DeclaredLocation.OFFICE.value}'"
_COUNTS_SQL = (
    "SELECT officer_id, COUNT(*) AS expected_office_days, "
    f"SUM(CASE WHEN {_OFFICE} THEN 1 ELSE 0 END) AS declared_office_days, "
    "SUM(CASE WHEN verified_office_day THEN 1 ELSE 0 END) AS verified_office_days, "
    f"SUM(CASE WHEN {_OFFICE} AND evidence = '{INSUFFICIENT}' AND NOT verified_office_day "
    "THEN 1 ELSE 0 END) AS insufficient_evidence_days, "
    f"SUM(CASE WHEN {_OFFICE} AND verified_office_day THEN 1 ELSE 0 END) AS _verified_declared "
    "FROM daily_results WHERE day >= {p} AND day <= {p} AND expected_office "
    "GROUP BY officer_id"
)


# Memory for the counts' grouping on PostgreSQL: 46,000 officers' groups take about 14 MB per
# worker, over the default 4 MB work_mem (8 MB for a hash), which spilled them to disk in
# batches and then sorted them on disk again.
COUNTS_WORK_MEM = "32MB"


def period_counts_of(session: Session, start: date, end: date) -> pl.DataFrame:
    """rules.compliance.period_counts of the stored daily results of local days
    ``start``..``end``, computed by the database: one row per officer instead of one per day
    (a month of 46,000 officers: 46,000 rows read instead of about a million)."""
    with postgres_setting(session, "work_mem", COUNTS_WORK_MEM):
        return read_frame(session, _COUNTS_SQL, [start, end], _COUNTS)


def _people(session: Session) -> pl.DataFrame:
    """Every officer: id, unit, office_based, display name and rank, in one read."""
    return select_frame(session, "officers", _PEOPLE)


def compliance_frame(
    session: Session,
    start: date,
    end: date,
    *,
    unit: str | None,
    policy: Policy,
    rank: str | None = None,
) -> pl.DataFrame:
    """The compliance rows (see compliance_rows) as a frame with ``display_name`` and ``rank``
    after ``officer_id``. ``unit`` and ``rank`` match ignoring case (FilterError if unknown).
    The day counts are summed by the database (period_counts_of) and the shares computed from
    them by rules.compliance, the code that raises BELOW_OFFICE_SHARE."""
    from rules.compliance import compliance_of_counts

    units = match_filter(session, "unit", unit)
    ranks = match_filter(session, "rank", rank)
    people = _people(session)
    if units is not None:
        people = people.filter(pl.col("unit").is_in(units))
    if ranks is not None:
        people = people.filter(pl.col("rank").is_in(ranks))
    # compliance_of_counts reports only the officers given, so other officers' counts need no
    # filtering.
    counts = period_counts_of(session, start, end)
    rows, _ = compliance_of_counts(
        counts, people.drop("display_name", "rank"), policy, start, end, with_findings=False
    )
    rows = rows.join(
        people.select("officer_id", "display_name", "rank"), on="officer_id", how="left"
    )
    rows = rows.with_columns(
        pl.col("verified_office_share", "office_share_lower", "office_share_upper").round(4),
        pl.col(
            "expected_office_days",
            "declared_office_days",
            "verified_office_days",
            "insufficient_evidence_days",
        ).cast(pl.Int64),
    )
    first = ["officer_id", "display_name", "rank", "unit"]
    return rows.select(first + [c for c in rows.columns if c not in first]).sort("officer_id")


def compliance_rows(
    session: Session,
    start: date,
    end: date,
    *,
    unit: str | None,
    policy: Policy,
    rank: str | None = None,
) -> list[dict[str, Any]]:
    """One row per office-based officer (CONTRACT §6), sorted by officer_id.

    Counts cover local days ``start``..``end`` inclusive, computed by rules.compliance (the same
    code that raises BELOW_OFFICE_SHARE): insufficient-evidence days are reported and left out of
    the share's estimate and counted in its bounds (``office_share_lower``/``_upper``);
    ``verified_office_share`` is None when too few days could be assessed, and ``meets_policy``
    is False only when even the upper bound is below the rule. Officers without any daily result appear with zeros. ``unit``
    and ``rank`` None mean every unit and rank; otherwise they match ignoring case, and an unknown
    one raises FilterError. Rows carry ``display_name`` and ``rank`` (HR and investigators only).
    """
    frame = compliance_frame(session, start, end, unit=unit, rank=rank, policy=policy)
    return compliance_dicts(frame, start, end)


COMPLIANCE_FIELDS = (
    "officer_id",
    "display_name",
    "rank",
    "unit",
    "expected_office_days",
    "declared_office_days",
    "verified_office_days",
    "verified_office_share",
    "meets_policy",
    "insufficient_evidence_days",
)


def compliance_dicts(frame: pl.DataFrame, start: date, end: date) -> list[dict[str, Any]]:
    """compliance_frame rows as the dicts of the JSON report, each with the period's bounds."""
    period = {"from": start.isoformat(), "to": end.isoformat()}
    columns = [c for c in COMPLIANCE_FIELDS if c in frame.columns]
    columns += [c for c in frame.columns if c not in columns]
    return [{**row, **period} for row in frame.select(columns).iter_rows(named=True)]


UNIT_SCHEMA: dict[str, pl.DataType] = {
    "unit": pl.Utf8(),
    "officers": pl.Int64(),
    "officers_assessed": pl.Int64(),
    "officers_meeting_policy": pl.Int64(),
    "officers_below_policy": pl.Int64(),
    "median_share": pl.Float64(),
    "p10_share": pl.Float64(),
    "expected_office_days": pl.Int64(),
    "verified_office_days": pl.Int64(),
    "insufficient_evidence_days": pl.Int64(),
}


def unit_rollup(frame: pl.DataFrame) -> pl.DataFrame:
    """Compliance rows (compliance_frame) summed per unit, sorted by unit (officers without a
    unit under null, last).

    ``officers``: office-based officers; ``officers_assessed``: those with a share (at least
    one expected day with adequate evidence); ``officers_meeting_policy`` and
    ``officers_below_policy`` split the assessed ones; ``median_share`` and ``p10_share`` (10th
    percentile, linear interpolation) over the assessed officers' shares, null when none is
    assessed; day counts summed over the unit's officers.
    """
    share = pl.col("verified_office_share")
    assessed = share.is_not_null()
    out = frame.group_by("unit").agg(
        officers=pl.len().cast(pl.Int64),
        officers_assessed=assessed.sum().cast(pl.Int64),
        officers_meeting_policy=(assessed & pl.col("meets_policy")).sum().cast(pl.Int64),
        officers_below_policy=(~pl.col("meets_policy")).sum().cast(pl.Int64),
        median_share=share.median().round(4),
        p10_share=share.quantile(0.1, interpolation="linear").round(4),
        expected_office_days=pl.col("expected_office_days").sum().cast(pl.Int64),
        verified_office_days=pl.col("verified_office_days").sum().cast(pl.Int64),
        insufficient_evidence_days=pl.col("insufficient_evidence_days").sum().cast(pl.Int64),
    )
    return out.select(list(UNIT_SCHEMA)).cast(UNIT_SCHEMA).sort("unit", nulls_last=True)  # type: ignore[arg-type]


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
        "evidence": coarsen(flag.evidence),
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
        "days": _with_adjustments(session, officer_id, start, end, days, tz),
        "flags": [flag_dict(f, tz) for f in flags],
    }


def officer_labels(session: Session, officer_id: str) -> dict[str, str | None]:
    """The officer's display name, rank and unit (all None for an unknown officer)."""
    officer = session.get(Officer, officer_id)
    if officer is None:
        return {"display_name": None, "rank": None, "unit": None}
    return {"display_name": officer.display_name, "rank": officer.rank, "unit": officer.unit}


def adjustment_dict(adj: Adjustment, tz: str, applied: bool | None = None) -> dict[str, Any]:
    """An adjustment's public form: who, when, why and what it changes."""
    return {
        "adjustment_id": adj.adjustment_id,
        "officer_id": adj.officer_id,
        "date": adj.day.isoformat(),
        "effect": adj.effect,
        "contest_id": adj.contest_id,
        "made_at": iso_local(adj.made_at, tz),
        "made_by": adj.made_by,
        "role": adj.role,
        "reason": adj.reason,
        "applied": applied,
    }


def _with_adjustments(
    session: Session,
    officer_id: str,
    start: date,
    end: date,
    days: Sequence[DailyResult],
    tz: str,
) -> list[dict[str, Any]]:
    """Day rows, each with its adjustments and whether the stored result includes them."""
    from store.reply import adjustments_of

    by_day: dict[date, list[Adjustment]] = {}
    for adj in adjustments_of(session, officer_id, start, end):
        by_day.setdefault(adj.day, []).append(adj)
    out = []
    for d in days:
        row = _day_dict(d)
        applied = set((d.details or {}).get("adjustment_ids") or ())
        row["adjustments"] = [
            adjustment_dict(a, tz, a.adjustment_id in applied) for a in by_day.get(d.day, [])
        ]
        out.append(row)
    return out


def day_rows(
    session: Session, start: date, end: date, *, unit: str | None, rank: str | None = None
) -> pl.DataFrame:
    """Every officer's daily results for local days ``start``..``end``: the officer report's day
    fields plus ``officer_id``, sorted by officer_id then date. ``unit`` and ``rank`` None mean
    every unit and rank; otherwise they match ignoring case (FilterError when unknown).
    """
    units = match_filter(session, "unit", unit)
    ranks = match_filter(session, "rank", rank)
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
    if units is not None or ranks is not None:
        query = query.join(Officer, Officer.officer_id == dr.officer_id)
    if units is not None:
        query = query.where(Officer.unit.in_(units))
    if ranks is not None:
        query = query.where(Officer.rank.in_(ranks))
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
    return with_review_state(session, [flag_dict(f, tz) for f in page], tz), cursor


def with_review_state(
    session: Session, flags: list[dict[str, Any]], tz: str = DEFAULT_TIMEZONE
) -> list[dict[str, Any]]:
    """``flags`` (flag_dict forms) with ``last_reviewer``, ``last_reviewed_at`` and ``responded``."""
    from store.flag_review import review_states

    states: dict[str, Any] = {}
    ids = [f["flag_id"] for f in flags]
    for i in range(0, len(ids), 5000):
        states.update(review_states(session, ids[i : i + 5000]))
    for f in flags:
        state = states[f["flag_id"]]
        f["last_reviewer"] = state.last_reviewer
        f["last_reviewed_at"] = (
            iso_local(state.last_reviewed_at, tz) if state.last_reviewed_at else None
        )
        f["responded"] = state.responses > 0
    return flags


def case_record(
    session: Session, officer_id: str, start: date, end: date, *, tz: str
) -> dict[str, Any]:
    """What a case file adds to a timeline for local days ``start``..``end``: the officer
    (id, display name, rank, unit), the day results, and every flag of the period (misconduct
    ones included, withdrawn ones marked) with its review history, oldest change first."""
    from store.models import FlagReview

    officer = session.get(Officer, officer_id)
    report = officer_report(session, officer_id, start, end, include_misconduct=True, tz=tz)
    days: list[dict[str, Any]] = report["days"] if report else []
    flags: list[dict[str, Any]] = report["flags"] if report else []
    ids = [f["flag_id"] for f in flags]
    history: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for review in session.scalars(
            select(FlagReview)
            .where(FlagReview.flag_id.in_(ids))
            .order_by(FlagReview.at, FlagReview.review_id)
        ):
            history[review.flag_id].append(
                {
                    "at": iso_local(review.at, tz),
                    "actor": review.actor,
                    "role": review.role,
                    "from_status": review.from_status,
                    "to_status": review.to_status,
                    "note": review.note,
                }
            )
    return {
        "officer": {
            "officer_id": officer_id,
            "display_name": officer.display_name if officer else None,
            "rank": officer.rank if officer else None,
            "unit": officer.unit if officer else None,
        },
        "days": days,
        "flags": [{**f, "reviews": history[f["flag_id"]]} for f in flags],
    }
