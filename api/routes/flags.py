"""The flag review workflow: list flags (investigators; an officer their own) and review one."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import orjson
import polars as pl
from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import Response

from api.auth import Role
from api.deps import FlagReader, Investigator, RequestIdDep, SessionDep, StateDep, ensure_subject
from api.errors import JsonResponse
from api.negotiate import JSON, TABULAR, choose, tabular_content, tabular_response
from api.schemas import (
    REPORT_ERRORS,
    FlagOut,
    FlagPage,
    FlagPatch,
    FlagReviewResult,
    ReviewOut,
    errors,
)
from api.trail import check_ref, record
from rules.clock import iso_local
from store.flag_review import review_flag
from store.reports import flag_dict, list_flags

router = APIRouter(prefix="/v1", tags=["flags"])

StatusFilter = Literal["open", "under_review", "dismissed", "substantiated", "withdrawn"]


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
    summary="Flags, newest first, with filters and cursor pagination (JSON, CSV or xlsx)",
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
        str | None, Query(max_length=100, description="Case reference for the audit log")
    ] = None,
    purpose: Annotated[
        str | None, Query(max_length=100, description="Why the flags are read")
    ] = None,
) -> Response:
    """Investigators see every flag; an officer token sees only its own officer's flags.
    ``Accept: text/csv`` or the xlsx media type downloads every flag the filters select (from
    ``after`` on, at most 100,000), newest first, evidence as JSON text."""
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
    if media != JSON:
        return tabular_response(media, {"flags": _flag_frame(flags)}, "flags")
    return JsonResponse(
        FlagPage(flags=[FlagOut.model_validate(f) for f in flags], next_cursor=cursor).model_dump(
            mode="json"
        )
    )


@router.patch(
    "/flags/{flag_id}",
    response_model=FlagReviewResult,
    responses=errors(400, 401, 403, 404, 409, 413, 422, 503),
    summary="Review a flag: set its status with a note (every change is kept)",
)
def patch_flag(
    flag_id: Annotated[str, Path(min_length=1, max_length=64, description="The flag's id")],
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
