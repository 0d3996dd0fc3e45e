"""Bearer JWT verification (HS256 with the shared secret, or RS256 with the IdP's public key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.errors import Unauthenticated
from rollcall.settings import Settings

LEEWAY_S = 30
MIN_SECRET_BYTES = 32


class Role(StrEnum):
    """Who the caller is (CONTRACT §7)."""

    INGEST = "ingest"
    ADMIN = "admin"
    HR = "hr"
    INVESTIGATOR = "investigator"
    OFFICER = "officer"
    AUDITOR = "auditor"


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

    With ROLLCALL_JWT_PUBLIC_KEY set only RS256 is accepted (an HS256 token is refused, which
    also defeats the "sign HS256 with the public key" confusion); otherwise only HS256 with
    ROLLCALL_JWT_SECRET. ``alg: none`` is never accepted.
    """

    def __init__(self, settings: Settings) -> None:
        self._key: Any
        if settings.jwt_public_key:
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
        return bool(self._key)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises Unauthenticated (never saying which check failed
        beyond a short reason) for anything else."""
        if not self.configured:
            raise Unauthenticated("token verification is not configured")
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                options={"require": ["exp", "sub", "role"]},
                leeway=LEEWAY_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("invalid token") from exc
        sub, role, officer_id = claims.get("sub"), claims.get("role"), claims.get("officer_id")
        if not isinstance(sub, str) or not sub:
            raise Unauthenticated("invalid token")
        try:
            parsed = Role(str(role))
        except ValueError as exc:
            raise Unauthenticated("invalid token: unknown role") from exc
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
