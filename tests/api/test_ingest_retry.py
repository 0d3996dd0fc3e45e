"""Batches sent again over HTTP: nothing doubled, masked events counted once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from store.models import MaskedCount, Ping
from tests.api.helpers import FAR, INSIDE, Api, seed_reference


def _scalar(api: Api, stmt: object) -> int:
    with api.factory() as session:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def test_a_batch_sent_three_times_counts_its_masked_events_once(api: Api) -> None:
    seed_reference(api)
    batch = {
        "pings": [
            api.ping("2026-10-05T09:00:00+01:00", INSIDE),
            api.ping("2026-10-05T10:00:00+01:00", FAR, device="D2"),  # rest day: masked
            api.ping("2026-10-05T10:01:00+01:00", FAR, device="D2"),  # masked
        ]
    }
    for _ in range(3):
        r = api.client.post("/v1/pings", json=batch, headers=api.headers("ingest"))
        assert r.status_code == 200, r.text
        assert r.json()["masked"] == 2
    # The same masked events again, split over two other batches.
    for part in ([batch["pings"][1]], [batch["pings"][2]]):
        r = api.client.post("/v1/pings", json={"pings": part}, headers=api.headers("ingest"))
        assert r.status_code == 200, r.text
    assert _scalar(api, select(func.sum(MaskedCount.count))) == 2
    assert _scalar(api, select(func.count()).select_from(Ping)) == 1


def test_an_event_older_than_raw_retention_is_refused(api: Api) -> None:
    seed_reference(api)
    old = (api.now() - timedelta(days=91)).isoformat()
    r = api.client.post(
        "/v1/pings", json={"pings": [api.ping(old, INSIDE)]}, headers=api.headers("ingest")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rejected"] == 1
    assert body["errors"][0]["field"] == "ts"
    assert "older than the raw retention period" in body["errors"][0]["reason"]
