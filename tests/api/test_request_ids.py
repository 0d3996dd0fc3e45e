"""Request ids are the server's: a client cannot put its own into audit entries or signed
exports; case_ref and purpose are matched whole (no trailing newline)."""

from __future__ import annotations

from sqlalchemy import select

from api import signing
from store.models import AuditEntry
from tests.api.helpers import Api

PERIOD = {"from": "2026-10-05", "to": "2026-10-05"}


def _entries(api: Api) -> list[AuditEntry]:
    with api.factory() as session:
        return list(session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars())


def test_client_request_ids_never_reach_the_audit_log_or_an_export(world: Api) -> None:
    forged = "7f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f"
    headers = {**world.headers("investigator"), "X-Request-ID": forged}
    params = {**PERIOD, "case_ref": "CASE-1"}
    read = world.client.get("/v1/officers/O1/attendance", params=params, headers=headers)
    assert read.status_code == 200, read.text
    export = world.client.get("/v1/officers/O1/timeline/export", params=params, headers=headers)
    assert export.status_code == 200, export.text
    refused = world.client.get(
        "/v1/officers/O1/attendance", params=PERIOD, headers={"X-Request-ID": forged}
    )
    assert refused.status_code == 401
    document = export.json()["document"]
    assert document["request_id"] == export.headers["x-request-id"] != forged
    stored = {e.request_id for e in _entries(world)}
    assert forged not in stored
    for r in (read, export, refused):
        assert r.headers["x-request-id"] in stored
        assert r.headers["x-client-request-id"] == forged
    verdict = signing.verify(export.json(), [world.client.app.state.export_signer.public_key])
    assert verdict.ok


def test_case_ref_and_purpose_must_match_whole(world: Api) -> None:
    headers = world.headers("investigator")
    for name, value in (
        ("case_ref", "CASE-1\n"),
        ("case_ref", "CASE-1\r\nforged: entry"),
        ("purpose", "review\n"),
    ):
        params = {**PERIOD, "case_ref": "CASE-1", name: value}
        for path in ("/v1/officers/O1/attendance", "/v1/officers/O1/timeline"):
            r = world.client.get(path, params=params, headers=headers)
            assert r.status_code == 400, (path, name, r.text)
            assert name in r.json()["error"]["message"]
    stored = [(e.case_ref, e.purpose) for e in _entries(world)]
    assert all("\n" not in (c or "") + (p or "") for c, p in stored)
    ok = world.client.get(
        "/v1/officers/O1/attendance",
        params={**PERIOD, "case_ref": "CASE-1", "purpose": "review"},
        headers=headers,
    )
    assert ok.status_code == 200
