"""The flag review workflow: status changes with notes, two-person substantiation, the record."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rules.records import FlagStatus, ReviewKind
from store.models import Flag, FlagResponse, FlagReview

REVIEW_STATUSES: tuple[str, ...] = tuple(s.value for s in FlagStatus)
SUBSTANTIATED = FlagStatus.SUBSTANTIATED.value
UNDER_REVIEW = FlagStatus.UNDER_REVIEW.value
CHANGE = ReviewKind.CHANGE.value
PROPOSAL = ReviewKind.PROPOSAL.value
CONFIRMATION = ReviewKind.CONFIRMATION.value


class FlagNotFoundError(LookupError):
    """No flag has the given id."""


class ReviewConflictError(ValueError):
    """The change cannot be made as asked (e.g. the flag is not in the status the caller expected)."""


@dataclass(frozen=True)
class ReviewOutcome:
    """The flag after the change, the review row that records it (None when nothing changed) and
    the investigators whose substantiation proposals await confirmation."""

    flag: Flag
    review: FlagReview | None
    proposed_by: list[str] = field(default_factory=list)


def pending_proposers(history: Sequence[FlagReview]) -> list[str]:
    """Investigators (``actor``) whose substantiation proposals still stand, in proposal order.

    A proposal stands until the flag's status is changed by anything but a proposal (dismissed,
    reopened, substantiated by confirmation); a note added without a change of status keeps it.
    """
    out: list[str] = []
    for review in history:
        if review.kind == PROPOSAL:
            if review.actor not in out:
                out.append(review.actor)
        elif review.kind == CONFIRMATION or review.from_status != review.to_status:
            out = []
    return out


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
    case_ref: str | None = None,
    reviewers_needed: int = 2,
) -> ReviewOutcome:
    """Set a flag's review status and record the change in flag_reviews; flushes only.

    ``substantiated`` needs ``reviewers_needed`` distinct investigators: until then a request
    for it records a ``proposal`` and leaves the flag ``under_review``; the last one needed
    records a ``confirmation`` and substantiates it. Proposing twice, or confirming one's own
    proposal, is refused (ReviewConflictError), as is substantiating a flag that already is.
    Any other status is set by one reviewer (``change``) and ends standing proposals.

    The flag row is locked first (a row lock on PostgreSQL, the write lock on SQLite) so
    two reviewers cannot both move it from the same status. Setting the current status again with
    no note records nothing. ``expected_status``, when given, must equal the current status.
    Raises FlagNotFoundError, ReviewConflictError, or ValueError for an unknown status.
    """
    if to_status not in REVIEW_STATUSES:
        raise ValueError(f"status must be one of {', '.join(REVIEW_STATUSES)}")
    # A no-op update first: it takes the row lock on PostgreSQL and the write lock on SQLite
    # before anything is read, so two reviewers are serialised and the second sees the first.
    session.execute(update(Flag).where(Flag.flag_id == flag_id).values(status=Flag.status))
    flag = session.scalars(select(Flag).where(Flag.flag_id == flag_id)).one_or_none()
    if flag is None:
        raise FlagNotFoundError(flag_id)
    if expected_status is not None and flag.status != expected_status:
        raise ReviewConflictError(
            f"flag is {flag.status}, not {expected_status}: reload it and review again"
        )
    history = reviews(session, flag_id)
    proposers = pending_proposers(history)
    kind, new_status = CHANGE, to_status
    if to_status == SUBSTANTIATED:
        if flag.status == SUBSTANTIATED:
            raise ReviewConflictError("flag is already substantiated")
        if actor in proposers:
            raise ReviewConflictError(
                "you proposed substantiating this flag: another investigator must confirm it"
            )
        if len(proposers) + 1 >= reviewers_needed:
            kind = CONFIRMATION
        else:
            kind, new_status = PROPOSAL, UNDER_REVIEW
    elif flag.status == to_status and not note:
        return ReviewOutcome(flag, None, proposers)
    review = FlagReview(
        flag_id=flag.flag_id,
        at=now,
        actor=actor,
        role=role,
        from_status=flag.status,
        to_status=new_status,
        note=note,
        case_ref=case_ref,
        kind=kind,
    )
    flag.status = new_status
    session.add(review)
    session.flush()
    return ReviewOutcome(flag, review, pending_proposers([*history, review]))


def reviews(session: Session, flag_id: str) -> list[FlagReview]:
    """Every recorded change of a flag, oldest first."""
    return list(
        session.scalars(
            select(FlagReview)
            .where(FlagReview.flag_id == flag_id)
            .order_by(FlagReview.at, FlagReview.review_id)
        )
    )


def responses(session: Session, flag_id: str) -> list[FlagResponse]:
    """Every response of the officer to a flag, oldest first."""
    return list(
        session.scalars(
            select(FlagResponse)
            .where(FlagResponse.flag_id == flag_id)
            .order_by(FlagResponse.at, FlagResponse.response_id)
        )
    )


@dataclass(frozen=True)
class ReviewState:
    """What the flag list shows of a flag's review: its last reviewer and whether it was answered."""

    last_reviewer: str | None
    last_reviewed_at: datetime | None
    responses: int


def review_states(session: Session, flag_ids: Sequence[str]) -> dict[str, ReviewState]:
    """The review state of each flag in ``flag_ids`` (a page: two queries, whatever its size)."""
    if not flag_ids:
        return {}
    ids = list(flag_ids)
    last: dict[str, tuple[str, datetime]] = {}
    for fid, actor, at in session.execute(
        select(FlagReview.flag_id, FlagReview.actor, FlagReview.at)
        .where(FlagReview.flag_id.in_(ids))
        .order_by(FlagReview.at, FlagReview.review_id)
    ):
        last[fid] = (actor, at)
    answered: dict[str, int] = {
        fid: int(n)
        for fid, n in session.execute(
            select(FlagResponse.flag_id, func.count())
            .where(FlagResponse.flag_id.in_(ids))
            .group_by(FlagResponse.flag_id)
        )
    }
    return {
        fid: ReviewState(
            last_reviewer=last[fid][0] if fid in last else None,
            last_reviewed_at=last[fid][1] if fid in last else None,
            responses=int(answered.get(fid, 0)),
        )
        for fid in ids
    }


def get_flag(session: Session, flag_id: str) -> Flag:
    """The flag with id ``flag_id``; FlagNotFoundError when there is none."""
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise FlagNotFoundError(flag_id)
    return flag
