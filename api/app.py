"""The application factory: create_app(settings) builds everything; nothing exists at import time."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api import signing, web
from api.auth import TokenConfigError, TokenVerifier
from api.checkpoints import checkpoint_every
from api.deps import AppState
from api.docs import install_docs
from api.errors import install_error_handlers
from api.metrics import JobMetrics, exposition_registry, multiprocess_dir, worker_gone
from api.observability import Metrics, RequestMiddleware
from api.routes import audit, fairness, flags, ingest, ops, reads, reply, stations, subject
from api.schemas import PingBatch, ShiftBatch, SwipeBatch, TimelineCollection, VisitBatch
from api.timeline import on_duty_records
from geo.fences import GeofenceError
from rollcall import wallclock
from rollcall.settings import Settings, get_settings
from rollcall.wallclock import Clock
from rules.pipeline import rehearse
from rules.policy import Policy, load_policy
from store.db import make_engine, session_factory
from store.stations import StationCatalog

MAX_BODY_BYTES = 16 << 20  # the default of ROLLCALL_MAX_BODY_BYTES
API_VERSION = "1"
log = logging.getLogger("rollcall.api")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the batch bodies (parsed by hand for speed) and the timeline's
    GeoJSON (sent as bytes) in components."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    _, defs = models_json_schema(
        [(m, "validation") for m in (PingBatch, SwipeBatch, VisitBatch, ShiftBatch)]
        + [(TimelineCollection, "serialization")],
        ref_template="#/components/schemas/{model}",
    )
    doc.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    app.openapi_schema = doc
    return doc


# Start-up waits at most this long for the warm-up before it serves: with the station index in
# the cache directory the warm-up takes tenths of a second, and the first request finds it done;
# a first build of a large force's index (about 5 s for 600 fences) goes on past it in the
# background, and requests that need the index wait for that build rather than start another.
WARM_UP_WAIT_S = 10.0


def _prepare_routes(routes: Any) -> None:
    """Have FastAPI build the routes of every included router now. FastAPI (0.165) builds them,
    with a TypeAdapter for each parameter and response field, on the first request that reaches
    the router: 60-90 ms on this service's first request. Where a FastAPI release builds routes
    differently (no ``effective_candidates``), nothing is done and nothing is lost but that."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        low_priority = getattr(route, "effective_low_priority_routes", None)
        if callable(candidates):
            _prepare_routes(candidates())
        if callable(low_priority):
            low_priority()


def _warm_up(state: AppState, app: FastAPI) -> None:
    """Start-up work done on a thread of its own, which start-up waits for (WARM_UP_WAIT_S at
    most), so that the first timeline finds it done: FastAPI's routes built (_prepare_routes);
    the station index loaded or built (a request that needs it earlier waits for this build
    rather than starting another) with the centroids every timeline measures against; the reads
    of a month's timeline made once for no officer (the first read of each day's partition on a
    connection loads its catalog entries); and the pipeline run once on a made-up day
    (rules.pipeline.rehearse). A database not reachable (or not yet migrated) at start-up is no
    reason not to start: the first timeline builds it then."""
    index = None
    try:
        _prepare_routes(app.router.routes)
        try:
            with state.factory() as session:
                index = state.stations.current(session).index
                now = state.clock()
                on_duty_records(session, "", now - timedelta(days=31), now, policy=state.policy)
            if index is not None:
                # the fences in metres and their centroids, kept by the index: computed here,
                # not in the first timeline request (tens of milliseconds for 600 fences)
                index.station_centroids()
        except (SQLAlchemyError, GeofenceError):
            log.warning("station index not built at start-up: database not ready or fences invalid")
            index = None
        rehearse(index, state.policy, state.settings.timezone)
    finally:
        # what start-up built lives as long as the service: out of the cyclic collector's way
        gc.freeze()
        state.stations.warmed.set()


def _checkpoint_signer(
    settings: Settings, export_signer: signing.Signer | None
) -> signing.Signer | None:
    """The key of the service's periodic audit checkpoints: ROLLCALL_AUDIT_KEY_FILE, else the
    export key; None (no checkpoints) without ROLLCALL_AUDIT_CHECKPOINT_FILE. A file set without
    any key stops start-up naming both settings."""
    if settings.audit_checkpoint_file is None:
        return None
    if settings.audit_key_file is not None:
        return signing.load_signer(settings.audit_key_file)
    if export_signer is None:
        raise signing.SigningConfigError(
            "ROLLCALL_AUDIT_CHECKPOINT_FILE needs ROLLCALL_AUDIT_KEY_FILE (or an export key)"
        )
    return export_signer


def create_app(
    settings: Settings | None = None,
    *,
    policy: Policy | None = None,
    dev_login: bool = False,
    clock: Clock | None = None,
) -> FastAPI:
    """A Rollcall API app on ``settings``' database (its own engine, disposed at shutdown),
    with the web app under /app. ``dev_login`` adds the development sign-in page; it is refused
    when tokens are verified with the identity provider's key or there is no secret to sign with.

    CORS is off: no browser origin is trusted. ``clock`` (default the wall clock) is the time
    every request is served at: what ingest compares with the retention and hold periods.
    """
    settings = settings or get_settings()
    if dev_login and settings.jwt_public_key:
        raise TokenConfigError("--dev-login is refused while ROLLCALL_JWT_PUBLIC_KEY is set")
    if dev_login and not settings.jwt_secret.get_secret_value():
        raise TokenConfigError("--dev-login needs ROLLCALL_JWT_SECRET to sign its tokens")
    # Configuration errors (key, policy) surface before any connection is made.
    verifier = TokenVerifier(settings)
    export_signer = signing.signer_from_settings(settings)
    checkpoint_signer = _checkpoint_signer(settings, export_signer)
    policy = policy or load_policy(settings.policy)
    metrics_dir = multiprocess_dir()
    state = _app_state(settings, policy, verifier, clock or wallclock.utc_now, metrics_dir)
    app = FastAPI(
        title="Rollcall",
        version=API_VERSION,
        description=(
            "Verified on-duty attendance. Bearer JWT (sub, role, exp; officer_id for officer "
            "tokens). Every read of a person's data and every change is written to a "
            'hash-chained audit log. Errors: {"error": {code, message, request_id, details?}}.'
        ),
        lifespan=_lifespan(state, checkpoint_signer, metrics_dir),
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.state.rollcall = state
    app.state.export_signer = export_signer  # None: exports answer 503
    install_error_handlers(app)
    for module in (ops, ingest, reads, flags, reply, subject, fairness, audit, stations):
        app.include_router(module.router)
    web.install(
        app,
        jwt_secret=settings.jwt_secret.get_secret_value(),
        dev_login=dev_login,
        basemap_url=settings.basemap_url,
        tz=settings.timezone,
    )
    app.add_middleware(
        RequestMiddleware, metrics=state.metrics, max_body_bytes=settings.max_body_bytes
    )
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _app_state(
    settings: Settings,
    policy: Policy,
    verifier: TokenVerifier,
    clock: Clock,
    metrics_dir: Path | None,
) -> AppState:
    """The app's state: its own engine (a pool of db_pool_size on PostgreSQL), session factory,
    metrics (exposed with every worker's when ``metrics_dir`` is set) and station catalog."""
    pool: dict[str, Any] = (
        {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_size}
        if settings.database_url.startswith("postgresql")
        else {}
    )
    engine = make_engine(
        settings.database_url,
        lock_timeout_s=settings.db_lock_timeout_s,
        statement_timeout_s=settings.api_statement_timeout_s,
        **pool,
    )
    factory = session_factory(engine)
    metrics = Metrics()
    metrics.exposed = exposition_registry(metrics.registry, metrics_dir)
    metrics.exposed.register(JobMetrics(factory))
    return AppState(
        settings=settings,
        engine=engine,
        factory=factory,
        policy=policy,
        verifier=verifier,
        metrics=metrics,
        clock=clock,
        stations=StationCatalog(cache_dir=settings.cache_dir),
    )


def _lifespan(
    state: AppState, checkpoint_signer: signing.Signer | None, metrics_dir: Path | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up and shutdown: what exists frozen out of the cyclic collector (gc.freeze), the
    station index and a rehearsal warmed on a thread of its own (_warm_up, which freezes what it
    built; start-up waits for it, WARM_UP_WAIT_S at most), the audit checkpoints written every
    audit_checkpoint_minutes when a signer and a file are set; at shutdown both stopped, the
    engine disposed, this worker's metrics files released and the collector given everything
    back (gc.unfreeze)."""
    settings = state.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The modules, the app and its settings live as long as the service: frozen, the cyclic
        # collector's full passes skip them (265,000 objects here: one full pass in the middle
        # of a request took 0.1-0.7 s). Only garbage in cycles that exists at the freeze stays
        # until shutdown, which unfreezes.
        gc.freeze()
        warming = threading.Thread(target=_warm_up, args=(state, app), name="warm-up", daemon=True)
        warming.start()
        if not await asyncio.to_thread(state.stations.warmed.wait, WARM_UP_WAIT_S):
            log.info(
                "serving before the warm-up ended (%.0f s): the station index is still being "
                "built; requests that need it wait for it",
                WARM_UP_WAIT_S,
            )
        task = None
        if checkpoint_signer is not None and settings.audit_checkpoint_file is not None:
            task = asyncio.create_task(
                checkpoint_every(
                    state.factory,
                    checkpoint_signer,
                    settings.audit_checkpoint_file,
                    settings.timezone,
                    settings.audit_checkpoint_minutes,
                )
            )
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await run_in_threadpool(warming.join)
        state.engine.dispose()
        gc.unfreeze()
        if metrics_dir is not None:
            worker_gone(os.getpid(), metrics_dir)

    return lifespan


def app_from_environment() -> FastAPI:
    """Zero-argument factory for uvicorn --factory (settings from ROLLCALL_* variables)."""
    return create_app(get_settings())
