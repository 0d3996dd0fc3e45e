"""The authorisation matrix: every endpoint for every role, and every kind of bad token."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from api.app import create_app
from api.auth import TokenConfigError, issue_token
from api.trail import RefusalLimiter
from rollcall.settings import Settings
from store.db import transaction
from store.models import AuditEntry
from store.reply import contest_day
from tests.api.helpers import DAY, SECRET, STATION, TZ, Api, TestClient
from tests.clock import API_NOW, TestClock

ROLES = ("ingest", "admin", "hr", "investigator", "officer", "auditor")
DAYS = {"from": "2026-10-05", "to": "2026-10-05"}
CASE = {**DAYS, "case_ref": "CASE-1"}

# (method, path, query, json body, roles allowed)
ENDPOINTS: list[tuple[str, str, dict[str, str], Any, set[str]]] = [
    ("POST", "/v1/pings", {}, {"pings": []}, {"ingest"}),
    ("POST", "/v1/swipes", {}, {"swipes": []}, {"ingest"}),
    ("POST", "/v1/visits", {}, {"visits": []}, {"ingest"}),
    ("PUT", "/v1/roster", {}, {"shifts": []}, {"admin", "ingest"}),
    ("PUT", "/v1/stations/ST1", {}, STATION, {"admin"}),
    ("GET", "/v1/compliance", DAYS, None, {"hr"}),
    ("GET", "/v1/officers/O1/attendance", CASE, None, {"hr", "investigator", "officer"}),
    ("GET", "/v1/officers/O1/timeline", CASE, None, {"investigator", "officer"}),
    ("GET", "/v1/officers/O1/timeline/export", CASE, None, {"investigator", "officer"}),
    ("GET", "/v1/flags", {"case_ref": "CASE-1"}, None, {"investigator", "officer"}),
    ("GET", "/v1/flags/f-share-0001", {"case_ref": "CASE-1"}, None, {"investigator", "officer"}),
    (
        "PATCH",
        "/v1/flags/f-share-0001",
        {},
        {"status": "under_review", "note": "n", "case_ref": "CASE-1"},
        {"investigator"},
    ),
    (
        "POST",
        "/v1/flags/f-share-0001/responses",
        {},
        {"category": "other", "statement": "s"},
        {"officer"},
    ),
    (
        "POST",
        "/v1/officers/O1/contests",
        {},
        {"date": "2026-10-06", "category": "other_station", "statement": "s"},
        {"officer"},
    ),
    ("GET", "/v1/contests", {"case_ref": "CASE-1"}, None, {"hr", "investigator", "officer"}),
    ("GET", "/v1/contests/1", {"case_ref": "CASE-1"}, None, {"hr", "investigator", "officer"}),
    # One contest per role (seeded), since a contest is answered once.
    (
        "PATCH",
        "/v1/contests/{role}",
        {},
        {"outcome": "not_upheld", "reason": "r", "case_ref": "CASE-1"},
        {"hr", "investigator"},
    ),
    ("POST", "/v1/cases/CASE-1/close", {}, None, {"investigator"}),
    ("GET", "/v1/officers/O1/access-log", {}, None, {"officer", "auditor"}),
    ("GET", "/v1/officers/O1/subject-access", {}, None, {"officer", "auditor"}),
    ("GET", "/v1/fairness", DAYS, None, {"auditor", "investigator"}),
    ("GET", "/v1/audit", {}, None, {"auditor"}),
]
OPEN = ["/healthz", "/readyz", "/metrics"]
# Route template of every endpoint called: every refusal of an authenticated endpoint is audited.
TEMPLATES = {
    "/v1/pings": "/v1/pings",
    "/v1/swipes": "/v1/swipes",
    "/v1/visits": "/v1/visits",
    "/v1/roster": "/v1/roster",
    "/v1/stations/ST1": "/v1/stations/{station_id}",
    "/v1/compliance": "/v1/compliance",
    "/v1/officers/O1/attendance": "/v1/officers/{officer_id}/attendance",
    "/v1/officers/O1/timeline": "/v1/officers/{officer_id}/timeline",
    "/v1/officers/O1/timeline/export": "/v1/officers/{officer_id}/timeline/export",
    "/v1/flags": "/v1/flags",
    "/v1/flags/f-share-0001": "/v1/flags/{flag_id}",
    "/v1/flags/f-share-0001/responses": "/v1/flags/{flag_id}/responses",
    "/v1/officers/O1/contests": "/v1/officers/{officer_id}/contests",
    "/v1/contests": "/v1/contests",
    "/v1/contests/1": "/v1/contests/{contest_id}",
    "/v1/contests/{role}": "/v1/contests/{contest_id}",
    "/v1/cases/CASE-1/close": "/v1/cases/{case_ref}/close",
    "/v1/officers/O1/access-log": "/v1/officers/{officer_id}/access-log",
    "/v1/officers/O1/subject-access": "/v1/officers/{officer_id}/subject-access",
    "/v1/fairness": "/v1/fairness",
    "/v1/audit": "/v1/audit",
}


def _seed_contests(api: Api) -> None:
    """Contests 1..6 of O1, one for each role to answer."""
    with transaction(api.factory) as session:
        for n in range(len(ROLES)):
            contest_day(
                session,
                "O1",
                DAY,
                category="other_station",
                statement=f"statement {n + 1}",
                actor="O1",
                now=api.now(),
            )


def _call(
    api: Api, method: str, path: str, query: dict[str, str], body: Any, headers: dict[str, str]
) -> int:
    response = api.client.request(method, path, params=query, json=body, headers=headers)
    return int(response.status_code)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _bad_tokens() -> dict[str, str]:
    now = datetime.now(UTC)
    claims = {
        "sub": "mallory",
        "role": "auditor",
        "exp": int((now + timedelta(hours=1)).timestamp()),
    }
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "expired": issue_token(
            SECRET, role="auditor", sub="x", ttl=timedelta(minutes=1), now=now - timedelta(hours=2)
        ),
        "wrong signature": issue_token(
            "another-secret-0123456789abcdefghij", role="auditor", sub="x"
        ),
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "rs256 when hs256 is configured": jwt.encode(claims, rsa_key, algorithm="RS256"),
        "unknown role": jwt.encode({**claims, "role": "superuser"}, SECRET, algorithm="HS256"),
        "no exp": jwt.encode({"sub": "x", "role": "auditor"}, SECRET, algorithm="HS256"),
        "officer without officer_id": jwt.encode(
            {**claims, "role": "officer"}, SECRET, algorithm="HS256"
        ),
        "garbage": "not.a.token",
    }


def _refused(api: Api) -> list[tuple[str, str, int]]:
    with api.factory() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "access.refused").order_by(AuditEntry.seq)
        ).all()
    return [
        (e.detail["method"], e.detail["route"], e.detail["status"]) for e in entries if e.detail
    ]


def test_every_endpoint_for_every_role(world: Api) -> None:
    world.client.app.state.rollcall.refusals = RefusalLimiter(burst=1000)  # type: ignore[attr-defined]
    _seed_contests(world)
    problems = []
    bad_tokens = _bad_tokens()
    refusals: list[tuple[str, str, int]] = []
    for method, pattern, query, body, allowed in ENDPOINTS:
        template = TEMPLATES[pattern]
        path = pattern.replace("{role}", "1")
        for n, role in enumerate(ROLES, start=1):
            headers = world.headers(role, "O1" if role == "officer" else None)
            path = pattern.replace("{role}", str(n))
            status = _call(world, method, path, query, body, headers)
            expected = 200 if role in allowed else 403
            if status != expected:
                problems.append(f"{role} {method} {path}: {status}, expected {expected}")
            if role not in allowed:
                refusals.append((method, template, 403))
        status = _call(world, method, path, query, body, {})
        if status != 401:
            problems.append(f"no token {method} {path}: {status}")
        for name, token in bad_tokens.items():
            status = _call(world, method, path, query, body, {"Authorization": f"Bearer {token}"})
            if status != 401:
                problems.append(f"{name} {method} {path}: {status}")
        refusals += [(method, template, 401)] * (1 + len(bad_tokens))
    for path in OPEN:
        if world.client.get(path).status_code != 200:
            problems.append(f"open {path} refused")
    assert problems == []
    # Every refusal is in the audit log, in order, and nothing else was recorded as one.
    assert _refused(world) == refusals


def test_officer_token_for_another_officer(world: Api) -> None:
    other = world.headers("officer", "O2")
    for path in (
        "/v1/officers/O1/attendance",
        "/v1/officers/O1/timeline",
        "/v1/officers/O1/timeline/export",
    ):
        r = world.client.get(path, params=DAYS, headers=other)
        assert r.status_code == 403, path
        assert r.json()["error"]["code"] == "forbidden"


def test_hr_never_gets_a_timeline(world: Api) -> None:
    for path in ("/v1/officers/O1/timeline", "/v1/officers/O1/timeline/export"):
        assert world.client.get(path, params=CASE, headers=world.headers("hr")).status_code == 403


def test_401_says_bearer(api: Api) -> None:
    r = api.client.get("/v1/flags")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
def rs256(db_url: str) -> Iterator[tuple[TestClient, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = Settings(database_url=db_url, jwt_secret=SECRET, jwt_public_key=pem, timezone=TZ)
    with TestClient(
        create_app(settings, clock=TestClock(API_NOW)), raise_server_exceptions=False
    ) as client:
        yield client, key


def test_rs256_mode_refuses_hs256(rs256: tuple[TestClient, Any]) -> None:
    client, key = rs256
    exp = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
    good = jwt.encode({"sub": "a", "role": "auditor", "exp": exp}, key, algorithm="RS256")
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    hs = issue_token(SECRET, role="auditor", sub="a")
    assert client.get("/v1/audit", headers={"Authorization": f"Bearer {hs}"}).status_code == 401


def test_a_bad_public_key_fails_at_start_up(db_url: str) -> None:
    settings = Settings(database_url=db_url, jwt_public_key="-----BEGIN PUBLIC KEY-----\nnope")
    with pytest.raises(TokenConfigError):
        create_app(settings)
