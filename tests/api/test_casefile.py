"""The printable case file: the signed export with flags and reviews, as PDF and HTML."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pypdf
import pytest

from api import signing
from api.app import create_app
from rollcall.settings import Settings
from tests.api.helpers import SECRET, TZ, Api, TestClient, seed_reference, seed_results
from tests.api.test_reads import _load_day
from tests.clock import API_NOW, TestClock

URL = "/v1/officers/O1/timeline/export"
PARAMS = {"from": "2026-10-05", "to": "2026-10-06", "case_ref": "CASE-7"}


@pytest.fixture
def case(world: Api) -> Api:
    """A day of events for O1, and a review of its MOCK_LOCATION flag."""
    _load_day(world)
    r = world.client.patch(
        "/v1/flags/f-mock-0001",
        json={
            "status": "under_review",
            "note": "Asked the unit for the device log.",
            "case_ref": "CASE-7",
        },
        headers=world.headers("investigator", sub="det.moss"),
    )
    assert r.status_code == 200, r.text
    return world


def _public_key(api: Api) -> signing.Ed25519PublicKey:
    return signing.parse_public_key(
        api.client.get("/v1/export-keys").json()["keys"][0]["public_key"]
    )


def _export(api: Api, accept: str | None = None) -> object:
    headers = api.headers("investigator", sub="det.jones")
    if accept is not None:
        headers["Accept"] = accept
    return api.client.get(URL, params=PARAMS, headers=headers)


def test_json_export_carries_the_periods_flags_with_reviews(case: Api) -> None:
    r = _export(case)
    assert r.status_code == 200, r.text
    signed = r.json()
    document = signed["document"]
    assert document["officer"] == {
        "officer_id": "O1",
        "display_name": "Alex Smith",
        "rank": None,
        "unit": "Unit A",
    }
    assert [d["date"] for d in document["days"]] == ["2026-10-05", "2026-10-06"]
    flags = {f["code"]: f for f in document["flags"]}
    assert set(flags) == {"MOCK_LOCATION", "BELOW_OFFICE_SHARE"}  # O2's flag is not O1's
    [review] = flags["MOCK_LOCATION"]["reviews"]
    assert (review["actor"], review["from_status"], review["to_status"]) == (
        "det.moss",
        "open",
        "under_review",
    )
    assert review["note"] == "Asked the unit for the device log."
    assert flags["BELOW_OFFICE_SHARE"]["reviews"] == []
    assert signing.verify(signed, [_public_key(case)]).outcome is signing.Outcome.VALID


def test_pdf_case_file_reads_back_and_carries_the_signed_export(case: Api) -> None:
    r = _export(case, "application/pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="case-O1-2026-10-05-2026-10-06.pdf"' in r.headers["content-disposition"]
    reader = pypdf.PdfReader(io.BytesIO(r.content))
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = re.sub(r"\s+", " ", text)
    for expected in (
        "Case file",
        "O1 (Alex Smith, Unit A)",
        "CASE-7",
        "det.jones",
        "MOCK_LOCATION",
        "Asked the unit for the device log.",
        "det.moss (investigator) open -> under_review",
        "BELOW_OFFICE_SHARE",
        "rollcall timeline verify",
        "2026-10-05",
        "presence",
        "away",
        "ST1",
    ):
        assert expected in flat, expected
    [attached] = reader.attachments["signed-export.json"]
    signed = json.loads(attached)
    assert signed["signature"]["key_id"] in flat
    assert signing.verify(signed, [_public_key(case)]).outcome is signing.Outcome.VALID
    assert signed["document"]["case_ref"] == "CASE-7"
    # The map is drawn: filled polygons on the first pages, no raw coordinate printed.
    assert not re.search(r"51\.5\d{2}", flat)


def test_html_case_file_is_self_contained_and_verifiable(case: Api) -> None:
    r = _export(case, "text/html")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<svg" in page
    assert 'class="present"' in page
    assert 'class="away"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "det.moss (investigator) open -&gt; under_review" in page
    embedded = re.search(r'<script type="application/json" id="signed-export">(.*?)</script>', page)
    assert embedded
    signed = json.loads(embedded.group(1))
    assert signing.verify(signed, [_public_key(case)]).outcome is signing.Outcome.VALID


def test_html_case_file_obeys_the_web_apps_content_security_policy(case: Api) -> None:
    r = case.client.get(
        "/app/officers/O1/timeline/casefile",
        params=PARAMS,
        headers=case.headers("investigator", sub="det.jones"),
    )
    assert r.status_code == 200, r.text
    policy = r.headers["content-security-policy"]
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    # Nothing the policy would block: no inline style element or attribute, no script to run.
    assert "<style" not in r.text
    assert " style=" not in r.text
    assert '<script type="application/json"' in r.text
    assert r.text.count("<script") == 1
    assert '<link rel="stylesheet" href="/app/static/casefile.css">' in r.text
    sheet = case.client.get("/app/static/casefile.css")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")
    assert "border-collapse" in sheet.text
    assert (
        case.client.get(
            "/app/officers/O1/timeline/casefile", params=PARAMS, headers=case.headers("hr")
        ).status_code
        == 403
    )


def test_no_case_file_without_a_signing_key(db_url: str) -> None:
    app = create_app(
        Settings(database_url=db_url, jwt_secret=SECRET, timezone=TZ), clock=TestClock(API_NOW)
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client=client, factory=app.state.rollcall.factory)
        seed_reference(api)
        seed_results(api)
        for accept in ("application/pdf", "text/html", "application/json"):
            r = _export(api, accept)
            assert r.status_code == 503, accept
            assert "ROLLCALL_EXPORT_KEY_FILE" in r.json()["error"]["message"]


def test_case_file_roles_follow_the_timeline(case: Api, tmp_path: Path) -> None:
    hr = case.client.get(
        URL, params=PARAMS, headers={**case.headers("hr"), "Accept": "application/pdf"}
    )
    assert hr.status_code == 403
    own = case.client.get(
        URL,
        params={"from": "2026-10-05", "to": "2026-10-05"},
        headers={**case.headers("officer", "O1"), "Accept": "application/pdf"},
    )
    assert own.status_code == 200
    assert own.content.startswith(b"%PDF")
    assert _export(case, "image/png").status_code == 406
