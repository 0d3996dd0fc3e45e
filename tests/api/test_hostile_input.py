"""Input an attacker (or a broken sender) sends: over-long ids, NUL bytes, dates at the ends of
the calendar. Each is a per-item rejection or a 400 naming the field, never a retryable error,
and the valid items of the same batch still go through."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from store.models import HeldPing, Ping, Shift, Swipe
from tests.api.helpers import INSIDE, Api, seed_reference

LONG = "D" * 65
NUL = "D1\x00x"
OUTCOMES = ("accepted", "duplicate", "masked", "held", "rejected")


def _count(api: Api, model: type) -> int:
    with api.factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _post(api: Api, method: str, path: str, body: dict[str, Any], role: str) -> dict[str, Any]:
    r = api.client.request(method, path, json=body, headers=api.headers(role))
    assert r.status_code == 200, r.text
    assert "retry-after" not in r.headers
    out: dict[str, Any] = r.json()
    return out


def _rejected(body: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["index"], e["field"]) for e in body["errors"]]


def test_bad_ids_and_dates_in_a_ping_batch_are_rejected_one_by_one(api: Api) -> None:
    seed_reference(api)
    pings = [
        api.ping("2026-10-05T09:00:00+01:00", INSIDE),  # 0 good
        api.ping("2026-10-05T09:01:00+01:00", INSIDE, device=LONG),  # 1 id too long
        api.ping("2026-10-05T09:02:00+01:00", INSIDE, device=NUL),  # 2 NUL
        api.ping("9999-12-31T23:59:59Z", INSIDE),  # 3 far future
        api.ping("0001-01-01T00:00:00Z", INSIDE),  # 4 before any record
        api.ping("2026-10-05T09:03:00+01:00", INSIDE, source="gps\x00"),  # 5 NUL in an enum
        api.ping("2026-10-05T09:04:00+01:00", INSIDE),  # 6 good
        api.ping("2026-10-05T09:05:00+01:00\x00", INSIDE),  # 7 NUL in a time
    ]
    body = _post(api, "POST", "/v1/pings", {"pings": pings}, "ingest")
    assert {k: body[k] for k in OUTCOMES} == {
        "accepted": 2,
        "duplicate": 0,
        "masked": 0,
        "held": 0,
        "rejected": 6,
    }
    assert _rejected(body) == [
        (1, "device_id"),
        (2, "device_id"),
        (3, "ts"),
        (4, "ts"),
        (5, "source"),
        (7, "ts"),
    ]
    assert "\x00" not in str(body)
    assert _count(api, Ping) == 2


def test_bad_ids_and_dates_in_a_swipe_batch_are_rejected_one_by_one(api: Api) -> None:
    seed_reference(api)
    good = {"badge_id": "B1", "station_id": "ST1", "direction": "in", "granted": True}
    swipes = [
        {**good, "ts": "2026-10-05T09:00:00+01:00", "reader_id": "R1"},
        {**good, "ts": "2026-10-05T09:01:00+01:00", "reader_id": "R" * 65},
        {**good, "ts": "2026-10-05T09:02:00+01:00", "reader_id": "R\x001"},
        {**good, "ts": "2026-10-05T09:03:00+01:00", "station_id": "ST\x001"},
        {**good, "ts": "9999-12-31T00:00:00Z", "reader_id": "R1"},
        {**good, "ts": "2026-10-05T09:04:00+01:00", "badge_id": "B" * 65},
    ]
    body = _post(api, "POST", "/v1/swipes", {"swipes": swipes}, "ingest")
    assert (body["accepted"], body["rejected"]) == (1, 5)
    assert _rejected(body) == [
        (1, "reader_id"),
        (2, "reader_id"),
        (3, "station_id"),
        (4, "ts"),
        (5, "badge_id"),
    ]
    assert _count(api, Swipe) == 1


def test_bad_ids_and_dates_in_a_roster_batch_are_rejected_one_by_one(api: Api) -> None:
    seed_reference(api)
    base = {
        "officer_id": "O1",
        "start": "2026-10-06T08:00:00+01:00",
        "end": "2026-10-06T16:00:00+01:00",
        "kind": "duty",
        "station_id": "ST1",
        "declared_location": "office",
    }
    shifts = [
        {**base, "shift_id": "S10"},
        {**base, "shift_id": "S" * 65},
        {**base, "shift_id": "S\x0011"},
        {**base, "shift_id": "S12", "officer_id": "O" * 65},
        {**base, "shift_id": "S13", "end": "9999-12-31T23:59:59Z"},
        {**base, "shift_id": "S14", "station_id": "ST\x001"},
        {**base, "shift_id": "S15", "declared_location": "office\x00"},
        {**base, "shift_id": "S16", "start": "0001-01-01T00:00:00Z"},
    ]
    before = _count(api, Shift)
    body = _post(api, "PUT", "/v1/roster", {"shifts": shifts}, "admin")
    assert (body["accepted"], body["rejected"]) == (1, 7)
    assert _rejected(body) == [
        (1, "shift_id"),
        (2, "shift_id"),
        (3, "officer_id"),
        (4, "end"),
        (5, "station_id"),
        (6, "declared_location"),
        (7, "start"),
    ]
    assert _count(api, Shift) == before + 1


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/compliance", {"from": "2026-10-01", "to": "2026-10-02", "unit": "A\x00"}, "unit"),
        ("/v1/compliance", {"from": "2026-10-01", "to": "2026-10-02", "purpose": "x\x00"}, None),
        ("/v1/flags", {"status": "open\x00"}, "status"),
        ("/v1/flags", {"officer_id": "O1\x00"}, "officer_id"),
        ("/v1/flags", {"code": "MOCK\x00"}, "code"),
        ("/v1/audit", {"actor": "a\x00"}, "actor"),
        ("/v1/audit", {"officer_id": "O\x001"}, "officer_id"),
        ("/v1/officers/O1/attendance", {"from": "2026-10-01", "to": "2026-10-02"}, None),
    ],
)
def test_nul_in_a_query_parameter_is_a_400(
    api: Api, path: str, params: dict[str, str], field: str | None
) -> None:
    seed_reference(api)
    role = {"/v1/compliance": "hr", "/v1/flags": "investigator", "/v1/audit": "auditor"}
    headers = api.headers(role.get(path, "hr"))
    r = api.client.get(path, params=params, headers=headers)
    if field is None and path.endswith("attendance"):
        r = api.client.get("/v1/officers/O%001/attendance", params=params, headers=headers)
        field = "the path"
    assert r.status_code == 400, r.text
    assert "retry-after" not in r.headers
    assert (field or "purpose") in r.text


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "0001-01-02"),
        ("9999-12-30", "9999-12-31"),
        ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"),
        ("9999-12-31T00:00:00Z", "9999-12-31T23:59:59Z"),
    ],
)
def test_a_timeline_at_the_ends_of_the_calendar_is_a_400(api: Api, start: str, end: str) -> None:
    seed_reference(api)
    for path in ("/v1/officers/O1/timeline", "/v1/officers/O1/timeline/export"):
        r = api.client.get(
            path, params={"from": start, "to": end}, headers=api.headers("officer", "O1")
        )
        assert r.status_code == 400, (path, r.text)
        assert "'from'" in r.text or "'to'" in r.text


@pytest.mark.parametrize("path", ["/v1/compliance", "/v1/officers/O1/attendance"])
def test_reports_at_the_ends_of_the_calendar_are_a_400(api: Api, path: str) -> None:
    seed_reference(api)
    for start, end in (("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")):
        r = api.client.get(path, params={"from": start, "to": end}, headers=api.headers("hr"))
        assert r.status_code == 400, r.text


def test_future_events_are_rejected_beyond_the_skew(api: Api) -> None:
    """A fix dated decades ahead is never held (where it would outlive every purge)."""
    seed_reference(api)
    now = api.now()
    pings = [
        api.ping((now + timedelta(minutes=2)).isoformat(), INSIDE),  # clock skew: held
        api.ping((now + timedelta(days=1)).isoformat(), INSIDE),  # rejected
        api.ping("2060-01-01T00:00:00Z", INSIDE),  # rejected
    ]
    body = _post(api, "POST", "/v1/pings", {"pings": pings}, "ingest")
    assert (body["held"], body["rejected"]) == (1, 2)
    assert [e["field"] for e in body["errors"]] == ["ts", "ts"]
    assert "in the future" in body["errors"][0]["reason"]
    assert _count(api, HeldPing) == 1
