"""Refused calls to the write endpoints (pings, swipes, roster, stations) are audited like those
on a person's data: caller, role, route and request id, never the token, the body or a coordinate;
anonymous floods stay bounded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select, text

from api.auth import issue_token
from api.trail import RefusalLimiter
from store import audit
from store.models import AuditEntry
from tests.api.helpers import SECRET, Api

ROLES = ("ingest", "admin", "hr", "investigator", "officer", "auditor")
LAT, LON = 51.512345, -0.143217  # distinctive: must never reach the audit log

PING = {
    "device_id": "DEV-PRIVATE-7",
    "ts": "2026-10-05T09:14:03+01:00",
    "lat": LAT,
    "lon": LON,
    "accuracy_m": 12.0,
    "source": "gps",
    "is_mock": False,
}
SWIPE = {
    "badge_id": "BADGE-PRIVATE-7",
    "ts": "2026-10-05T08:58:41+01:00",
    "station_id": "ST-PRIVATE",
    "reader_id": "R-PRIVATE",
    "direction": "in",
    "granted": True,
}
SHIFT = {
    "shift_id": "S-PRIVATE",
    "officer_id": "O-PRIVATE",
    "start": "2026-10-05T08:00:00+01:00",
    "end": "2026-10-05T16:00:00+01:00",
    "kind": "duty",
    "station_id": "ST-PRIVATE",
    "declared_location": "office",
}
FENCE = {
    "type": "Feature",
    "properties": {"station_id": "ST9", "name": "Private Name"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[LON, LAT], [LON + 0.001, LAT], [LON + 0.001, LAT + 0.001], [LON, LAT]]],
    },
}

# family: (method, path, route template, body, roles allowed, extra detail)
FAMILIES: dict[str, tuple[str, str, str, Any, set[str], dict[str, str]]] = {
    "pings": ("POST", "/v1/pings", "/v1/pings", {"pings": [PING]}, {"ingest"}, {}),
    "swipes": ("POST", "/v1/swipes", "/v1/swipes", {"swipes": [SWIPE]}, {"ingest"}, {}),
    "roster": ("PUT", "/v1/roster", "/v1/roster", {"shifts": [SHIFT]}, {"admin", "ingest"}, {}),
    "stations": (
        "PUT",
        "/v1/stations/ST9",
        "/v1/stations/{station_id}",
        FENCE,
        {"admin"},
        {"station_id": "ST9"},
    ),
}
# Values of the bodies above that must not appear anywhere in a stored refusal.
PRIVATE = ["51.512", "0.143", "PRIVATE", "Private Name"]


def _bad_tokens() -> dict[str, tuple[str, str]]:
    """name: (token, the refusal's reason)."""
    now = datetime.now(UTC)
    return {
        "expired": (
            issue_token(
                SECRET,
                role="ingest",
                sub="x",
                ttl=timedelta(minutes=1),
                now=now - timedelta(hours=1),
            ),
            "token expired",
        ),
        "wrong signature": (
            issue_token("another-secret-0123456789abcdefghij", role="ingest", sub="x"),
            "invalid token",
        ),
        "garbage": ("not.a.token", "invalid token"),
    }


def _entry(api: Api, request_id: str) -> AuditEntry:
    with api.factory() as session:
        return session.scalars(
            select(AuditEntry).where(
                AuditEntry.request_id == request_id, AuditEntry.action == "access.refused"
            )
        ).one()


def _stored_text(api: Api) -> str:
    with api.factory() as session:
        rows = session.execute(text("SELECT * FROM audit_log")).all()
    return "\n".join(str(row) for row in rows)


def _open_limiter(api: Api) -> None:
    api.client.app.state.rollcall.refusals = RefusalLimiter(burst=100_000)  # type: ignore[attr-defined]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_refusals_of_write_endpoints_are_audited(api: Api, family: str) -> None:
    _open_limiter(api)
    method, path, route, body, allowed, extra = FAMILIES[family]
    calls: list[tuple[dict[str, str], int, str, str, str, str | None]] = [
        # (headers, status, actor, role, reason, caller's officer id)
        ({}, 401, "unauthenticated", "none", "a bearer token is required", None)
    ]
    tokens = _bad_tokens()
    for token, reason in tokens.values():
        calls.append(
            ({"Authorization": f"Bearer {token}"}, 401, "unauthenticated", "none", reason, None)
        )
    for role in sorted(set(ROLES) - allowed):
        officer = "O1" if role == "officer" else None
        calls.append(
            (
                api.headers(role, officer, sub=f"{role}.caller"),
                403,
                f"{role}.caller",
                role,
                f"role {role} may not do this",
                officer,
            )
        )
    for i, (headers, status, actor, role, reason, officer) in enumerate(calls):
        request_id = f"{family}-{i}"
        r = api.client.request(
            method, path, json=body, headers={**headers, "X-Request-ID": request_id}
        )
        assert r.status_code == status, r.text
        entry = _entry(api, r.headers["x-request-id"])
        expected_detail: dict[str, Any] = {
            "method": method,
            "route": route,
            "status": status,
            "reason": reason,
            **extra,
        }
        if officer is not None:
            expected_detail["caller_officer_id"] = officer
        assert (entry.actor, entry.role, entry.officer_id, entry.case_ref, entry.purpose) == (
            actor,
            role,
            None,
            None,
            None,
        )
        assert entry.detail == expected_detail
    stored = _stored_text(api)
    for value in [*PRIVATE, "Bearer", *(token for token, _ in tokens.values())]:
        assert value not in stored
    with api.factory() as session:
        report = audit.verify_chain(session)
    assert (report.ok, report.entries) == (True, len(calls))


def test_the_caller_is_checked_before_the_body(api: Api) -> None:
    """A malformed body does not turn a refusal into a 400 or 422: the token is checked first."""
    _open_limiter(api)
    for i, (method, path, route, _, _, _) in enumerate(FAMILIES.values()):
        for j, headers in enumerate(({}, api.headers("auditor"))):
            request_id = f"malformed-{i}-{j}"
            r = api.client.request(
                method,
                path,
                content=b'{"pings": [51.512345, -0.143217',
                headers={**headers, "Content-Type": "application/json", "X-Request-ID": request_id},
            )
            assert r.status_code == (401 if not headers else 403), r.text
            entry = _entry(api, r.headers["x-request-id"])
            assert entry.detail["route"] == route  # type: ignore[index]


# Names and texts drawn from letters that no stored refusal can hold (no hex digit, no letter of
# a route, reason or role), so finding one in an entry can only mean the body leaked into it.
NAME = st.text(alphabet="jkqwz_", min_size=4, max_size=8)
ITEM_VALUE = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet="QWXZJK.:-", min_size=4, max_size=20),
    st.booleans(),
    st.none(),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    family=st.sampled_from(sorted(FAMILIES)),
    who=st.sampled_from(["none", "garbage", "expired", "wrong role"]),
    coordinates=st.lists(
        st.tuples(st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)),
        min_size=1,
        max_size=5,
    ),
    extra=st.dictionaries(NAME, ITEM_VALUE, max_size=4),
)
def test_no_body_reaches_a_refusal_entry(
    api: Api,
    family: str,
    who: str,
    coordinates: list[tuple[float, float]],
    extra: dict[str, Any],
) -> None:
    _open_limiter(api)
    method, path, route, _, allowed, path_detail = FAMILIES[family]
    key = {"pings": "pings", "swipes": "swipes", "roster": "shifts"}.get(family)
    items = [{**extra, "lat": lat, "lon": lon, "device_id": "D1"} for lat, lon in coordinates]
    body: dict[str, Any]
    if key is None:
        ring = [[lon, lat] for lat, lon in coordinates]
        body = {"type": "Feature", "properties": extra, "geometry": {"coordinates": [ring]}}
    else:
        body = {key: items, **extra}
    headers: dict[str, str] = {}
    status, actor, role = 401, "unauthenticated", "none"
    if who == "wrong role":
        role = sorted(set(ROLES) - allowed - {"officer"})[0]
        headers, status, actor = api.headers(role, sub="someone"), 403, "someone"
    elif who != "none":
        headers = {"Authorization": f"Bearer {_bad_tokens()[who][0]}"}
    request_id = uuid.uuid4().hex
    r = api.client.request(method, path, json=body, headers={**headers, "X-Request-ID": request_id})
    assert r.status_code == status
    entry = _entry(api, r.headers["x-request-id"])
    assert (entry.actor, entry.role, entry.officer_id, entry.case_ref) == (actor, role, None, None)
    assert entry.detail is not None
    assert entry.detail == {
        "method": method,
        "route": route,
        "status": status,
        "reason": entry.detail["reason"],
        **path_detail,
    }
    assert entry.detail["reason"] in {
        "a bearer token is required",
        "invalid token",
        "token expired",
        f"role {role} may not do this",
    }
    with api.factory() as session:
        row = str(
            session.execute(text("SELECT * FROM audit_log WHERE seq = :s"), {"s": entry.seq}).one()
        )
    for lat, lon in coordinates:
        for value in (lat, lon):
            if abs(value) >= 1e-3:  # short numbers (0.0, 1.0) also occur in the status and times
                assert repr(value) not in row
    for name, value in extra.items():
        assert name not in row
        if isinstance(value, str):
            assert value not in row


def test_an_anonymous_flood_is_bounded(api: Api) -> None:
    """Anonymous refusals share one bucket across routes: a flood on the write endpoints records
    at most the bucket's size, touches the database for nothing else, and is counted per route in
    the next recorded entry; callers with a valid token are recorded one entry per refusal."""
    now = [0.0]
    state = api.client.app.state.rollcall  # type: ignore[attr-defined]
    state.refusals = RefusalLimiter(burst=5, per_s=60.0, clock=lambda: now[0])
    assert state.stations.warmed.wait(30)  # the start-up station index read is not a request's
    checkouts: list[int] = []
    event.listen(state.engine, "checkout", lambda *_: checkouts.append(1))
    sent: dict[str, int] = {}
    for i in range(120):
        method, path, route, body, _, _ = FAMILIES[sorted(FAMILIES)[i % 4]]
        token = {} if i % 3 else {"Authorization": "Bearer not.a.token"}
        assert api.client.request(method, path, json=body, headers=token).status_code == 401
        sent[route] = sent.get(route, 0) + 1
    assert len(checkouts) == 5  # one per recorded refusal, none for the others
    with api.factory() as session:
        assert session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())) == 5
    for _ in range(3):
        r = api.client.post("/v1/pings", json={"pings": [PING]}, headers=api.headers("hr"))
        assert r.status_code == 403
    now[0] += 12.0  # one token back
    assert api.client.put("/v1/roster", json={"shifts": [SHIFT]}).status_code == 401
    with api.factory() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert [e.role for e in entries] == ["none"] * 5 + ["hr"] * 3 + ["none"]
    last = entries[-1].detail
    assert last is not None
    first_five = {}
    for i in range(5):
        route = FAMILIES[sorted(FAMILIES)[i % 4]][2]
        first_five[route] = first_five.get(route, 0) + 1
    assert last["unrecorded_routes"] == {r: n - first_five.get(r, 0) for r, n in sent.items()}
    assert last["unrecorded_before"] == 115
