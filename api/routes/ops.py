"""Operations endpoints: liveness, readiness (database reachable and migrated), Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from api.deps import StateDep
from api.errors import JsonResponse
from api.schemas import Health
from store.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "Database unreachable, or its schema not at the newest migration",
        }
    },
    summary="Readiness: the database answers and its schema is at the newest migration",
)
def readyz(state: StateDep) -> Response:
    """200 when the database answers and is at the head migration; 503 otherwise, with
    ``status`` ``unavailable`` (unreachable) or ``not_migrated`` (run `rollcall db upgrade`)."""
    try:
        revision = current_revision(state.engine)
    except SQLAlchemyError:
        return JsonResponse({"status": "unavailable"}, status_code=503)
    if revision != head_revision():
        return JsonResponse({"status": "not_migrated"}, status_code=503)
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
    """Request counts and latencies by route template and ingest counts by kind and outcome
    (summed over every worker), job runs and pending recompute marks (read from the database
    at each scrape), and the answering process's CPU, memory and file descriptors."""
    return Response(generate_latest(state.metrics.exposed), media_type=CONTENT_TYPE_LATEST)
