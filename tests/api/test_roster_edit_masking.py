"""A roster edit that takes on-duty time away re-decides the events stored in it exactly as if
they had arrived off duty: dropped and counted as masked, or held when nothing covers them."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import func, select

from store.models import HeldPing, MaskedCount, Ping, Swipe
from tests.api.helpers import FAR, INSIDE, SHIFTS, Api, seed_reference


def _count(api: Api, model: type, **where: Any) -> int:
    with api.factory() as session:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(session.scalar(stmt) or 0)


def _masked(api: Api, kind: str) -> int:
    with api.factory() as session:
        return int(
            session.scalar(select(func.sum(MaskedCount.count)).where(MaskedCount.kind == kind)) or 0
        )


def _roster(api: Api, *shifts: dict[str, Any]) -> dict[str, Any]:
    r = api.client.put("/v1/roster", json={"shifts": list(shifts)}, headers=api.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["rejected"] == 0, r.text
    out: dict[str, Any] = r.json()
    return out


def test_duty_turned_into_rest_removes_that_days_events(api: Api) -> None:
    seed_reference(api)
    pings = [
        api.ping("2026-10-05T09:00:00+01:00", INSIDE),
        api.ping("2026-10-05T11:00:00+01:00", FAR),
    ]
    r = api.client.post("/v1/pings", json={"pings": pings}, headers=api.headers("ingest"))
    assert r.json()["accepted"] == 2, r.text
    swipe = {"badge_id": "B1", "ts": "2026-10-05T08:58:00+01:00", "station_id": "ST1"}
    r = api.client.post("/v1/swipes", json={"swipes": [swipe]}, headers=api.headers("ingest"))
    assert r.json()["accepted"] == 1, r.text
    masked_before = (_masked(api, "ping"), _masked(api, "swipe"))

    duty = SHIFTS[0]
    _roster(api, {**duty, "kind": "rest", "station_id": None, "declared_location": None})

    assert _count(api, Ping, officer_id="O1") == 0
    assert _count(api, Swipe, officer_id="O1") == 0
    assert _count(api, HeldPing) == 0  # a rest day: masked at once, never held
    assert (_masked(api, "ping"), _masked(api, "swipe")) == (
        masked_before[0] + 2,
        masked_before[1] + 1,
    )
    # The same edit again changes nothing and counts nothing twice.
    _roster(api, {**duty, "kind": "rest", "station_id": None, "declared_location": None})
    assert _masked(api, "ping") == masked_before[0] + 2
    # Back on duty: the events are gone for good (only their count was kept).
    _roster(api, duty)
    assert _count(api, Ping, officer_id="O1") == 0


def test_a_shortened_shift_keeps_what_it_still_covers(api: Api) -> None:
    seed_reference(api)
    pings = [
        api.ping("2026-10-05T09:00:00+01:00", INSIDE),  # inside the shortened shift's window
        api.ping("2026-10-05T14:00:00+01:00", INSIDE),  # outside it
    ]
    r = api.client.post("/v1/pings", json={"pings": pings}, headers=api.headers("ingest"))
    assert r.json()["accepted"] == 2, r.text
    _roster(api, {**SHIFTS[0], "end": "2026-10-05T10:00:00+01:00"})
    with api.factory() as session:
        kept = session.scalars(select(Ping.ts).where(Ping.officer_id == "O1")).all()
    assert [t.astimezone(UTC).hour for t in kept] == [8]  # 09:00 BST
    assert _masked(api, "ping") >= 1


def test_a_moved_recent_shift_sends_its_events_back_to_the_hold(api: Api) -> None:
    seed_reference(api)
    now = api.now().replace(microsecond=0)
    shift = {
        "shift_id": "S-NOW",
        "officer_id": "O1",
        "start": (now - timedelta(hours=3)).isoformat(),
        "end": (now + timedelta(hours=3)).isoformat(),
        "kind": "duty",
        "station_id": "ST1",
        "declared_location": "office",
    }
    _roster(api, shift)
    ping = api.ping((now - timedelta(hours=1)).isoformat(), INSIDE)
    r = api.client.post("/v1/pings", json={"pings": [ping]}, headers=api.headers("ingest"))
    assert r.json()["accepted"] == 1, r.text
    moved = {
        **shift,
        "start": (now + timedelta(days=2)).isoformat(),
        "end": (now + timedelta(days=2, hours=6)).isoformat(),
    }
    _roster(api, moved)
    assert _count(api, Ping, officer_id="O1") == 0
    assert _count(api, HeldPing, officer_id="O1") == 1  # recent and unrostered: held, as at intake
    _roster(api, shift)  # moved back: the held fix is on duty again
    assert _count(api, Ping, officer_id="O1") == 1
    assert _count(api, HeldPing) == 0
