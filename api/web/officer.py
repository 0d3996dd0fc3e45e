"""An officer's own screens: my month and my share, my flags and my answers to them, contesting
a day, who has looked at my data, and my subject access bundle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.deps import RequestIdDep, SessionDep, StateDep
from api.errors import NotFound
from api.routes.flags import get_flag_record, post_response
from api.routes.reply import get_contests, post_contest
from api.routes.subject import get_subject_access
from api.schemas import ContestIn, ResponseIn
from api.trail import record
from api.web import fmt
from api.web.common import day_cells, day_marks, form_error, month_links, month_of
from api.web.render import page, web_config
from api.web.session import OfficerUser, check_csrf
from rules.records import ContestStatus, ReplyCategory
from store.access import access_log
from store.overview import officer_unit
from store.reply import list_contests
from store.reports import compliance_rows, officer_report

router = APIRouter(prefix="/app/me", include_in_schema=False)

Month = Annotated[str | None, Query(max_length=7, description="YYYY-MM")]
FlagId = Annotated[str, Path(min_length=1, max_length=64)]
CATEGORIES = (
    (ReplyCategory.OTHER_STATION.value, "I worked at another station"),
    (ReplyCategory.DEVICE_PROBLEM.value, "My phone or badge did not work"),
    (ReplyCategory.ROSTER_ERROR.value, "The roster was wrong"),
    (ReplyCategory.LEAVE_NOT_RECORDED.value, "I was on leave that was not recorded"),
    (ReplyCategory.OTHER.value, "Something else"),
)


@router.get("")
def my_month(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: OfficerUser,
    request_id: RequestIdDep,
    month: Month = None,
) -> Response:
    """My month as a calendar, my share against the line, and my flags."""
    officer_id = str(caller.officer_id)
    tz = state.settings.timezone
    first, last = month_of(session, month, tz, state.clock())
    exists, unit = officer_unit(session, officer_id)
    report = (
        officer_report(session, officer_id, first, last, include_misconduct=True, tz=tz)
        if exists
        else None
    )
    if report is None:
        raise NotFound("no officer record for this sign-in")
    mine = [
        r
        for r in compliance_rows(session, first, last, unit=unit, policy=state.policy)
        if r["officer_id"] == officer_id
    ]
    record(
        session,
        caller,
        request_id,
        "read.attendance",
        officer_id=officer_id,
        detail={
            "from": first.isoformat(),
            "to": last.isoformat(),
            "days": len(report["days"]),
            "flags": len(report["flags"]),
            "via": "web",
        },
    )
    contests = list_contests(session, officer_id=officer_id, start=first, end=last)
    adjusted, contested = day_marks(
        report["days"], [c.day for c in contests if c.status == ContestStatus.OPEN]
    )
    context = {
        "months": month_links(first),
        "officer_id": officer_id,
        "weeks": fmt.month_weeks(first, day_cells(report["days"], adjusted, contested), tz),
        "flags": report["flags"],
        "share": mine[0] if mine else None,
        "line": state.policy.min_office_share,
        "days": [str(row["date"]) for row in report["days"]],
        "contests": contests,
        "categories": CATEGORIES,
    }
    return page(request, "me.html", context, user=caller)


async def _form(request: Request) -> dict[str, str]:
    return await check_csrf(request, web_config(request).csrf_key)


Form = Annotated[dict[str, str], Depends(_form)]


@router.post("/contests")
def contest(
    session: SessionDep,
    state: StateDep,
    caller: OfficerUser,
    request_id: RequestIdDep,
    fields: Form,
) -> Response:
    """Contest one of my days (POST /v1/officers/{id}/contests); sent twice, recorded once."""
    try:
        body = ContestIn(
            date=fields.get("date", ""),
            category=fields.get("category", ""),
            statement=fields.get("statement", "").strip(),
        )
    except ValidationError as exc:
        raise form_error(exc) from exc
    officer_id = str(caller.officer_id)
    post_contest(officer_id, body, session, state, caller, request_id)
    return RedirectResponse(f"/app/me/contests?month={body.date[:7]}", status_code=303)


@router.get("/contests")
def my_contests(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: OfficerUser,
    request_id: RequestIdDep,
) -> Response:
    """My contests, newest first, with their answers (GET /v1/contests for an officer)."""
    listed = get_contests(
        session,
        state,
        caller,
        request_id,
        officer_id=None,
        status=None,
        start=None,
        end=None,
        limit=100,
        case_ref=None,
        purpose=None,
    )
    return page(request, "my_contests.html", {"contests": listed.contests}, user=caller)


@router.get("/flags/{flag_id}")
def my_flag(
    request: Request,
    flag_id: FlagId,
    session: SessionDep,
    state: StateDep,
    caller: OfficerUser,
    request_id: RequestIdDep,
) -> Response:
    """One of my flags with my answers and the reviews I may see (GET /v1/flags/{id})."""
    flag_record = get_flag_record(flag_id, session, state, caller, request_id, None, None)
    context = {"record": flag_record, "categories": CATEGORIES}
    return page(request, "my_flag.html", context, user=caller)


@router.post("/flags/{flag_id}/responses")
def answer_flag(
    flag_id: FlagId,
    session: SessionDep,
    state: StateDep,
    caller: OfficerUser,
    request_id: RequestIdDep,
    fields: Form,
) -> Response:
    """Answer one of my flags (POST /v1/flags/{id}/responses); sent twice, recorded once."""
    try:
        body = ResponseIn(
            category=fields.get("category", ""),
            statement=fields.get("statement", "").strip(),
        )
    except ValidationError as exc:
        raise form_error(exc) from exc
    post_response(flag_id, body, session, state, caller, request_id)
    return RedirectResponse(f"/app/me/flags/{flag_id}", status_code=303)


@router.get("/subject-access")
def my_bundle(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: OfficerUser,
    request_id: RequestIdDep,
) -> Response:
    """Everything held about me as a signed zip (GET /v1/officers/{id}/subject-access)."""
    return get_subject_access(str(caller.officer_id), request, session, state, caller, request_id)


@router.get("/access")
def my_access_log(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: OfficerUser,
    request_id: RequestIdDep,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """Every recorded read or change of my data: who, in which role, when, for which case."""
    officer_id = str(caller.officer_id)
    # Reads under a case still open stay hidden until it closes (store.access, rules.disclosure).
    entries, next_after = access_log(
        session,
        officer_id,
        now=state.clock(),
        disclosure_days=state.policy.open_case_disclosure_days,
        after_seq=after,
        limit=100,
    )
    record(
        session,
        caller,
        request_id,
        "read.access_log",
        officer_id=officer_id,
        detail={"returned": len(entries), "via": "web"},
    )
    return page(
        request,
        "access_log.html",
        {
            "entries": entries,
            "next_after": next_after,
            "officer_id": officer_id,
            "disclosure_days": state.policy.open_case_disclosure_days,
        },
        user=caller,
    )
