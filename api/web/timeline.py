"""The timeline page's content: GET /v1/officers/{id}/timeline's own code (checks, audit) and
the map drawn from its events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from api.auth import Principal
from api.deps import AppState, TimelinePeriod
from api.routes.reads import _timeline
from api.web.mapsvg import timeline_map
from store.overview import latest_result_day

DEFAULT_DAYS = 7


def default_period(session: Session, tz: str, now: datetime) -> tuple[str, str]:
    """The week ending on the newest computed day (or on the day of ``now``)."""
    last = latest_result_day(session) or now.astimezone(ZoneInfo(tz)).date()
    return (last - timedelta(days=DEFAULT_DAYS - 1)).isoformat(), last.isoformat()


def timeline_context(
    officer_id: str,
    start: str | None,
    end: str | None,
    case_ref: str | None,
    *,
    session: Session,
    state: AppState,
    caller: Principal,
    request_id: str,
    basemap_url: str | None,
) -> dict[str, Any]:
    """Everything the timeline page shows, read (and audited) the way the API reads it."""
    if not start or not end:
        default_start, default_end = default_period(session, state.settings.timezone, state.clock())
        start, end = start or default_start, end or default_end
    timeline, case_ref, stations = _timeline(
        officer_id,
        TimelinePeriod(start, end, case_ref),
        session=session,
        state=state,
        caller=caller,
        request_id=request_id,
        action="read.timeline",
    )
    events: list[dict[str, Any]] = list(timeline["events"])  # type: ignore[call-overload]
    view = timeline_map(events, stations.stations, basemap_url=basemap_url)
    days: dict[str, list[dict[str, Any]]] = {}
    zone = ZoneInfo(state.settings.timezone)
    for event in events:
        local_day = datetime.fromisoformat(event["start"]).astimezone(zone).date().isoformat()
        days.setdefault(local_day, []).append(event)
    return {
        "officer_id": officer_id,
        "case_ref": case_ref,
        "start": start,
        "end": end,
        "map": view,
        "days": [(date.fromisoformat(d), evs) for d, evs in sorted(days.items())],
        "counts": {
            k: sum(1 for e in events if e["type"] == k) for k in ("presence", "away", "swipe")
        },
    }
