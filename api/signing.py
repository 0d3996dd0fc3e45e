"""Signed timeline exports: HMAC-SHA256 over canonical JSON, verifiable later offline."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson

ALG = "HMAC-SHA256"
_CONTEXT = b"rollcall timeline export v1"


class SigningConfigError(ValueError):
    """No key to sign or verify with."""


def canonical(document: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def export_key(secret: str) -> bytes:
    """The export key, derived from the service secret so a token key is never used directly."""
    if not secret:
        raise SigningConfigError("ROLLCALL_JWT_SECRET is not set: exports cannot be signed")
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """A public identifier of a key (which secret signed this), not the key."""
    return "k-" + hashlib.sha256(key).hexdigest()[:12]


def sign(document: dict[str, Any], secret: str) -> dict[str, Any]:
    """``{"document": ..., "signature": {"alg", "key_id", "value"}}`` (value: hex HMAC)."""
    key = export_key(secret)
    value = hmac.new(key, canonical(document), hashlib.sha256).hexdigest()
    return {"document": document, "signature": {"alg": ALG, "key_id": key_id(key), "value": value}}


def verify(signed: Any, secret: str) -> tuple[bool, str]:
    """Whether a signed export is intact and signed with ``secret``'s key, and why not."""
    if not isinstance(signed, dict) or not isinstance(signed.get("signature"), dict):
        return False, "not a signed export (no signature)"
    sig, document = signed["signature"], signed.get("document")
    if sig.get("alg") != ALG:
        return False, f"unsupported algorithm {sig.get('alg')!r}"
    key = export_key(secret)
    if sig.get("key_id") != key_id(key):
        return False, "signed with a different key"
    expected = hmac.new(key, canonical(document), hashlib.sha256).hexdigest()
    if not isinstance(sig.get("value"), str) or not hmac.compare_digest(expected, sig["value"]):
        return False, "signature does not match: the document was altered"
    return True, "signature valid"
