"""The audit log, readable only by auditors (and every read of it is itself recorded)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Auditor, RequestIdDep, SessionDep, StateDep
from api.errors import BadRequest
from api.schemas import REPORT_ERRORS, AuditEntryOut, AuditPage
from api.trail import check_ref, record
from rules.clock import TimeParseError, iso_local, parse_instant
from store import audit

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/audit",
    response_model=AuditPage,
    responses=REPORT_ERRORS,
    summary="Who read or changed what, when and why",
)
def get_audit(
    session: SessionDep,
    state: StateDep,
    caller: Auditor,
    request_id: RequestIdDep,
    actor: Annotated[str | None, Query(max_length=200, description="Only this actor's")] = None,
    officer_id: Annotated[
        str | None, Query(max_length=64, description="Only entries about this officer")
    ] = None,
    action: Annotated[
        str | None,
        Query(max_length=64, description="Only this action", examples=["read.timeline"]),
    ] = None,
    since: Annotated[str | None, Query(max_length=40, description="ISO 8601, inclusive")] = None,
    until: Annotated[str | None, Query(max_length=40, description="ISO 8601, exclusive")] = None,
    after: Annotated[int | None, Query(ge=0, description="next_after of a page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Entries per page")] = 100,
    purpose: Annotated[str | None, Query(max_length=100, description="Why the log is read")] = None,
) -> AuditPage:
    """Entries in seq order with the hash chain fields, filtered by any of the parameters."""
    tz = state.settings.timezone
    try:
        since_at = parse_instant(since, tz) if since else None
        until_at = parse_instant(until, tz) if until else None
    except TimeParseError as exc:
        raise BadRequest("since/until must be ISO 8601 instants") from exc
    page, next_after = audit.entries(
        session,
        actor=actor,
        officer_id=officer_id,
        action=action,
        since=since_at,
        until=until_at,
        after_seq=after,
        limit=limit,
    )
    out = [
        AuditEntryOut(
            seq=e.seq,
            at=iso_local(e.at, tz),
            actor=e.actor,
            role=e.role,
            action=e.action,
            officer_id=e.officer_id,
            case_ref=e.case_ref,
            purpose=e.purpose,
            request_id=e.request_id,
            detail=e.detail,
            prev_hash=e.prev_hash,
            hash=e.hash,
        )
        for e in page
    ]
    record(
        session,
        caller,
        request_id,
        "read.audit",
        officer_id=officer_id,
        purpose=check_ref(purpose, "purpose"),
        detail={"actor": actor, "action": action, "after": after, "returned": len(out)},
    )
    return AuditPage(entries=out, next_after=next_after)
