"""One error hierarchy and one exception-to-status map, registered once on the app."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.fences import GeofenceError
from rules.clock import TimeParseError
from store.flag_review import FlagNotFoundError, ReviewConflictError
from store.reply import ContestConflictError, ContestNotFoundError, NoSuchDayError
from store.reports import CursorError, FilterError

log = logging.getLogger("rollcall.api")

# Request scope state key of a callable(ApiError) -> (callable() | None) set by api.trail on every
# authenticated endpoint: called on the event loop when a refusal is rendered, it returns the
# blocking write that records the refusal (run on a worker thread) or None when none is due.
ON_REFUSED = "on_refused"


class JsonResponse(Response):
    """A JSON response rendered with orjson (exact bytes: what is signed is what is sent)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """An error the client is told about: HTTP status, a stable code and a safe message."""

    status = 500
    code = "internal_error"
    # Whether this error refuses the caller access (recorded in the audit log).
    refusal = False

    def __init__(self, message: str, *, details: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class BadRequest(ApiError):
    """The request is malformed (a parameter, a cursor, a timestamp)."""

    status, code = 400, "bad_request"


class Unauthenticated(ApiError):
    """No valid bearer token."""

    status, code = 401, "unauthenticated"
    refusal = True

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Forbidden(ApiError):
    """The token is valid but its role or officer may not do this."""

    status, code = 403, "forbidden"
    refusal = True


class CaseRefRequired(BadRequest):
    """An investigator asked for a person's data without saying which case it is for."""

    refusal = True


class NotFound(ApiError):
    """The thing asked for does not exist."""

    status, code = 404, "not_found"


class OfficerNotFound(NotFound):
    """An authorised caller asked about an officer id that does not exist: recorded in the audit
    log like a refusal, so probing for which ids exist leaves a trace."""

    refusal = True


class Conflict(ApiError):
    """The change conflicts with the current state."""

    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    """The body or the batch exceeds a limit (the message names it)."""

    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    """The body is well-formed but its content is invalid."""

    status, code = 422, "invalid"


class Unavailable(ApiError):
    """The service cannot complete the request now; nothing was changed, the client may retry."""

    status, code = 503, "unavailable"


# Domain exceptions raised below api/ and how they reach a client: (status, code, safe message or
# None to use the exception's own text, which these types write for users).
_DB_UNAVAILABLE = (
    503,
    "database_unavailable",
    "the database could not complete the request; nothing was stored, retry later",
)
STATUS_MAP: dict[type[Exception], tuple[int, str, str | None]] = {
    TimeParseError: (400, "bad_request", None),
    CursorError: (400, "bad_request", "invalid cursor"),
    FilterError: (400, "unknown_filter_value", None),
    GeofenceError: (422, "invalid_geofence", None),
    FlagNotFoundError: (404, "not_found", "no such flag"),
    ReviewConflictError: (409, "conflict", None),
    ContestNotFoundError: (404, "not_found", "no such contest"),
    NoSuchDayError: (404, "not_found", None),
    ContestConflictError: (409, "conflict", None),
    DBAPIError: _DB_UNAVAILABLE,
    # The bulk writers use the driver's own connection (COPY, executemany): its errors arrive
    # unwrapped (a lock or statement timeout, a dropped connection, SQLite busy).
    sqlite3.OperationalError: _DB_UNAVAILABLE,
    psycopg.OperationalError: _DB_UNAVAILABLE,
    SQLAlchemyError: (500, "internal_error", "internal error; nothing was stored"),
}


def request_id_of(request: Request) -> str | None:
    """The request id the middleware assigned (None outside a request)."""
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value is not None else None


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str | None,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """The one JSON error shape: {"error": {"code", "message", "request_id", "details"?}}."""
    body: dict[str, Any] = {"code": code, "message": message, "request_id": request_id}
    if details is not None:
        body["details"] = details
    return JsonResponse({"error": body}, status_code=status, headers=headers)


def _lookup(exc: Exception) -> tuple[int, str, str | None]:
    for cls in type(exc).__mro__:
        if cls in STATUS_MAP:
            return STATUS_MAP[cls]
    return 500, "internal_error", "internal error"


async def _api_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, ApiError)
    on_refused = request.scope.get("state", {}).get(ON_REFUSED)
    if exc.refusal and on_refused is not None:
        write = on_refused(exc)
        if write is not None:
            await run_in_threadpool(write)
    return error_response(
        exc.status, exc.code, exc.message, request_id_of(request), exc.details, exc.headers
    )


async def _domain_error(request: Request, exc: Exception) -> JsonResponse:
    status, code, message = _lookup(exc)
    if status >= 500:
        # Never the exception text: a database error carries SQL and parameters (coordinates).
        log.error(
            "request failed",
            extra={"error_type": type(exc).__name__, "request_id": request_id_of(request)},
        )
    retry = {"Retry-After": "1"} if status == 503 else None
    return error_response(status, code, message or str(exc), request_id_of(request), None, retry)


async def _validation_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestValidationError)
    # Only where and why: the rejected input itself is never echoed back.
    details = [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    return error_response(422, "invalid", "the request is invalid", request_id_of(request), details)


async def _http_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthenticated",
        403: "forbidden",
        413: "payload_too_large",
    }
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "error"),
        message,
        request_id_of(request),
        headers=getattr(exc, "headers", None),
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler once: ApiError, the domain map, validation and routing errors."""
    app.add_exception_handler(ApiError, _api_error)
    for exc_type in STATUS_MAP:
        app.add_exception_handler(exc_type, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _domain_error)
