"""The flag review workflow: list flags, read one with its history, review it, and the officer's
answer to it (investigators with a case_ref; an officer their own)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
import polars as pl
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.auth import Principal, Role
from api.deps import (
    FlagReader,
    Investigator,
    OfficerCaller,
    RequestIdDep,
    SessionDep,
    StateDep,
    ensure_subject,
)
from api.errors import JsonResponse
from api.negotiate import JSON, TABULAR, choose, tabular_content, tabular_response
from api.schemas import (
    ERROR_RESPONSES,
    REPORT_ERRORS,
    FlagOut,
    FlagPage,
    FlagPatch,
    FlagRecord,
    FlagReviewResult,
    ResponseIn,
    ResponseOut,
    ReviewOut,
    Substantiation,
    errors,
)
from api.trail import check_ref, record, require_case_ref
from rules.clock import iso_local
from rules.disclosure import disclosed
from rules.records import FlagStatus
from store.cases import closed_cases
from store.flag_review import get_flag, pending_proposers, responses, review_flag, reviews
from store.models import FlagResponse, FlagReview
from store.reply import respond_to_flag
from store.reports import WITHDRAWN, flag_dict, list_flags, with_review_state

router = APIRouter(prefix="/v1", tags=["flags"])

# A filter of flag lists: the review statuses (FlagStatus) and withdrawn, built from FlagStatus so
# the OpenAPI lists them from its one declaration. (mypy reads only a literal list of members.)
StatusFilter = StrEnum(  # type: ignore[misc]
    "StatusFilter", [*((s.name, s.value) for s in FlagStatus), ("WITHDRAWN", WITHDRAWN)]
)
StatusFilter.__doc__ = "A review status, or withdrawn (only flags whose finding disappeared)."
FlagId = Annotated[str, Path(min_length=1, max_length=64, description="The flag's id")]
CaseRef = Annotated[
    str | None,
    Query(max_length=100, description="Case reference (required for investigators)"),
]


def review_out(review: FlagReview, tz: str) -> ReviewOut:
    """The public form of a recorded review."""
    return ReviewOut(
        review_id=review.review_id,
        at=iso_local(review.at, tz),
        actor=review.actor,
        role=review.role,
        from_status=review.from_status,
        to_status=review.to_status,
        note=review.note,
        case_ref=review.case_ref,
        kind=review.kind,
    )


def response_out(response: FlagResponse, tz: str, *, duplicate: bool = False) -> ResponseOut:
    """The public form of an officer's response."""
    return ResponseOut(
        response_id=response.response_id,
        flag_id=response.flag_id,
        officer_id=response.officer_id,
        at=iso_local(response.at, tz),
        actor=response.actor,
        category=response.category,
        statement=response.statement,
        duplicate=duplicate,
    )


MAX_TABULAR_FLAGS = 100_000
FLAG_FRAME: dict[str, pl.DataType] = {
    "flag_id": pl.Utf8(),
    "officer_id": pl.Utf8(),
    "code": pl.Utf8(),
    "date": pl.Date(),
    "status": pl.Utf8(),
    "withdrawn": pl.Boolean(),
    "misconduct": pl.Boolean(),
    "summary": pl.Utf8(),
    "evidence": pl.Utf8(),
    "rule_version": pl.Utf8(),
    "policy_version": pl.Utf8(),
    "raised_at": pl.Utf8(),
    "last_reviewer": pl.Utf8(),
    "last_reviewed_at": pl.Utf8(),
    "responded": pl.Boolean(),
}


def _flag_frame(flags: list[dict[str, Any]]) -> pl.DataFrame:
    rows = [
        {
            **{k: f.get(k) for k in FLAG_FRAME},
            "date": date.fromisoformat(f["date"]),
            "evidence": orjson.dumps(f["evidence"]).decode(),
        }
        for f in flags
    ]
    return pl.DataFrame(rows, schema=FLAG_FRAME, orient="row")


@router.get(
    "/flags",
    response_model=FlagPage,
    responses={**REPORT_ERRORS, **tabular_content("FlagPage")},
    summary="Flags, newest first, with their review state, filters and cursor pagination "
    "(JSON, CSV or xlsx)",
)
def get_flags(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: FlagReader,
    request_id: RequestIdDep,
    status: Annotated[
        StatusFilter | None,
        Query(description="A review status, or withdrawn (only flags whose finding disappeared)"),
    ] = None,
    code: Annotated[
        str | None,
        Query(max_length=40, description="Only this flag code", examples=["MOCK_LOCATION"]),
    ] = None,
    officer_id: Annotated[
        str | None, Query(max_length=64, description="Only this officer's")
    ] = None,
    misconduct: Annotated[
        bool | None, Query(description="true: misconduct leads only; false: compliance only")
    ] = None,
    after: Annotated[str | None, Query(max_length=400, description="next_cursor of a page")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Flags per page (JSON)")] = 100,
    case_ref: Annotated[
        str | None, Query(max_length=100, description="Case reference (required for investigators)")
    ] = None,
    purpose: Annotated[
        str | None, Query(max_length=100, description="Why the flags are read")
    ] = None,
) -> Response:
    """Investigators see every flag (with case_ref); an officer token sees only its own
    officer's flags. Each flag carries its status, last reviewer and whether it was answered.
    ``Accept: text/csv`` or the xlsx media type downloads every flag the filters select (from
    ``after`` on, at most 100,000), newest first, evidence as JSON text."""
    case_ref = require_case_ref(caller, case_ref)
    media = choose(request, TABULAR)
    if media != JSON:
        limit = MAX_TABULAR_FLAGS
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
        case_ref=case_ref,
        purpose=check_ref(purpose, "purpose"),
        detail={
            "status": status,
            "code": code,
            "misconduct": misconduct,
            "returned": len(flags),
            "officers": sorted({f["officer_id"] for f in flags}),
        },
    )
    if media != JSON:
        return tabular_response(media, {"flags": _flag_frame(flags)}, "flags")
    return JsonResponse(
        FlagPage(flags=[FlagOut.model_validate(f) for f in flags], next_cursor=cursor).model_dump(
            mode="json"
        )
    )


def _visible_reviews(
    session: Session,
    history: list[FlagReview],
    caller: Principal,
    disclosure_days: int,
    now: datetime,
) -> list[FlagReview]:
    """The officer sees reviews made under a case once it is closed (or old enough by ``now``)."""
    if caller.role is not Role.OFFICER:
        return history
    closed = closed_cases(session, [r.case_ref for r in history])
    return [
        r
        for r in history
        if disclosed(r.case_ref, r.at, closed=closed, now=now, disclosure_days=disclosure_days)
    ]


@router.get(
    "/flags/{flag_id}",
    response_model=FlagRecord,
    responses=ERROR_RESPONSES,
    summary="A flag with its whole history: every review and every response of the officer",
)
def get_flag_record(
    flag_id: FlagId,
    session: SessionDep,
    state: StateDep,
    caller: FlagReader,
    request_id: RequestIdDep,
    case_ref: CaseRef = None,
    purpose: Annotated[
        str | None, Query(max_length=100, description="Why the flag is read")
    ] = None,
) -> FlagRecord:
    """Investigators (with case_ref) or the flag's officer, who sees reviews made under a case
    once the case is closed or policy.open_case_disclosure_days have passed."""
    case_ref = require_case_ref(caller, case_ref)
    flag = get_flag(session, flag_id)
    ensure_subject(caller, flag.officer_id)
    tz = state.settings.timezone
    history = reviews(session, flag_id)
    answers = responses(session, flag_id)
    shown = _visible_reviews(
        session, history, caller, state.policy.open_case_disclosure_days, state.clock()
    )
    record(
        session,
        caller,
        request_id,
        "read.flag",
        officer_id=flag.officer_id,
        case_ref=case_ref,
        purpose=check_ref(purpose, "purpose"),
        detail={"flag_id": flag_id, "reviews": len(shown), "responses": len(answers)},
    )
    (flag_form,) = with_review_state(session, [flag_dict(flag, tz)], tz)
    return FlagRecord(
        flag=FlagOut.model_validate(flag_form),
        reviews=[review_out(r, tz) for r in shown],
        responses=[response_out(r, tz) for r in answers],
        substantiation=Substantiation(
            needed=state.policy.substantiation_reviewers,
            proposed_by=pending_proposers(history) if caller.role is Role.INVESTIGATOR else [],
        ),
    )


@router.patch(
    "/flags/{flag_id}",
    response_model=FlagReviewResult,
    responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
    summary="Review a flag: set its status with a note (two investigators substantiate)",
)
def patch_flag(
    flag_id: FlagId,
    change: Annotated[FlagPatch, Body()],
    session: SessionDep,
    state: StateDep,
    caller: Investigator,
    request_id: RequestIdDep,
) -> FlagReviewResult:
    """Move a flag between open, under_review, dismissed and substantiated; ``case_ref`` is
    required. ``substantiated`` takes policy.substantiation_reviewers distinct investigators:
    the first records a proposal (the flag is under_review), another confirms it; nobody
    confirms their own proposal (409). One investigator may dismiss. ``expected_status`` guards
    against two reviewers deciding at once (409 when the flag has moved)."""
    case_ref = require_case_ref(caller, change.case_ref)
    outcome = review_flag(
        session,
        flag_id,
        to_status=change.status,
        note=change.note,
        actor=caller.sub,
        role=caller.role.value,
        now=state.clock(),
        expected_status=change.expected_status,
        case_ref=case_ref,
        reviewers_needed=state.policy.substantiation_reviewers,
    )
    review = outcome.review
    detail: dict[str, Any] = {
        "flag_id": flag_id,
        "from": review.from_status if review else outcome.flag.status,
        "to": outcome.flag.status,
        "asked": change.status,
        "kind": review.kind if review else None,
        "changed": review is not None,
        "note_written": review is not None and bool(review.note),
    }
    record(
        session,
        caller,
        request_id,
        "flag.review",
        officer_id=outcome.flag.officer_id,
        case_ref=case_ref,
        detail=detail,
    )
    tz = state.settings.timezone
    (flag_form,) = with_review_state(session, [flag_dict(outcome.flag, tz)], tz)
    return FlagReviewResult(
        flag=FlagOut.model_validate(flag_form),
        review=None if review is None else review_out(review, tz),
        substantiation=Substantiation(
            needed=state.policy.substantiation_reviewers, proposed_by=outcome.proposed_by
        ),
    )


@router.post(
    "/flags/{flag_id}/responses",
    response_model=ResponseOut,
    responses=ERROR_RESPONSES,
    summary="The officer's answer to one of their flags (a category and a statement)",
)
def post_response(
    flag_id: FlagId,
    answer: Annotated[ResponseIn, Body()],
    session: SessionDep,
    state: StateDep,
    caller: OfficerCaller,
    request_id: RequestIdDep,
) -> ResponseOut:
    """Only the flag's officer. Investigators see the answer on the flag; HR never does. Sending
    the same answer again records nothing new (``duplicate: true``)."""
    flag = get_flag(session, flag_id)
    ensure_subject(caller, flag.officer_id)
    response, duplicate = respond_to_flag(
        session,
        flag,
        category=answer.category,
        statement=answer.statement,
        actor=caller.sub,
        now=state.clock(),
    )
    record(
        session,
        caller,
        request_id,
        "flag.response",
        officer_id=flag.officer_id,
        detail={
            "flag_id": flag_id,
            "response_id": response.response_id,
            "category": answer.category,
            "duplicate": duplicate,
        },
    )
    return response_out(response, state.settings.timezone, duplicate=duplicate)
