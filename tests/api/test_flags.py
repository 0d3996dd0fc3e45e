"""The flag review workflow over HTTP: list, filter, paginate, review with history."""

from __future__ import annotations

from sqlalchemy import select

from store.flag_review import reviews
from store.models import AuditEntry
from tests.api.helpers import Api


def test_list_filters_and_pages(world: Api) -> None:
    inv = world.headers("investigator")
    every = world.client.get("/v1/flags", headers=inv).json()
    assert sorted(f["flag_id"] for f in every["flags"]) == [
        "f-mock-0001",
        "f-o2-0001",
        "f-share-0001",
    ]
    assert every["next_cursor"] is None
    first = world.client.get("/v1/flags", params={"limit": 2}, headers=inv).json()
    second = world.client.get(
        "/v1/flags", params={"limit": 2, "after": first["next_cursor"]}, headers=inv
    ).json()
    assert len(first["flags"]) == 2
    assert len(second["flags"]) == 1
    assert second["next_cursor"] is None
    seen = {f["flag_id"] for f in first["flags"] + second["flags"]}
    assert len(seen) == 3
    mis = world.client.get(
        "/v1/flags", params={"misconduct": "true", "officer_id": "O1"}, headers=inv
    ).json()
    assert [f["code"] for f in mis["flags"]] == ["MOCK_LOCATION"]
    bad = world.client.get("/v1/flags", params={"after": "garbage!"}, headers=inv)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_request"


def test_officer_sees_only_own_flags(world: Api) -> None:
    own = world.client.get("/v1/flags", headers=world.headers("officer", "O1")).json()
    assert {f["officer_id"] for f in own["flags"]} == {"O1"}
    other = world.client.get(
        "/v1/flags", params={"officer_id": "O2"}, headers=world.headers("officer", "O1")
    )
    assert other.status_code == 403
    assert world.client.get("/v1/flags", headers=world.headers("hr")).status_code == 403


def test_review_keeps_every_change(world: Api) -> None:
    inv = world.headers("investigator", sub="det.jones")
    url = "/v1/flags/f-mock-0001"
    r = world.client.patch(
        url, json={"status": "under_review", "note": "looking", "case_ref": "CASE-7"}, headers=inv
    )
    assert r.status_code == 200, r.text
    assert r.json()["flag"]["status"] == "under_review"
    assert r.json()["review"]["from_status"] == "open"
    stale = world.client.patch(
        url, json={"status": "dismissed", "note": "x", "expected_status": "open"}, headers=inv
    )
    assert stale.status_code == 409
    done = world.client.patch(
        url,
        json={"status": "substantiated", "note": "confirmed", "expected_status": "under_review"},
        headers=inv,
    )
    assert done.json()["flag"]["status"] == "substantiated"
    with world.factory() as session:
        history = [
            (v.from_status, v.to_status, v.actor, v.note) for v in reviews(session, "f-mock-0001")
        ]
        actions = list(
            session.scalars(select(AuditEntry.case_ref).where(AuditEntry.action == "flag.review"))
        )
    assert history == [
        ("open", "under_review", "det.jones", "looking"),
        ("under_review", "substantiated", "det.jones", "confirmed"),
    ]
    assert actions == ["CASE-7", None]
    assert (
        world.client.patch(url, json={"status": "closed", "note": "x"}, headers=inv).status_code
        == 422
    )
    assert world.client.patch(url, json={"status": "open"}, headers=inv).status_code == 422
    assert (
        world.client.patch(
            "/v1/flags/nope", json={"status": "open", "note": "x"}, headers=inv
        ).status_code
        == 404
    )
