"""People's data, all audited (compliance, attendance, timeline, signed export); the export key."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import polars as pl
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from api import signing
from api.auth import Principal, Role
from api.casefile import render_html, render_pdf
from api.deps import (
    AppState,
    CaseRef,
    HrCaller,
    PersonReader,
    Purpose,
    RequestIdDep,
    SessionDep,
    StateDep,
    TimelinePeriod,
    TimelineQuery,
    TimelineReader,
    ensure_subject,
)
from api.errors import BadRequest, JsonResponse, OfficerNotFound, Unavailable
from api.negotiate import (
    GEOJSON,
    HTML,
    JSON,
    NOT_ACCEPTABLE,
    PDF,
    TABULAR,
    GeoJsonResponse,
    choose,
    tabular_content,
    tabular_response,
)
from api.schemas import (
    READ_ERRORS,
    REPORT_ERRORS,
    ComplianceReport,
    DaysReport,
    ErrorBody,
    ExportKeys,
    ExportPublicKey,
    OfficerReport,
    SignedTimeline,
    Timeline,
    UnitReport,
)
from api.timeline import build_timeline
from api.trail import check_ref, record, require_case_ref
from geo.geojson import timeline_collection
from rules.clock import EARLIEST, LATEST, SUPPORTED_RANGE, iso_local, period_bounds
from store.reports import (
    case_record,
    compliance_dicts,
    compliance_frame,
    day_rows,
    officer_labels,
    officer_report,
    unit_rollup,
)
from store.stations import StationSet
from store.timeline import officer_exists

router = APIRouter(prefix="/v1", tags=["reads"])

MAX_REPORT_DAYS = 366
MAX_TIMELINE_DAYS = 31
MAX_DAYS_EXPORT = 31

OfficerId = Annotated[
    str, Path(min_length=1, max_length=64, description="The officer's id", examples=["O-0001"])
]
FromDate = Annotated[date, Query(alias="from", description="First local day (YYYY-MM-DD)")]
ToDate = Annotated[date, Query(alias="to", description="Last local day, inclusive")]


def _supported(value: date, name: str) -> None:
    if not EARLIEST.date() <= value < LATEST.date():
        raise BadRequest(f"'{name}' must be a day in {SUPPORTED_RANGE}")


def _period(start: date, end: date, max_days: int) -> None:
    _supported(start, "from")
    _supported(end, "to")
    if end < start:
        raise BadRequest("'to' is before 'from'")
    if (end - start).days + 1 > max_days:
        raise BadRequest(f"a period is at most {max_days} days")


Unit = Annotated[
    str | None,
    Query(
        max_length=100,
        description="Only officers of this unit, any case (unknown: 400 naming the nearest)",
        examples=["CID"],
    ),
]
Rank = Annotated[
    str | None,
    Query(
        max_length=100,
        description="Only officers of this rank, any case (unknown: 400 naming the nearest)",
        examples=["Chief Inspector"],
    ),
]


def _filters(start: date, end: date, unit: str | None, rank: str | None) -> dict[str, Any]:
    return {"from": start.isoformat(), "to": end.isoformat(), "unit": unit, "rank": rank}


def _name(kind: str, start: date, end: date) -> str:
    return f"{kind}-{start.isoformat()}-{end.isoformat()}"


@router.get(
    "/compliance",
    response_model=ComplianceReport,
    responses={**REPORT_ERRORS, **tabular_content("ComplianceReport")},
    summary="Verified office share of every office-based officer (HR; JSON, CSV or xlsx)",
)
def get_compliance(
    start: FromDate,
    end: ToDate,
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: HrCaller,
    request_id: RequestIdDep,
    unit: Unit = None,
    rank: Rank = None,
    below: Annotated[bool, Query(description="Only officers below min_office_share")] = False,
    purpose: Purpose = None,
) -> Response:
    """One row per office-based officer for local days from..to inclusive, from the nightly
    results, with display name and rank. ``below=true`` keeps only officers who do not meet the
    policy. ``Accept: text/csv`` or the xlsx media type downloads the same rows."""
    media = choose(request, TABULAR)
    _period(start, end, MAX_REPORT_DAYS)
    frame = compliance_frame(session, start, end, unit=unit, rank=rank, policy=state.policy)
    if below:
        frame = frame.filter(~pl.col("meets_policy"))
    record(
        session,
        caller,
        request_id,
        "read.compliance",
        purpose=check_ref(purpose, "purpose"),
        detail={**_filters(start, end, unit, rank), "below": below, "rows": frame.height},
    )
    if media != JSON:
        return tabular_response(media, {"compliance": frame}, _name("compliance", start, end))
    # Tens of thousands of rows: serialised once with orjson instead of validated model by model
    # (the rows come from store.reports, whose shape ComplianceRow documents).
    return JsonResponse(
        {
            **_filters(start, end, unit, rank),
            "min_office_share": state.policy.min_office_share,
            "rows": compliance_dicts(frame, start, end),
        }
    )


@router.get(
    "/compliance/units",
    response_model=UnitReport,
    responses={**REPORT_ERRORS, **tabular_content("UnitReport")},
    summary="Compliance rolled up per unit, with a drill-down to its officers (HR)",
)
def get_compliance_units(
    start: FromDate,
    end: ToDate,
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: HrCaller,
    request_id: RequestIdDep,
    unit: Unit = None,
    rank: Rank = None,
    purpose: Purpose = None,
) -> Response:
    """Per unit: office-based officers, those assessed, meeting and below the policy, median and
    10th-percentile share, and day counts. With ``unit`` the answer also carries that unit's
    officer rows (the drill-down; ``officers_url`` of each unit row gives the same rows). The
    xlsx has a ``units`` sheet and an ``officers`` sheet; the CSV has the unit rows."""
    media = choose(request, TABULAR)
    _period(start, end, MAX_REPORT_DAYS)
    frame = compliance_frame(session, start, end, unit=unit, rank=rank, policy=state.policy)
    units = unit_rollup(frame)
    record(
        session,
        caller,
        request_id,
        "read.compliance_units",
        purpose=check_ref(purpose, "purpose"),
        detail={**_filters(start, end, unit, rank), "units": units.height, "rows": frame.height},
    )
    if media != JSON:
        return tabular_response(
            media, {"units": units, "officers": frame}, _name("units", start, end)
        )
    base = {"from": start.isoformat(), "to": end.isoformat()}
    if rank is not None:
        base["rank"] = rank
    unit_rows = [
        {**row, "officers_url": "/v1/compliance?" + urlencode({**base, "unit": row["unit"] or ""})}
        for row in units.iter_rows(named=True)
    ]
    return JsonResponse(
        {
            **_filters(start, end, unit, rank),
            "min_office_share": state.policy.min_office_share,
            "units": unit_rows,
            "officers": compliance_dicts(frame, start, end) if unit is not None else None,
        }
    )


@router.get(
    "/days",
    response_model=DaysReport,
    responses={**REPORT_ERRORS, **tabular_content("DaysReport")},
    summary="Every officer's daily results, for analysts' tools (HR; JSON, CSV or xlsx)",
)
def get_days(
    start: FromDate,
    end: ToDate,
    request: Request,
    session: SessionDep,
    caller: HrCaller,
    request_id: RequestIdDep,
    unit: Unit = None,
    rank: Rank = None,
    purpose: Purpose = None,
) -> Response:
    """The officer report's day rows of every officer (``rollcall report days``), at most 31
    days, sorted by officer then day."""
    media = choose(request, TABULAR)
    _period(start, end, MAX_DAYS_EXPORT)
    frame = day_rows(session, start, end, unit=unit, rank=rank)
    record(
        session,
        caller,
        request_id,
        "read.days",
        purpose=check_ref(purpose, "purpose"),
        detail={**_filters(start, end, unit, rank), "rows": frame.height},
    )
    if media != JSON:
        return tabular_response(media, {"days": frame}, _name("days", start, end))
    rows = frame.with_columns(pl.col("date").dt.to_string("%Y-%m-%d")).to_dicts()
    return JsonResponse({"from": start.isoformat(), "to": end.isoformat(), "rows": rows})


@router.get(
    "/officers/{officer_id}/attendance",
    response_model=OfficerReport,
    responses=READ_ERRORS,
    summary="An officer's verified days and flags",
)
def get_attendance(
    officer_id: OfficerId,
    start: FromDate,
    end: ToDate,
    session: SessionDep,
    state: StateDep,
    caller: PersonReader,
    request_id: RequestIdDep,
    case_ref: CaseRef = None,
    purpose: Purpose = None,
) -> OfficerReport:
    """HR (BELOW_OFFICE_SHARE flags only), an investigator (with case_ref) or the officer."""
    ensure_subject(caller, officer_id)
    case_ref = require_case_ref(caller, case_ref)
    _period(start, end, MAX_REPORT_DAYS)
    report = officer_report(
        session,
        officer_id,
        start,
        end,
        include_misconduct=caller.role is not Role.HR,
        tz=state.settings.timezone,
    )
    if report is None:
        raise OfficerNotFound("no such officer")
    if caller.role in (Role.HR, Role.INVESTIGATOR):
        report.update(officer_labels(session, officer_id))
    record(
        session,
        caller,
        request_id,
        "read.attendance",
        officer_id=officer_id,
        case_ref=case_ref,
        purpose=check_ref(purpose, "purpose"),
        detail={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "days": len(report["days"]),
            "flags": len(report["flags"]),
        },
    )
    return OfficerReport.model_validate(report)


def _timeline(
    officer_id: str,
    query: TimelinePeriod,
    *,
    session: Session,
    state: AppState,
    caller: Principal,
    request_id: str,
    action: str,
) -> tuple[dict[str, object], str | None, StationSet]:
    """The timeline, the case reference and the stations it was drawn with (one version of
    them for the whole request: the GeoJSON and the case file draw the same fences)."""
    ensure_subject(caller, officer_id)
    case_ref = require_case_ref(caller, query.case_ref)
    tz = state.settings.timezone
    try:
        start, end = period_bounds(query.start, query.end, tz, max_days=MAX_TIMELINE_DAYS)
    except ValueError as exc:
        raise BadRequest(str(exc)) from exc
    if not officer_exists(session, officer_id):
        raise OfficerNotFound("no such officer")
    stations = state.stations.current(session)
    timeline = build_timeline(
        session, officer_id, start, end, policy=state.policy, tz=tz, stations=stations
    )
    record(
        session,
        caller,
        request_id,
        action,
        officer_id=officer_id,
        case_ref=case_ref,
        purpose=check_ref(query.purpose, "purpose"),
        detail={"from": timeline["from"], "to": timeline["to"], "events": len(timeline["events"])},
    )
    return timeline, case_ref, stations


@router.get(
    "/officers/{officer_id}/timeline",
    response_model=Timeline,
    response_model_exclude_none=True,
    responses={
        200: {
            "description": "The timeline as JSON, or as GeoJSON by Accept: application/geo+json",
            "content": {GEOJSON: {"schema": {"$ref": "#/components/schemas/TimelineCollection"}}},
        },
        406: NOT_ACCEPTABLE,
        **READ_ERRORS,
    },
    summary="An officer's verified on-duty timeline (investigator with case_ref, or the officer)",
)
def get_timeline(
    officer_id: OfficerId,
    query: TimelineQuery,
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: TimelineReader,
    request_id: RequestIdDep,
) -> Response:
    """On-duty events only, in time order: shift starts and ends, swipes, presence at a station,
    away (an H3 cell, never coordinates) and off-duty gaps (times only). At most 31 days. With
    ``Accept: application/geo+json`` a FeatureCollection: presence and swipes as their station's
    fence, away segments as the cell's hexagon, never a point."""
    media = choose(request, (JSON, GEOJSON))
    timeline, _, stations = _timeline(
        officer_id,
        query,
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
        action="read.timeline",
    )
    body = Timeline.model_validate(timeline).model_dump(mode="json", exclude_none=True)
    if media == GEOJSON:
        # each fence is drawn once per version of the stations, then reused
        rendered: dict[str, dict[str, Any]] = stations.derived("fences.geojson", dict)
        return GeoJsonResponse(timeline_collection(body, stations.fences, rendered))
    return JsonResponse(body)


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    503: {
        "model": ErrorBody,
        "description": f"Database unavailable, or no signing key ({signing.KEY_SETTING} not set)",
    },
}


def _export_signer(request: Request) -> signing.Signer:
    """The signer read at start-up; 503 naming the setting when no key is configured."""
    signer: signing.Signer | None = request.app.state.export_signer
    if signer is None:
        raise Unavailable(f"exports cannot be signed: {signing.KEY_SETTING} is not set")
    return signer


@router.get(
    "/officers/{officer_id}/timeline/export",
    response_model=SignedTimeline,
    responses={
        200: {
            "description": (
                "The signed export as JSON; or, by Accept, the printable case file rendered from "
                "it as PDF (the signed JSON attached) or HTML"
            ),
            "content": {
                PDF: {"schema": {"type": "string", "format": "binary"}},
                HTML: {"schema": {"type": "string"}},
            },
        },
        406: NOT_ACCEPTABLE,
        **EXPORT_RESPONSES,
    },
    summary="The timeline as a signed document (`rollcall timeline verify FILE --public-key KEY`)",
)
def export_timeline(
    officer_id: OfficerId,
    query: TimelineQuery,
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: TimelineReader,
    request_id: RequestIdDep,
) -> Response:
    """The same timeline, wrapped with who exported it, when and for which case, and an Ed25519
    signature over the canonical JSON (sorted keys, no whitespace) of ``document``. Anyone with
    the public key (``GET /v1/export-keys``) can check it offline; only this service can make it.
    The document also carries the officer (name, rank, unit), the period's day results and its
    flags with their review history. ``Accept: application/pdf`` or ``text/html`` gives the
    printable case file drawn from the signed document (never without a signing key)."""
    media = choose(request, (JSON, PDF, HTML))
    return export_response(
        media,
        officer_id,
        query,
        request=request,
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
    )


def export_response(
    media: str,
    officer_id: str,
    query: TimelinePeriod,
    *,
    request: Request,
    session: Session,
    state: AppState,
    caller: Principal,
    request_id: str,
) -> Response:
    """The signed export of a timeline as ``media``: the JSON, or the case file (PDF or HTML)
    drawn from it. Audited as export.timeline; 503 without a signing key."""
    signer = _export_signer(request)
    timeline, case_ref, stations = _timeline(
        officer_id,
        query,
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
        action="export.timeline",
    )
    tz = state.settings.timezone
    zone = ZoneInfo(tz)
    first = datetime.fromisoformat(str(timeline["from"])).astimezone(zone).date()
    last = (
        (datetime.fromisoformat(str(timeline["to"])) - timedelta(microseconds=1))
        .astimezone(zone)
        .date()
    )
    document = {
        "timeline": timeline,
        **case_record(session, officer_id, first, last, tz=tz),
        "exported_at": iso_local(state.clock(), tz),
        "exported_by": caller.sub,
        "role": caller.role.value,
        "case_ref": case_ref,
        "request_id": request_id,
    }
    signed = signer.sign(document)
    if media == JSON:
        return JsonResponse(signed)
    fences = stations.fences
    name = f"case-{officer_id}-{first.isoformat()}-{last.isoformat()}"
    if media == PDF:
        return Response(
            render_pdf(signed, fences),
            media_type=PDF,
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return HTMLResponse(render_html(signed, fences))


@router.get(
    "/export-keys",
    response_model=ExportKeys,
    responses={503: {"model": ErrorBody, "description": f"{signing.KEY_SETTING} is not set"}},
    tags=["exports"],
    summary="The public key that checks timeline exports (no token needed)",
)
def export_keys(request: Request) -> ExportKeys:
    """The public key of the export signing key, with its key id. Public by design: whoever holds
    an export (a court, a defence lawyer) can fetch it without a token, though for evidence the
    key should also be obtained through a channel the verifier trusts."""
    public_key = _export_signer(request).public_key
    return ExportKeys(
        keys=[
            ExportPublicKey(
                alg="Ed25519",
                key_id=signing.key_id(public_key),
                public_key=signing.public_key_text(public_key),
                public_key_pem=signing.public_key_pem(public_key),
            )
        ]
    )
