"""Audit helpers for endpoints: who (the principal), which request, why (case_ref or purpose),
and the refused calls to every authenticated endpoint."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Principal, Role
from api.errors import ON_REFUSED, ApiError, BadRequest, CaseRefRequired, request_id_of
from store import audit
from store.db import transaction

log = logging.getLogger("rollcall.api")

REFUSED_ACTION = "access.refused"
UNAUTHENTICATED_ACTOR = "unauthenticated"
NO_ROLE = "none"

_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.:#-]{0,99}")


def check_ref(value: str | None, name: str) -> str | None:
    """A case reference or purpose: 1-100 plain characters (letters, digits, / _ . : # -) or None."""
    if value is None:
        return None
    if not _REF.fullmatch(value):  # never match(): its $ lets a final newline through
        raise BadRequest(f"{name} must be 1-100 letters, digits or / _ . : # -")
    return value


def require_case_ref(principal: Principal, case_ref: str | None) -> str | None:
    """Investigators must say which case a read of a person's data is for (400 otherwise)."""
    case_ref = check_ref(case_ref, "case_ref")
    if principal.role is Role.INVESTIGATOR and case_ref is None:
        raise CaseRefRequired("an investigator must give case_ref to read an officer's data")
    return case_ref


def record(
    session: Session,
    principal: Principal,
    request_id: str,
    action: str,
    *,
    officer_id: str | None = None,
    case_ref: str | None = None,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append the audit entry of this request (call it last: the chain lock lasts until commit).

    An officer reading their own data is recorded with purpose ``subject_access``.
    """
    audit.append(
        session,
        **_fields(principal, request_id, action, officer_id, case_ref, purpose, detail),
    )


def _fields(
    principal: Principal,
    request_id: str,
    action: str,
    officer_id: str | None,
    case_ref: str | None,
    purpose: str | None,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    """The audit entry's fields (an officer reading their own data: purpose subject_access)."""
    if purpose is None and principal.role is Role.OFFICER:
        purpose = "subject_access"
    return {
        "actor": principal.sub,
        "role": principal.role.value,
        "action": action,
        "officer_id": officer_id,
        "case_ref": case_ref,
        "purpose": purpose,
        "request_id": request_id,
        "detail": detail,
    }


# session.info key: the entries the request dependency appends right before it commits.
AT_COMMIT = "audit_at_commit"


def record_at_commit(
    session: Session,
    principal: Principal,
    request_id: str,
    action: str,
    *,
    detail: dict[str, Any] | None = None,
) -> None:
    """Have the audit entry of this request appended by the request's session (api.deps) right
    before it commits, in the same thread: the chain lock is then held only for the tail read,
    the entry and the commit, not while the response is built or the request hops between the
    event loop and worker threads. Nothing is recorded if the request fails (as with ``record``:
    its transaction is rolled back). Only for a session that ``api.deps.get_session`` owns;
    any other raises, so an entry is never left unwritten.
    """
    pending = session.info.get(AT_COMMIT)
    if pending is None:
        raise RuntimeError("record_at_commit needs a session owned by api.deps.get_session")
    pending.append(_fields(principal, request_id, action, None, None, None, detail))


def append_at_commit(session: Session) -> None:
    """Append the entries ``record_at_commit`` left on ``session`` (call it just before commit)."""
    for fields in session.info.pop(AT_COMMIT, []):
        audit.append(session, **fields)


_ID = re.compile(r"[A-Za-z0-9._:/#-]{1,64}")
# A local day or an ISO 8601 instant: never anything else (a coordinate, say) from a query.
_DAY_OR_INSTANT = re.compile(
    r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?)?"
)


def _safe(value: Any, pattern: re.Pattern[str]) -> str | None:
    """``value`` if it is plain text of the expected shape, else None: a refused request's
    parameters are not validated yet and are stored only when they cannot carry anything else."""
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


class RefusalLimiter:
    """At most ``burst`` refusals of unauthenticated callers recorded per ``per_s`` seconds (a
    token bucket shared by every route), so anonymous requests cannot flood the audit log or hold
    its chain lock; the refusals left unrecorded are counted per route and the counts carried into
    the next recorded entry. Memory is bounded by the number of route templates."""

    def __init__(
        self, burst: int = 60, per_s: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._burst = float(burst)
        self._rate = burst / per_s
        self._tokens = float(burst)
        self._clock = clock
        self._at = clock()
        self._skipped: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, route: str) -> dict[str, int] | None:
        """None when this refusal (of ``route``, a route template) is not recorded; otherwise the
        refusals not recorded since the last recorded one, by route template."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
            self._at = now
            if self._tokens < 1.0:
                self._skipped[route] = self._skipped.get(route, 0) + 1
                return None
            self._tokens -= 1.0
            skipped, self._skipped = self._skipped, {}
            return skipped


def refusal_writer(
    factory: sessionmaker[Session], limiter: RefusalLimiter, request: Request, exc: ApiError
) -> Callable[[], None] | None:
    """What to record of a refused request: a callable appending its ``access.refused`` entry in
    its own transaction (the request's own was rolled back), or None when the limiter leaves an
    anonymous refusal out. Cheap and non-blocking, so it runs on the event loop; only the returned
    write touches the database.

    Recorded: the caller and role if the token was valid (else ``unauthenticated`` / ``none``),
    the officer asked about, case_ref and purpose when well-formed, the request id, and in
    ``detail`` the method, route template, status, the refusal's reason, the flag or station id,
    period and the caller's own officer id where they apply. Never the token, a body or any
    query value of another shape. A failure to record is logged (type only) and does not change
    the response.
    """
    state = request.scope.get("state", {})
    principal: Principal | None = state.get("principal")
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    unrecorded: dict[str, int] = {}
    if principal is None:
        admitted = limiter.admit(template or "unmatched")
        if admitted is None:
            return None
        unrecorded = admitted
    query, params = request.query_params, request.path_params
    officer_id = _safe(params.get("officer_id") or query.get("officer_id"), _ID)
    detail: dict[str, Any] = {
        "method": request.method,
        "route": template,
        "status": exc.status,
        "reason": exc.message,
    }
    extra = {
        "flag_id": _safe(params.get("flag_id"), _ID),
        "station_id": _safe(params.get("station_id"), _ID),
        "from": _safe(query.get("from"), _DAY_OR_INSTANT),
        "to": _safe(query.get("to"), _DAY_OR_INSTANT),
        "caller_officer_id": principal.officer_id if principal is not None else None,
        "unrecorded_before": sum(unrecorded.values()) or None,
        "unrecorded_routes": unrecorded or None,
    }
    detail.update({k: v for k, v in extra.items() if v is not None})
    fields: dict[str, Any] = {
        "actor": principal.sub if principal is not None else UNAUTHENTICATED_ACTOR,
        "role": principal.role.value if principal is not None else NO_ROLE,
        "action": REFUSED_ACTION,
        "officer_id": officer_id,
        "case_ref": _safe(query.get("case_ref"), _REF),
        "purpose": _safe(query.get("purpose"), _REF),
        "request_id": request_id_of(request),
        "detail": detail,
    }
    clock = request.app.state.rollcall.clock  # the app's: the request's own time

    def write() -> None:
        try:
            with transaction(factory) as session:
                session.info[audit.SESSION_CLOCK] = clock
                audit.append(session, **fields)
        except Exception as exc_:  # noqa: BLE001 - the refusal stands whatever happens here
            log.error(
                "refused request not recorded in the audit log",
                extra={"error_type": type(exc_).__name__, "request_id": fields["request_id"]},
            )

    return write


def watch_refusals(
    request: Request, factory: sessionmaker[Session], limiter: RefusalLimiter
) -> None:
    """Have a refusal of this request (401, 403, or a missing case_ref) recorded when api.errors
    renders it (refusal_writer decides on the event loop, the write runs on a worker thread)."""
    hook: Callable[[ApiError], Callable[[], None] | None] = partial(
        refusal_writer, factory, limiter, request
    )
    request.scope.setdefault("state", {})[ON_REFUSED] = hook
