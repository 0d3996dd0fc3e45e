"""What an officer can see about themselves: the access log and the subject access bundle."""

from __future__ import annotations

import re
from time import perf_counter
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.bundle import NoSuchOfficerError, build_bundle
from api.deps import RequestIdDep, SessionDep, StateDep, SubjectReader, ensure_subject
from api.errors import NotFound
from api.routes.reads import EXPORT_RESPONSES, _export_signer
from api.schemas import ERROR_RESPONSES, AccessEntryOut, AccessLog
from api.trail import record
from rules.clock import iso_local
from store.access import access_log
from store.timeline import officer_exists

router = APIRouter(prefix="/v1", tags=["subject access"])

OfficerId = Annotated[
    str, Path(min_length=1, max_length=64, description="The officer's id", examples=["O-0001"])
]
ZIP = "application/zip"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@router.get(
    "/officers/{officer_id}/access-log",
    response_model=AccessLog,
    responses=ERROR_RESPONSES,
    summary="Who read or changed the officer's data (the officer, auditors)",
)
def get_access_log(
    officer_id: OfficerId,
    session: SessionDep,
    state: StateDep,
    caller: SubjectReader,
    request_id: RequestIdDep,
    after: Annotated[int | None, Query(ge=0, description="next_after of a page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Entries per page")] = 200,
) -> AccessLog:
    """Every recorded read or change of the officer's data, oldest first: who, role, when,
    purpose and case. A read under a case that is still open is shown once an investigator
    closes the case (``POST /v1/cases/{case_ref}/close``), or after
    policy.open_case_disclosure_days; auditors see the same view as the officer."""
    ensure_subject(caller, officer_id)
    if not officer_exists(session, officer_id):
        raise NotFound("no such officer")
    tz = state.settings.timezone
    entries, next_after = access_log(
        session,
        officer_id,
        now=state.clock(),
        disclosure_days=state.policy.open_case_disclosure_days,
        after_seq=after,
        limit=limit,
    )
    record(
        session,
        caller,
        request_id,
        "read.access_log",
        officer_id=officer_id,
        detail={"returned": len(entries)},
    )
    return AccessLog(
        officer_id=officer_id,
        entries=[
            AccessEntryOut(
                seq=e.seq,
                at=iso_local(e.at, tz),
                actor=e.actor,
                role=e.role,
                action=e.action,
                purpose=e.purpose,
                case_ref=e.case_ref,
            )
            for e in entries
        ],
        next_after=next_after,
    )


@router.get(
    "/officers/{officer_id}/subject-access",
    response_class=Response,
    responses={
        **EXPORT_RESPONSES,
        200: {"content": {ZIP: {}}, "description": "The signed zip of CSV and JSON files"},
    },
    summary="Everything held about the officer, as a signed zip (the officer, auditors)",
)
def get_subject_access(
    officer_id: OfficerId,
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: SubjectReader,
    request_id: RequestIdDep,
) -> Response:
    """Profile, devices, badges, every shift version, overtime claims, stored on-duty pings and
    swipes, daily results, flags with reviews and responses, contests, adjustments and the
    access log, each a CSV or JSON file, with ``manifest.json`` listing their SHA-256 digests,
    signed with the export key (check it with ``rollcall subject-access-verify``)."""
    ensure_subject(caller, officer_id)
    signer = _export_signer(request)
    started = perf_counter()
    try:
        bundle = build_bundle(
            session,
            officer_id,
            signer,
            tz=state.settings.timezone,
            now=state.clock(),
            disclosure_days=state.policy.open_case_disclosure_days,
            requested_by=caller.sub,
            role=caller.role.value,
        )
    except NoSuchOfficerError as exc:
        raise NotFound("no such officer") from exc
    record(
        session,
        caller,
        request_id,
        "export.subject_access",
        officer_id=officer_id,
        detail={
            "files": bundle.files,
            "bytes": len(bundle.data),
            "seconds": round(perf_counter() - started, 3),
        },
    )
    return Response(
        bundle.data,
        media_type=ZIP,
        headers={
            "Content-Disposition": (
                f'attachment; filename="subject-access-{_SAFE.sub("_", officer_id)}.zip"'
            )
        },
    )
