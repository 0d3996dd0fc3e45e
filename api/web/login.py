"""Signing in and out: the development login (only with `rollcall serve --dev-login`), the
sign-out, and /app itself, which sends each role to its first screen."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from api.auth import Role, issue_token
from api.deps import RequestIdDep, SessionDep, StateDep
from api.errors import BadRequest, Forbidden, NotFound
from api.trail import check_ref, record
from api.web.render import HOME, page, web_config
from api.web.session import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    WebPrincipal,
    check_csrf,
    csrf_ok,
    csrf_token,
    same_origin,
)

router = APIRouter(prefix="/app", include_in_schema=False)

DEV_TOKEN_TTL = timedelta(minutes=30)
WEB_ROLES = (Role.HR, Role.INVESTIGATOR, Role.OFFICER, Role.AUDITOR)


def _dev_login_on(request: Request) -> None:
    if not web_config(request).dev_login:
        raise NotFound("not found")


DevLogin = Depends(_dev_login_on)


def _cookie_flags(request: Request) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": request.url.scheme == "https",
        "path": "/app",
    }


@router.get("/login", dependencies=[DevLogin])
def login_form(request: Request) -> Response:
    """The development login: pick a role, a name and (for an officer) the officer."""
    nonce = secrets.token_urlsafe(24)
    config = web_config(request)
    response = page(
        request,
        "login.html",
        {"roles": WEB_ROLES, "login_csrf": csrf_token(config.csrf_key, nonce), "error": None},
        user=None,
    )
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=600, **_cookie_flags(request))  # type: ignore[arg-type]
    return response


async def _login_form(request: Request) -> dict[str, str]:
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    key = web_config(request).csrf_key
    if not same_origin(request) or not nonce or not csrf_ok(key, nonce, fields.get(CSRF_FIELD)):
        raise Forbidden("the login form has expired or did not come from this site: reload it")
    return fields


@router.post("/login", dependencies=[DevLogin])
def login(
    request: Request,
    state: StateDep,
    session: SessionDep,
    request_id: RequestIdDep,
    fields: Annotated[dict[str, str], Depends(_login_form)],
) -> Response:
    """Issue a short-lived token for the chosen role in an HttpOnly, SameSite=Strict cookie."""
    try:
        role = Role(fields.get("role", ""))
    except ValueError as exc:
        raise BadRequest("field role: choose hr, investigator, officer or auditor") from exc
    if role not in WEB_ROLES:
        raise BadRequest("field role: choose hr, investigator, officer or auditor")
    sub = check_ref(fields.get("sub", "").strip() or None, "field sub (your name)")
    if sub is None:
        raise BadRequest("field sub (your name) is required")
    officer_id = fields.get("officer_id", "").strip() or None
    if role is Role.OFFICER:
        officer_id = check_ref(officer_id, "field officer_id")
        if officer_id is None:
            raise BadRequest("field officer_id is required for the officer role")
    else:
        officer_id = None
    token = issue_token(
        state.settings.jwt_secret.get_secret_value(),
        role=role.value,
        sub=sub,
        officer_id=officer_id,
        ttl=DEV_TOKEN_TTL,
    )
    principal = state.verifier.verify(token)
    record(session, principal, request_id, "login.dev", detail={"ttl_s": DEV_TOKEN_TTL.seconds})
    response = RedirectResponse(HOME[role], status_code=303)
    flags = _cookie_flags(request)
    response.set_cookie(SESSION_COOKIE, token, max_age=DEV_TOKEN_TTL.seconds, **flags)  # type: ignore[arg-type]
    response.delete_cookie(LOGIN_COOKIE, path="/app")
    return response


async def _logout_form(request: Request, principal: WebPrincipal) -> dict[str, str]:
    return await check_csrf(request, web_config(request).csrf_key)


@router.post("/logout")
def logout(request: Request, _: Annotated[dict[str, str], Depends(_logout_form)]) -> Response:
    """Forget the dev-login cookie (a proxy's session ends at the proxy's own sign-out)."""
    target = "/app/login" if web_config(request).dev_login else "/app/signed-out"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/app")
    return response


@router.get("/signed-out")
def signed_out(request: Request) -> Response:
    """Shown after signing out when the identity provider's proxy holds the session."""
    return page(request, "signed_out.html", {}, user=None)


@router.get("")
@router.get("/")
def home(principal: WebPrincipal) -> Response:
    """Each role's first screen."""
    target = HOME.get(principal.role)
    if target is None:
        raise Forbidden(f"role {principal.role.value} has no screens in the web app")
    return RedirectResponse(target, status_code=303)
