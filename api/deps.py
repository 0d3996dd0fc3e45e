"""Request dependencies as Annotated aliases: state, session (owns the transaction), caller, roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Principal, Role, TokenVerifier
from api.errors import Forbidden, Unauthenticated, request_id_of
from api.observability import Metrics
from api.trail import AT_COMMIT, RefusalLimiter, append_at_commit, watch_refusals
from rollcall import wallclock
from rollcall.settings import Settings
from rollcall.wallclock import Clock
from rules.policy import Policy
from store.audit import SESSION_CLOCK, ChainVerifier
from store.stations import StationCatalog

ON_COMMIT = "on_commit"


@dataclass
class AppState:
    """Everything a request needs, built once by create_app (no module-level globals)."""

    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    policy: Policy
    verifier: TokenVerifier
    metrics: Metrics
    clock: Clock = field(default=wallclock.utc_now)
    refusals: RefusalLimiter = field(default_factory=RefusalLimiter)
    stations: StationCatalog = field(default_factory=StationCatalog)
    chain: ChainVerifier = field(default_factory=ChainVerifier)


def get_state(request: Request) -> AppState:
    """The app's state."""
    state: AppState = request.app.state.rollcall
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_now(state: StateDep) -> datetime:
    """The instant this request is served at, from the app's clock (aware, UTC)."""
    return state.clock()


NowDep = Annotated[datetime, Depends(get_now)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session in a transaction: committed when the endpoint returns, rolled back if it raises.

    Runs with ``scope="function"``: the commit happens before the response is sent, so a client
    never sees success for something that was not stored. Audit entries left by
    ``record_at_commit`` are appended just before the commit, in the thread that commits.
    Callbacks in ``session.info["on_commit"]`` run after a successful commit (metrics).
    """
    with state.factory() as session:
        session.info[SESSION_CLOCK] = state.clock
        session.info[AT_COMMIT] = []
        with session.begin():
            yield session
            append_at_commit(session)
        for callback in session.info.pop(ON_COMMIT, []):
            callback()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_request_id(request: Request) -> str:
    """The request id (X-Request-ID) assigned by the middleware."""
    return request_id_of(request) or ""


RequestIdDep = Annotated[str, Depends(get_request_id)]

_bearer = HTTPBearer(auto_error=False, description="A JWT with sub, role, exp (and officer_id)")


def get_principal(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller; 401 without a valid bearer token.

    Every endpoint that authenticates its caller goes through here, so every refusal of one (no
    or bad token, wrong role, another officer's data, no case_ref) is written to the audit log:
    the request is marked before the token is checked, so a 401 is recorded too.
    """
    watch_refusals(request, state.factory, state.refusals)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer token is required")
    principal = state.verifier.verify(credentials.credentials)
    request.scope.setdefault("state", {})["principal"] = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only ``roles`` through (403 for any other valid caller)."""
    allowed = frozenset(roles)

    def check(principal: PrincipalDep) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role.value} may not do this")
        return principal

    return check


IngestCaller = Annotated[Principal, Depends(require(Role.INGEST))]
RosterCaller = Annotated[Principal, Depends(require(Role.ADMIN, Role.INGEST))]
AdminCaller = Annotated[Principal, Depends(require(Role.ADMIN))]
HrCaller = Annotated[Principal, Depends(require(Role.HR))]
PersonReader = Annotated[Principal, Depends(require(Role.HR, Role.INVESTIGATOR, Role.OFFICER))]
TimelineReader = Annotated[Principal, Depends(require(Role.INVESTIGATOR, Role.OFFICER))]
FlagReader = Annotated[Principal, Depends(require(Role.INVESTIGATOR, Role.OFFICER))]
Investigator = Annotated[Principal, Depends(require(Role.INVESTIGATOR))]
Auditor = Annotated[Principal, Depends(require(Role.AUDITOR))]
OfficerCaller = Annotated[Principal, Depends(require(Role.OFFICER))]
ContestAnswerer = Annotated[Principal, Depends(require(Role.HR, Role.INVESTIGATOR))]
ContestReader = Annotated[Principal, Depends(require(Role.HR, Role.INVESTIGATOR, Role.OFFICER))]
SubjectReader = Annotated[Principal, Depends(require(Role.OFFICER, Role.AUDITOR))]
FairnessReader = Annotated[Principal, Depends(require(Role.AUDITOR, Role.INVESTIGATOR))]
AnyRole = Annotated[Principal, Depends(require(*Role))]


CaseRef = Annotated[
    str | None,
    Query(
        max_length=100,
        description="Case reference (required for investigators)",
        examples=["CASE-2026-0042"],
    ),
]
Purpose = Annotated[str | None, Query(max_length=100, description="Why the data is read")]
TimeFrom = Annotated[
    str,
    Query(
        alias="from",
        max_length=40,
        description="Local day or ISO 8601 instant",
        examples=["2026-10-05"],
    ),
]
TimeTo = Annotated[
    str,
    Query(
        alias="to",
        max_length=40,
        description="Local day (inclusive) or instant (exclusive)",
        examples=["2026-10-05"],
    ),
]


@dataclass(frozen=True)
class TimelinePeriod:
    """The period of a timeline read as given (``from`` and ``to``: each a local day or an ISO
    8601 instant), with the case and purpose it is read for."""

    start: str
    end: str
    case_ref: str | None = None
    purpose: str | None = None


def timeline_period(
    start: TimeFrom, end: TimeTo, case_ref: CaseRef = None, purpose: Purpose = None
) -> TimelinePeriod:
    return TimelinePeriod(start, end, case_ref, purpose)


# The query of a timeline read or export, the same for the API and the web app.
TimelineQuery = Annotated[TimelinePeriod, Depends(timeline_period)]


def ensure_subject(principal: Principal, officer_id: str) -> None:
    """An officer token may only read its own officer's data (403 otherwise)."""
    if principal.role is Role.OFFICER and principal.officer_id != officer_id:
        raise Forbidden("an officer token may read only its own officer's data")
