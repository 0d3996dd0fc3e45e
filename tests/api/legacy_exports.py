"""Exports as versions before Ed25519 wrote them, built independently of api.signing."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson


def legacy_export(document: dict[str, Any], secret: str) -> dict[str, Any]:
    """An export as versions before Ed25519 wrote it (HMAC-SHA256, key derived from the secret)."""
    key = hmac.new(secret.encode(), b"rollcall timeline export v1", hashlib.sha256).digest()
    body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return {
        "document": document,
        "signature": {
            "alg": "HMAC-SHA256",
            "key_id": "k-" + hashlib.sha256(key).hexdigest()[:12],
            "value": hmac.new(key, body, hashlib.sha256).hexdigest(),
        },
    }
