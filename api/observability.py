"""Request ids, body-size limit, JSON logs and Prometheus metrics, as one pure ASGI middleware."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("rollcall.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Label values come only from these bounded sets: an invented method or path adds no series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# No route takes a control character in its path or query: a NUL cannot even reach PostgreSQL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's own Prometheus registry (one per app, so tests can build many apps).

    ``exposed`` is what /metrics renders: this registry, or under several workers the sum of
    every worker's files (api.metrics.exposition_registry), with job and process metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.exposed = self.registry
        self.requests = Counter(
            "rollcall_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rollcall_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ingest = Counter(
            "rollcall_ingest_items",
            "Ingested items by kind and outcome",
            ["kind", "outcome"],
            registry=self.registry,
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the structured extras."""

    _SKIP = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._SKIP and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception text can carry SQL parameters (coordinates) or tokens.
            out["error_type"] = record.exc_info[0].__name__
        return orjson.dumps(out, default=str).decode()


def configure_logging(level: str) -> None:
    """Send every log record to stderr as JSON lines (called by `rollcall serve`, not on import)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def control_character(scope: Scope) -> str | None:
    """Why the request's path or query cannot be served (a control character), or None.

    Names the query parameter when its name is plain; never echoes a value."""
    if _CONTROL.search(str(scope.get("path", ""))):
        return "the path holds a control character"
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if _CONTROL.search(name) or _CONTROL.search(value):
            shown = (
                f"query parameter '{name}'" if _PARAM_NAME.fullmatch(name) else "a query parameter"
            )
            return f"{shown} holds a control character"
    return None


class BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` when the streamed body passes the limit (rendered as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def _error_body(status: int, code: str, message: str, request_id: str) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message, "request_id": request_id}})


def _identify(scope: Scope) -> tuple[str, list[tuple[bytes, bytes]]]:
    """A new server request id, stored in the scope's state beside the client's X-Request-ID
    (when well-formed), and the headers every response carries."""
    # The id that audit entries and signed exports carry is always the server's own: a
    # client's X-Request-ID (when well-formed) is only logged beside it and echoed back.
    headers = dict(scope.get("headers") or [])
    request_id = uuid.uuid4().hex
    given = headers.get(b"x-request-id", b"").decode("latin-1")
    client_request_id = given if _REQUEST_ID.fullmatch(given) else None
    scope.setdefault("state", {})["request_id"] = request_id
    scope["state"]["client_request_id"] = client_request_id
    # Every response: its request id; people's data must never sit in a shared cache.
    extra_headers = [
        (b"x-request-id", request_id.encode("latin-1")),
        *([(b"x-client-request-id", given.encode("latin-1"))] if client_request_id else []),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    return request_id, extra_headers


def _too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes"


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` raising BodyTooLarge once the request's body passes ``limit`` bytes."""
    seen = 0

    async def limited_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return limited_receive


class RequestMiddleware:
    """A server-made X-Request-ID on every response (the client's kept apart), a request-size limit, one JSON log line and metrics per request.

    Also the last line of defence: an exception nothing else handled becomes the standard 500
    body (with no internals) and is logged by type only.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id, extra_headers = _identify(scope)
        status = {"code": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        async def reply(code: int, err: str, text: str) -> None:
            await send_wrapper(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send_wrapper(
                {"type": "http.response.body", "body": _error_body(code, err, text, request_id)}
            )

        try:
            await self._admit(scope, receive, send_wrapper, reply)
        except BodyTooLarge:
            if not status["started"]:
                await reply(413, "payload_too_large", _too_large(self.max_body_bytes))
        except Exception as exc:  # noqa: BLE001 - the boundary: nothing unhandled leaves as a trace
            log.error(
                "unhandled error",
                extra={"error_type": type(exc).__name__, "request_id": request_id},
            )
            if not status["started"]:
                await reply(500, "internal_error", "internal error")
        finally:
            self._record(scope, request_id, int(status["code"]), time.perf_counter() - started)

    async def _admit(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        reply: Callable[[int, str, str], Awaitable[None]],
    ) -> None:
        """Refuse a request whose target has a control character (400) or whose declared body
        is over the limit (413); run the app on any other, its body counted as it is read
        (BodyTooLarge past the limit)."""
        limit = self.max_body_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if (refused := control_character(scope)) is not None:
            await reply(400, "bad_request", refused)
        elif declared is not None and declared.isdigit() and int(declared) > limit:
            await reply(413, "payload_too_large", _too_large(limit))
        else:
            await self.app(scope, _limited(receive, limit), send)

    def _record(self, scope: Scope, request_id: str, code: int, elapsed_s: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = str(scope.get("method", ""))
        label = method if method in _METHODS else "other"
        self.metrics.requests.labels(label, template, str(code)).inc()
        self.metrics.latency.labels(label, template).observe(elapsed_s)
        state = scope.get("state", {})
        principal = state.get("principal")
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "client_request_id": state.get("client_request_id"),
                "method": label,
                "route": template,
                "status": code,
                "duration_ms": round(elapsed_s * 1000, 2),
                "sub": getattr(principal, "sub", None),
                "role": getattr(getattr(principal, "role", None), "value", None),
            },
        )
