"""Signed timeline exports over HTTP: the public key, round trip, tampering, no key configured."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from typer.testing import CliRunner

from api import signing
from api.app import create_app
from api.signing import Outcome
from rollcall.cli import app as cli
from rollcall.settings import Settings
from store.models import AuditEntry
from tests.api.helpers import SECRET, TZ, Api, TestClient, seed_reference, seed_results
from tests.clock import API_NOW, TestClock

EXPORT = "/v1/officers/O1/timeline/export"
PARAMS = {"from": "2026-10-05", "to": "2026-10-05", "case_ref": "CASE-7"}


def _export(api: Api) -> dict[str, Any]:
    r = api.client.get(EXPORT, params=PARAMS, headers=api.headers("investigator", sub="det.jones"))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _published_key(api: Api) -> dict[str, str]:
    r = api.client.get("/v1/export-keys")  # no token
    assert r.status_code == 200, r.text
    keys: list[dict[str, str]] = r.json()["keys"]
    assert len(keys) == 1
    return keys[0]


def _actions(api: Api) -> list[str]:
    with api.factory() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def test_export_verifies_with_the_published_key(world: Api, export_key_file: Path) -> None:
    published = _published_key(world)
    configured = signing.load_signer(export_key_file)
    assert published["alg"] == "Ed25519"
    assert published["key_id"] == configured.key_id
    from_text = signing.parse_public_key(published["public_key"])
    from_pem = signing.parse_public_key(published["public_key_pem"])
    assert signing.key_id(from_text) == signing.key_id(from_pem) == configured.key_id

    signed = _export(world)
    assert signed["signature"]["alg"] == "Ed25519"
    assert signed["signature"]["key_id"] == configured.key_id
    assert signed["document"]["timeline"]["officer_id"] == "O1"
    assert [e["type"] for e in signed["document"]["timeline"]["events"]][:2] == [
        "off_duty",
        "shift_start",
    ]
    verdict = signing.verify(signed, [from_text])
    assert verdict.outcome is Outcome.VALID
    assert verdict.key_id == configured.key_id
    assert _actions(world)[-1] == "export.timeline"


@pytest.mark.parametrize(
    ("field", "value"),
    [("case_ref", "CASE-8"), ("exported_by", "someone.else"), ("role", "officer")],
)
def test_tampered_export_is_altered(world: Api, field: str, value: str) -> None:
    key = signing.parse_public_key(_published_key(world)["public_key"])
    signed = _export(world)
    signed["document"][field] = value
    assert signing.verify(signed, [key]).outcome is Outcome.ALTERED


def test_tampered_event_is_altered(world: Api) -> None:
    key = signing.parse_public_key(_published_key(world)["public_key"])
    signed = _export(world)
    event = signed["document"]["timeline"]["events"][1]
    assert event["type"] == "shift_start"
    event["start"] = "2026-10-05T07:00:00+01:00"
    assert signing.verify(signed, [key]).outcome is Outcome.ALTERED


def test_another_key_is_unknown_and_a_forgery_does_not_match(world: Api) -> None:
    published = _published_key(world)
    key = signing.parse_public_key(published["public_key"])
    other = signing.Signer(Ed25519PrivateKey.generate())
    signed = _export(world)
    unknown = signing.verify(signed, [other.public_key])
    assert unknown.outcome is Outcome.UNKNOWN_KEY
    assert published["key_id"] in unknown.reason
    # Someone with another key re-signs an edited export and claims the service's key id.
    forged = other.sign({**signed["document"], "case_ref": "CASE-8"})
    forged["signature"]["key_id"] = published["key_id"]
    verdict = signing.verify(forged, [key])
    assert verdict.outcome is Outcome.ALTERED
    assert "does not match" in verdict.reason


def test_cli_verifies_an_http_export(world: Api, tmp_path: Path) -> None:
    published = _published_key(world)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_export(world), indent=2), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(
        cli, ["timeline", "verify", str(path), "--public-key", published["public_key"]]
    )
    assert ok.exit_code == 0, ok.output
    assert f"VALID: signature valid (key {published['key_id']}): officer O1" in ok.stdout
    assert "exported by det.jones" in ok.stdout
    assert "for case CASE-7" in ok.stdout
    tampered = json.loads(path.read_text(encoding="utf-8"))
    tampered["document"]["timeline"]["events"].pop()
    path.write_text(json.dumps(tampered), encoding="utf-8")
    bad = runner.invoke(cli, ["timeline", "verify", str(path), "-k", published["public_key"]])
    assert bad.exit_code == 1
    assert "ALTERED: signature does not match" in bad.output


@pytest.fixture
def keyless(db_url: str) -> Iterator[Api]:
    """An app with no ROLLCALL_EXPORT_KEY_FILE, seeded like ``world``."""
    settings = Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ)
    app = create_app(settings, clock=TestClock(API_NOW))
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client=client, factory=app.state.rollcall.factory)
        seed_reference(api)
        seed_results(api)
        yield api


def test_without_a_key_exports_are_refused_and_the_rest_works(keyless: Api) -> None:
    before = _actions(keyless)
    headers = keyless.headers("investigator", sub="det.jones")
    r = keyless.client.get(EXPORT, params=PARAMS, headers=headers)
    assert r.status_code == 503
    error = r.json()["error"]
    assert error["code"] == "unavailable"
    assert error["message"] == "exports cannot be signed: ROLLCALL_EXPORT_KEY_FILE is not set"
    assert "document" not in r.json()
    assert _actions(keyless) == before  # nothing was read, so nothing is audited as exported
    keys = keyless.client.get("/v1/export-keys")
    assert keys.status_code == 503
    assert "ROLLCALL_EXPORT_KEY_FILE" in keys.json()["error"]["message"]
    # Who may not export still hears so first.
    assert keyless.client.get(EXPORT, params=PARAMS).status_code == 401
    hr = keyless.client.get(EXPORT, params=PARAMS, headers=keyless.headers("hr"))
    assert hr.status_code == 403
    timeline = keyless.client.get("/v1/officers/O1/timeline", params=PARAMS, headers=headers)
    assert timeline.status_code == 200, timeline.text
    assert keyless.client.get("/healthz").status_code == 200


def test_a_bad_key_file_stops_start_up(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "export-key.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    settings = Settings(database_url=db_url, jwt_secret=SECRET, export_key_file=path)
    with pytest.raises(signing.SigningConfigError, match="ROLLCALL_EXPORT_KEY_FILE: .*not a PEM"):
        create_app(settings)


def test_no_key_material_in_logs_or_answers(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "export-key.pem"
    signing.generate_key_file(path)
    private_body = "".join(path.read_text(encoding="ascii").splitlines()[1:-1])
    seed = serialization.load_pem_private_key(path.read_bytes(), None).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    material = [
        private_body,
        seed.hex(),
        base64.b64encode(seed).decode().rstrip("="),
        base64.urlsafe_b64encode(seed).decode().rstrip("="),
    ]
    caplog.set_level(logging.DEBUG)
    settings = Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ, export_key_file=path)
    app = create_app(settings, clock=TestClock(API_NOW))
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client=client, factory=app.state.rollcall.factory)
        seed_reference(api)
        texts = [_export(api), _published_key(api), client.get("/openapi.json").json()]
    assert caplog.records  # requests were logged
    seen = caplog.text + "".join(json.dumps(t) for t in texts)
    assert [m for m in material if m in seen] == []
