"""Who is using the web app: a bearer token (from the OIDC proxy) or the dev-login cookie, and
CSRF tokens bound to that credential."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from api.auth import Principal, Role
from api.deps import StateDep
from api.errors import Forbidden, Unauthenticated
from api.trail import watch_refusals

SESSION_COOKIE = "rollcall_session"
LOGIN_COOKIE = "rollcall_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CREDENTIAL = "web_credential"


def csrf_key(jwt_secret: str) -> bytes:
    """The key CSRF tokens are made with: derived from the JWT secret (so every worker agrees) or,
    when tokens are verified with the identity provider's public key only, random per process."""
    if jwt_secret:
        return hmac.new(jwt_secret.encode(), b"rollcall web csrf", hashlib.sha256).digest()
    return secrets.token_bytes(32)


def csrf_token(key: bytes, credential: str) -> str:
    """The CSRF token of one credential (a session's JWT or a login nonce): an HMAC, so a page
    can carry it while a cross-site form cannot know it."""
    mac = hmac.new(key, credential.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def csrf_ok(key: bytes, credential: str, given: str | None) -> bool:
    """Whether ``given`` is the CSRF token of ``credential`` (constant-time)."""
    return bool(given) and hmac.compare_digest(csrf_token(key, credential), given or "")


def same_origin(request: Request) -> bool:
    """Whether the browser says the request came from this site: Sec-Fetch-Site when sent,
    otherwise Origin (when sent) naming this host. A request with neither (not a browser) passes
    this check and still needs the CSRF token."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def _credential(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None
    return request.cookies.get(SESSION_COOKIE) or None


def web_principal(request: Request, state: StateDep) -> Principal:
    """The verified user of a page: ``Authorization: Bearer`` (put there by the force's OIDC
    proxy) or the dev-login cookie. Refusals are audited exactly as the API's are."""
    watch_refusals(request, state.factory, state.refusals)
    credential = _credential(request)
    if credential is None:
        raise Unauthenticated("sign in to use Rollcall")
    principal = state.verifier.verify(credential)
    scope_state = request.scope.setdefault("state", {})
    scope_state["principal"] = principal
    scope_state[CREDENTIAL] = credential
    return principal


WebPrincipal = Annotated[Principal, Depends(web_principal)]


def web_require(*roles: Role) -> Callable[..., Principal]:
    """Only ``roles`` may open the page (403 for any other signed-in user)."""
    allowed = frozenset(roles)

    def check(principal: WebPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"role {principal.role.value} may not open this page")
        return principal

    return check


HrUser = Annotated[Principal, Depends(web_require(Role.HR))]
InvestigatorUser = Annotated[Principal, Depends(web_require(Role.INVESTIGATOR))]
OfficerUser = Annotated[Principal, Depends(web_require(Role.OFFICER))]
AuditorUser = Annotated[Principal, Depends(web_require(Role.AUDITOR))]
TimelineUser = Annotated[Principal, Depends(web_require(Role.INVESTIGATOR, Role.OFFICER))]


def credential_of(request: Request) -> str:
    """The credential web_principal verified for this request."""
    value: str = request.scope["state"][CREDENTIAL]
    return value


async def check_csrf(request: Request, key: bytes) -> dict[str, str]:
    """The submitted form of a state-changing request, after checking it came from this site and
    carries the CSRF token of the caller's credential (403 otherwise)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    given = fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not same_origin(request) or not csrf_ok(key, credential_of(request), given):
        raise Forbidden("the form has expired or did not come from this site: reload the page")
    return fields
