"""HR's screens: compliance by unit for a month, a unit's officers, one officer's month, and the
month's rows as CSV. Same queries and audit entries as GET /v1/compliance and /attendance; HR
never sees a misconduct flag, a timeline or a coordinate."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from api.deps import RequestIdDep, SessionDep, StateDep
from api.errors import NotFound
from api.trail import record
from api.web import fmt
from api.web.common import day_cells, month_links, month_of
from api.web.render import page
from api.web.session import HrUser
from store.reports import compliance_rows, officer_report

router = APIRouter(prefix="/app/hr", include_in_schema=False)

Month = Annotated[str | None, Query(max_length=7, description="YYYY-MM")]
Unit = Annotated[str, Path(min_length=1, max_length=100)]


@dataclass(frozen=True)
class UnitRow:
    """One unit's month: officers, those below the line, and the unit's pooled share."""

    unit: str
    officers: int
    below: int
    expected: int
    verified: int
    insufficient: int

    @property
    def share(self) -> float | None:
        assessed = self.expected - self.insufficient
        return self.verified / assessed if assessed > 0 else None


def _units(rows: list[dict[str, Any]]) -> list[UnitRow]:
    totals: dict[str, list[int]] = {}
    for row in rows:
        t = totals.setdefault(row["unit"] or "(no unit)", [0, 0, 0, 0, 0])
        t[0] += 1
        t[1] += 0 if row["meets_policy"] else 1
        t[2] += row["expected_office_days"]
        t[3] += row["verified_office_days"]
        t[4] += row["insufficient_evidence_days"]
    return [UnitRow(unit, *t) for unit, t in sorted(totals.items())]


def _compliance(
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: str,
    month: str | None,
    unit: str | None,
) -> tuple[Any, list[dict[str, Any]]]:
    first, last = month_of(session, month, state.settings.timezone)
    rows = compliance_rows(session, first, last, unit=unit, policy=state.policy)
    record(
        session,
        caller,
        request_id,
        "read.compliance",
        detail={
            "from": first.isoformat(),
            "to": last.isoformat(),
            "unit": unit,
            "rows": len(rows),
            "via": "web",
        },
    )
    return first, rows


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
    first, rows = _compliance(session, state, caller, request_id, month, None)
    context = {
        "months": month_links(first),
        "units": _units(rows),
        "line": state.policy.min_office_share,
    }
    return page(request, "hr_units.html", context, user=caller)


@router.get("/units/{unit}")
def unit_officers(
    request: Request,
    unit: Unit,
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
    month: Month = None,
) -> Response:
    """A unit's officers for the month, lowest share first."""
    first, rows = _compliance(session, state, caller, request_id, month, unit)
    if not rows:
        raise NotFound("no office-based officers in that unit")
    rows.sort(key=lambda r: (r["verified_office_share"] is None, r["verified_office_share"] or 0))
    context = {
        "months": month_links(first),
        "unit": unit,
        "rows": rows,
        "line": state.policy.min_office_share,
    }
    return page(request, "hr_unit.html", context, user=caller)


@router.get("/units/{unit}/compliance.csv")
def unit_csv(
    unit: Unit,
    session: SessionDep,
    state: StateDep,
    caller: HrUser,
    request_id: RequestIdDep,
    month: Month = None,
) -> Response:
    """The unit's compliance rows as CSV (a cell starting with = + - @ is written as text)."""
    first, rows = _compliance(session, state, caller, request_id, month, unit)
    columns = [
        "officer_id",
        "unit",
        "from",
        "to",
        "expected_office_days",
        "declared_office_days",
        "verified_office_days",
        "verified_office_share",
        "meets_policy",
        "insufficient_evidence_days",
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    name = f"compliance-{first:%Y-%m}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


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
    first, last = month_of(session, month, tz)
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
    cells = day_cells(report["days"], set(), set())
    context = {
        "months": month_links(first),
        "officer_id": officer_id,
        "weeks": fmt.month_weeks(first, cells, tz),
        "report": report,
    }
    return page(request, "hr_officer.html", context, user=caller)
