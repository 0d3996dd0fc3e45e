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


def test_stored_evidence_distances_are_read_coarse(world: Api) -> None:
    """Evidence stored before distances were rounded is shown to 250 m on every read."""
    from datetime import UTC, date, datetime

    from store.db import transaction
    from store.models import Flag

    now = datetime.now(UTC)
    precise = {
        "swipes": [{"station_id": "ST1", "fix_before_distance_m": 4987, "fixes_apart_m": 37}],
        "jumps": [{"distance_m": 24985, "seconds": 120.0, "speed_kmh": 749.6}],
        "thresholds": {"badge_far_m": 1000.0, "badge_same_place_m": 250.0},
    }
    with transaction(world.factory) as session:
        session.add(
            Flag(
                flag_id="f-old-0001",
                fingerprint="fp-old",
                officer_id="O1",
                code="BADGE_WITHOUT_DEVICE",
                day=date(2026, 10, 5),
                status="open",
                misconduct=True,
                summary="old",
                evidence=precise,
                rule_version="r0",
                policy_version="p0",
                raised_at=now,
                last_seen_at=now,
                withdrawn_at=None,
            )
        )
    r = world.client.get(
        "/v1/flags",
        params={"officer_id": "O1", "case_ref": "CASE-1"},
        headers=world.headers("investigator"),
    )
    assert r.status_code == 200, r.text
    [flag] = [f for f in r.json()["flags"] if f["flag_id"] == "f-old-0001"]
    assert flag["evidence"] == {
        "swipes": [{"station_id": "ST1", "fix_before_distance_m": 5000, "fixes_apart_m": 0}],
        "jumps": [{"distance_m": 25000, "seconds": 120.0, "speed_kmh": 750}],
        "thresholds": {"badge_far_m": 1000.0, "badge_same_place_m": 250.0},
    }
    assert "4987" not in r.text
    assert "24985" not in r.text
