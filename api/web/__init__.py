"""The web app under /app: server-rendered pages over the API's own queries, authorisation and
audit, with every asset served by the service."""

from __future__ import annotations

from fastapi import FastAPI

from api.web.errors import install_html_errors
from api.web.headers import SecurityHeaders
from api.web.render import STATIC, WebConfig, make_templates
from api.web.session import csrf_key


def install(
    app: FastAPI, *, jwt_secret: str, dev_login: bool, basemap_url: str | None, tz: str
) -> None:
    """Add the pages, their static files, their security headers and HTML error pages."""
    from fastapi.staticfiles import StaticFiles

    from api.web import auditor, hr, investigator, login, officer

    app.state.web_config = WebConfig(
        csrf_key=csrf_key(jwt_secret), dev_login=dev_login, basemap_url=basemap_url, tz=tz
    )
    app.state.web_templates = make_templates()
    app.mount("/app/static", StaticFiles(directory=STATIC), name="web-static")
    for module in (login, hr, investigator, officer, auditor):
        app.include_router(module.router)
    install_html_errors(app)
    app.add_middleware(SecurityHeaders, basemap_url=basemap_url)
