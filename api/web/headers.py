"""Security headers of the web app's responses: a Content-Security-Policy without
'unsafe-inline' or 'unsafe-eval', no framing, no referrer."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/app"


def content_security_policy(basemap_url: str | None) -> str:
    """Everything from this origin only; images also from the basemap's tile server if set."""
    images = "'self' data:"
    if basemap_url:
        parts = urlsplit(basemap_url)
        images += f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; font-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


class SecurityHeaders:
    """Adds the headers to every response under /app."""

    def __init__(self, app: ASGIApp, *, basemap_url: str | None) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(basemap_url).encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"geolocation=(), camera=(), microphone=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)
