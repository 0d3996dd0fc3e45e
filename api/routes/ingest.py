"""Ingest endpoints: pings, swipes, visits, roster and stations, all-or-nothing per request.

The caller is checked before anything else: a refused call reads no body and opens no session.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from api.auth import Principal
from api.batch import merge_report, parse_batch
from api.deps import (
    ON_COMMIT,
    AdminCaller,
    AppState,
    IngestCaller,
    NowDep,
    RequestIdDep,
    RosterCaller,
    SessionDep,
    StateDep,
)
from api.errors import Unprocessable
from api.schemas import ERROR_RESPONSES, BatchResult, StationResult
from api.trail import record, record_at_commit
from intake.pipeline import ingest_frame
from intake.report import IngestReport
from store.stations import upsert_station

router = APIRouter(prefix="/v1", tags=["ingest"])


async def raw_body(request: Request) -> bytes:
    """The request body, read under the middleware's size limit (413 beyond it)."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def _body_doc(model: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{model}"},
                    "example": example,
                }
            },
        }
    }


PING_EXAMPLE = {
    "pings": [
        {
            "device_id": "D-1001",
            "ts": "2026-10-05T09:14:03+01:00",
            "lat": 51.5007,
            "lon": -0.1246,
            "accuracy_m": 12.0,
            "source": "gps",
            "is_mock": False,
        }
    ]
}
SWIPE_EXAMPLE = {
    "swipes": [
        {
            "badge_id": "B-2001",
            "ts": "2026-10-05T08:58:41+01:00",
            "station_id": "ST-01",
            "reader_id": "R-01-A",
            "direction": "in",
            "granted": True,
        }
    ]
}
VISIT_EXAMPLE = {
    "visits": [
        {
            "device_id": "D-1001",
            "arrived_at": "2026-10-05T07:52:00+01:00",
            "departed_at": "2026-10-05T16:04:00+01:00",
            "lat": 51.5007,
            "lon": -0.1246,
            "accuracy_m": 40.0,
        }
    ]
}
SHIFT_EXAMPLE = {
    "shifts": [
        {
            "shift_id": "S123",
            "officer_id": "O-0001",
            "start": "2026-10-05T08:00:00+01:00",
            "end": "2026-10-05T16:00:00+01:00",
            "kind": "duty",
            "station_id": "ST-01",
            "declared_location": "office",
        }
    ]
}


def _ingest(
    kind: str, body: bytes, session: Session, state: AppState, caller: Principal, request_id: str
) -> BatchResult:
    parsed = parse_batch(kind, body)
    report = IngestReport(kind)
    if parsed.frame.height:
        now = state.clock()
        report = ingest_frame(
            session,
            kind,
            parsed.frame,
            tz=state.settings.timezone,
            policy=state.policy,
            now=now,
            received_at=now if kind == "pings" else None,
        )
    result = merge_report(parsed, report)
    counts = {k: result[k] for k in ("accepted", "duplicate", "masked", "held", "rejected")}
    detail = {"items": parsed.total, **counts}
    record_at_commit(session, caller, request_id, f"ingest.{kind}", detail=detail)

    def count() -> None:
        for outcome, n in counts.items():
            if n:
                state.metrics.ingest.labels(kind, outcome).inc(n)

    session.info.setdefault(ON_COMMIT, []).append(count)
    return BatchResult(**result)


@router.post(
    "/pings",
    response_model=BatchResult,
    responses=ERROR_RESPONSES,
    openapi_extra=_body_doc("PingBatch", PING_EXAMPLE),
    summary="Store a batch of device fixes",
)
def post_pings(
    caller: IngestCaller,
    body: RawBody,
    session: SessionDep,
    state: StateDep,
    request_id: RequestIdDep,
) -> BatchResult:
    """Up to 10,000 fixes. Idempotent on (device_id, ts). Off-duty fixes are masked (counted
    only), unrostered recent ones held. The time the batch arrived is kept per device (with its
    newest on-duty fix's time) to estimate the device clock's offset. Nothing is stored unless the whole batch is (503: retry)."""
    return _ingest("pings", body, session, state, caller, request_id)


@router.post(
    "/swipes",
    response_model=BatchResult,
    responses=ERROR_RESPONSES,
    openapi_extra=_body_doc("SwipeBatch", SWIPE_EXAMPLE),
    summary="Store a batch of badge swipes",
)
def post_swipes(
    caller: IngestCaller,
    body: RawBody,
    session: SessionDep,
    state: StateDep,
    request_id: RequestIdDep,
) -> BatchResult:
    """Up to 10,000 swipes. Idempotent on (badge_id, ts, reader_id); masking as for pings."""
    return _ingest("swipes", body, session, state, caller, request_id)


@router.post(
    "/visits",
    response_model=BatchResult,
    responses=ERROR_RESPONSES,
    openapi_extra=_body_doc("VisitBatch", VISIT_EXAMPLE),
    summary="Store a batch of operating-system visits",
)
def post_visits(
    caller: IngestCaller,
    body: RawBody,
    session: SessionDep,
    state: StateDep,
    request_id: RequestIdDep,
) -> BatchResult:
    """Up to 10,000 visits (stays at one place, as the phone's operating system reports them).
    Idempotent on (device_id, arrived_at); a visit reported open (no departed_at) is completed by
    a later report with its departure. Each visit is cut at the officer's on-duty edges: the
    on-duty part is stored, an uncovered recent part held, the off-duty part dropped (a visit
    with nothing on duty or held is counted masked). Nothing is stored unless the whole batch is."""
    return _ingest("visits", body, session, state, caller, request_id)


@router.put(
    "/roster",
    response_model=BatchResult,
    responses=ERROR_RESPONSES,
    openapi_extra=_body_doc("ShiftBatch", SHIFT_EXAMPLE),
    summary="Upsert a batch of shifts",
)
def put_roster(
    caller: RosterCaller,
    body: RawBody,
    session: SessionDep,
    state: StateDep,
    request_id: RequestIdDep,
) -> BatchResult:
    """Up to 10,000 shifts, upserted by shift_id; every version is kept. Held events the new
    shifts cover are promoted, and the days touched are marked for recomputation."""
    return _ingest("roster", body, session, state, caller, request_id)


class StationFeature(BaseModel):
    """A GeoJSON Feature: a Polygon or MultiPolygon in WGS84 with station_id and name."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "Feature",
                    "properties": {
                        "station_id": "ST-01",
                        "name": "Charing Cross",
                        "borough": "Westminster",
                    },
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [
                                [-0.1250, 51.5090],
                                [-0.1240, 51.5090],
                                [-0.1240, 51.5096],
                                [-0.1250, 51.5096],
                                [-0.1250, 51.5090],
                            ]
                        ],
                    },
                }
            ]
        },
    )

    type: Literal["Feature"]
    properties: dict[str, Any] = Field(default_factory=dict)
    geometry: dict[str, Any]


def _station_feature(body: bytes) -> StationFeature:
    """The body as a StationFeature; 422 with the usual validation details when it is not one."""
    try:
        return StationFeature.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in errors]
        ) from exc


@router.put(
    "/stations/{station_id}",
    response_model=StationResult,
    responses=ERROR_RESPONSES,
    summary="Create or replace a station's geofence",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": StationFeature.model_json_schema()}},
        }
    },
)
def put_station(
    station_id: Annotated[
        str, Path(min_length=1, max_length=64, description="The station's id (as in the Feature)")
    ],
    caller: AdminCaller,
    body: RawBody,
    session: SessionDep,
    now: NowDep,
    request_id: RequestIdDep,
) -> StationResult:
    """A GeoJSON Feature (StationFeature). The fence is validated (422 naming the reason when
    unusable); the same fence twice changes nothing. ``properties.station_id``, if given, must
    equal the path's."""
    doc = _station_feature(body).model_dump()
    props = dict(doc.get("properties") or {})
    if props.setdefault("station_id", station_id) != station_id:
        raise Unprocessable("properties.station_id differs from the station_id in the path")
    doc["properties"] = props
    stored_id, changed = upsert_station(session, doc, now=now)
    record(
        session,
        caller,
        request_id,
        "station.put",
        detail={"station_id": stored_id, "changed": changed},
    )
    return StationResult(station_id=stored_id, changed=changed)
