"""Rendering pages: one Jinja2 environment (autoescaped), the filters the templates use and the
context every page gets (user, CSRF token, navigation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from api.auth import Principal, Role
from api.web import fmt
from api.web.session import CSRF_FIELD, credential_of, csrf_token

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

# Each role's screens, in menu order: (path, label).
NAV: dict[Role, list[tuple[str, str]]] = {
    Role.HR: [("/app/hr", "Compliance by unit")],
    Role.INVESTIGATOR: [("/app/flags", "Flag queue"), ("/app/investigate", "Case")],
    Role.OFFICER: [("/app/me", "My month"), ("/app/me/access", "Who looked at my data")],
    Role.AUDITOR: [("/app/audit", "Access log"), ("/app/audit/status", "Chain and refusals")],
}
HOME: dict[Role, str] = {role: links[0][0] for role, links in NAV.items()}


@dataclass(frozen=True)
class WebConfig:
    """What the pages need from start-up: CSRF key, dev login on or off, basemap, zone."""

    csrf_key: bytes
    dev_login: bool
    basemap_url: str | None
    tz: str


def make_templates() -> Jinja2Templates:
    """The templates with the date and time filters."""
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters["en_date"] = fmt.en_date
    env.filters["short_date"] = fmt.short_date
    env.filters["share"] = lambda v: "—" if v is None else f"{v * 100:.0f}%"
    env.globals["CSRF_FIELD"] = CSRF_FIELD
    return templates


def web_config(request: Request) -> WebConfig:
    """The web app's configuration (set by api.web.install)."""
    config: WebConfig = request.app.state.web_config
    return config


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    user: Principal | None,
    status_code: int = 200,
) -> Response:
    """A rendered page; a signed-in ``user`` gets their menu and the CSRF token of their
    credential for any form on the page."""
    config = web_config(request)
    templates: Jinja2Templates = request.app.state.web_templates
    tz = config.tz
    base: dict[str, Any] = {
        "user": user,
        "nav": NAV.get(user.role, []) if user else [],
        "dev_login": config.dev_login,
        "csrf": csrf_token(config.csrf_key, credential_of(request)) if user else "",
        "path": request.url.path,
        "time": lambda v, with_date=False: fmt.local_time(v, tz, with_date=with_date),
    }
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )
