"""An officer's own screens: my month and my share, my flags, who has looked at my data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import RequestIdDep, SessionDep, StateDep
from api.errors import NotFound
from api.trail import record
from api.web import fmt
from api.web.common import day_cells, month_links, month_of
from api.web.render import page
from api.web.session import OfficerUser
from store.access import access_log
from store.overview import officer_unit
from store.reports import compliance_rows, officer_report

router = APIRouter(prefix="/app/me", include_in_schema=False)

Month = Annotated[str | None, Query(max_length=7, description="YYYY-MM")]


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
    first, last = month_of(session, month, tz)
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
    context = {
        "months": month_links(first),
        "officer_id": officer_id,
        "weeks": fmt.month_weeks(first, day_cells(report["days"], set(), set()), tz),
        "flags": report["flags"],
        "share": mine[0] if mine else None,
        "line": state.policy.min_office_share,
    }
    return page(request, "me.html", context, user=caller)


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
        now=datetime.now(UTC),
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
