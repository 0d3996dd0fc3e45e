"""The officer's right of reply: responses to flags, contests of days, and their answers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from rules.adjust import ADJUSTMENTS_SCHEMA, EFFECTS, NOT_EXPECTED, VERIFIED_OFFICE_DAY
from rules.records import ContestStatus, ReplyCategory
from store.models import Adjustment, DailyResult, DayContest, Flag, FlagResponse, RecomputeMark
from store.reader import dialect

CATEGORIES = tuple(c.value for c in ReplyCategory)
OPEN = ContestStatus.OPEN.value
UPHELD = ContestStatus.UPHELD.value
NOT_UPHELD = ContestStatus.NOT_UPHELD.value
# What upholding a contest changes when the answer does not say (``other`` must say).
DEFAULT_EFFECT = {
    ReplyCategory.OTHER_STATION.value: VERIFIED_OFFICE_DAY,
    ReplyCategory.DEVICE_PROBLEM.value: VERIFIED_OFFICE_DAY,
    ReplyCategory.ROSTER_ERROR.value: NOT_EXPECTED,
    ReplyCategory.LEAVE_NOT_RECORDED.value: NOT_EXPECTED,
}


class ContestNotFoundError(LookupError):
    """No contest has the given id."""


class NoSuchDayError(LookupError):
    """The officer has no computed result on that day, so there is nothing to contest."""


class ContestConflictError(ValueError):
    """The contest cannot be answered as asked (already answered, or no effect given)."""


def statement_digest(statement: str) -> str:
    """SHA-256 of ``statement`` (UTF-8), hex: with the reply's subject, its natural key."""
    return hashlib.sha256(statement.encode()).hexdigest()


def respond_to_flag(
    session: Session, flag: Flag, *, category: str, statement: str, actor: str, now: datetime
) -> tuple[FlagResponse, bool]:
    """Record the officer's answer to ``flag``; flushes. The same category and statement sent
    again returns the stored answer and True (a retried request records nothing twice), also
    when both requests are in flight at once: the second waits for the first to commit."""
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
    digest = statement_digest(statement)
    inserted = session.execute(
        dialect(session)
        .insert(FlagResponse)
        .values(
            flag_id=flag.flag_id,
            officer_id=flag.officer_id,
            at=now,
            actor=actor,
            category=category,
            statement=statement,
            statement_digest=digest,
        )
        .on_conflict_do_nothing(index_elements=["flag_id", "category", "statement_digest"])
        .returning(FlagResponse.response_id)
    ).scalar_one_or_none()
    stored = session.scalars(
        select(FlagResponse).where(
            FlagResponse.flag_id == flag.flag_id,
            FlagResponse.category == category,
            FlagResponse.statement_digest == digest,
        )
    ).one()
    return stored, inserted is None


def contest_day(
    session: Session,
    officer_id: str,
    day: date,
    *,
    category: str,
    statement: str,
    actor: str,
    now: datetime,
) -> tuple[DayContest, bool]:
    """Record the officer's contest of their result on local ``day``; flushes. NoSuchDayError
    when there is no result that day; the same contest sent again (also at the same instant)
    is returned with True."""
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
    if session.get(DailyResult, (officer_id, day)) is None:
        raise NoSuchDayError(f"no result for {day.isoformat()} to contest")
    digest = statement_digest(statement)
    inserted = session.execute(
        dialect(session)
        .insert(DayContest)
        .values(
            officer_id=officer_id,
            day=day,
            at=now,
            actor=actor,
            category=category,
            statement=statement,
            statement_digest=digest,
            status=OPEN,
        )
        .on_conflict_do_nothing(
            index_elements=["officer_id", "day", "category", "statement_digest"]
        )
        .returning(DayContest.contest_id)
    ).scalar_one_or_none()
    stored = session.scalars(
        select(DayContest).where(
            DayContest.officer_id == officer_id,
            DayContest.day == day,
            DayContest.category == category,
            DayContest.statement_digest == digest,
        )
    ).one()
    return stored, inserted is None


@dataclass(frozen=True)
class ContestAnswer:
    """The answered contest and, when upheld, the adjustment it made."""

    contest: DayContest
    adjustment: Adjustment | None


def answer_contest(
    session: Session,
    contest_id: int,
    *,
    outcome: str,
    reason: str,
    effect: str | None,
    actor: str,
    role: str,
    now: datetime,
) -> ContestAnswer:
    """Answer an open contest ``upheld`` or ``not_upheld`` with a reason; flushes.

    Upheld, it records an adjustment (who, when, why, ``effect``: the answer's, else the
    category's default) and marks the day for recomputation; the nightly job applies it. A
    contest is answered once (ContestConflictError after), and the row is locked first so two
    answers at once cannot both pass.
    """
    if outcome not in (UPHELD, NOT_UPHELD):
        raise ValueError("outcome must be upheld or not_upheld")
    if effect is not None and effect not in EFFECTS:
        raise ValueError(f"effect must be one of {', '.join(EFFECTS)}")
    session.execute(
        update(DayContest)
        .where(DayContest.contest_id == contest_id)
        .values(status=DayContest.status)
    )
    contest = session.get(DayContest, contest_id, populate_existing=True)
    if contest is None:
        raise ContestNotFoundError(str(contest_id))
    if contest.status != OPEN:
        raise ContestConflictError(f"contest was already answered {contest.status}")
    adjustment = None
    if outcome == UPHELD:
        effect = effect or DEFAULT_EFFECT.get(contest.category)
        if effect is None:
            raise ContestConflictError(f"say which effect upholding it has: {' or '.join(EFFECTS)}")
        adjustment = Adjustment(
            officer_id=contest.officer_id,
            day=contest.day,
            effect=effect,
            contest_id=contest.contest_id,
            made_at=now,
            made_by=actor,
            role=role,
            reason=reason,
        )
        session.add(adjustment)
        mark = session.get(RecomputeMark, (contest.officer_id, contest.day))
        if mark is None:
            session.add(
                RecomputeMark(
                    officer_id=contest.officer_id,
                    day=contest.day,
                    marked_at=now,
                    reason="adjustment",
                )
            )
    contest.status = outcome
    contest.answered_at = now
    contest.answered_by = actor
    contest.answered_role = role
    contest.reason = reason
    session.flush()
    return ContestAnswer(contest, adjustment)


def get_contest(session: Session, contest_id: int) -> DayContest:
    """The contest ``contest_id``; ContestNotFoundError when there is none."""
    contest = session.get(DayContest, contest_id)
    if contest is None:
        raise ContestNotFoundError(str(contest_id))
    return contest


def list_contests(
    session: Session,
    *,
    officer_id: str | None = None,
    status: str | None = None,
    start: date | None = None,
    end: date | None = None,
    limit: int = 500,
) -> list[DayContest]:
    """Contests, newest first, filtered by officer, status and local days ``start``..``end``."""
    query = select(DayContest)
    if officer_id is not None:
        query = query.where(DayContest.officer_id == officer_id)
    if status is not None:
        query = query.where(DayContest.status == status)
    if start is not None:
        query = query.where(DayContest.day >= start)
    if end is not None:
        query = query.where(DayContest.day <= end)
    return list(
        session.scalars(
            query.order_by(DayContest.at.desc(), DayContest.contest_id.desc()).limit(limit)
        )
    )


def adjustments_of(
    session: Session, officer_id: str, start: date | None = None, end: date | None = None
) -> list[Adjustment]:
    """An officer's adjustments (on local days ``start``..``end``), by day then id."""
    query = select(Adjustment).where(Adjustment.officer_id == officer_id)
    if start is not None:
        query = query.where(Adjustment.day >= start)
    if end is not None:
        query = query.where(Adjustment.day <= end)
    return list(session.scalars(query.order_by(Adjustment.day, Adjustment.adjustment_id)))


def contest_adjustments(session: Session, contest_ids: list[int]) -> dict[int, Adjustment]:
    """The adjustment made on answering each of ``contest_ids`` (contests without one are
    left out), by contest id."""
    if not contest_ids:
        return {}
    stmt = select(Adjustment).where(Adjustment.contest_id.in_(contest_ids))
    return {a.contest_id: a for a in session.scalars(stmt) if a.contest_id is not None}


def day_adjustments(session: Session, day: date) -> pl.DataFrame:
    """Every adjustment of local ``day`` as rules.adjust expects them (ADJUSTMENTS_SCHEMA)."""
    rows = session.execute(
        select(Adjustment.adjustment_id, Adjustment.officer_id, Adjustment.day, Adjustment.effect)
        .where(Adjustment.day == day)
        .order_by(Adjustment.adjustment_id)
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=ADJUSTMENTS_SCHEMA, orient="row")
