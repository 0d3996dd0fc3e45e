"""Ed25519 export signatures: round trip, altered documents, unknown keys, malformed input, key files."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given
from hypothesis import strategies as st

from api import signing
from api.signing import Outcome
from tests.api.legacy_exports import legacy_export

SIGNER = signing.Signer(Ed25519PrivateKey.generate())
OTHER = signing.Signer(Ed25519PrivateKey.generate())
DOCUMENT: dict[str, Any] = {
    "timeline": {
        "officer_id": "O1",
        "from": "2026-10-05T00:00:00+01:00",
        "to": "2026-10-06T00:00:00+01:00",
        "events": [
            {"type": "off_duty", "start": "2026-10-05T00:00:00+01:00", "end": "08:00"},
            {"type": "presence", "start": "2026-10-05T09:00:00+01:00", "minutes": 175.5},
            {"type": "away", "cell": "87195da49ffffff", "fixes": 24},
        ],
    },
    "exported_at": "2026-11-01T10:00:00+00:00",
    "exported_by": "det.jones",
    "role": "investigator",
    "case_ref": "CASE-7",
    "request_id": "req-1",
}
LEGACY_SECRET = "rollcall-legacy-secret-0123456789abcdef"
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_round_trip() -> None:
    signed = SIGNER.sign(copy.deepcopy(DOCUMENT))
    assert signed["document"] == DOCUMENT
    assert set(signed["signature"]) == {"alg", "key_id", "value"}
    assert signed["signature"]["alg"] == "Ed25519"
    assert len(signed["signature"]["value"]) == 86
    # What was saved as JSON text and read back still verifies.
    verdict = signing.verify(json.loads(json.dumps(signed, indent=2)), [SIGNER.public_key])
    assert verdict == signing.Verdict(
        Outcome.VALID, f"signature valid (key {SIGNER.key_id})", SIGNER.key_id
    )
    assert verdict.ok


def test_key_id_is_a_short_hash_of_the_public_key() -> None:
    raw = SIGNER.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert SIGNER.key_id == "k-" + hashlib.sha256(raw).hexdigest()[:16]
    assert SIGNER.key_id != OTHER.key_id
    assert signing.public_key_text(SIGNER.public_key) == (
        base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    )


def test_a_signer_shows_its_key_id_only() -> None:
    shown = f"Signer(key_id={SIGNER.key_id!r})"
    assert (repr(SIGNER), str(SIGNER), f"{SIGNER}", f"{[SIGNER]}") == (
        shown,
        shown,
        shown,
        f"[{shown}]",
    )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("case_ref",), "CASE-8"),
        (("exported_by",), "someone.else"),
        (("timeline", "events", 1, "minutes"), 175.0),
        (("timeline", "events", 2, "cell"), "87195da4bffffff"),
        (("timeline", "officer_id"), "O2"),
    ],
)
def test_an_edited_document_is_altered(path: tuple[str | int, ...], value: Any) -> None:
    signed = SIGNER.sign(copy.deepcopy(DOCUMENT))
    target: Any = signed["document"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    verdict = signing.verify(signed, [SIGNER.public_key])
    assert verdict.outcome is Outcome.ALTERED
    assert (
        verdict.reason == f"signature does not match key {SIGNER.key_id}: the document was altered"
    )


def test_removed_and_added_content_is_altered() -> None:
    removed = SIGNER.sign(copy.deepcopy(DOCUMENT))
    removed["document"]["timeline"]["events"].pop(0)
    added = SIGNER.sign(copy.deepcopy(DOCUMENT))
    added["document"]["note"] = "added later"
    for signed in (removed, added):
        assert signing.verify(signed, [SIGNER.public_key]).outcome is Outcome.ALTERED


def test_another_key_is_unknown() -> None:
    signed = SIGNER.sign(copy.deepcopy(DOCUMENT))
    verdict = signing.verify(signed, [OTHER.public_key])
    assert verdict.outcome is Outcome.UNKNOWN_KEY
    assert verdict.reason == (
        f"signed with {SIGNER.key_id}, which is not a trusted key ({OTHER.key_id})"
    )
    none = signing.verify(signed, [])
    assert none.outcome is Outcome.UNKNOWN_KEY
    assert "none given (--public-key)" in none.reason
    # With several trusted keys (before and after a rotation) the key id picks the right one.
    assert signing.verify(signed, [OTHER.public_key, SIGNER.public_key]).ok


def test_a_forgery_naming_the_trusted_key_does_not_match() -> None:
    forged = OTHER.sign(copy.deepcopy(DOCUMENT))
    forged["signature"]["key_id"] = SIGNER.key_id
    assert signing.verify(forged, [SIGNER.public_key]).outcome is Outcome.ALTERED
    # Nor does a signature moved from another document.
    moved = SIGNER.sign({**copy.deepcopy(DOCUMENT), "case_ref": "CASE-8"})
    moved["document"] = copy.deepcopy(DOCUMENT)
    assert signing.verify(moved, [SIGNER.public_key]).outcome is Outcome.ALTERED


def _good() -> dict[str, Any]:
    return SIGNER.sign(copy.deepcopy(DOCUMENT))


def _with_signature(**changes: Any) -> dict[str, Any]:
    signed = _good()
    for name, value in changes.items():
        if value is None:
            del signed["signature"][name]
        else:
            signed["signature"][name] = value
    return signed


@pytest.mark.parametrize(
    ("signed", "reason"),
    [
        ([1, 2], "not a signed export (no signature object)"),
        ({"document": DOCUMENT}, "not a signed export (no signature object)"),
        ({"document": DOCUMENT, "signature": "abc"}, "not a signed export (no signature object)"),
        ({"signature": {"alg": "Ed25519"}}, "not a signed export (no document object)"),
        (_with_signature(key_id=None), "the signature names no key_id"),
        (_with_signature(key_id=7), "the signature names no key_id"),
        (_with_signature(alg="none"), "unsupported algorithm 'none'"),
        (_with_signature(alg=None), "unsupported algorithm None"),
        (_with_signature(value=None), "the signature value is not 64 bytes of unpadded base64url"),
        (
            _with_signature(value="ab" * 64),
            "the signature value is not 64 bytes of unpadded base64url",
        ),
        (
            _with_signature(value=_good()["signature"]["value"] + "=="),
            "the signature value is not 64 bytes of unpadded base64url",
        ),
        (
            _with_signature(value="!" * 86),
            "the signature value is not 64 bytes of unpadded base64url",
        ),
        (
            {**_good(), "document": {**DOCUMENT, "request_id": 2**70}},
            "the document is not canonical JSON (an integer too big?)",
        ),
    ],
)
def test_malformed(signed: Any, reason: str) -> None:
    verdict = signing.verify(signed, [SIGNER.public_key])
    assert (verdict.outcome, verdict.reason) == (Outcome.MALFORMED, reason)


def test_a_non_canonical_signature_encoding_is_malformed() -> None:
    signed = _good()
    value = signed["signature"]["value"]
    # The last of 86 characters carries 2 bits of the signature and 4 unused bits: flipping an
    # unused bit decodes to the same bytes, which must not pass as the same signature.
    signed["signature"]["value"] = value[:-1] + BASE64URL[BASE64URL.index(value[-1]) ^ 1]
    assert signing.verify(signed, [SIGNER.public_key]).outcome is Outcome.MALFORMED


@given(position=st.integers(min_value=0), byte=st.integers(min_value=0x20, max_value=0x7E))
def test_any_single_byte_edit_of_the_canonical_document_fails(position: int, byte: int) -> None:
    """Editing one byte of the signed canonical JSON either leaves the same document (then the
    signature stands: e.g. ``1e16`` and ``1E16`` are one number) or is reported as altered."""
    document = {**DOCUMENT, "timeline": {**DOCUMENT["timeline"], "scale": 1e16, "n": -3}}
    signed = SIGNER.sign(document)
    original = signing.canonical(document)
    position %= len(original)
    assume(original[position] != byte)
    edited = original[:position] + bytes([byte]) + original[position + 1 :]
    try:
        parsed = json.loads(edited)
    except ValueError:
        parsed = None
    assume(isinstance(parsed, dict))
    verdict = signing.verify(
        {"document": parsed, "signature": signed["signature"]}, [SIGNER.public_key]
    )
    same = signing.canonical(parsed) == original
    assert verdict.outcome is (Outcome.VALID if same else Outcome.ALTERED)


def test_every_position_of_the_canonical_document_is_covered() -> None:
    """Each byte in turn changed to a neighbour (last bit flipped): every edit that still parses
    and means something else is reported as altered; the others are not JSON objects at all."""
    signed = SIGNER.sign(copy.deepcopy(DOCUMENT))
    original = signing.canonical(DOCUMENT)
    outcomes: dict[str, int] = {"altered": 0, "not an object": 0}
    for position, byte in enumerate(original):
        edited = original[:position] + bytes([byte ^ 1]) + original[position + 1 :]
        try:
            parsed = json.loads(edited)
        except ValueError:
            outcomes["not an object"] += 1
            continue
        assert isinstance(parsed, dict), edited
        assert signing.canonical(parsed) != original, edited
        verdict = signing.verify(
            {"document": parsed, "signature": signed["signature"]}, [SIGNER.public_key]
        )
        assert verdict.outcome is Outcome.ALTERED, edited
        outcomes["altered"] += 1
    assert sum(outcomes.values()) == len(original)
    assert outcomes["altered"] > len(original) // 2


@given(
    position=st.integers(min_value=0, max_value=85),
    char=st.sampled_from(BASE64URL),
)
def test_any_single_character_edit_of_the_signature_fails(position: int, char: str) -> None:
    signed = _good()
    value = signed["signature"]["value"]
    assume(value[position] != char)
    signed["signature"]["value"] = value[:position] + char + value[position + 1 :]
    assert signing.verify(signed, [SIGNER.public_key]).outcome in {
        Outcome.ALTERED,
        Outcome.MALFORMED,
    }


def test_legacy_hmac_exports_are_checked_only_with_the_secret() -> None:
    legacy = legacy_export(copy.deepcopy(DOCUMENT), LEGACY_SECRET)
    kid = legacy["signature"]["key_id"]
    assert signing.verify(legacy, [SIGNER.public_key], legacy_secret=LEGACY_SECRET) == (
        signing.Verdict(Outcome.VALID, f"legacy HMAC-SHA256 signature valid (key {kid})", kid)
    )
    without = signing.verify(legacy, [SIGNER.public_key])
    assert without.outcome is Outcome.UNKNOWN_KEY
    assert "--legacy-hmac" in without.reason
    other = signing.verify(legacy, [], legacy_secret="another-secret-0123456789abcdefghij")
    assert other.outcome is Outcome.UNKNOWN_KEY
    legacy["document"]["case_ref"] = "CASE-8"
    assert signing.verify(legacy, [], legacy_secret=LEGACY_SECRET).outcome is Outcome.ALTERED


def test_new_exports_are_never_hmac() -> None:
    assert SIGNER.sign(copy.deepcopy(DOCUMENT))["signature"]["alg"] == "Ed25519"
    # An Ed25519 export is not accepted on the strength of the secret alone.
    signed = SIGNER.sign(copy.deepcopy(DOCUMENT))
    assert signing.verify(signed, [], legacy_secret=LEGACY_SECRET).outcome is Outcome.UNKNOWN_KEY


def test_key_file_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "export-key.pem"
    signer = signing.generate_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        signing.generate_key_file(path)
    assert path.read_bytes() == before
    loaded = signing.load_signer(path)
    assert loaded.key_id == signer.key_id
    signed = loaded.sign(copy.deepcopy(DOCUMENT))
    assert signing.verify(signed, [signer.public_key]).ok


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_unusable_key_files_name_the_setting(tmp_path: Path) -> None:
    ed = Ed25519PrivateKey.generate()
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted = ed.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    public_pem = signing.public_key_pem(ed.public_key()).encode()
    cases = {
        tmp_path / "missing.pem": "cannot read (No such file or directory)",
        _write(tmp_path / "garbage.pem", b"not a key"): "is not a PEM private key",
        _write(tmp_path / "public.pem", public_pem): "is not a PEM private key",
        _write(tmp_path / "rsa.pem", rsa_pem): "is not an Ed25519 key",
        _write(tmp_path / "encrypted.pem", encrypted): "is encrypted",
    }
    for path, message in cases.items():
        with pytest.raises(signing.SigningConfigError) as caught:
            signing.load_signer(path)
        text = str(caught.value)
        assert text.startswith(f"ROLLCALL_EXPORT_KEY_FILE: {path}: "), text
        assert message in text
        assert caught.value.__cause__ is None


def test_public_keys_in_every_accepted_form(tmp_path: Path) -> None:
    key = SIGNER.public_key
    described = signing.describe_public_key(key)
    assert described.splitlines()[:2] == [
        f"key_id: {SIGNER.key_id}",
        f"public_key: {signing.public_key_text(key)}",
    ]
    pem_file = _write(tmp_path / "k.pub.pem", signing.public_key_pem(key).encode())
    described_file = _write(tmp_path / "k.txt", described.encode())
    for value in (
        signing.public_key_text(key),
        signing.public_key_pem(key),
        described,
        str(pem_file),
        str(described_file),
    ):
        assert signing.key_id(signing.read_public_key(value)) == SIGNER.key_id


def test_unusable_public_keys(tmp_path: Path) -> None:
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    short = base64.urlsafe_b64encode(b"x" * 16).rstrip(b"=").decode()
    cases = {
        rsa_pem: "not an Ed25519 public key",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----": "not a PEM public key",
        short: "is neither a public key file nor a public key value",
        str(tmp_path / "nowhere.pem"): "is neither a public key file nor a public key value",
        str(_write(tmp_path / "empty.pem", b"")): "empty.pem: empty: no public key",
        str(_write(tmp_path / "binary.pem", b"\xff\xfe")): "cannot read public key file",
    }
    for value, message in cases.items():
        with pytest.raises(signing.SigningConfigError, match=message):
            signing.read_public_key(value)
    with pytest.raises(signing.SigningConfigError, match="an Ed25519 public key is 32 bytes"):
        signing.parse_public_key(short)
