"""Auditors' screens: the access log with search, the audit chain's verification and refusal
spikes. Every read is itself recorded."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import RequestIdDep, SessionDep, StateDep
from api.errors import BadRequest
from api.trail import REFUSED_ACTION, record
from api.web.render import page
from api.web.session import AuditorUser
from rules.clock import TimeParseError, parse_instant
from store import audit

router = APIRouter(prefix="/app/audit", include_in_schema=False)

Text = Annotated[str | None, Query(max_length=200)]
SPIKE_WINDOW = timedelta(days=7)
SPIKE_SCAN = 20_000


@router.get("")
def access_log(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: AuditorUser,
    request_id: RequestIdDep,
    actor: Text = None,
    officer_id: Text = None,
    action: Text = None,
    since: Text = None,
    until: Text = None,
    after: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The audit log, searchable by who, whose data, what and when."""
    tz = state.settings.timezone
    try:
        since_at = parse_instant(since, tz) if since else None
        until_at = parse_instant(until, tz) if until else None
    except TimeParseError as exc:
        raise BadRequest("since and until: a date and time such as 2026-10-05T08:00") from exc
    entries, next_after = audit.entries(
        session,
        actor=actor or None,
        officer_id=officer_id or None,
        action=action or None,
        since=since_at,
        until=until_at,
        after_seq=after,
        limit=100,
    )
    record(
        session,
        caller,
        request_id,
        "read.audit",
        officer_id=officer_id or None,
        detail={
            "actor": actor,
            "action": action,
            "after": after,
            "returned": len(entries),
            "via": "web",
        },
    )
    query = {
        "actor": actor or "",
        "officer_id": officer_id or "",
        "action": action or "",
        "since": since or "",
        "until": until or "",
    }
    return page(
        request,
        "audit.html",
        {"entries": entries, "next_after": next_after, "q": query},
        user=caller,
    )


@router.get("/status")
def chain_status(
    request: Request,
    session: SessionDep,
    state: StateDep,
    caller: AuditorUser,
    request_id: RequestIdDep,
) -> Response:
    """Whether the audit chain verifies, and refused requests per hour over the last week."""
    now = state.clock()
    report, walked_at = state.chain.verify(session, now)
    refused, _ = audit.entries(
        session, action=REFUSED_ACTION, since=now - SPIKE_WINDOW, limit=SPIKE_SCAN
    )
    zone = ZoneInfo(state.settings.timezone)
    hours = Counter(
        e.at.astimezone(zone).replace(minute=0, second=0, microsecond=0) for e in refused
    )
    by_actor = Counter(e.actor for e in refused)
    mean = len(refused) / (SPIKE_WINDOW / timedelta(hours=1))  # per hour of the whole week
    spikes = sorted(
        ((hour, n) for hour, n in hours.items() if n >= max(10, 3 * mean)),
        key=lambda x: x[0],
        reverse=True,
    )
    record(
        session,
        caller,
        request_id,
        "read.audit_status",
        detail={
            "chain_ok": report.ok,
            "entries": report.entries,
            "refusals": len(refused),
            "via": "web",
        },
    )
    context = {
        "report": report,
        "walked_at": walked_at,
        "full_every_min": int(state.chain.full_every / timedelta(minutes=1)),
        "refused": len(refused),
        "truncated": len(refused) >= SPIKE_SCAN,
        "hours": sorted(hours.items(), reverse=True)[:48],
        "peak": max(hours.values()) if hours else 0,
        "spikes": spikes,
        "by_actor": by_actor.most_common(10),
    }
    return page(request, "audit_status.html", context, user=caller)
