"""POST /v1/pings keeps each device's receive time, and the offsets the nightly job gets."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from rules.policy import load_policy
from store.clock import device_offsets
from store.models import DeviceReceipt
from tests.api.helpers import INSIDE, Api, seed_reference


def _shift_around_now(api: Api) -> None:
    now = api.now()
    shift = {
        "shift_id": "S-NOW",
        "officer_id": "O1",
        "start": (now - timedelta(hours=4)).isoformat(),
        "end": (now + timedelta(hours=4)).isoformat(),
        "kind": "duty",
        "station_id": "ST1",
        "declared_location": "office",
    }
    r = api.client.put("/v1/roster", json={"shifts": [shift]}, headers=api.headers("admin"))
    assert r.json()["accepted"] == 1, r.text


def test_prompt_batches_give_the_device_clock_offset(api: Api) -> None:
    seed_reference(api)
    _shift_around_now(api)
    headers = api.headers("ingest")
    for k in range(3):
        # the phone's clock is two minutes fast: its newest fix looks two minutes ahead
        now = api.now()
        batch = [
            api.ping((now - timedelta(minutes=1, seconds=k)).isoformat(), INSIDE),
            api.ping((now + timedelta(minutes=2, seconds=-k)).isoformat(), INSIDE),
        ]
        r = api.client.post("/v1/pings", json={"pings": batch}, headers=headers)
        assert r.json()["accepted"] == 2, r.text
    # a batch sent an hour late says nothing about the clock
    late = (api.now() - timedelta(hours=1)).isoformat()
    r = api.client.post("/v1/pings", json={"pings": [api.ping(late, INSIDE)]}, headers=headers)
    assert r.json()["accepted"] == 1
    # fixes not on duty (O2 has no shift now: held) leave no receipt
    rest = api.ping(api.now().isoformat(), INSIDE, device="D2")
    api.client.post("/v1/pings", json={"pings": [rest]}, headers=headers)
    with api.factory() as session:
        assert session.scalar(select(func.count()).select_from(DeviceReceipt)) == 3
        offsets = device_offsets(session, api.now() + timedelta(minutes=1), policy=load_policy())
        # a timeline reads the receipts of its officer's devices only, with the same offsets
        mine = device_offsets(
            session, api.now() + timedelta(minutes=1), policy=load_policy(), device_ids=["D1"]
        )
        others = device_offsets(
            session, api.now() + timedelta(minutes=1), policy=load_policy(), device_ids=["D2"]
        )
    assert offsets["device_id"].to_list() == ["D1"]
    assert 115.0 <= offsets["clock_offset_s"][0] <= 122.0
    assert mine.equals(offsets)
    assert others.is_empty()
