"""The system measuring its own fairness: rule precision and rates by group (auditors,
investigators)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import FairnessReader, RequestIdDep, SessionDep, StateDep
from api.errors import BadRequest
from api.schemas import ERROR_RESPONSES, FairnessReport
from api.trail import record
from store.fairness import fairness_report

router = APIRouter(prefix="/v1", tags=["fairness"])

MAX_DAYS = 366


@router.get(
    "/fairness",
    response_model=FairnessReport,
    responses=ERROR_RESPONSES,
    summary="Per-rule precision and flag and dismissal rates by group, with 95% intervals",
)
def get_fairness(
    start: Annotated[date, Query(alias="from", description="First local day")],
    end: Annotated[date, Query(alias="to", description="Last local day, inclusive")],
    session: SessionDep,
    state: StateDep,
    caller: FairnessReader,
    request_id: RequestIdDep,
) -> FairnessReport:
    """Per rule: flags raised, reviewed, dismissed, substantiated and the observed precision.
    By unit, rank, device platform and shift pattern: flag and dismissal rates, marking groups
    whose interval lies wholly above the force-wide rate. BELOW_OFFICE_SHARE by unit. Counts
    under 10 are shown as counts. Aggregates only: no officer is named."""
    if end < start:
        raise BadRequest("'to' is before 'from'")
    if (end - start).days + 1 > MAX_DAYS:
        raise BadRequest(f"a period is at most {MAX_DAYS} days")
    report = fairness_report(session, start, end, state.settings.timezone)
    record(
        session,
        caller,
        request_id,
        "read.fairness",
        detail={"from": start.isoformat(), "to": end.isoformat()},
    )
    return FairnessReport.model_validate(report)
