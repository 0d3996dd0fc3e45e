"""The audit log over HTTP: auditors only, filters, pagination, an intact chain, and refused
attempts on a person's data recorded in it (tests/api/test_refused_calls.py: every other
authenticated endpoint)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from api.auth import issue_token
from api.trail import RefusalLimiter
from store import audit
from store.models import AuditEntry
from tests.api.helpers import SECRET, Api

DAYS = {"from": "2026-10-05", "to": "2026-10-05"}


def test_auditor_reads_the_log(world: Api) -> None:
    for _ in range(3):
        world.client.get(
            "/v1/officers/O1/attendance",
            params={"from": "2026-10-05", "to": "2026-10-05", "case_ref": "CASE-9"},
            headers=world.headers("investigator", sub="det.x"),
        )
    auditor = world.headers("auditor")
    page = world.client.get(
        "/v1/audit", params={"actor": "det.x", "limit": 2}, headers=auditor
    ).json()
    assert [e["action"] for e in page["entries"]] == ["read.attendance"] * 2
    assert page["entries"][0]["case_ref"] == "CASE-9"
    assert page["entries"][0]["officer_id"] == "O1"
    rest = world.client.get(
        "/v1/audit", params={"actor": "det.x", "after": page["next_after"]}, headers=auditor
    ).json()
    assert len(rest["entries"]) == 1
    assert rest["next_after"] is None
    assert (
        world.client.get("/v1/audit", params={"since": "yesterday"}, headers=auditor).status_code
        == 400
    )
    with world.factory() as session:
        report = audit.verify_chain(session)
    assert report.ok
    assert report.entries == 7  # station, roster, 3 reads, 2 audit reads (not the 400)


def _refusals(api: Api) -> list[AuditEntry]:
    with api.factory() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "access.refused")
                .order_by(AuditEntry.seq)
            )
        )


def test_refused_requests_for_personal_data_are_audited(world: Api) -> None:
    expired = issue_token(
        SECRET,
        role="investigator",
        sub="det.old",
        ttl=timedelta(minutes=1),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    attempts = [
        # (method, path, query, headers, status)
        (
            "GET",
            "/v1/officers/O1/attendance",
            DAYS,
            world.headers("officer", "O2", sub="pc.two"),
            403,
        ),
        (
            "GET",
            "/v1/officers/O1/timeline",
            {**DAYS, "case_ref": "CASE-7"},
            world.headers("hr", sub="hr.a"),
            403,
        ),
        (
            "GET",
            "/v1/officers/O1/timeline/export",
            DAYS,
            world.headers("investigator", sub="det.b"),
            400,
        ),
        ("GET", "/v1/officers/O1/attendance", DAYS, {}, 401),
        ("GET", "/v1/audit", {}, {"Authorization": f"Bearer {expired}"}, 401),
        ("PATCH", "/v1/flags/f-mock-0001", {}, world.headers("officer", "O1", sub="pc.one"), 403),
        (
            "GET",
            "/v1/flags",
            {"officer_id": "O2"},
            world.headers("officer", "O1", sub="pc.one"),
            403,
        ),
    ]
    names: dict[str, str] = {}  # the server's request id -> the attempt's name
    for i, (method, path, query, headers, status) in enumerate(attempts):
        r = world.client.request(
            method,
            path,
            params=query,
            headers={**headers, "X-Request-ID": f"req-{i}"},
            json={"status": "dismissed", "note": "x"} if method == "PATCH" else None,
        )
        assert r.status_code == status, (path, r.text)
        names[r.headers["x-request-id"]] = f"req-{i}"
    assert world.client.get("/v1/compliance", params=DAYS).status_code == 401

    entries = _refusals(world)
    got = [
        (
            names.get(e.request_id or "", e.request_id),
            e.actor,
            e.role,
            e.officer_id,
            e.case_ref,
            e.detail["route"],
            e.detail["status"],
        )
        for e in entries
        if e.detail is not None
    ]
    assert got == [
        ("req-0", "pc.two", "officer", "O1", None, "/v1/officers/{officer_id}/attendance", 403),
        ("req-1", "hr.a", "hr", "O1", "CASE-7", "/v1/officers/{officer_id}/timeline", 403),
        (
            "req-2",
            "det.b",
            "investigator",
            "O1",
            None,
            "/v1/officers/{officer_id}/timeline/export",
            400,
        ),
        (
            "req-3",
            "unauthenticated",
            "none",
            "O1",
            None,
            "/v1/officers/{officer_id}/attendance",
            401,
        ),
        ("req-4", "unauthenticated", "none", None, None, "/v1/audit", 401),
        ("req-5", "pc.one", "officer", None, None, "/v1/flags/{flag_id}", 403),
        ("req-6", "pc.one", "officer", "O2", None, "/v1/flags", 403),
        (entries[-1].request_id, "unauthenticated", "none", None, None, "/v1/compliance", 401),
    ]
    assert entries[0].detail == {
        "method": "GET",
        "route": "/v1/officers/{officer_id}/attendance",
        "status": 403,
        "reason": "an officer token may read only its own officer's data",
        "from": "2026-10-05",
        "to": "2026-10-05",
        "caller_officer_id": "O2",
    }
    assert entries[2].detail is not None
    assert (
        entries[2].detail["reason"]
        == "an investigator must give case_ref to read an officer's data"
    )
    assert entries[4].detail is not None
    assert entries[4].detail["reason"] == "token expired"
    assert entries[5].detail is not None
    assert entries[5].detail["flag_id"] == "f-mock-0001"
    with world.factory() as session:
        stored = " ".join(
            str(row) for row in session.execute(text("SELECT * FROM audit_log")).all()
        )
        assert audit.verify_chain(session).ok
    assert expired not in stored
    assert "Bearer" not in stored
    page = world.client.get(
        "/v1/audit", params={"action": "access.refused"}, headers=world.headers("auditor")
    ).json()
    assert len(page["entries"]) == len(entries)


def test_unvalidated_parameters_of_a_refusal_are_not_stored(world: Api) -> None:
    odd = "O1'; DROP TABLE x; --" + "z" * 100
    r = world.client.get(
        f"/v1/officers/{odd}/timeline",
        params={"from": "51.5074", "to": "2026-10-05T08:00:00+01:00", "case_ref": "not a ref!"},
    )
    assert r.status_code == 401
    (entry,) = _refusals(world)
    assert (entry.officer_id, entry.case_ref) == (None, None)
    assert entry.detail == {
        "method": "GET",
        "route": "/v1/officers/{officer_id}/timeline",
        "status": 401,
        "reason": "a bearer token is required",
        "to": "2026-10-05T08:00:00+01:00",
    }


def test_anonymous_refusals_are_rate_limited(world: Api) -> None:
    now = [0.0]
    state = world.client.app.state.rollcall  # type: ignore[attr-defined]
    state.refusals = RefusalLimiter(burst=2, per_s=10.0, clock=lambda: now[0])
    for _ in range(5):
        assert world.client.get("/v1/flags").status_code == 401
    assert len(_refusals(world)) == 2
    now[0] += 5.0  # one token back
    assert world.client.get("/v1/flags").status_code == 401
    entries = _refusals(world)
    assert len(entries) == 3
    assert entries[-1].detail is not None
    assert entries[-1].detail["unrecorded_before"] == 3
    assert entries[-1].detail["unrecorded_routes"] == {"/v1/flags": 3}
    # Callers with a valid token are always recorded.
    for _ in range(3):
        world.client.get("/v1/audit", headers=world.headers("hr"))
    assert len(_refusals(world)) == 6
