"""Reads over HTTP: compliance, attendance and the timeline, their role views and audit entries."""

from __future__ import annotations

import re

import h3
from sqlalchemy import select

from api import signing
from store.models import AuditEntry
from tests.api.helpers import FAR, INSIDE, Api

RANGE = {"from": "2026-10-05", "to": "2026-10-07"}


def _audit(api: Api) -> list[AuditEntry]:
    with api.factory() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_compliance_for_hr(world: Api) -> None:
    r = world.client.get(
        "/v1/compliance", params={**RANGE, "purpose": "monthly-review"}, headers=world.headers("hr")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    o1 = next(row for row in body["rows"] if row["officer_id"] == "O1")
    assert (o1["expected_office_days"], o1["verified_office_days"]) == (3, 1)
    assert o1["meets_policy"] is False
    below = world.client.get(
        "/v1/compliance", params={**RANGE, "below": "true"}, headers=world.headers("hr")
    ).json()
    assert [row["officer_id"] for row in below["rows"]] == ["O1"]
    entry = _audit(world)[-1]
    assert (entry.action, entry.role, entry.actor) == ("read.compliance", "hr", "hr-user")
    bad = world.client.get(
        "/v1/compliance",
        params={"from": "2026-10-07", "to": "2026-10-05"},
        headers=world.headers("hr"),
    )
    assert bad.status_code == 400


def test_attendance_views(world: Api) -> None:
    url = "/v1/officers/O1/attendance"
    hr = world.client.get(url, params=RANGE, headers=world.headers("hr")).json()
    assert [f["code"] for f in hr["flags"]] == ["BELOW_OFFICE_SHARE"]
    assert len(hr["days"]) == 3
    assert (hr["display_name"], hr["unit"]) == ("Alex Smith", "Unit A")
    inv = world.client.get(
        url, params={**RANGE, "case_ref": "CASE-7"}, headers=world.headers("investigator")
    )
    assert sorted(f["code"] for f in inv.json()["flags"]) == ["BELOW_OFFICE_SHARE", "MOCK_LOCATION"]
    assert (inv.json()["display_name"], inv.json()["unit"]) == ("Alex Smith", "Unit A")
    no_case = world.client.get(url, params=RANGE, headers=world.headers("investigator"))
    assert no_case.status_code == 400
    assert "case_ref" in no_case.json()["error"]["message"]
    own = world.client.get(url, params=RANGE, headers=world.headers("officer", "O1"))
    assert own.status_code == 200
    assert (own.json()["display_name"], own.json()["rank"], own.json()["unit"]) == (None,) * 3
    other = world.client.get(url, params=RANGE, headers=world.headers("officer", "O2"))
    assert other.status_code == 403
    missing = world.client.get(
        "/v1/officers/NOPE/attendance", params=RANGE, headers=world.headers("hr")
    )
    assert missing.status_code == 404
    reads = [e for e in _audit(world) if e.action == "read.attendance"]
    assert [(e.role, e.case_ref, e.purpose) for e in reads] == [
        ("hr", None, None),
        ("investigator", "CASE-7", None),
        ("officer", None, "subject_access"),
    ]


def _load_day(api: Api) -> None:
    swipe = {
        "badge_id": "B1",
        "ts": "2026-10-05T08:50:00+01:00",
        "station_id": "ST1",
        "reader_id": "R1",
        "direction": "in",
        "granted": True,
    }
    assert (
        api.client.post(
            "/v1/swipes", json={"swipes": [swipe]}, headers=api.headers("ingest")
        ).json()["accepted"]
        == 1
    )
    pings = [
        api.ping(f"2026-10-05T{h:02d}:{m:02d}:00+01:00", INSIDE)
        for h in range(9, 12)
        for m in range(0, 60, 5)
    ]
    pings += [
        api.ping(f"2026-10-05T{h:02d}:{m:02d}:00+01:00", FAR)
        for h in range(13, 15)
        for m in range(0, 60, 5)
    ]
    r = api.client.post("/v1/pings", json={"pings": pings}, headers=api.headers("ingest"))
    assert r.json()["accepted"] == len(pings), r.text


def test_timeline_is_on_duty_only_and_never_coordinates(world: Api) -> None:
    _load_day(world)
    r = world.client.get(
        "/v1/officers/O1/timeline",
        params={"from": "2026-10-05", "to": "2026-10-05", "case_ref": "CASE-7"},
        headers=world.headers("investigator"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["officer_id"], body["from"], body["to"]) == (
        "O1",
        "2026-10-05T00:00:00+01:00",
        "2026-10-06T00:00:00+01:00",
    )
    events = body["events"]
    types = [e["type"] for e in events]
    assert types[0] == "off_duty"
    assert types[-1] == "off_duty"
    assert "shift_start" in types
    assert "shift_end" in types
    assert "swipe" in types
    assert "presence" in types
    assert "away" in types
    assert [e["start"] for e in events] == sorted(e["start"] for e in events)
    for event in events:
        if event["type"] == "off_duty":
            assert set(event) == {"type", "start", "end"}
        else:
            assert event["source"]["system"]
            assert event["source"]["id"]
    start = next(e for e in events if e["type"] == "shift_start")
    assert start["source"] == {"system": "roster", "id": "S1"}
    assert next(e for e in events if e["type"] == "presence")["station_id"] == "ST1"
    away = next(e for e in events if e["type"] == "away")
    assert h3.get_resolution(away["h3_cell"]) == 7
    assert away["h3_cell"] == h3.latlng_to_cell(FAR[0], FAR[1], 7)
    assert not re.search(r"51\.5\d{2}|-0\.1\d{3}|-0\.05", r.text)
    assert "lat" not in r.text.replace("latest", "")
    entry = _audit(world)[-1]
    assert (entry.action, entry.officer_id, entry.case_ref) == ("read.timeline", "O1", "CASE-7")


def test_timeline_of_a_calendar_month_with_a_25_hour_day(world: Api) -> None:
    url = "/v1/officers/O1/timeline"
    headers = world.headers("investigator")
    october = {"from": "2026-10-01", "to": "2026-10-31", "case_ref": "CASE-7"}  # 31 days, 745 h
    r = world.client.get(url, params=october, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["from"], r.json()["to"]) == (
        "2026-10-01T00:00:00+01:00",
        "2026-11-01T00:00:00+00:00",
    )
    longer = {**october, "to": "2026-11-01"}
    r = world.client.get(url, params=longer, headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "a timeline covers at most 31 days"


def test_timeline_roles(world: Api) -> None:
    url = "/v1/officers/O1/timeline"
    params = {"from": "2026-10-05", "to": "2026-10-05"}
    assert world.client.get(url, params=params, headers=world.headers("hr")).status_code == 403
    assert (
        world.client.get(url, params=params, headers=world.headers("investigator")).status_code
        == 400
    )
    assert (
        world.client.get(url, params=params, headers=world.headers("officer", "O1")).status_code
        == 200
    )
    assert (
        world.client.get(url, params=params, headers=world.headers("officer", "O2")).status_code
        == 403
    )
    long = {"from": "2026-01-01", "to": "2026-03-01", "case_ref": "C1"}
    assert (
        world.client.get(url, params=long, headers=world.headers("investigator")).status_code == 400
    )


def test_timeline_export_is_signed(world: Api) -> None:
    _load_day(world)
    r = world.client.get(
        "/v1/officers/O1/timeline/export",
        params={"from": "2026-10-05", "to": "2026-10-05", "case_ref": "CASE-7"},
        headers=world.headers("investigator", sub="det.jones"),
    )
    assert r.status_code == 200, r.text
    signed = r.json()
    assert signed["document"]["exported_by"] == "det.jones"
    assert signed["document"]["case_ref"] == "CASE-7"
    keys = world.client.get("/v1/export-keys").json()["keys"]
    public_key = signing.parse_public_key(keys[0]["public_key"])
    assert signing.verify(signed, [public_key]).outcome is signing.Outcome.VALID
    signed["document"]["timeline"]["events"].pop()
    assert signing.verify(signed, [public_key]).outcome is signing.Outcome.ALTERED
    assert _audit(world)[-1].action == "export.timeline"
