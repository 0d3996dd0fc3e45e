"""POST /v1/visits: per-item outcomes, clipping to on-duty time, idempotence, completion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from store.models import HeldVisit, MaskedCount, Visit
from tests.api.helpers import FAR, INSIDE, Api, seed_reference


def visit(
    arrived: str, departed: str | None, where: tuple[float, float], device: str = "D1", **extra: Any
) -> dict[str, Any]:
    return {
        "device_id": device,
        "arrived_at": arrived,
        "departed_at": departed,
        "lat": where[0],
        "lon": where[1],
        "accuracy_m": 40.0,
        **extra,
    }


def _count(api: Api, model: type) -> int:
    with api.factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _masked(api: Api) -> int:
    with api.factory() as session:
        total = session.scalar(
            select(func.sum(MaskedCount.count)).where(MaskedCount.kind == "visit")
        )
        return int(total or 0)


def test_visits_outcomes_masking_and_idempotence(api: Api) -> None:
    seed_reference(api)
    batch = {
        "visits": [
            # 0 accepted: arrives before the on-duty window, kept from 07:30 BST only
            visit("2026-10-05T05:00:00+01:00", "2026-10-05T12:00:00+01:00", INSIDE),
            visit("2026-10-05T13:00:00+01:00", "2026-10-05T14:00:00+01:00", FAR),  # 1 accepted
            visit("2026-10-05T13:00:00+01:00", "2026-10-05T14:00:00+01:00", FAR),  # 2 duplicate
            visit("2026-10-05T10:00:00+01:00", None, FAR, device="D2"),  # 3 masked (rest day)
            visit("2026-10-05T10:00:00+01:00", "2026-10-05T09:00:00+01:00", INSIDE),  # 4
            visit("not a time", None, INSIDE),  # 5 rejected
            {"device_id": "D1", "arrived_at": "2026-10-05T11:00:00+01:00", "lat": {}, "lon": 0},
            "not an object",  # 7 rejected
        ]
    }
    r = api.client.post("/v1/visits", json=batch, headers=api.headers("ingest"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k: body[k] for k in ("accepted", "duplicate", "masked", "held", "rejected")} == {
        "accepted": 2,
        "duplicate": 1,
        "masked": 1,
        "held": 0,
        "rejected": 4,
    }
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (4, "departed_at"),
        (5, "arrived_at"),
        (6, "lat"),
        (7, None),
    ]
    assert "D2" not in r.text
    assert str(FAR[0]) not in r.text
    with api.factory() as session:
        first = session.scalar(select(func.min(Visit.arrived_at)))
    # O1's shift starts 08:00 BST; with 30 minutes' grace nothing before 06:30 UTC is kept.
    assert first == datetime(2026, 10, 5, 6, 30, tzinfo=UTC)
    assert _count(api, Visit) == 2
    assert _masked(api) == 1

    again = api.client.post("/v1/visits", json=batch, headers=api.headers("ingest")).json()
    assert (again["accepted"], again["duplicate"], again["masked"]) == (0, 3, 1)
    assert _count(api, Visit) == 2
    assert _masked(api) == 1  # each masked visit counted once, however often it is sent


def test_an_open_visit_is_completed_by_its_departure(api: Api) -> None:
    seed_reference(api)
    headers = api.headers("ingest")
    arrived = "2026-10-05T09:00:00+01:00"
    r = api.client.post(
        "/v1/visits", json={"visits": [visit(arrived, None, INSIDE)]}, headers=headers
    )
    assert r.json()["accepted"] == 1
    done = {"visits": [visit(arrived, "2026-10-05T11:00:00+01:00", INSIDE)]}
    assert api.client.post("/v1/visits", json=done, headers=headers).json()["accepted"] == 1
    assert api.client.post("/v1/visits", json=done, headers=headers).json()["duplicate"] == 1
    with api.factory() as session:
        row = session.execute(select(Visit.departed_at, Visit.departure_known)).one()
    assert tuple(row) == (datetime(2026, 10, 5, 10, tzinfo=UTC), True)
    assert _count(api, HeldVisit) == 0
