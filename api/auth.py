"""Bearer JWT verification: HS256 with the shared secret, or RS256 with the identity provider's
public key (a PEM, or its JWKS endpoint with key rotation); optional issuer and audience."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.errors import Unauthenticated, Unavailable
from rollcall.settings import MIN_SECRET_BYTES, Settings

LEEWAY_S = 30
JWKS_TIMEOUT_S = 5.0
__all__ = ["MIN_SECRET_BYTES", "Principal", "Role", "TokenConfigError", "TokenVerifier"]


class Role(StrEnum):
    """Who the caller is (CONTRACT §7)."""

    INGEST = "ingest"
    ADMIN = "admin"
    HR = "hr"
    INVESTIGATOR = "investigator"
    OFFICER = "officer"
    AUDITOR = "auditor"


_ROLE_NAMES = frozenset(r.value for r in Role)


@dataclass(frozen=True)
class Principal:
    """A verified caller: subject, role and, for an officer token, the officer it belongs to."""

    sub: str
    role: Role
    officer_id: str | None = None


class TokenConfigError(ValueError):
    """Token signing or verification is not configured (no secret, unreadable public key)."""


def _public_key(value: str) -> str:
    """A PEM public key given inline or as a path to a PEM file."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    try:
        return Path(value).read_text(encoding="ascii")
    except OSError as exc:
        raise TokenConfigError(f"ROLLCALL_JWT_PUBLIC_KEY: cannot read {value!r}") from exc


class TokenVerifier:
    """Verifies bearer tokens; the algorithm is fixed by configuration, never by the token.

    With ROLLCALL_JWT_JWKS_URL or ROLLCALL_JWT_PUBLIC_KEY set only RS256 is accepted (an HS256
    token is refused, which also defeats the "sign HS256 with the public key" confusion);
    otherwise only HS256 with ROLLCALL_JWT_SECRET. ``alg: none`` is never accepted. With
    ROLLCALL_JWT_ISSUER / ROLLCALL_JWT_AUDIENCE set, ``iss`` / ``aud`` must match exactly.
    The role comes from ROLLCALL_JWT_ROLES_CLAIM (default ``role``): a string, or an array (as
    Entra ID's ``roles``) holding exactly one Rollcall role; other values in it are ignored.
    """

    def __init__(self, settings: Settings) -> None:
        self._key: Any = None
        self._jwks: jwt.PyJWKClient | None = None
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._roles_claim = settings.jwt_roles_claim
        if settings.jwt_jwks_url:
            if not settings.jwt_jwks_url.startswith(("https://", "http://")):
                raise TokenConfigError("ROLLCALL_JWT_JWKS_URL must be an http(s) URL")
            self._jwks = jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cache_jwk_set=True,
                lifespan=300,
                timeout=JWKS_TIMEOUT_S,
                cooldown_duration=settings.jwt_jwks_cooldown_seconds,
            )
            self._algorithms = ["RS256"]
        elif settings.jwt_public_key:
            pem = _public_key(settings.jwt_public_key)
            try:  # fail at start-up, not on every request
                self._key = serialization.load_pem_public_key(pem.encode("ascii"))
            except (ValueError, TypeError) as exc:
                raise TokenConfigError("ROLLCALL_JWT_PUBLIC_KEY is not a PEM public key") from exc
            if not isinstance(self._key, rsa.RSAPublicKey):
                raise TokenConfigError("ROLLCALL_JWT_PUBLIC_KEY must be an RSA key (RS256)")
            self._algorithms = ["RS256"]
        else:
            self._key = settings.jwt_secret.get_secret_value()
            self._algorithms = ["HS256"]

    @property
    def configured(self) -> bool:
        """Whether any token can be verified at all."""
        return self._jwks is not None or bool(self._key)

    def _signing_key(self, token: str) -> Any:
        """The key to check ``token`` with: the configured one, or the JWKS key its kid names
        (fetched again once when the kid is new: the provider rotated its keys)."""
        if self._jwks is None:
            return self._key
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError as exc:
            raise Unavailable(
                "the identity provider's keys cannot be fetched; retry later",
                headers={"Retry-After": "5"},
            ) from exc
        except (jwt.PyJWKClientError, jwt.PyJWTError) as exc:
            raise Unauthenticated("invalid token") from exc

    def _claims(self, token: str) -> dict[str, Any]:
        required = ["exp", "sub", self._roles_claim]
        required += ["iss"] if self._issuer else []
        required += ["aud"] if self._audience else []
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": required, "verify_aud": self._audience is not None},
                leeway=LEEWAY_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token expired") from exc
        except (jwt.InvalidIssuerError, jwt.InvalidAudienceError) as exc:
            raise Unauthenticated("invalid token: wrong issuer or audience") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid token") from exc
        return claims

    def _role(self, value: Any) -> Role:
        """The one Rollcall role a claim names (a string, or an array with exactly one)."""
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list):
            raise Unauthenticated("invalid token: unknown role")
        roles = {Role(n) for n in names if isinstance(n, str) and n in _ROLE_NAMES}
        if len(roles) != 1:
            what = "several roles" if roles else "unknown role"
            raise Unauthenticated(f"invalid token: {what}")
        return roles.pop()

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises Unauthenticated (never saying which check failed
        beyond a short reason) for anything else, Unavailable when the JWKS cannot be fetched."""
        if not self.configured:
            raise Unauthenticated("token verification is not configured")
        claims = self._claims(token)
        sub, officer_id = claims.get("sub"), claims.get("officer_id")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("invalid token")
        parsed = self._role(claims.get(self._roles_claim))
        if parsed is Role.OFFICER:
            if not isinstance(officer_id, str) or not officer_id:
                raise Unauthenticated("invalid token: an officer token must carry officer_id")
            return Principal(sub=sub, role=parsed, officer_id=officer_id)
        return Principal(sub=sub, role=parsed)


def issue_token(
    secret: str,
    *,
    role: str,
    sub: str,
    officer_id: str | None = None,
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> str:
    """An HS256 token for development and tests. Raises TokenConfigError without a secret and
    ValueError for an unknown role or an officer token without officer_id."""
    if not secret:
        raise TokenConfigError("ROLLCALL_JWT_SECRET is not set")
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise TokenConfigError(f"ROLLCALL_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
    parsed = Role(role)
    if parsed is Role.OFFICER and not officer_id:
        raise ValueError("an officer token needs --officer-id")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": sub,
        "role": parsed.value,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    if officer_id:
        claims["officer_id"] = officer_id
    return jwt.encode(claims, secret, algorithm="HS256")
