"""HR's screens: compliance by unit for a month, a unit's officers, one officer's month, and the
same rows as CSV or .xlsx, and the day contests waiting for an answer. Same queries, roll-up, spreadsheets and audit entries as
GET /v1/compliance/units, /v1/compliance and /attendance; HR never sees a misconduct flag, a
timeline or a coordinate."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from api.deps import RequestIdDep, SessionDep, StateDep
from api.errors import NotFound
from api.negotiate import CSV, XLSX, tabular_response
from api.routes.reply import get_contests, patch_contest
from api.schemas import ContestAnswerIn
from api.trail import record
from api.web import fmt
from api.web.common import day_cells, day_marks, form_error, month_links, month_of
from api.web.render import page, web_config
from api.web.session import HrUser, check_csrf
from rules.records import AdjustmentEffect, ContestStatus
from store.reply import list_contests
from store.reports import compliance_dicts, compliance_frame, officer_report, unit_rollup

router = APIRouter(prefix="/app/hr", include_in_schema=False)

Month = Annotated[str | None, Query(max_length=7, description="YYYY-MM")]
UnitPath = Annotated[str, Path(min_length=1, max_length=100)]
UnitQuery = Annotated[str | None, Query(max_length=100)]
Format = Literal["csv", "xlsx"]
NO_UNIT = "(no unit)"


def _frame(
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: str,
    month: str | None,
    unit: str | None,
    action: str,
) -> tuple[date, date, pl.DataFrame]:
    first, last = month_of(session, month, state.settings.timezone, state.clock())
    frame = compliance_frame(session, first, last, unit=unit, policy=state.policy)
    record(
        session,
        caller,
        request_id,
        action,
        detail={
            "from": first.isoformat(),
            "to": last.isoformat(),
            "unit": unit,
            "rows": frame.height,
            "via": "web",
        },
    )
    return first, last, frame


@router.get("")
def units(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
    month: Month = None,
) -> Response:
    """Compliance by unit for a month, with the policy line and who is below it."""
    first, _, frame = _frame(
        session, state, caller, request_id, month, None, "read.compliance_units"
    )
    context = {
        "months": month_links(first),
        "units": unit_rollup(frame).to_dicts(),
        "line": state.policy.min_office_share,
        "no_unit": NO_UNIT,
    }
    return page(request, "hr_units.html", context, user=caller)


@router.get("/units/{unit}")
def unit_officers(
    request: Request,
    unit: UnitPath,
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
    month: Month = None,
) -> Response:
    """A unit's officers for the month, lowest share first (not assessed last)."""
    first, last, frame = _frame(session, state, caller, request_id, month, unit, "read.compliance")
    if frame.height == 0:
        raise NotFound("no office-based officers in that unit")
    rows = compliance_dicts(frame, first, last)
    rows.sort(key=lambda r: (r["verified_office_share"] is None, r["verified_office_share"] or 0))
    context = {
        "months": month_links(first),
        "unit": unit,
        "rows": rows,
        "line": state.policy.min_office_share,
    }
    return page(request, "hr_unit.html", context, user=caller)


@router.get("/compliance.{kind}")
def download(
    kind: Format,
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
    month: Month = None,
    unit: UnitQuery = None,
) -> Response:
    """The month's rows as CSV or .xlsx, exactly as GET /v1/compliance/units sends them with
    that Accept header: the unit roll-up and, for a unit, its officers (spreadsheet formulas in
    cells are neutralised there)."""
    action = "read.compliance" if unit else "read.compliance_units"
    first, last, frame = _frame(session, state, caller, request_id, month, unit, action)
    sheets: dict[str, Any] = {"units": unit_rollup(frame), "officers": frame}
    if unit:
        sheets = {"officers": frame, "units": unit_rollup(frame)}
    name = f"compliance-{first:%Y-%m}" + (f"-{_safe_name(unit)}" if unit else "")
    return tabular_response(CSV if kind == "csv" else XLSX, sheets, name)


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:60]


@router.get("/officers/{officer_id}")
def officer_month(
    request: Request,
    officer_id: Annotated[str, Path(min_length=1, max_length=64)],
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
    month: Month = None,
) -> Response:
    """One officer's month as a calendar (declared, verified, insufficient, ...)."""
    tz = state.settings.timezone
    first, last = month_of(session, month, tz, state.clock())
    report = officer_report(session, officer_id, first, last, include_misconduct=False, tz=tz)
    if report is None:
        raise NotFound("no such officer")
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
    open_days = [
        c.day
        for c in list_contests(
            session, officer_id=officer_id, status=ContestStatus.OPEN, start=first, end=last
        )
    ]
    cells = day_cells(report["days"], *day_marks(report["days"], open_days))
    context = {
        "months": month_links(first),
        "officer_id": officer_id,
        "weeks": fmt.month_weeks(first, cells, tz),
        "report": report,
    }
    return page(request, "hr_officer.html", context, user=caller)


EFFECTS = (
    ("", "as the category says"),
    (AdjustmentEffect.VERIFIED_OFFICE_DAY.value, "count the day as a verified office day"),
    (AdjustmentEffect.NOT_EXPECTED.value, "take the day out of the expected office days"),
)


@router.get("/contests")
def contests(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
) -> Response:
    """The day contests waiting for an answer, newest first (GET /v1/contests?status=open)."""
    listed = get_contests(
        session,
        state,
        caller,
        request_id,
        officer_id=None,
        status=ContestStatus.OPEN,
        start=None,
        end=None,
        limit=200,
        case_ref=None,
        purpose=None,
    )
    context = {"contests": listed.contests, "effects": EFFECTS}
    return page(request, "hr_contests.html", context, user=caller)


async def _form(request: Request) -> dict[str, str]:
    return await check_csrf(request, web_config(request).csrf_key)


@router.post("/contests/{contest_id}/answer")
def answer(
    contest_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
    fields: Annotated[dict[str, str], Depends(_form)],
) -> Response:
    """Answer a contest: upheld (an adjustment) or not upheld, with a reason
    (PATCH /v1/contests/{id}; answered once, 409 after)."""
    try:
        body = ContestAnswerIn(
            outcome=fields.get("outcome", ""),
            reason=fields.get("reason", "").strip(),
            effect=fields.get("effect") or None,
        )
    except ValidationError as exc:
        raise form_error(exc) from exc
    patch_contest(contest_id, body, session, state, caller, request_id)
    return RedirectResponse("/app/hr/contests", status_code=303)
