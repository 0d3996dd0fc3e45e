"""Errors on pages: the API's handlers run first (so refusals are audited the same way), and
under /app their JSON answer becomes an HTML page (or, signed out with dev login on, the login
page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response

from api.web.headers import PREFIX

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]

TITLES = {
    400: "Something in the request is not right",
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    409: "Someone else changed this first",
    422: "Something in the request is not right",
    503: "Try again shortly",
}


def _on_page(request: Request) -> bool:
    path = request.url.path
    return (path == PREFIX or path.startswith(PREFIX + "/")) and not path.startswith(
        PREFIX + "/static/"
    )


def _html(original: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        response = original(request, exc)
        if not isinstance(response, Response):
            response = await response
        if not _on_page(request):
            return response
        from api.web.render import page, web_config

        status = response.status_code
        if status == 401 and web_config(request).dev_login:
            return RedirectResponse("/app/login", status_code=303)
        try:
            error = orjson.loads(bytes(response.body))["error"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            error = {"message": "request failed", "request_id": None}
        details = error.get("details")
        problems = [
            f"{' '.join(str(p) for p in d.get('loc', []))}: {d.get('msg', '')}"
            for d in (details if isinstance(details, list) else [])
            if isinstance(d, dict)
        ]
        context = {
            "title": TITLES.get(status, "Something went wrong"),
            "message": error.get("message", ""),
            "problems": problems,
            "request_id": error.get("request_id"),
            "status": status,
        }
        return page(request, "error.html", context, user=None, status_code=status)

    return handle


def install_html_errors(app: FastAPI) -> None:
    """Wrap every registered exception handler (call after api.errors.install_error_handlers)."""
    for exc_type, handler in list(app.exception_handlers.items()):
        app.exception_handlers[exc_type] = _html(handler)
