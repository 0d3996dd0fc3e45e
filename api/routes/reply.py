"""The officer's right of reply to their days: contests, their answers by HR or investigators,
and the closing of cases (which shows the officer the reads made under them)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from api.auth import Principal, Role
from api.deps import (
    ContestAnswerer,
    ContestReader,
    Investigator,
    OfficerCaller,
    RequestIdDep,
    SessionDep,
    StateDep,
    ensure_subject,
)
from api.errors import BadRequest
from api.schemas import (
    ERROR_RESPONSES,
    AdjustmentOut,
    CaseClosed,
    ContestAnswerIn,
    ContestIn,
    ContestList,
    ContestOut,
)
from api.trail import check_ref, record, require_case_ref
from rules.clock import iso_local
from rules.records import ContestStatus
from store.cases import close_case
from store.models import Adjustment, DayContest
from store.reply import (
    answer_contest,
    contest_adjustments,
    contest_day,
    get_contest,
    list_contests,
)
from store.reports import adjustment_dict

router = APIRouter(prefix="/v1", tags=["right of reply"])

OfficerId = Annotated[
    str, Path(min_length=1, max_length=64, description="The officer's id", examples=["O-0001"])
]
ContestId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The contest's id")]
CaseRef = Annotated[
    str | None,
    Query(max_length=100, description="Case reference (required for investigators)"),
]


def contest_out(
    contest: DayContest, tz: str, adjustment: Adjustment | None = None, *, duplicate: bool = False
) -> ContestOut:
    """The public form of a contest (and the adjustment its upholding made)."""
    return ContestOut(
        contest_id=contest.contest_id,
        officer_id=contest.officer_id,
        date=contest.day.isoformat(),
        at=iso_local(contest.at, tz),
        actor=contest.actor,
        category=contest.category,
        statement=contest.statement,
        status=contest.status,
        answered_at=iso_local(contest.answered_at, tz) if contest.answered_at else None,
        answered_by=contest.answered_by,
        answered_role=contest.answered_role,
        reason=contest.reason,
        adjustment=None
        if adjustment is None
        else AdjustmentOut.model_validate(adjustment_dict(adjustment, tz)),
        duplicate=duplicate,
    )


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest("'date' must be a day (YYYY-MM-DD)") from exc


@router.post(
    "/officers/{officer_id}/contests",
    response_model=ContestOut,
    responses=ERROR_RESPONSES,
    summary="The officer contests one of their days (a category and a statement)",
)
def post_contest(
    officer_id: OfficerId,
    body: Annotated[ContestIn, Body()],
    session: SessionDep,
    state: StateDep,
    caller: OfficerCaller,
    request_id: RequestIdDep,
) -> ContestOut:
    """Only the officer, about a day with a computed result (404 otherwise). HR and
    investigators answer it; sending the same contest again records nothing new."""
    ensure_subject(caller, officer_id)
    contest, duplicate = contest_day(
        session,
        officer_id,
        _day(body.date),
        category=body.category,
        statement=body.statement,
        actor=caller.sub,
        now=state.clock(),
    )
    record(
        session,
        caller,
        request_id,
        "contest.create",
        officer_id=officer_id,
        detail={
            "contest_id": contest.contest_id,
            "date": body.date,
            "category": body.category,
            "duplicate": duplicate,
        },
    )
    return contest_out(contest, state.settings.timezone, duplicate=duplicate)


def _contests_read(
    caller: Principal, officer_id: str | None, case_ref: str | None
) -> tuple[str | None, str | None]:
    case_ref = require_case_ref(caller, case_ref)
    if caller.role is Role.OFFICER:
        if officer_id is not None:
            ensure_subject(caller, officer_id)
        officer_id = caller.officer_id
    return officer_id, case_ref


@router.get(
    "/contests",
    response_model=ContestList,
    responses=ERROR_RESPONSES,
    summary="Day contests, newest first (HR, investigators with case_ref, an officer their own)",
)
def get_contests(
    session: SessionDep,
    state: StateDep,
    caller: ContestReader,
    request_id: RequestIdDep,
    officer_id: Annotated[
        str | None, Query(max_length=64, description="Only this officer's contests")
    ] = None,
    status: Annotated[
        ContestStatus | None, Query(description="open (the queue to answer), upheld, not_upheld")
    ] = None,
    start: Annotated[date | None, Query(alias="from", description="First contested day")] = None,
    end: Annotated[date | None, Query(alias="to", description="Last contested day")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many")] = 100,
    case_ref: CaseRef = None,
    purpose: Annotated[
        str | None, Query(max_length=100, description="Why the data is read")
    ] = None,
) -> ContestList:
    """``status=open`` is the queue of contests awaiting an answer."""
    officer_id, case_ref = _contests_read(caller, officer_id, case_ref)
    contests = list_contests(
        session, officer_id=officer_id, status=status, start=start, end=end, limit=limit
    )
    record(
        session,
        caller,
        request_id,
        "read.contests",
        officer_id=officer_id,
        case_ref=case_ref,
        purpose=check_ref(purpose, "purpose"),
        detail={
            "status": status,
            "returned": len(contests),
            "officers": sorted({c.officer_id for c in contests}),
        },
    )
    tz = state.settings.timezone
    adjustments = contest_adjustments(session, [c.contest_id for c in contests])
    return ContestList(
        contests=[contest_out(c, tz, adjustments.get(c.contest_id)) for c in contests]
    )


@router.get(
    "/contests/{contest_id}",
    response_model=ContestOut,
    responses=ERROR_RESPONSES,
    summary="One day contest with its answer and adjustment",
)
def get_one_contest(
    contest_id: ContestId,
    session: SessionDep,
    state: StateDep,
    caller: ContestReader,
    request_id: RequestIdDep,
    case_ref: CaseRef = None,
    purpose: Annotated[
        str | None, Query(max_length=100, description="Why the data is read")
    ] = None,
) -> ContestOut:
    """HR, investigators (with case_ref) or the officer who made it."""
    case_ref = require_case_ref(caller, case_ref)
    contest = get_contest(session, contest_id)
    ensure_subject(caller, contest.officer_id)
    record(
        session,
        caller,
        request_id,
        "read.contest",
        officer_id=contest.officer_id,
        case_ref=case_ref,
        purpose=check_ref(purpose, "purpose"),
        detail={"contest_id": contest_id},
    )
    adjustment = contest_adjustments(session, [contest_id]).get(contest_id)
    return contest_out(contest, state.settings.timezone, adjustment)


@router.patch(
    "/contests/{contest_id}",
    response_model=ContestOut,
    responses=ERROR_RESPONSES,
    summary="Answer a day contest: upheld (a recorded adjustment) or not upheld, with a reason",
)
def patch_contest(
    contest_id: ContestId,
    body: Annotated[ContestAnswerIn, Body()],
    session: SessionDep,
    state: StateDep,
    caller: ContestAnswerer,
    request_id: RequestIdDep,
) -> ContestOut:
    """HR or an investigator (with case_ref). Upheld, the contest becomes an adjustment that
    the next nightly run applies to the day (the day is marked for recomputation) and that
    reports show beside the computed values. A contest is answered once (409 after)."""
    case_ref = require_case_ref(caller, body.case_ref)
    answer = answer_contest(
        session,
        contest_id,
        outcome=body.outcome,
        reason=body.reason,
        effect=body.effect,
        actor=caller.sub,
        role=caller.role.value,
        now=state.clock(),
    )
    contest = answer.contest
    record(
        session,
        caller,
        request_id,
        "contest.answer",
        officer_id=contest.officer_id,
        case_ref=case_ref,
        detail={
            "contest_id": contest_id,
            "outcome": body.outcome,
            "adjustment_id": answer.adjustment.adjustment_id if answer.adjustment else None,
            "effect": answer.adjustment.effect if answer.adjustment else None,
        },
    )
    return contest_out(contest, state.settings.timezone, answer.adjustment)


@router.post(
    "/cases/{case_ref}/close",
    response_model=CaseClosed,
    responses=ERROR_RESPONSES,
    summary="Close a case: officers' access logs then show the reads made under it",
)
def post_close_case(
    case_ref: Annotated[str, Path(min_length=1, max_length=100, description="The case to close")],
    session: SessionDep,
    state: StateDep,
    caller: Investigator,
    request_id: RequestIdDep,
) -> CaseClosed:
    """An investigator closes a case; closing it again keeps the first closure."""
    ref = check_ref(case_ref, "case_ref")
    assert ref is not None
    closure = close_case(session, ref, actor=caller.sub, now=state.clock())
    record(
        session,
        caller,
        request_id,
        "case.close",
        case_ref=ref,
        detail={"closed_by": closure.closed_by},
    )
    return CaseClosed(
        case_ref=closure.case_ref,
        closed_at=iso_local(closure.closed_at, state.settings.timezone),
        closed_by=closure.closed_by,
    )
