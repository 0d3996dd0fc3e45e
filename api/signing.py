"""Signed timeline exports: Ed25519 over canonical JSON, checked offline with the public key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rollcall.settings import Settings

ALG = "Ed25519"
LEGACY_ALG = "HMAC-SHA256"
KEY_SETTING = "ROLLCALL_EXPORT_KEY_FILE"
_LEGACY_CONTEXT = b"rollcall timeline export v1"
_SIGNATURE_CHARS = 86  # 64 bytes in unpadded base64url
_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class SigningConfigError(ValueError):
    """No usable key to sign or verify with; the message names the setting or file, never the key."""


class Outcome(StrEnum):
    """What checking a signed export found."""

    VALID = "valid"
    ALTERED = "altered"  # a known key, but the signature does not match the document
    UNKNOWN_KEY = "unknown key"  # signed by none of the keys the verifier trusts
    MALFORMED = "malformed"  # not a signed export, or a signature that cannot be read


@dataclass(frozen=True)
class Verdict:
    """The outcome, a sentence saying why, and the key id the export names (if it names one)."""

    outcome: Outcome
    reason: str
    key_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.VALID


EXPORT_KEYS = frozenset({"document", "signature"})
SIGNATURE_KEYS = frozenset({"alg", "key_id", "value"})


class MalformedExportError(ValueError):
    """Export text that is not one plain JSON document: a key twice in an object (which of the
    two a reader takes differs between parsers), or NaN/Infinity (not JSON)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedExportError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise MalformedExportError(f"{name} is not JSON")


def parse_export(text: str) -> Any:
    """A saved export parsed strictly (raises MalformedExportError or json.JSONDecodeError)."""
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def canonical(document: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 (orjson)."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    """Decode unpadded base64url strictly: the text must be the one encoding of its bytes."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if _b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    """The 32 bytes of an Ed25519 public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short public name of a key: ``k-`` and the first 16 hex digits of SHA-256 of its bytes."""
    return "k-" + hashlib.sha256(raw_public_key(public_key)).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The public key in unpadded base64url (43 characters), as ``--public-key`` accepts it."""
    return _b64url(raw_public_key(public_key))


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as a PEM SubjectPublicKeyInfo block."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def describe_public_key(public_key: Ed25519PublicKey) -> str:
    """Key id, base64url value and PEM block; the whole text is accepted by ``parse_public_key``."""
    return (
        f"key_id: {key_id(public_key)}\n"
        f"public_key: {public_key_text(public_key)}\n"
        f"{public_key_pem(public_key)}"
    )


class Signer:
    """Signs exports with one Ed25519 private key, read once; its repr shows the key id only."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """``{"document": ..., "signature": {"alg": "Ed25519", "key_id", "value"}}``; the value is
        the unpadded base64url of the 64-byte signature over ``canonical(document)``."""
        value = _b64url(self._private_key.sign(canonical(document)))
        return {
            "document": document,
            "signature": {"alg": ALG, "key_id": self.key_id, "value": value},
        }


def generate_key_file(path: Path) -> Signer:
    """A new key pair; the private key is written to ``path`` (PEM, PKCS#8, unencrypted, mode
    0600). Raises FileExistsError when ``path`` exists: a key is never overwritten."""
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written key left to refuse the next attempt
        raise
    return Signer(private_key)


def load_signer(path: Path) -> Signer:
    """The signer of the PEM (PKCS#8, unencrypted) Ed25519 private key in ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningConfigError(f"{KEY_SETTING}: {path}: cannot read ({exc.strerror})") from None
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise SigningConfigError(
            f"{KEY_SETTING}: {path}: is encrypted; give an unencrypted PKCS#8 key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise SigningConfigError(f"{KEY_SETTING}: {path}: is not a PEM private key") from None
    if not isinstance(private_key, Ed25519PrivateKey):
        raise SigningConfigError(f"{KEY_SETTING}: {path}: is not an Ed25519 key")
    return Signer(private_key)


def parse_public_key(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from text holding a PEM block (other lines are ignored, so the output
    of ``rollcall timeline keygen`` works) or the unpadded base64url of its 32 bytes."""
    block = _PEM_BLOCK.search(text.encode("utf-8"))
    if block is not None:
        try:
            key = serialization.load_pem_public_key(block.group(0))
        except (ValueError, UnsupportedAlgorithm):
            raise SigningConfigError("not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SigningConfigError("not an Ed25519 public key")
        return key
    if not text.strip():
        raise SigningConfigError("empty: no public key")
    try:
        raw = _unb64url(text.strip())
    except ValueError:
        raise SigningConfigError(
            "neither a PEM public key nor the base64url of 32 key bytes"
        ) from None
    if len(raw) != 32:
        raise SigningConfigError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def read_public_key(value: str) -> Ed25519PublicKey:
    """A public key given as a file (PEM, or the output of keygen) or inline (PEM or base64url)."""
    if "-----BEGIN" in value:
        return parse_public_key(value)
    path = Path(value)
    try:
        is_file = path.is_file()
    except OSError:
        is_file = False
    if is_file:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise SigningConfigError(f"cannot read public key file {path}") from None
        try:
            return parse_public_key(text)
        except SigningConfigError as exc:
            raise SigningConfigError(f"{path}: {exc}") from None
    try:
        return parse_public_key(value)
    except SigningConfigError:
        raise SigningConfigError(
            f"{value!r} is neither a public key file nor a public key value"
        ) from None


def _legacy_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _LEGACY_CONTEXT, hashlib.sha256).digest()


def _legacy_key_id(key: bytes) -> str:
    return "k-" + hashlib.sha256(key).hexdigest()[:12]


def _verify_legacy(message: bytes, sig: dict[str, Any], kid: str, secret: str | None) -> Verdict:
    """An export signed by earlier versions with HMAC-SHA256 under a key derived from
    ROLLCALL_JWT_SECRET; only a holder of that secret can check (and could forge) it."""
    if not secret:
        return Verdict(
            Outcome.UNKNOWN_KEY,
            f"a legacy {LEGACY_ALG} export (key {kid}): only the service secret can check it "
            "(--legacy-hmac with ROLLCALL_JWT_SECRET set)",
            kid,
        )
    key = _legacy_key(secret)
    if kid != _legacy_key_id(key):
        return Verdict(
            Outcome.UNKNOWN_KEY, f"signed with {kid}, not the key of ROLLCALL_JWT_SECRET", kid
        )
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    value = sig.get("value")
    if not isinstance(value, str) or not hmac.compare_digest(expected, value):
        return Verdict(
            Outcome.ALTERED, f"signature does not match key {kid}: the document was altered", kid
        )
    return Verdict(Outcome.VALID, f"legacy {LEGACY_ALG} signature valid (key {kid})", kid)


def verify(
    signed: Any,
    public_keys: Sequence[Ed25519PublicKey],
    *,
    legacy_secret: str | None = None,
) -> Verdict:
    """Check a signed export against the public keys the verifier trusts.

    The export's ``key_id`` picks the key; a key id matching none of ``public_keys`` is an
    unknown key, whatever the signature. Exports signed by earlier versions (HMAC-SHA256) are
    checked only when ``legacy_secret`` (ROLLCALL_JWT_SECRET) is given.
    """
    if not isinstance(signed, dict) or not isinstance(signed.get("signature"), dict):
        return Verdict(Outcome.MALFORMED, "not a signed export (no signature object)")
    sig, document = signed["signature"], signed.get("document")
    if not isinstance(document, dict):
        return Verdict(Outcome.MALFORMED, "not a signed export (no document object)")
    extra = sorted(set(signed) - EXPORT_KEYS) + sorted(set(sig) - SIGNATURE_KEYS)
    if extra:
        # Nothing unsigned may travel with the document and be read as part of it.
        return Verdict(Outcome.MALFORMED, f"unsigned key(s) beside the document: {extra}")
    try:
        message = canonical(document)
    except orjson.JSONEncodeError:
        return Verdict(
            Outcome.MALFORMED, "the document is not canonical JSON (an integer too big?)"
        )
    kid = sig.get("key_id")
    if not isinstance(kid, str) or not kid:
        return Verdict(Outcome.MALFORMED, "the signature names no key_id")
    alg = sig.get("alg")
    if alg == LEGACY_ALG:
        return _verify_legacy(message, sig, kid, legacy_secret)
    if alg != ALG:
        return Verdict(Outcome.MALFORMED, f"unsupported algorithm {alg!r}", kid)
    value = sig.get("value")
    try:
        if not isinstance(value, str) or len(value) != _SIGNATURE_CHARS:
            raise ValueError("wrong length")
        signature = _unb64url(value)
    except ValueError:
        return Verdict(
            Outcome.MALFORMED, "the signature value is not 64 bytes of unpadded base64url", kid
        )
    key = next((k for k in public_keys if key_id(k) == kid), None)
    if key is None:
        known = ", ".join(key_id(k) for k in public_keys) or "none given (--public-key)"
        return Verdict(
            Outcome.UNKNOWN_KEY, f"signed with {kid}, which is not a trusted key ({known})", kid
        )
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return Verdict(
            Outcome.ALTERED, f"signature does not match key {kid}: the document was altered", kid
        )
    return Verdict(Outcome.VALID, f"signature valid (key {kid})", kid)


def signer_from_settings(settings: Settings) -> Signer | None:
    """The export signer of ROLLCALL_EXPORT_KEY_FILE, read now; None when it is not set."""
    if settings.export_key_file is None:
        return None
    return load_signer(settings.export_key_file)
