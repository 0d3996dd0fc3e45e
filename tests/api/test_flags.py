"""The flag review workflow over HTTP: list, filter, paginate, the record, two-person
substantiation, the officer's responses, and the audit of each."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from store.flag_review import reviews
from store.models import AuditEntry
from tests.api.helpers import Api

CASE = {"case_ref": "CASE-7"}
MOCK = "/v1/flags/f-mock-0001"


def _patch(api: Api, sub: str, **body: object) -> tuple[int, dict[str, object]]:
    r = api.client.patch(
        MOCK, json={"case_ref": "CASE-7", **body}, headers=api.headers("investigator", sub=sub)
    )
    return r.status_code, r.json()


def test_list_filters_and_pages(world: Api) -> None:
    inv = world.headers("investigator")
    every = world.client.get("/v1/flags", params=CASE, headers=inv).json()
    assert sorted(f["flag_id"] for f in every["flags"]) == [
        "f-mock-0001",
        "f-o2-0001",
        "f-share-0001",
    ]
    assert every["next_cursor"] is None
    assert {(f["status"], f["last_reviewer"], f["responded"]) for f in every["flags"]} == {
        ("open", None, False)
    }
    first = world.client.get("/v1/flags", params={**CASE, "limit": 2}, headers=inv).json()
    second = world.client.get(
        "/v1/flags", params={**CASE, "limit": 2, "after": first["next_cursor"]}, headers=inv
    ).json()
    assert len(first["flags"]) == 2
    assert len(second["flags"]) == 1
    assert second["next_cursor"] is None
    seen = {f["flag_id"] for f in first["flags"] + second["flags"]}
    assert len(seen) == 3
    mis = world.client.get(
        "/v1/flags", params={**CASE, "misconduct": "true", "officer_id": "O1"}, headers=inv
    ).json()
    assert [f["code"] for f in mis["flags"]] == ["MOCK_LOCATION"]
    bad = world.client.get("/v1/flags", params={**CASE, "after": "garbage!"}, headers=inv)
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "bad_request"


def test_investigator_needs_a_case_ref(world: Api) -> None:
    inv = world.headers("investigator")
    for response in (
        world.client.get("/v1/flags", params={"officer_id": "O1"}, headers=inv),
        world.client.get(MOCK, headers=inv),
        world.client.patch(MOCK, json={"status": "under_review", "note": "n"}, headers=inv),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["message"] == (
            "an investigator must give case_ref to read an officer's data"
        )
    with world.factory() as session:
        refused = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "access.refused")
        ).all()
        reads = session.scalars(select(AuditEntry).where(AuditEntry.action.like("read.%")))
        assert [e.action for e in reads] == []
    assert [d["route"] for d in refused if d] == [
        "/v1/flags",
        "/v1/flags/{flag_id}",
        "/v1/flags/{flag_id}",
    ]


def test_officer_sees_only_own_flags(world: Api) -> None:
    own = world.client.get("/v1/flags", headers=world.headers("officer", "O1")).json()
    assert {f["officer_id"] for f in own["flags"]} == {"O1"}
    other = world.client.get(
        "/v1/flags", params={"officer_id": "O2"}, headers=world.headers("officer", "O1")
    )
    assert other.status_code == 403
    assert world.client.get("/v1/flags", headers=world.headers("hr")).status_code == 403
    theirs = world.client.get("/v1/flags/f-o2-0001", headers=world.headers("officer", "O1"))
    assert theirs.status_code == 403


def test_record_carries_every_review_and_response(world: Api) -> None:
    status, body = _patch(world, "det.jones", status="under_review", note="looking")
    assert status == 200, body
    answer = world.client.post(
        f"{MOCK}/responses",
        json={"category": "device_problem", "statement": "A test app was installed by IT."},
        headers=world.headers("officer", "O1", sub="pc.smith"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False
    again = world.client.post(
        f"{MOCK}/responses",
        json={"category": "device_problem", "statement": "A test app was installed by IT."},
        headers=world.headers("officer", "O1", sub="pc.smith"),
    )
    assert again.json() == {**answer.json(), "duplicate": True}
    r = world.client.get(MOCK, params=CASE, headers=world.headers("investigator", sub="det.x"))
    assert r.status_code == 200, r.text
    record = r.json()
    assert record["flag"]["status"] == "under_review"
    assert record["flag"]["last_reviewer"] == "det.jones"
    assert record["flag"]["responded"] is True
    assert [
        (v["actor"], v["role"], v["from_status"], v["to_status"], v["note"], v["case_ref"])
        for v in record["reviews"]
    ] == [("det.jones", "investigator", "open", "under_review", "looking", "CASE-7")]
    assert [(a["actor"], a["category"], a["statement"]) for a in record["responses"]] == [
        ("pc.smith", "device_problem", "A test app was installed by IT.")
    ]
    assert record["substantiation"] == {"needed": 2, "proposed_by": []}
    listed = world.client.get(
        "/v1/flags", params={**CASE, "officer_id": "O1"}, headers=world.headers("investigator")
    ).json()["flags"]
    assert {f["flag_id"]: f["responded"] for f in listed} == {
        "f-mock-0001": True,
        "f-share-0001": False,
    }
    # Only the flag's officer answers it.
    for headers in (world.headers("officer", "O2"), world.headers("investigator")):
        r = world.client.post(
            f"{MOCK}/responses", json={"category": "other", "statement": "x"}, headers=headers
        )
        assert r.status_code == 403
    with world.factory() as session:
        audited = {
            (e.action, e.actor, e.case_ref, e.purpose)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.officer_id == "O1"))
        }
        review_detail = session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "flag.review")
        ).one()
    assert audited == {
        ("flag.review", "det.jones", "CASE-7", None),
        ("flag.response", "pc.smith", None, "subject_access"),
        ("read.flag", "det.x", "CASE-7", None),
        ("read.flags", "investigator-user", "CASE-7", None),
    }
    assert review_detail is not None
    assert (review_detail["from"], review_detail["to"], review_detail["note_written"]) == (
        "open",
        "under_review",
        True,
    )


def test_two_investigators_substantiate(world: Api) -> None:
    status, body = _patch(world, "det.a", status="substantiated", note="mock app seen")
    assert status == 200, body
    assert body["flag"]["status"] == "under_review"  # type: ignore[index]
    assert body["review"]["kind"] == "proposal"  # type: ignore[index]
    assert body["substantiation"] == {"needed": 2, "proposed_by": ["det.a"]}
    # Nobody confirms their own proposal.
    status, body = _patch(world, "det.a", status="substantiated", note="again")
    assert status == 409
    assert "another investigator" in body["error"]["message"]  # type: ignore[index]
    # A note from someone else keeps the proposal standing.
    assert _patch(world, "det.c", status="under_review", note="reading")[0] == 200
    status, body = _patch(world, "det.b", status="substantiated", note="agree")
    assert status == 200, body
    assert body["flag"]["status"] == "substantiated"  # type: ignore[index]
    assert body["review"]["kind"] == "confirmation"  # type: ignore[index]
    assert _patch(world, "det.c", status="substantiated", note="late")[0] == 409
    with world.factory() as session:
        history = [(v.actor, v.kind, v.to_status) for v in reviews(session, "f-mock-0001")]
    assert history == [
        ("det.a", "proposal", "under_review"),
        ("det.c", "change", "under_review"),
        ("det.b", "confirmation", "substantiated"),
    ]


def test_one_investigator_dismisses_and_dismissal_ends_a_proposal(world: Api) -> None:
    assert _patch(world, "det.a", status="substantiated", note="p")[0] == 200
    status, body = _patch(world, "det.b", status="dismissed", note="phone replaced that day")
    assert status == 200
    assert body["flag"]["status"] == "dismissed"  # type: ignore[index]
    assert body["substantiation"]["proposed_by"] == []  # type: ignore[index]
    # After the dismissal det.b alone cannot substantiate: a new proposal is needed.
    status, body = _patch(world, "det.b", status="substantiated", note="reopened")
    assert body["flag"]["status"] == "under_review"  # type: ignore[index]


def test_concurrent_confirmations_substantiate_once(world: Api) -> None:
    assert _patch(world, "det.a", status="substantiated", note="p")[0] == 200

    def confirm(sub: str) -> int:
        return _patch(world, sub, status="substantiated", note=f"confirmed by {sub}")[0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(confirm, ["det.b", "det.c", "det.d", "det.e"]))
    assert statuses == [200, 409, 409, 409]
    with world.factory() as session:
        kinds = [v.kind for v in reviews(session, "f-mock-0001")]
    assert kinds == ["proposal", "confirmation"]


def test_review_guards(world: Api) -> None:
    inv = world.headers("investigator", sub="det.jones")
    assert _patch(world, "det.jones", status="under_review", note="looking")[0] == 200
    stale = _patch(world, "det.jones", status="dismissed", note="x", expected_status="open")
    assert stale[0] == 409
    assert (
        world.client.patch(
            MOCK, json={"status": "closed", "note": "x", **CASE}, headers=inv
        ).status_code
        == 422
    )
    assert world.client.patch(MOCK, json={"status": "open", **CASE}, headers=inv).status_code == 422
    assert (
        world.client.patch(
            "/v1/flags/nope", json={"status": "open", "note": "x", **CASE}, headers=inv
        ).status_code
        == 404
    )
    assert world.client.get("/v1/flags/nope", params=CASE, headers=inv).status_code == 404
