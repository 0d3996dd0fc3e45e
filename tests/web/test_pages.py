"""The web app over real HTTP through the ASGI app, on SQLite and PostGIS: sign-in, cookies,
CSRF, CSP, each role's pages and refusals, audit entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from api.app import create_app
from api.auth import TokenConfigError, issue_token
from rollcall.settings import Settings
from store.db import transaction
from store.models import AuditEntry, Flag
from tests.api.helpers import (
    FAR,
    INSIDE,
    SECRET,
    TZ,
    Api,
    TestClient,
    seed_reference,
    seed_results,
)
from tests.clock import API_NOW, TestClock
from tests.web.conftest import csrf_of, sign_in

PAGES = {
    "hr": ["/app/hr", "/app/hr/units/Unit%20A", "/app/hr/officers/O1", "/app/hr/contests"],
    "investigator": [
        "/app/flags?case_ref=C-1",
        "/app/flags/f-mock-0001?case_ref=C-1",
        "/app/officers/O1/timeline?case_ref=C-1&from=2026-10-05&to=2026-10-07",
    ],
    "officer": [
        "/app/me",
        "/app/me/access",
        "/app/me/contests",
        "/app/me/flags/f-mock-0001",
        "/app/officers/O1/timeline",
    ],
    "auditor": ["/app/audit", "/app/audit/status"],
}
OFFICER_OF = {"officer": "O1"}
FLAG_CODES_OF_CONTRACT = (
    "DECLARED_OFFICE_UNVERIFIED",
    "BADGE_WITHOUT_DEVICE",
    "OVERTIME_UNVERIFIED",
    "ROSTER_RETRO_EDIT",
    "IMPOSSIBLE_TRAVEL",
    "MOCK_LOCATION",
    "BELOW_OFFICE_SHARE",
)


def _audit(api: Api, action: str | None = None) -> list[AuditEntry]:
    with transaction(api.factory) as session:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def _flag_status(api: Api, flag_id: str) -> str:
    with transaction(api.factory) as session:
        flag = session.get(Flag, flag_id)
        assert flag is not None
        return flag.status


@pytest.mark.parametrize("role", sorted(PAGES))
def test_each_role_opens_its_pages(web: Api, role: str) -> None:
    sign_in(web.client, role, officer_id=OFFICER_OF.get(role, ""))
    for path in PAGES[role]:
        r = web.client.get(path)
        assert r.status_code == 200, (path, r.text[:500])
        assert r.headers["content-type"].startswith("text/html")
        assert '<html lang="en-GB">' in r.text


FORBIDDEN = {
    "hr": [
        "/app/flags?case_ref=C-1",
        "/app/flags/f-share-0001?case_ref=C-1",
        "/app/officers/O1/timeline?case_ref=C-1",
        "/app/me",
        "/app/audit",
    ],
    "investigator": ["/app/hr", "/app/hr/officers/O1", "/app/me", "/app/audit/status"],
    "officer": [
        "/app/hr",
        "/app/flags?case_ref=C-1",
        "/app/officers/O2/timeline",
        "/app/audit",
        "/app/hr/contests",
        "/app/me/flags/f-o2-0001",
    ],
    "auditor": ["/app/hr", "/app/flags?case_ref=C-1", "/app/me", "/app/officers/O1/timeline"],
}


@pytest.mark.parametrize("role", sorted(FORBIDDEN))
def test_forbidden_pages_are_refused_and_audited(web: Api, role: str) -> None:
    sign_in(web.client, role, sub=f"{role}.web", officer_id=OFFICER_OF.get(role, ""))
    before = len(_audit(web, "access.refused"))
    for path in FORBIDDEN[role]:
        r = web.client.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "Not allowed" in r.text
    refused = _audit(web, "access.refused")[before:]
    assert len(refused) == len(FORBIDDEN[role])
    assert {e.actor for e in refused} == {f"{role}.web"}


def test_hr_never_sees_misconduct_flags_or_coordinates(web: Api) -> None:
    sign_in(web.client, "hr")
    page = web.client.get("/app/hr/officers/O1?month=2026-10").text
    assert "BELOW_OFFICE_SHARE" in page
    assert "MOCK_LOCATION" not in page
    for path in ("/app/hr?month=2026-10", "/app/hr/units/Unit%20A?month=2026-10"):
        text = web.client.get(path).text
        assert "MOCK_LOCATION" not in text
        assert "<svg" not in text
        assert str(FAR[0]) not in text


def test_hr_month_counts_and_calendar(web: Api) -> None:
    sign_in(web.client, "hr")
    units = web.client.get("/app/hr?month=2026-10").text
    # Unit A: O1 expected 3 days, 1 verified -> 33%, below the 80% line
    assert "Unit A" in units
    assert "33%" in units
    officer = web.client.get("/app/hr/officers/O1?month=2026-10").text
    assert officer.count("state-verified") == 2  # one day and the legend
    assert officer.count("state-declared") == 3  # two days and the legend
    assert "Monday 5 October 2026: BELOW_OFFICE_SHARE" in officer  # en-GB dates
    assert "clocks change" in officer  # 25 October 2026 is 25 hours long
    csv = web.client.get("/app/hr/compliance.csv?month=2026-10&unit=Unit%20A")
    assert csv.headers["content-disposition"] == (
        'attachment; filename="compliance-2026-10-Unit-A.csv"'
    )
    lines = csv.text.splitlines()
    assert lines[0].startswith("officer_id,display_name,rank,unit,")
    assert lines[1].startswith("O1,Alex Smith,,Unit A,3,3,1,0.3333,false,0")
    xlsx = web.client.get("/app/hr/compliance.xlsx?month=2026-10")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert xlsx.content[:2] == b"PK"
    assert web.client.get("/app/hr/compliance.pdf?month=2026-10").status_code == 422
    reads = _audit(web, "read.compliance") + _audit(web, "read.compliance_units")
    assert sorted(str(e.detail["unit"]) for e in reads if e.detail) == ["None", "None", "Unit A"]


def test_investigator_gives_case_reference_before_any_data(web: Api) -> None:
    sign_in(web.client, "investigator", sub="inv.a")
    r = web.client.get("/app/flags/f-mock-0001")
    assert r.status_code == 200
    assert "Which case is this for?" in r.text
    assert "MOCK_LOCATION" not in r.text
    assert _audit(web, "read.flag") == []
    r = web.client.get("/app/officers/O1/timeline?from=2026-10-05&to=2026-10-05")
    assert "Which case is this for?" in r.text
    assert 'name="from" value="2026-10-05"' in r.text
    r = web.client.get("/app/flags/f-mock-0001?case_ref=CASE-7")
    assert "MOCK_LOCATION" in r.text
    assert "Simulated fixes off duty are masked before the rule sees them." in r.text
    (entry,) = _audit(web, "read.flag")
    assert (entry.actor, entry.officer_id, entry.case_ref) == ("inv.a", "O1", "CASE-7")
    wrong = web.client.get("/app/flags?case_ref=C-1&status=closed")
    assert wrong.status_code == 422
    assert "<li>query status: Input should be" in wrong.text
    bad = web.client.get("/app/flags?case_ref=%3Cscript%3E")
    assert bad.status_code == 400
    assert "<script>" not in bad.text


def test_flag_queue_filters_by_every_code_a_rule_can_raise(web: Api) -> None:
    """Every module in rules/flags with a CODE, and roster integrity's codes, are offered by the
    queue's code filter (a rule added without the page knowing of it could not be filtered)."""
    import importlib
    import pkgutil

    import rules.flags
    from rules.integrity import INTEGRITY_CODES

    raised = {
        importlib.import_module(f"rules.flags.{m.name}").__dict__.get("CODE")
        for m in pkgutil.iter_modules(rules.flags.__path__)
    } - {None}
    assert set(FLAG_CODES_OF_CONTRACT) <= raised
    sign_in(web.client, "investigator", sub="inv.a")
    page = web.client.get("/app/flags?case_ref=C-1")
    assert page.status_code == 200
    for code in sorted(raised | set(INTEGRITY_CODES)):
        assert f'<option value="{code}"' in page.text, code


def test_review_needs_the_csrf_token_of_the_session(web: Api) -> None:
    sign_in(web.client, "investigator", sub="inv.a")
    page = web.client.get("/app/flags/f-mock-0001?case_ref=CASE-7").text
    token = csrf_of(page)
    form = {"status": "under_review", "note": "looking", "case_ref": "CASE-7"}
    form["expected_status"] = "open"
    r = web.client.post("/app/flags/f-mock-0001/review", data=form, follow_redirects=False)
    assert r.status_code == 403
    assert _flag_status(web, "f-mock-0001") == "open"
    r = web.client.post(
        "/app/flags/f-mock-0001/review",
        data={**form, "csrf_token": token},
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert _flag_status(web, "f-mock-0001") == "open"
    other = issue_token(SECRET, role="investigator", sub="inv.b")
    r = web.client.post(
        "/app/flags/f-mock-0001/review",
        data={**form, "csrf_token": token},
        headers={"Authorization": f"Bearer {other}"},
        follow_redirects=False,
    )
    assert r.status_code == 403, "a token of another session's credential"
    r = web.client.post(
        "/app/flags/f-mock-0001/review", data={**form, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/app/flags/f-mock-0001?case_ref=CASE-7"
    assert _flag_status(web, "f-mock-0001") == "under_review"
    (entry,) = _audit(web, "flag.review")
    assert (entry.actor, entry.case_ref) == ("inv.a", "CASE-7")
    # the same form sent again: the flag has moved, so it is refused, not applied twice
    again = web.client.post(
        "/app/flags/f-mock-0001/review", data={**form, "csrf_token": token}, follow_redirects=False
    )
    assert again.status_code == 409
    history = web.client.get("/app/flags/f-mock-0001?case_ref=CASE-7").text
    assert history.count("<td>looking</td>") == 1


def test_session_cookie_is_httponly_strict_and_never_in_a_url(web: Api) -> None:
    form = web.client.get("/app/login")
    login_cookie = form.headers["set-cookie"]
    assert "HttpOnly" in login_cookie
    assert "SameSite=strict" in login_cookie
    r = web.client.post(
        "/app/login",
        data={"csrf_token": csrf_of(form.text), "role": "hr", "sub": "hr.one"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/app/hr"
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("rollcall_session="))
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    assert "Path=/app" in session
    assert "Max-Age=1800" in session
    token = session.split(";")[0].split("=", 1)[1]
    page = web.client.get("/app/hr").text
    assert token not in page
    (login,) = _audit(web, "login.dev")
    assert login.actor == "hr.one"


def test_login_form_is_protected_against_csrf(web: Api) -> None:
    r = web.client.post(
        "/app/login",
        data={"role": "hr", "sub": "x", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    form = web.client.get("/app/login")
    r = web.client.post(
        "/app/login",
        data={"csrf_token": csrf_of(form.text), "role": "hr", "sub": "x"},
        headers={"Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = web.client.post(
        "/app/login",
        data={"csrf_token": csrf_of(form.text), "role": "admin", "sub": "x"},
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "field role" in r.text
    r = web.client.post(
        "/app/login",
        data={"csrf_token": csrf_of(form.text), "role": "officer", "sub": "x"},
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "officer_id" in r.text


def test_sign_out_forgets_the_cookie(web: Api) -> None:
    sign_in(web.client, "auditor")
    token = csrf_of(web.client.get("/app/audit").text)
    r = web.client.post("/app/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login"
    assert 'rollcall_session=""' in r.headers["set-cookie"]
    assert web.client.get("/app/audit", follow_redirects=False).status_code == 303


def test_pages_carry_a_strict_content_security_policy(web: Api) -> None:
    sign_in(web.client, "hr")
    r = web.client.get("/app/hr")
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert "<script>" not in r.text
    assert " style=" not in r.text
    assert " on" + "click" not in r.text
    js = web.client.get("/app/static/vendor/htmx.org-2.0.11/htmx.min.js")
    assert js.status_code == 200
    assert "htmx" in js.text[:2000]
    assert web.client.get("/app/static/app.css").status_code == 200
    assert "content-security-policy" not in web.client.get("/healthz").headers


def test_bearer_from_the_identity_proxy_works_without_a_cookie(web: Api) -> None:
    token = issue_token(SECRET, role="officer", sub="pc.o1", officer_id="O1")
    r = web.client.get("/app/me?month=2026-10", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert "My month" in r.text
    (entry,) = _audit(web, "read.attendance")
    assert (entry.actor, entry.officer_id, entry.purpose) == ("pc.o1", "O1", "subject_access")


def test_officer_sees_own_month_flags_and_who_looked(web: Api) -> None:
    inv = issue_token(SECRET, role="investigator", sub="inv.z")
    web.client.get(
        "/app/flags/f-mock-0001?case_ref=C-9", headers={"Authorization": f"Bearer {inv}"}
    )
    sign_in(web.client, "officer", sub="pc.o1", officer_id="O1")
    month = web.client.get("/app/me?month=2026-10").text
    assert "MOCK_LOCATION" in month
    assert "IMPOSSIBLE_TRAVEL" not in month
    assert "33%" in month
    hr = issue_token(SECRET, role="hr", sub="hr.q")
    web.client.get("/app/hr/officers/O1?month=2026-10", headers={"Authorization": f"Bearer {hr}"})
    access = web.client.get("/app/me/access").text
    assert "hr.q" in access  # a read without a case is listed
    assert "C-9" not in access  # the case is still open
    closed = web.client.post("/v1/cases/C-9/close", headers={"Authorization": f"Bearer {inv}"})
    assert closed.status_code == 200
    access = web.client.get("/app/me/access").text
    assert "inv.z" in access
    assert "C-9" in access


def test_auditor_searches_the_log_and_sees_the_chain_verified(web: Api) -> None:
    hr = issue_token(SECRET, role="hr", sub="hr.x")
    for _ in range(12):
        web.client.get("/app/audit", headers={"Authorization": f"Bearer {hr}"})
    sign_in(web.client, "auditor", sub="aud.1")
    found = web.client.get("/app/audit?actor=hr.x").text
    assert found.count("<td>access.refused</td>") == 12
    status = web.client.get("/app/audit/status").text
    assert "Verified:" in status
    assert "spike" in status
    assert "hr.x" in status


def test_the_chain_status_checks_new_entries_and_notices_an_edit(web: Api) -> None:
    sign_in(web.client, "auditor", sub="aud.2")
    first = web.client.get("/app/audit/status").text
    second = web.client.get("/app/audit/status").text
    assert "Verified:" in second
    assert "whole chain was last walked" in second
    counts = [int(t.split("Verified: ")[1].split(" ")[0]) for t in (first, second)]
    assert counts[1] > counts[0]  # the first view's own audit entry was checked by the second
    chain = web.client.app.state.rollcall.chain  # type: ignore[attr-defined]
    assert chain.full_walks == 1
    with transaction(web.factory) as session:
        newest = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert newest is not None
        newest.actor = "someone else"
        bad_seq = newest.seq
    broken = web.client.get("/app/audit/status").text
    assert f"Broken at entry #{bad_seq}" in broken


def test_investigator_closes_a_case_from_the_app(web: Api) -> None:
    sign_in(web.client, "investigator", sub="inv.close")
    queue = web.client.get("/app/flags?case_ref=C-77").text
    assert 'href="/app/cases/C-77/close"' in queue
    form = web.client.get("/app/cases/C-77/close")
    assert form.status_code == 200
    assert "Close case C-77" in form.text
    refused = web.client.post("/app/cases/C-77/close", data={}, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token
    r = web.client.post(
        "/app/cases/C-77/close", data={"csrf_token": csrf_of(form.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/app/cases/C-77/close"
    done = web.client.get("/app/cases/C-77/close").text
    assert "Closed " in done
    assert "by inv.close" in done
    assert "<form" not in done.split("<main", 1)[-1]
    closes = [e for e in _audit(web, "case.close") if e.case_ref == "C-77"]
    assert [(e.actor, e.detail["via"]) for e in closes] == [("inv.close", "web")]
    sign_in(web.client, "hr", sub="hr.close")
    assert web.client.get("/app/cases/C-77/close").status_code == 403


def test_signed_out_pages_send_to_the_login_or_refuse(web: Api, db_url: str) -> None:
    r = web.client.get("/app/hr", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/app/login"
    app = create_app(
        Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ), clock=TestClock(API_NOW)
    )
    with TestClient(app, raise_server_exceptions=False) as plain:
        assert plain.get("/app/login").status_code == 404
        r = plain.get("/app/hr", follow_redirects=False)
        assert r.status_code == 401
        assert "Please sign in" in r.text
        assert plain.get("/app/nothing-here").status_code == 404


def test_dev_login_is_refused_with_the_identity_providers_key(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", jwt_public_key="-----BEGIN x")
    with pytest.raises(TokenConfigError, match="ROLLCALL_JWT_PUBLIC_KEY"):
        create_app(settings, dev_login=True)
    with pytest.raises(TokenConfigError, match="ROLLCALL_JWT_SECRET"):
        create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db"), dev_login=True)


def test_signed_export_downloads_from_the_timeline(web: Api) -> None:
    sign_in(web.client, "investigator", sub="inv.e")
    r = web.client.get(
        "/app/officers/O1/timeline/export?case_ref=C-2&from=2026-10-05&to=2026-10-05"
    )
    assert r.status_code == 200
    assert r.headers["content-disposition"] == (
        'attachment; filename="timeline-O1-2026-10-05.json"'
    )
    body = r.json()
    assert body["signature"]["alg"] == "Ed25519"
    assert body["document"]["case_ref"] == "C-2"
    (entry,) = _audit(web, "export.timeline")
    assert entry.actor == "inv.e"


def test_basemap_tiles_come_from_the_forces_own_server(db_url: str) -> None:
    settings = Settings(
        database_url=db_url,
        jwt_secret=SECRET,
        timezone=TZ,
        basemap_url="https://tiles.force.example/osm/{z}/{x}/{y}.png",
    )
    app = create_app(settings, dev_login=True, clock=TestClock(API_NOW))
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client=client, factory=app.state.rollcall.factory)
        seed_reference(api)
        seed_results(api)
        for ts in ("2026-10-05T09:00:00+01:00", "2026-10-05T09:05:00+01:00"):
            r = client.post(
                "/v1/pings", json={"pings": [api.ping(ts, INSIDE)]}, headers=api.headers("ingest")
            )
            assert r.json()["accepted"] == 1, r.text
        sign_in(client, "officer", officer_id="O1")
        r = client.get("/app/officers/O1/timeline?from=2026-10-05&to=2026-10-05")
    assert r.status_code == 200
    assert '<image href="https://tiles.force.example/osm/' in r.text
    assert 'class="present"' in r.text
    assert (
        "img-src 'self' data: https://tiles.force.example;" in r.headers["content-security-policy"]
    )
    assert str(INSIDE[0]) not in r.text
    assert str(INSIDE[1]) not in r.text


def test_a_bad_basemap_setting_names_the_variable() -> None:
    with pytest.raises(ValueError, match="basemap_url"):
        Settings(basemap_url="ftp://tiles/{z}/{x}/{y}")


def test_printable_case_file_downloads_as_pdf(web: Api) -> None:
    sign_in(web.client, "investigator", sub="inv.p")
    page = web.client.get("/app/officers/O1/timeline?case_ref=C-3&from=2026-10-05&to=2026-10-05")
    assert "Printable case file (PDF)" in page.text
    r = web.client.get(
        "/app/officers/O1/timeline/casefile.pdf?case_ref=C-3&from=2026-10-05&to=2026-10-05"
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content[:5] == b"%PDF-"
    assert r.headers["content-disposition"] == ('attachment; filename="casefile-O1-2026-10-05.pdf"')
    (entry,) = _audit(web, "export.timeline")
    assert (entry.actor, entry.case_ref) == ("inv.p", "C-3")
