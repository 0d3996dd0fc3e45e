"""The audit log over HTTP: auditors only, filters, pagination, and an intact chain."""

from __future__ import annotations

from store import audit
from tests.api.helpers import Api


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
