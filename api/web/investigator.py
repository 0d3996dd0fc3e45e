"""Investigators' screens: the flag queue, a flag with its evidence and review history and the
review action, and an officer's timeline on a map. Every page showing a person's data asks for
the case reference first; reads and reviews are audited as the API's are."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from api.deps import CaseRef, RequestIdDep, SessionDep, StateDep, TimelineQuery
from api.errors import NotFound
from api.negotiate import HTML, JSON, PDF
from api.routes.flags import StatusFilter, get_flag_record
from api.routes.reads import export_response
from api.trail import check_ref, record
from api.web.explain import CONSIDERED, evidence_lines
from api.web.render import page, web_config
from api.web.session import InvestigatorUser, TimelineUser, WebPrincipal, check_csrf
from api.web.timeline import timeline_context
from rules.engine import FLAG_CODES
from rules.findings import coarsen
from rules.records import FlagStatus
from store.flag_review import REVIEW_STATUSES, review_flag
from store.overview import flag_by_id
from store.reports import flag_dict, list_flags

router = APIRouter(prefix="/app", include_in_schema=False)

FlagId = Annotated[str, Path(min_length=1, max_length=64)]
OfficerId = Annotated[str, Path(min_length=1, max_length=64)]


def _ask_case(request: Request, caller: Any, purpose: str) -> Response:
    return page(
        request,
        "case_ref.html",
        {"action": request.url.path, "purpose": purpose, "keep": dict(request.query_params)},
        user=caller,
    )


@router.get("/investigate")
def investigate(request: Request, caller: InvestigatorUser) -> Response:
    """Which case the investigator is working on (carried on every page after this)."""
    return _ask_case(request, caller, "open the flag queue")


@router.get("/flags")
def flag_queue(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: InvestigatorUser,
    request_id: RequestIdDep,
    case_ref: CaseRef = None,
    status: StatusFilter | None = StatusFilter(FlagStatus.OPEN),
    code: Annotated[str | None, Query(max_length=40)] = None,
    officer_id: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """The flag queue with filters (status, code, officer), newest first, 50 a page."""
    case_ref = check_ref(case_ref or None, "case_ref")
    if case_ref is None:
        return _ask_case(request, caller, "open the flag queue")
    flags, cursor = list_flags(
        session,
        status=status,
        code=code or None,
        officer_id=officer_id or None,
        after=after,
        limit=50,
        tz=state.settings.timezone,
    )
    record(
        session,
        caller,
        request_id,
        "read.flags",
        officer_id=officer_id or None,
        case_ref=case_ref,
        detail={
            "status": status,
            "code": code,
            "returned": len(flags),
            "officers": sorted({f["officer_id"] for f in flags}),
            "via": "web",
        },
    )
    context = {
        "flags": flags,
        "cursor": cursor,
        "case_ref": case_ref,
        "status": status,
        "code": code or "",
        "officer_id": officer_id or "",
        "statuses": tuple(StatusFilter),
        "codes": FLAG_CODES,
    }
    template = "flag_rows.html" if request.headers.get("hx-request") else "flag_queue.html"
    return page(request, template, context, user=caller)


@router.get("/flags/{flag_id}")
def flag_page(
    request: Request,
    flag_id: FlagId,
    session: SessionDep,
    state: StateDep,
    caller: InvestigatorUser,
    request_id: RequestIdDep,
    case_ref: CaseRef = None,
) -> Response:
    """A flag: its evidence in words, the explanations the rule considered, its reviews and the
    review form."""
    case_ref = check_ref(case_ref or None, "case_ref")
    if case_ref is None:
        return _ask_case(request, caller, "open this flag")
    # The same read as GET /v1/flags/{id}: reviews, the officer's responses, the two-person state
    # (and its read.flag audit entry).
    flag_record = get_flag_record(flag_id, session, state, caller, request_id, case_ref, None)
    flag = flag_by_id(session, flag_id)
    if flag is None:
        raise NotFound("no such flag")
    tz = state.settings.timezone
    context = {
        "flag": flag_dict(flag, tz),
        "record": flag_record,
        "reviews": flag_record.reviews,
        "case_ref": case_ref,
        "statuses": REVIEW_STATUSES,
        "evidence": evidence_lines(coarsen(flag.evidence), tz),
        "considered": CONSIDERED.get(flag.code, []),
        "is_proposer": caller.sub in flag_record.substantiation.proposed_by,
    }
    return page(request, "flag.html", context, user=caller)


async def _review_form(request: Request, caller: WebPrincipal) -> dict[str, str]:
    return await check_csrf(request, web_config(request).csrf_key)


@router.post("/flags/{flag_id}/review")
def review(
    flag_id: FlagId,
    session: SessionDep,
    state: StateDep,
    caller: InvestigatorUser,
    request_id: RequestIdDep,
    fields: Annotated[dict[str, str], Depends(_review_form)],
) -> Response:
    """Move the flag to another status with a note (409 if someone moved it meanwhile)."""
    case_ref = check_ref(fields.get("case_ref") or None, "case_ref")
    to_status = fields.get("status", "")
    from api.errors import BadRequest

    if to_status not in REVIEW_STATUSES:
        *others, last = REVIEW_STATUSES
        raise BadRequest(f"field status: choose {', '.join(others)} or {last}")
    note = fields.get("note", "").strip()
    if not note or len(note) > 2000:
        raise BadRequest("field note: say why, in at most 2,000 characters")
    outcome = review_flag(
        session,
        flag_id,
        to_status=to_status,
        note=note,
        actor=caller.sub,
        role=caller.role.value,
        now=state.clock(),
        expected_status=fields.get("expected_status") or None,
        case_ref=case_ref,
        reviewers_needed=state.policy.substantiation_reviewers,
    )
    record(
        session,
        caller,
        request_id,
        "flag.review",
        officer_id=outcome.flag.officer_id,
        case_ref=case_ref,
        detail={
            "flag_id": flag_id,
            "to": outcome.flag.status,
            "changed": outcome.review is not None,
            "via": "web",
        },
    )
    target = f"/app/flags/{flag_id}" + (f"?case_ref={case_ref}" if case_ref else "")
    return RedirectResponse(target, status_code=303)


TimeText = Annotated[str | None, Query(max_length=40)]


@router.get("/officers/{officer_id}/timeline")
def timeline(
    request: Request,
    officer_id: OfficerId,
    session: SessionDep,
    state: StateDep,
    caller: TimelineUser,
    request_id: RequestIdDep,
    case_ref: CaseRef = None,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> Response:
    """An officer's timeline on a map with the list beside it (an investigator gives the case
    first; an officer sees only their own)."""
    if caller.role.value == "investigator" and not case_ref:
        return _ask_case(request, caller, "open this officer's timeline")
    context = timeline_context(
        officer_id,
        start,
        end,
        case_ref,
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
        basemap_url=web_config(request).basemap_url,
    )
    return page(request, "timeline.html", context, user=caller)


@router.get("/officers/{officer_id}/timeline/export")
def timeline_export(
    request: Request,
    officer_id: OfficerId,
    query: TimelineQuery,
    session: SessionDep,
    state: StateDep,
    caller: TimelineUser,
    request_id: RequestIdDep,
) -> Response:
    """The signed export of GET /v1/officers/{id}/timeline/export, as a file to save."""
    response = export_response(
        JSON,
        officer_id,
        query,
        request=request,
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="timeline-{_file_part(officer_id)}-{_file_part(query.start)}.json"'
    )
    return response


@router.get("/officers/{officer_id}/timeline/casefile.pdf")
def timeline_casefile(
    request: Request,
    officer_id: OfficerId,
    query: TimelineQuery,
    session: SessionDep,
    state: StateDep,
    caller: TimelineUser,
    request_id: RequestIdDep,
) -> Response:
    """The printable case file (PDF drawn from the signed export, which it carries), as
    GET /v1/officers/{id}/timeline/export sends it for Accept: application/pdf."""
    response = export_response(
        PDF,
        officer_id,
        query,
        request=request,
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="casefile-{_file_part(officer_id)}-{_file_part(query.start)}.pdf"'
    )
    return response


def _file_part(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)[:64]


@router.get("/officers/{officer_id}/timeline/casefile")
def timeline_casefile_page(
    request: Request,
    officer_id: OfficerId,
    query: TimelineQuery,
    session: SessionDep,
    state: StateDep,
    caller: TimelineUser,
    request_id: RequestIdDep,
) -> Response:
    """The case file as a page (GET /v1/officers/{id}/timeline/export with Accept: text/html),
    under the web app's Content-Security-Policy: styled by its static stylesheet."""
    return export_response(
        HTML,
        officer_id,
        query,
        request=request,
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
    )


CasePath = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/cases/{case_ref}/close")
def case_close_page(
    request: Request, case_ref: CasePath, session: SessionDep, caller: InvestigatorUser
) -> Response:
    """Whether the case is closed, and a button to close it (POST /v1/cases/{ref}/close)."""
    from store.models import CaseClosure

    ref = check_ref(case_ref, "case_ref")
    closure = session.get(CaseClosure, ref)
    return page(request, "case_close.html", {"case_ref": ref, "closure": closure}, user=caller)


@router.post("/cases/{case_ref}/close")
def case_close(
    case_ref: CasePath,
    session: SessionDep,
    state: StateDep,
    caller: InvestigatorUser,
    request_id: RequestIdDep,
    fields: Annotated[dict[str, str], Depends(_review_form)],
) -> Response:
    """Close the case (closing it again keeps the first closure); the officers' access logs
    then show the reads made under it."""
    from store.cases import close_case

    ref = check_ref(case_ref, "case_ref")
    assert ref is not None
    closure = close_case(session, ref, actor=caller.sub, now=state.clock())
    record(
        session,
        caller,
        request_id,
        "case.close",
        case_ref=ref,
        detail={"closed_by": closure.closed_by, "via": "web"},
    )
    return RedirectResponse(f"/app/cases/{quote(ref, safe='')}/close", status_code=303)
