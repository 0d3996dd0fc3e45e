"""Operations endpoints: liveness, readiness (database reachable) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import StateDep
from api.errors import JsonResponse
from api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Database unreachable"}},
    summary="Readiness: the database answers",
)
def readyz(state: StateDep) -> Response:
    """200 when a trivial query succeeds, 503 otherwise (no detail of the failure is given)."""
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JsonResponse({"status": "unavailable"}, status_code=503)
    return JsonResponse({"status": "ready"})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition"}
    },
    summary="Prometheus metrics",
)
def metrics(state: StateDep) -> Response:
    """Request counts and latencies by route template, ingest counts by kind and outcome."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
