"""Ingest over HTTP: per-item outcomes, idempotence, masking, limits, all-or-nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from store.models import HeldPing, Ping, Swipe
from tests.api.helpers import FAR, INSIDE, Api, seed_reference


def _count(api: Api, model: type) -> int:
    with api.factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_pings_outcomes_and_idempotence(api: Api) -> None:
    seed_reference(api)
    recent = (api.now() - timedelta(hours=1)).isoformat()
    batch = {
        "pings": [
            api.ping("2026-10-05T09:00:00+01:00", INSIDE),  # 0 accepted
            api.ping("2026-10-05T09:05:00+01:00", FAR),  # 1 accepted
            api.ping("2026-10-05T09:00:00+01:00", INSIDE),  # 2 duplicate in batch
            api.ping("2026-10-05T10:00:00+01:00", FAR, device="D2"),  # 3 masked (rest day)
            api.ping(recent, INSIDE),  # 4 held (unrostered)
            api.ping("2026-10-05T09:10:00+01:00", INSIDE, accuracy_m=-5),  # 5 rejected
            api.ping("not a time", INSIDE),  # 6 rejected
            {"device_id": "D1", "ts": "2026-10-05T09:20:00+01:00", "lat": [1], "lon": 0},  # 7
            "not an object",  # 8 rejected
        ]
    }
    r = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("accepted", "duplicate", "masked", "held", "rejected")} == {
        "accepted": 2,
        "duplicate": 1,
        "masked": 1,
        "held": 1,
        "rejected": 4,
    }
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (5, "accuracy_m"),
        (6, "ts"),
        (7, "lat"),
        (8, None),
    ]
    assert "-0.05" not in r.text
    assert "51.555" not in r.text
    assert "D2" not in r.text
    assert r.headers["x-request-id"]
    assert _count(api, Ping) == 2
    assert _count(api, HeldPing) == 1

    again = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
    assert again.json()["accepted"] == 0
    assert again.json()["duplicate"] == 4
    assert _count(api, Ping) == 2
    assert _count(api, HeldPing) == 1


def test_swipes_and_roster_upsert(api: Api) -> None:
    seed_reference(api)
    swipe = {
        "badge_id": "B1",
        "ts": "2026-10-05T08:55:00+01:00",
        "station_id": "ST1",
        "reader_id": "R1",
        "direction": "in",
        "granted": True,
    }
    r = api.client.post(
        "/v1/swipes",
        json={"swipes": [swipe, {**swipe, "station_id": "NOPE", "ts": "2026-10-05T09:00:00Z"}]},
        headers=api.headers("ingest"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert r.json()["errors"][0]["field"] == "station_id"
    assert _count(api, Swipe) == 1
    shift = {
        "shift_id": "S9",
        "officer_id": "O1",
        "start": "2026-10-07T08:00:00+01:00",
        "end": "2026-10-07T16:00:00+01:00",
        "kind": "duty",
    }
    first = api.client.put("/v1/roster", json={"shifts": [shift]}, headers=api.headers("ingest"))
    same = api.client.put("/v1/roster", json={"shifts": [shift]}, headers=api.headers("admin"))
    assert first.json()["accepted"] == 1
    assert same.json()["duplicate"] == 1


def test_batch_limits(api: Api) -> None:
    headers = api.headers("ingest")
    big = {"pings": [{"device_id": "D1"}] * 10_001}
    r = api.client.post("/v1/pings", json=big, headers=headers)
    assert r.status_code == 413
    assert "10,000" in r.json()["error"]["message"]
    huge = b'{"pings": [' + b" " * (17 << 20) + b"]}"
    r = api.client.post(
        "/v1/pings", content=huge, headers={**headers, "content-type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    r = api.client.post("/v1/pings", content=b"{nope", headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"
    r = api.client.post("/v1/pings", json={"swipes": []}, headers=headers)
    assert r.status_code == 422


def test_database_error_stores_nothing(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    seed_reference(api)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("INSERT secret SQL", {"lat": 51.5}, Exception("server said 51.5"))

    # The batch's audit entry is appended right before the commit: a failure there, after the
    # response was built, still answers 503 and stores nothing.
    monkeypatch.setattr("store.audit.append", broken)
    batch = {"pings": [api.ping("2026-10-05T09:00:00+01:00", INSIDE)]}
    r = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"
    error = r.json()["error"]
    assert error["code"] == "database_unavailable"
    assert "nothing was stored" in error["message"]
    assert "SQL" not in r.text
    assert "51.5" not in r.text
    assert error["request_id"] == r.headers["x-request-id"]
    assert _count(api, Ping) == 0


def test_station_validation(api: Api) -> None:
    admin = api.headers("admin")
    bad = {
        "type": "Feature",
        "properties": {"name": "Bad"},
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]},
    }
    r = api.client.put("/v1/stations/ST9", json=bad, headers=admin)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_geofence"
    other = {
        "type": "Feature",
        "properties": {"station_id": "ST8", "name": "x"},
        "geometry": bad["geometry"],
    }
    r = api.client.put("/v1/stations/ST9", json=other, headers=admin)
    assert r.status_code == 422
