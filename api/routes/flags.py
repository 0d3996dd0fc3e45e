"""The flag review workflow: list flags (investigators; an officer their own) and review one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query

from api.auth import Role
from api.deps import FlagReader, Investigator, RequestIdDep, SessionDep, StateDep, ensure_subject
from api.schemas import ERROR_RESPONSES, FlagOut, FlagPage, FlagPatch, FlagReviewResult, ReviewOut
from api.trail import check_ref, record
from rules.clock import iso_local
from store.flag_review import review_flag
from store.reports import flag_dict, list_flags

router = APIRouter(prefix="/v1", tags=["flags"])

StatusFilter = Literal["open", "under_review", "dismissed", "substantiated", "withdrawn"]


@router.get(
    "/flags",
    response_model=FlagPage,
    responses=ERROR_RESPONSES,
    summary="Flags, newest first, with filters and cursor pagination",
)
def get_flags(
    session: SessionDep,
    state: StateDep,
    caller: FlagReader,
    request_id: RequestIdDep,
    status: StatusFilter | None = None,
    code: Annotated[str | None, Query(max_length=40, examples=["MOCK_LOCATION"])] = None,
    officer_id: Annotated[str | None, Query(max_length=64)] = None,
    misconduct: bool | None = None,
    after: Annotated[str | None, Query(max_length=400, description="next_cursor of a page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    case_ref: Annotated[str | None, Query(max_length=100)] = None,
    purpose: Annotated[str | None, Query(max_length=100)] = None,
) -> FlagPage:
    """Investigators see every flag; an officer token sees only its own officer's flags."""
    if caller.role is Role.OFFICER:
        if officer_id is not None:
            ensure_subject(caller, officer_id)
        officer_id = caller.officer_id
    flags, cursor = list_flags(
        session,
        status=status,
        code=code,
        officer_id=officer_id,
        misconduct=misconduct,
        after=after,
        limit=limit,
        tz=state.settings.timezone,
    )
    record(
        session,
        caller,
        request_id,
        "read.flags",
        officer_id=officer_id,
        case_ref=check_ref(case_ref, "case_ref"),
        purpose=check_ref(purpose, "purpose"),
        detail={
            "status": status,
            "code": code,
            "misconduct": misconduct,
            "returned": len(flags),
            "officers": sorted({f["officer_id"] for f in flags}),
        },
    )
    return FlagPage(flags=[FlagOut.model_validate(f) for f in flags], next_cursor=cursor)


@router.patch(
    "/flags/{flag_id}",
    response_model=FlagReviewResult,
    responses=ERROR_RESPONSES,
    summary="Review a flag: set its status with a note (every change is kept)",
)
def patch_flag(
    flag_id: Annotated[str, Path(min_length=1, max_length=64)],
    change: Annotated[FlagPatch, Body()],
    session: SessionDep,
    state: StateDep,
    caller: Investigator,
    request_id: RequestIdDep,
) -> FlagReviewResult:
    """Move a flag between open, under_review, dismissed and substantiated. ``expected_status``
    guards against two reviewers deciding at once (409 when the flag has moved)."""
    outcome = review_flag(
        session,
        flag_id,
        to_status=change.status,
        note=change.note,
        actor=caller.sub,
        role=caller.role.value,
        now=datetime.now(UTC),
        expected_status=change.expected_status,
    )
    review = outcome.review
    record(
        session,
        caller,
        request_id,
        "flag.review",
        officer_id=outcome.flag.officer_id,
        case_ref=check_ref(change.case_ref, "case_ref"),
        detail={
            "flag_id": flag_id,
            "from": review.from_status if review else outcome.flag.status,
            "to": outcome.flag.status,
            "changed": review is not None,
        },
    )
    tz = state.settings.timezone
    return FlagReviewResult(
        flag=FlagOut.model_validate(flag_dict(outcome.flag, tz)),
        review=None
        if review is None
        else ReviewOut(
            review_id=review.review_id,
            at=iso_local(review.at, tz),
            actor=review.actor,
            role=review.role,
            from_status=review.from_status,
            to_status=review.to_status,
            note=review.note,
        ),
    )
