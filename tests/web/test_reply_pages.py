"""The right-of-reply screens over real HTTP through the ASGI app, on SQLite and PostGIS: an
officer contests a day and answers a flag, HR answers the contest, the investigator's flag page
shows the responses and the two-person rule, the subject access bundle downloads."""

from __future__ import annotations

import io
import zipfile

from sqlalchemy import select

from api.auth import issue_token
from store.db import transaction
from store.models import AuditEntry, DayContest, Flag, FlagResponse
from tests.api.helpers import SECRET, Api
from tests.web.conftest import csrf_of, sign_in


def _audit(api: Api, action: str) -> list[AuditEntry]:
    with transaction(api.factory) as session:
        rows = list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            )
        )
        session.expunge_all()
        return rows


def _count(api: Api, model: type[DayContest] | type[FlagResponse]) -> int:
    with transaction(api.factory) as session:
        return len(list(session.scalars(select(model))))


def _contest(api: Api, token: str) -> None:
    form = {
        "csrf_token": token,
        "date": "2026-10-05",
        "category": "other_station",
        "statement": "I worked at Lambeth that day.",
    }
    r = api.client.post("/app/me/contests", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/app/me/contests?month=2026-10"


def test_officer_contests_a_day_once_and_hr_answers_it(web: Api) -> None:
    sign_in(web.client, "officer", sub="pc.o1", officer_id="O1")
    month = web.client.get("/app/me?month=2026-10").text
    assert '<option value="2026-10-05">Monday 5 October 2026</option>' in month
    token = csrf_of(month)
    no_token = web.client.post(
        "/app/me/contests",
        data={"date": "2026-10-05", "category": "other_station", "statement": "x"},
        follow_redirects=False,
    )
    assert no_token.status_code == 403
    bad = web.client.post(
        "/app/me/contests",
        data={"csrf_token": token, "date": "2026-10-05", "category": "aliens", "statement": "x"},
    )
    assert bad.status_code == 400
    assert "field category" in bad.text
    assert _count(web, DayContest) == 0
    _contest(web, token)
    _contest(web, token)  # sent twice: recorded once
    assert _count(web, DayContest) == 1
    created = _audit(web, "contest.create")
    assert [e.detail["duplicate"] for e in created if e.detail] == [False, True]
    mine = web.client.get("/app/me/contests").text
    assert "I worked at Lambeth that day." in mine
    assert "waiting for an answer" in mine
    calendar = web.client.get("/app/me?month=2026-10").text
    assert calendar.count("state-contested") == 2  # the day and the legend

    sign_in(web.client, "hr", sub="hr.one")
    queue = web.client.get("/app/hr/contests").text
    assert "Monday 5 October 2026" in queue
    assert "I worked at Lambeth that day." in queue
    hr_calendar = web.client.get("/app/hr/officers/O1?month=2026-10").text
    assert hr_calendar.count("state-contested") == 2
    contest_id = _audit(web, "contest.create")[0].detail["contest_id"]  # type: ignore[index]
    token = csrf_of(queue)
    answer = {"csrf_token": token, "outcome": "upheld", "reason": "Lambeth door log shows it."}
    r = web.client.post(
        f"/app/hr/contests/{contest_id}/answer", data=answer, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/app/hr/contests"
    assert "No contest is waiting for an answer." in web.client.get("/app/hr/contests").text
    again = web.client.post(f"/app/hr/contests/{contest_id}/answer", data=answer)
    assert again.status_code == 409
    (answered,) = _audit(web, "contest.answer")
    assert (answered.actor, answered.officer_id) == ("hr.one", "O1")
    hr_calendar = web.client.get("/app/hr/officers/O1?month=2026-10").text
    assert hr_calendar.count("state-adjusted") == 2
    assert hr_calendar.count("state-contested") == 1  # the legend only

    sign_in(web.client, "officer", sub="pc.o1", officer_id="O1")
    mine = web.client.get("/app/me/contests").text
    assert "upheld" in mine
    assert "Lambeth door log shows it." in mine


def test_officer_answers_a_flag_and_the_investigator_reads_it(web: Api) -> None:
    sign_in(web.client, "officer", sub="pc.o1", officer_id="O1")
    month = web.client.get("/app/me?month=2026-10").text
    assert 'href="/app/me/flags/f-mock-0001"' in month
    page = web.client.get("/app/me/flags/f-mock-0001")
    assert page.status_code == 200
    assert "You have not answered this flag." in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "category": "device_problem",
        "statement": "My phone was replaced that week.",
    }
    for _ in range(2):  # sent twice: recorded once
        r = web.client.post(
            "/app/me/flags/f-mock-0001/responses", data=form, follow_redirects=False
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/app/me/flags/f-mock-0001"
    assert _count(web, FlagResponse) == 1
    assert "My phone was replaced that week." in web.client.get("/app/me/flags/f-mock-0001").text
    reads = _audit(web, "read.flag")
    assert {(e.actor, e.officer_id) for e in reads} == {("pc.o1", "O1")}

    sign_in(web.client, "hr", sub="hr.one")
    assert web.client.get("/app/me/flags/f-mock-0001").status_code == 403
    assert web.client.get("/app/me/contests").status_code == 403

    sign_in(web.client, "investigator", sub="inv.a")
    flag = web.client.get("/app/flags/f-mock-0001?case_ref=CASE-7").text
    assert "The officer's responses" in flag
    assert "My phone was replaced that week." in flag


def test_substantiation_waits_for_a_second_investigator(web: Api) -> None:
    sign_in(web.client, "investigator", sub="inv.a")
    page = web.client.get("/app/flags/f-mock-0001?case_ref=CASE-7").text
    assert "No proposal to substantiate is waiting" in page
    form = {
        "csrf_token": csrf_of(page),
        "status": "substantiated",
        "note": "phone log contradicts",
        "case_ref": "CASE-7",
        "expected_status": "open",
    }
    r = web.client.post("/app/flags/f-mock-0001/review", data=form, follow_redirects=False)
    assert r.status_code == 303
    page = web.client.get("/app/flags/f-mock-0001?case_ref=CASE-7").text
    assert "Proposed by inv.a" in page
    assert "you cannot confirm your own proposal" in page
    with transaction(web.factory) as session:
        flag = session.get(Flag, "f-mock-0001")
        assert flag is not None
        assert flag.status == "under_review"
        status = flag.status
    mine = web.client.post(
        "/app/flags/f-mock-0001/review",
        data={**form, "csrf_token": csrf_of(page), "expected_status": status},
    )
    assert mine.status_code == 409

    sign_in(web.client, "investigator", sub="inv.b")
    page = web.client.get("/app/flags/f-mock-0001?case_ref=CASE-7").text
    assert "waiting for a second investigator" in page
    r = web.client.post(
        "/app/flags/f-mock-0001/review",
        data={**form, "csrf_token": csrf_of(page), "expected_status": status},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with transaction(web.factory) as session:
        flag = session.get(Flag, "f-mock-0001")
        assert flag is not None
        assert flag.status == "substantiated"


def test_officer_downloads_the_subject_access_bundle(web: Api) -> None:
    sign_in(web.client, "officer", sub="pc.o1", officer_id="O1")
    assert 'href="/app/me/subject-access"' in web.client.get("/app/me/access").text
    r = web.client.get("/app/me/subject-access")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="subject-access-O1.zip"'
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "manifest.json" in names
    (entry,) = _audit(web, "export.subject_access")
    assert (entry.actor, entry.officer_id) == ("pc.o1", "O1")
    hr = issue_token(SECRET, role="hr", sub="hr.q")
    refused = web.client.get("/app/me/subject-access", headers={"Authorization": f"Bearer {hr}"})
    assert refused.status_code == 403
