"""The flag review workflow: change a flag's status with a reviewer's note, keeping every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.models import Flag, FlagReview

REVIEW_STATUSES = ("open", "under_review", "dismissed", "substantiated")


class FlagNotFoundError(LookupError):
    """No flag has the given id."""


class ReviewConflictError(ValueError):
    """The change cannot be made as asked (e.g. the flag is not in the status the caller expected)."""


@dataclass(frozen=True)
class ReviewOutcome:
    """The flag after the change and the review row that records it (None when nothing changed)."""

    flag: Flag
    review: FlagReview | None


def review_flag(
    session: Session,
    flag_id: str,
    *,
    to_status: str,
    note: str | None,
    actor: str,
    role: str,
    now: datetime,
    expected_status: str | None = None,
) -> ReviewOutcome:
    """Set a flag's review status and record the change in flag_reviews; flushes only.

    The flag row is locked (SELECT ... FOR UPDATE on PostgreSQL) so two reviewers cannot both
    move it from the same status. Setting the current status again with no note records nothing.
    ``expected_status``, when given, must equal the current status (optimistic concurrency).
    Raises FlagNotFoundError, ReviewConflictError, or ValueError for an unknown status.
    """
    if to_status not in REVIEW_STATUSES:
        raise ValueError(f"status must be one of {', '.join(REVIEW_STATUSES)}")
    flag = session.scalars(
        select(Flag).where(Flag.flag_id == flag_id).with_for_update()
    ).one_or_none()
    if flag is None:
        raise FlagNotFoundError(flag_id)
    if expected_status is not None and flag.status != expected_status:
        raise ReviewConflictError(
            f"flag is {flag.status}, not {expected_status}: reload it and review again"
        )
    if flag.status == to_status and not note:
        return ReviewOutcome(flag, None)
    review = FlagReview(
        flag_id=flag.flag_id,
        at=now,
        actor=actor,
        role=role,
        from_status=flag.status,
        to_status=to_status,
        note=note,
    )
    flag.status = to_status
    session.add(review)
    session.flush()
    return ReviewOutcome(flag, review)


def reviews(session: Session, flag_id: str) -> list[FlagReview]:
    """Every recorded change of a flag, oldest first."""
    return list(
        session.scalars(
            select(FlagReview)
            .where(FlagReview.flag_id == flag_id)
            .order_by(FlagReview.at, FlagReview.review_id)
        )
    )
