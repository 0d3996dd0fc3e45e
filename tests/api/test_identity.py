"""Tokens from a force's identity provider: JWKS with key rotation, issuer, audience, roles array;
and the shared secret's minimum length."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError
from typer.testing import CliRunner

from api.app import create_app
from api.auth import TokenConfigError, issue_token
from rollcall.cli import app as cli_app
from rollcall.settings import Settings, get_settings
from tests.api.helpers import SECRET, TZ, TestClient
from tests.clock import API_NOW, TestClock

ISSUER = "https://login.example.test/force-tenant/v2.0"
AUDIENCE = "api://rollcall"


@dataclass
class KeyServer:
    """A real HTTP server on loopback publishing a JWKS document that a test can change."""

    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    fetches: int = 0
    url: str = ""

    def publish(self, *kids: str) -> None:
        """Serve only these key ids from now on (new ones are generated)."""
        self.keys = {
            kid: self.keys.get(kid)
            or rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for kid in kids
        }

    def document(self) -> bytes:
        out = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return json.dumps({"keys": out}).encode()

    def token(self, kid: str, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
        body = {"sub": "idp-user", "exp": exp, "iss": ISSUER, "aud": AUDIENCE, **claims}
        signer = key or self.keys[kid]
        return jwt.encode(body, signer, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def key_server() -> Iterator[KeyServer]:
    server_state = KeyServer()
    server_state.publish("k1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server interface
            server_state.fetches += 1
            body = server_state.document()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}/keys"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server_state
    httpd.shutdown()
    httpd.server_close()


def _client(db_url: str, **settings: Any) -> TestClient:
    return TestClient(
        create_app(
            Settings(database_url=db_url, timezone=TZ, **settings), clock=TestClock(API_NOW)
        ),
        raise_server_exceptions=False,
    )


def _status(client: TestClient, token: str) -> int:
    return client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"}).status_code


def test_jwks_keys_rotate(db_url: str, key_server: KeyServer) -> None:
    settings = {
        "jwt_jwks_url": key_server.url,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        "jwt_jwks_cooldown_seconds": 0.0,
    }
    with _client(db_url, **settings) as client:
        assert _status(client, key_server.token("k1", role="auditor")) == 200
        old_key = key_server.keys["k1"]
        key_server.publish("k2")  # the provider rotates: k1 withdrawn, k2 new
        assert _status(client, key_server.token("k2", role="auditor")) == 200
        assert key_server.fetches == 2  # the new kid made it fetch the set again, once
        assert _status(client, key_server.token("k1", key=old_key, role="auditor")) == 401
        # a token signed by a key the provider never published, under a known kid
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        assert _status(client, key_server.token("k2", key=stranger, role="auditor")) == 401
        # HS256 under the shared secret is refused in JWKS mode
        assert _status(client, issue_token(SECRET, role="auditor", sub="a")) == 401


def test_issuer_and_audience_are_checked(db_url: str, key_server: KeyServer) -> None:
    settings = {"jwt_jwks_url": key_server.url, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
    with _client(db_url, **settings) as client:
        assert _status(client, key_server.token("k1", role="auditor")) == 200
        assert _status(client, key_server.token("k1", role="auditor", iss="https://evil")) == 401
        assert _status(client, key_server.token("k1", role="auditor", aud="api://other")) == 401
        no_aud = key_server.token("k1", role="auditor")
        claims = jwt.decode(no_aud, options={"verify_signature": False})
        claims.pop("aud")
        bare = jwt.encode(claims, key_server.keys["k1"], algorithm="RS256", headers={"kid": "k1"})
        assert _status(client, bare) == 401


def test_issuer_and_audience_with_the_shared_secret(db_url: str) -> None:
    with _client(db_url, jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE) as client:
        exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
        base = {"sub": "a", "role": "auditor", "exp": exp}
        good = jwt.encode({**base, "iss": ISSUER, "aud": AUDIENCE}, SECRET, algorithm="HS256")
        assert _status(client, good) == 200
        # what `rollcall token` made before: neither claim
        assert _status(client, jwt.encode(base, SECRET, algorithm="HS256")) == 401


def test_roles_array_claim(db_url: str, key_server: KeyServer) -> None:
    settings = {"jwt_jwks_url": key_server.url, "jwt_roles_claim": "roles"}
    with _client(db_url, **settings) as client:
        token = key_server.token
        assert _status(client, token("k1", roles=["Directory.Read", "auditor"])) == 200
        assert _status(client, token("k1", roles=["hr"])) == 403  # a valid hr caller, wrong role
        assert _status(client, token("k1", roles=["auditor", "hr"])) == 401  # ambiguous
        assert _status(client, token("k1", roles=[])) == 401
        assert _status(client, token("k1", roles="auditor")) == 200
        assert _status(client, token("k1", role="auditor")) == 401  # the configured claim only
        r = client.get(
            "/v1/audit",
            headers={"Authorization": f"Bearer {token('k1', roles=['officer'])}"},
        )
        assert r.status_code == 401
        assert "officer_id" in r.json()["error"]["message"]


def test_unreachable_jwks_is_unavailable_not_unauthenticated(db_url: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    token = jwt.encode(
        {"sub": "a", "role": "auditor", "exp": exp}, key, algorithm="RS256", headers={"kid": "k"}
    )
    with _client(db_url, jwt_jwks_url="http://127.0.0.1:9/keys") as client:
        r = client.get("/v1/audit", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"


def test_a_jwks_url_must_be_http() -> None:
    with pytest.raises(TokenConfigError, match="ROLLCALL_JWT_JWKS_URL"):
        create_app(Settings(jwt_jwks_url="file:///etc/passwd"))


def test_a_short_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(jwt_secret="x")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(jwt_secret="s" * 31)
    assert Settings(jwt_secret="s" * 32).jwt_secret.get_secret_value() == "s" * 32
    with pytest.raises(TokenConfigError, match="32 bytes"):
        issue_token("short", role="hr", sub="x")
    runner = CliRunner()
    monkeypatch.setenv("ROLLCALL_JWT_SECRET", "x")
    get_settings.cache_clear()
    try:
        for args in (["serve", "--port", "1"], ["token", "--role", "hr", "--sub", "x"]):
            result = runner.invoke(cli_app, args)
            assert result.exit_code == 2, args
            assert "ROLLCALL_JWT_SECRET" in result.output
            assert "32 bytes" in result.output
    finally:
        get_settings.cache_clear()
