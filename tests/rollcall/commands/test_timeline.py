"""The timeline commands: keygen, public-key and verify (exit codes), and serve with a bad key."""

from __future__ import annotations

import copy
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api import signing
from rollcall.cli import app
from rollcall.settings import get_settings
from tests.api.legacy_exports import legacy_export

SECRET = "cli-test-secret-0123456789abcdefghij"
DOCUMENT: dict[str, Any] = {
    "timeline": {"officer_id": "O1", "from": "a", "to": "b", "events": []},
    "exported_at": "t",
    "exported_by": "det",
    "role": "investigator",
    "case_ref": "C1",
    "request_id": "r",
}
runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("ROLLCALL_EXPORT_KEY_FILE", "ROLLCALL_JWT_SECRET", "ROLLCALL_JWT_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _keygen(path: Path) -> str:
    result = runner.invoke(app, ["timeline", "keygen", str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout


def _save(path: Path, signed: Any) -> Path:
    path.write_text(json.dumps(signed, indent=2), encoding="utf-8")
    return path


def _verify(*args: str) -> Any:
    return runner.invoke(app, ["timeline", "verify", *args])


def test_keygen_writes_0600_prints_the_public_key_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "export.pem"
    path.parent.mkdir()
    result = runner.invoke(app, ["timeline", "keygen", str(path)])
    assert result.exit_code == 0, result.output
    signer = signing.load_signer(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        f"key_id: {signer.key_id}",
        f"public_key: {signing.public_key_text(signer.public_key)}",
    ]
    assert "\n".join(lines[2:]) + "\n" == signing.public_key_pem(signer.public_key)
    assert "PRIVATE" not in result.stdout
    assert f"wrote private key {path} (mode 0600); key id {signer.key_id}" in result.stderr
    before = path.read_bytes()
    again = runner.invoke(app, ["timeline", "keygen", str(path)])
    assert again.exit_code == 2
    assert f"{path} exists: a key is never overwritten" in again.stderr
    assert path.read_bytes() == before
    nowhere = runner.invoke(app, ["timeline", "keygen", str(tmp_path / "no-dir" / "k.pem")])
    assert nowhere.exit_code == 2
    assert "cannot write" in nowhere.stderr


def test_public_key_from_a_file_or_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "export.pem"
    printed = _keygen(path)
    from_file = runner.invoke(app, ["timeline", "public-key", str(path)])
    assert from_file.exit_code == 0, from_file.output
    assert from_file.stdout == printed
    assert runner.invoke(app, ["timeline", "public-key"]).exit_code == 2
    monkeypatch.setenv("ROLLCALL_EXPORT_KEY_FILE", str(path))
    get_settings.cache_clear()
    from_setting = runner.invoke(app, ["timeline", "public-key"])
    assert from_setting.exit_code == 0, from_setting.output
    assert from_setting.stdout == printed
    (tmp_path / "bad.pem").write_text("nope", encoding="ascii")
    bad = runner.invoke(app, ["timeline", "public-key", str(tmp_path / "bad.pem")])
    assert bad.exit_code == 2
    assert "ROLLCALL_EXPORT_KEY_FILE" in bad.stderr


def test_verify_exit_codes(tmp_path: Path) -> None:
    key_path = tmp_path / "export.pem"
    public_file = tmp_path / "export.pub"
    public_file.write_text(_keygen(key_path), encoding="utf-8")
    signer = signing.load_signer(key_path)
    other_path = tmp_path / "other.pem"
    _keygen(other_path)
    other = signing.load_signer(other_path)
    good = _save(tmp_path / "good.json", signer.sign(copy.deepcopy(DOCUMENT)))

    for key in (
        str(public_file),
        signing.public_key_text(signer.public_key),
        signing.public_key_pem(signer.public_key),
    ):
        ok = _verify(str(good), "--public-key", key)
        assert ok.exit_code == 0, ok.output
        assert ok.stdout.startswith(f"{good}: VALID: signature valid (key {signer.key_id})")
        assert "officer O1 a..b, exported by det at t for case C1" in ok.stdout

    tampered = signer.sign(copy.deepcopy(DOCUMENT))
    tampered["document"]["case_ref"] = "C2"
    altered = _verify(str(_save(tmp_path / "t.json", tampered)), "-k", str(public_file))
    assert altered.exit_code == 1
    assert "ALTERED: signature does not match" in altered.stderr

    unknown = _verify(str(good), "-k", signing.public_key_text(other.public_key))
    assert unknown.exit_code == 3
    assert f"UNKNOWN KEY: signed with {signer.key_id}" in unknown.stderr
    no_key = _verify(str(good))
    assert no_key.exit_code == 3
    assert "--public-key" in no_key.stderr
    # Keys from before and after a rotation: the export's key id picks the right one.
    rotated = _verify(
        str(good), "-k", signing.public_key_text(other.public_key), "-k", str(public_file)
    )
    assert rotated.exit_code == 0, rotated.output

    no_signature = _save(tmp_path / "plain.json", {"document": DOCUMENT})
    malformed = _verify(str(no_signature), "-k", str(public_file))
    assert malformed.exit_code == 4
    assert "MALFORMED: not a signed export" in malformed.stderr
    bad_alg = signer.sign(copy.deepcopy(DOCUMENT))
    bad_alg["signature"]["alg"] = "none"
    assert (
        _verify(str(_save(tmp_path / "alg.json", bad_alg)), "-k", str(public_file)).exit_code == 4
    )

    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    unreadable = _verify(str(tmp_path / "broken.json"), "-k", str(public_file))
    assert unreadable.exit_code == 2
    assert "not a readable JSON file" in unreadable.stderr
    assert _verify(str(tmp_path / "absent.json"), "-k", str(public_file)).exit_code == 2
    bad_key = _verify(str(good), "-k", "not-a-key")
    assert bad_key.exit_code == 2
    assert "--public-key: 'not-a-key' is neither a public key file nor a public key value" in (
        bad_key.stderr
    )


def test_verify_legacy_hmac_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = _save(tmp_path / "legacy.json", legacy_export(copy.deepcopy(DOCUMENT), SECRET))
    without_secret = _verify(str(legacy), "--legacy-hmac")
    assert without_secret.exit_code == 2
    assert "--legacy-hmac needs ROLLCALL_JWT_SECRET" in without_secret.stderr
    monkeypatch.setenv("ROLLCALL_JWT_SECRET", SECRET)
    get_settings.cache_clear()
    not_asked = _verify(str(legacy))
    assert not_asked.exit_code == 3
    assert "legacy HMAC-SHA256 export" in not_asked.stderr
    ok = _verify(str(legacy), "--legacy-hmac")
    assert ok.exit_code == 0, ok.output
    assert "VALID: legacy HMAC-SHA256 signature valid" in ok.stdout
    tampered = legacy_export(copy.deepcopy(DOCUMENT), SECRET)
    tampered["document"]["exported_by"] = "someone.else"
    altered = _verify(str(_save(tmp_path / "t.json", tampered)), "--legacy-hmac")
    assert altered.exit_code == 1
    monkeypatch.setenv("ROLLCALL_JWT_SECRET", "a-different-secret-0123456789abcdef")
    get_settings.cache_clear()
    assert _verify(str(legacy), "--legacy-hmac").exit_code == 3


def test_serve_refuses_a_bad_export_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "export.pem").write_text("not a key", encoding="ascii")
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("ROLLCALL_JWT_SECRET", SECRET)
    monkeypatch.setenv("ROLLCALL_EXPORT_KEY_FILE", str(tmp_path / "export.pem"))
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert f"ROLLCALL_EXPORT_KEY_FILE: {tmp_path / 'export.pem'}: is not a PEM private key" in (
        result.stderr
    )


def test_serve_warns_when_exports_cannot_be_signed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROLLCALL_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("ROLLCALL_JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----\nnot a key")
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2  # stopped by the bad token key, after the warning
    assert "warning: ROLLCALL_EXPORT_KEY_FILE is not set: timeline exports will be refused" in (
        result.stderr
    )


def test_verify_refuses_duplicate_and_unsigned_keys(tmp_path: Path) -> None:
    """A forged first ``document`` before the signed one, or unsigned keys beside it, are
    MALFORMED: a reader taking the first of two keys must never see a VALID verdict."""
    key_path = tmp_path / "export.pem"
    public_file = tmp_path / "export.pub"
    public_file.write_text(_keygen(key_path), encoding="utf-8")
    signer = signing.load_signer(key_path)
    signed = signer.sign(copy.deepcopy(DOCUMENT))
    forged = {**DOCUMENT, "case_ref": "FORGED"}
    genuine = json.dumps(signed["document"])
    twice = tmp_path / "twice.json"
    twice.write_text(
        f'{{"document": {json.dumps(forged)}, "document": {genuine}, '
        f'"signature": {json.dumps(signed["signature"])}}}',
        encoding="utf-8",
    )
    assert json.loads(twice.read_text())["document"]["case_ref"] == "C1"  # last one wins here
    result = _verify(str(twice), "-k", str(public_file))
    assert result.exit_code == 4, result.output
    assert "MALFORMED" in result.stderr
    assert "'document' appears twice" in result.stderr
    assert "VALID" not in result.stdout

    nested = tmp_path / "nested.json"
    nested.write_text(
        json.dumps(signed).replace('"case_ref": "C1"', '"case_ref": "X", "case_ref": "C1"'),
        encoding="utf-8",
    )
    assert _verify(str(nested), "-k", str(public_file)).exit_code == 4

    for extra in (
        {"note": "approved by the court"},
        {"signature": {**signed["signature"], "x": 1}},
    ):
        path = _save(tmp_path / "extra.json", {**signed, **extra})
        result = _verify(str(path), "-k", str(public_file))
        assert result.exit_code == 4, extra
        assert "unsigned key(s)" in result.stderr

    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(signed).replace('"case_ref": "C1"', '"case_ref": NaN'), "utf-8")
    assert _verify(str(nan), "-k", str(public_file)).exit_code == 4
