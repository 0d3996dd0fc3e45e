"""Everything held about one officer, table by table, for a subject access request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.clock import iso_local
from rules.disclosure import disclosed
from store.access import access_log
from store.cases import closed_cases
from store.models import (
    Adjustment,
    BadgeAssignment,
    DailyResult,
    DayContest,
    DeviceAssignment,
    Flag,
    FlagResponse,
    FlagReview,
    Officer,
    OvertimeClaim,
    Ping,
    ShiftVersion,
    Swipe,
    Visit,
)

# (file stem, model, columns, order): the officer's rows of each table, as stored.
TABLES: tuple[tuple[str, Any, tuple[str, ...], tuple[str, ...]], ...] = (
    (
        "devices",
        DeviceAssignment,
        ("device_id", "valid_from", "valid_to", "platform"),
        ("valid_from",),
    ),
    ("badges", BadgeAssignment, ("badge_id", "valid_from", "valid_to"), ("valid_from",)),
    (
        "shift_versions",
        ShiftVersion,
        (
            "shift_id",
            "version",
            "start_at",
            "end_at",
            "kind",
            "station_id",
            "declared_location",
            "created_at",
            "updated_at",
            "recorded_at",
        ),
        ("start_at", "shift_id", "version"),
    ),
    (
        "overtime_claims",
        OvertimeClaim,
        ("claim_id", "start_at", "end_at", "station_id", "submitted_at"),
        ("start_at", "claim_id"),
    ),
    (
        "pings",
        Ping,
        ("device_id", "ts", "lat", "lon", "accuracy_m", "source", "is_mock"),
        ("ts", "device_id"),
    ),
    (
        "swipes",
        Swipe,
        ("badge_id", "ts", "reader_id", "station_id", "direction", "granted"),
        ("ts", "badge_id"),
    ),
    (
        "visits",
        Visit,
        ("device_id", "arrived_at", "departed_at", "departure_known", "lat", "lon", "accuracy_m"),
        ("arrived_at", "device_id"),
    ),
    (
        "daily_results",
        DailyResult,
        (
            "day",
            "expected_office",
            "declared_location",
            "verified_presence_minutes",
            "verified_office_day",
            "evidence",
            "policy_version",
            "details",
        ),
        ("day",),
    ),
    (
        "day_contests",
        DayContest,
        (
            "contest_id",
            "day",
            "at",
            "category",
            "statement",
            "status",
            "answered_at",
            "answered_by",
            "answered_role",
            "reason",
        ),
        ("day", "contest_id"),
    ),
    (
        "adjustments",
        Adjustment,
        ("adjustment_id", "day", "effect", "contest_id", "made_at", "made_by", "role", "reason"),
        ("day", "adjustment_id"),
    ),
)


def _plain(value: Any, tz: str) -> Any:
    if isinstance(value, datetime):
        return iso_local(value, tz)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(
    session: Session,
    model: Any,
    columns: tuple[str, ...],
    order: tuple[str, ...],
    officer_id: str,
    tz: str,
) -> list[dict[str, Any]]:
    query = (
        select(*(getattr(model, c) for c in columns))
        .where(model.officer_id == officer_id)
        .order_by(*(getattr(model, c) for c in order))
    )
    return [
        {c: _plain(v, tz) for c, v in zip(columns, row, strict=True)}
        for row in session.execute(query)
    ]


def profile(session: Session, officer_id: str, tz: str) -> dict[str, Any] | None:
    """The officer's record as imported, or None for an unknown officer."""
    officer = session.get(Officer, officer_id)
    if officer is None:
        return None
    return {
        "officer_id": officer.officer_id,
        "display_name": officer.display_name,
        "rank": officer.rank,
        "unit": officer.unit,
        "home_station_id": officer.home_station_id,
        "office_based": officer.office_based,
        "updated_at": iso_local(officer.updated_at, tz),
    }


def flags_with_history(
    session: Session, officer_id: str, *, tz: str, now: datetime, disclosure_days: int
) -> list[dict[str, Any]]:
    """Every flag of the officer with its reviews (those under a case still open left out, as in
    the access log) and the officer's responses."""
    flags = list(
        session.scalars(
            select(Flag).where(Flag.officer_id == officer_id).order_by(Flag.day, Flag.flag_id)
        )
    )
    ids = [f.flag_id for f in flags]
    reviews: dict[str, list[FlagReview]] = {}
    answers: dict[str, list[FlagResponse]] = {}
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        for r in session.scalars(
            select(FlagReview).where(FlagReview.flag_id.in_(chunk)).order_by(FlagReview.review_id)
        ):
            reviews.setdefault(r.flag_id, []).append(r)
        for a in session.scalars(
            select(FlagResponse)
            .where(FlagResponse.flag_id.in_(chunk))
            .order_by(FlagResponse.response_id)
        ):
            answers.setdefault(a.flag_id, []).append(a)
    closed = closed_cases(session, [r.case_ref for rs in reviews.values() for r in rs])
    out = []
    for f in flags:
        out.append(
            {
                "flag_id": f.flag_id,
                "code": f.code,
                "date": f.day.isoformat(),
                "status": f.status,
                "misconduct": f.misconduct,
                "summary": f.summary,
                "evidence": f.evidence,
                "rule_version": f.rule_version,
                "policy_version": f.policy_version,
                "raised_at": iso_local(f.raised_at, tz),
                "withdrawn_at": iso_local(f.withdrawn_at, tz) if f.withdrawn_at else None,
                "reviews": [
                    {
                        "at": iso_local(r.at, tz),
                        "actor": r.actor,
                        "role": r.role,
                        "from_status": r.from_status,
                        "to_status": r.to_status,
                        "kind": r.kind,
                        "note": r.note,
                        "case_ref": r.case_ref,
                    }
                    for r in reviews.get(f.flag_id, [])
                    if disclosed(
                        r.case_ref, r.at, closed=closed, now=now, disclosure_days=disclosure_days
                    )
                ],
                "responses": [
                    {
                        "at": iso_local(a.at, tz),
                        "actor": a.actor,
                        "category": a.category,
                        "statement": a.statement,
                    }
                    for a in answers.get(f.flag_id, [])
                ],
            }
        )
    return out


def tables(
    session: Session, officer_id: str, *, tz: str
) -> Iterator[tuple[str, tuple[str, ...], list[dict[str, Any]]]]:
    """(name, columns, rows) of each table holding the officer's rows."""
    for name, model, columns, order in TABLES:
        yield name, columns, _rows(session, model, columns, order, officer_id, tz)


def access_entries(
    session: Session, officer_id: str, *, tz: str, now: datetime, disclosure_days: int
) -> list[dict[str, Any]]:
    """The officer's whole access log (store.access), oldest first."""
    out: list[dict[str, Any]] = []
    after: int | None = None
    while True:
        page, after = access_log(
            session,
            officer_id,
            now=now,
            disclosure_days=disclosure_days,
            after_seq=after,
            limit=5000,
        )
        out.extend(
            {
                "at": iso_local(e.at, tz),
                "actor": e.actor,
                "role": e.role,
                "action": e.action,
                "purpose": e.purpose,
                "case_ref": e.case_ref,
            }
            for e in page
        )
        if after is None:
            return out
