"""Probes of officer ids that do not exist are audited like refusals (which ids exist is data)."""

from __future__ import annotations

from sqlalchemy import select

from store.models import AuditEntry
from tests.api.helpers import Api


def test_api_probes_of_unknown_officers_are_audited(world: Api) -> None:
    params = {"from": "2026-10-05", "to": "2026-10-05", "case_ref": "CASE-3"}
    headers = world.headers("investigator", sub="det.probe")
    for path in (
        "/v1/officers/O-NOBODY/attendance",
        "/v1/officers/O-NOBODY/timeline",
        "/v1/officers/O-NOBODY/timeline/export",
    ):
        r = world.client.get(path, params=params, headers=headers)
        assert r.status_code == 404, r.text
        with world.factory() as session:
            entry = session.execute(
                select(AuditEntry).where(AuditEntry.request_id == r.headers["x-request-id"])
            ).scalar_one()
        assert (entry.actor, entry.action, entry.officer_id, entry.case_ref) == (
            "det.probe",
            "access.refused",
            "O-NOBODY",
            "CASE-3",
        )
        assert entry.detail is not None
        assert (entry.detail["status"], entry.detail["reason"]) == (404, "no such officer")
