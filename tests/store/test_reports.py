"""Report reads: compliance rows, officer report, day rows and paginated flags, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy.orm import Session

from rules.findings import Finding
from rules.policy import load_policy
from store.models import Officer
from store.reports import CursorError, compliance_rows, day_rows, list_flags, officer_report
from store.results import write_day, write_period_flags

NOW = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
D1, D2, D3 = date(2026, 10, 26), date(2026, 10, 27), date(2026, 10, 28)


def _daily(day: date, rows: list[tuple[str, bool, str | None, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "officer_id": [r[0] for r in rows],
            "date": [day] * len(rows),
            "expected_office": [r[1] for r in rows],
            "declared_location": [r[2] for r in rows],
            "verified_presence_minutes": [r[3] for r in rows],
            "verified_office_day": [r[3] >= 240 for r in rows],
            "evidence": [r[4] for r in rows],
            "policy_version": ["p"] * len(rows),
        }
    )


def _finding(officer: str, code: str, day: date, fp: str) -> Finding:
    return Finding(
        code, officer, day, "r1", f"{code} {officer}", {"k": 1}, fp, code != "BELOW_OFFICE_SHARE"
    )


@pytest.fixture
def seeded(session: Session) -> Session:
    for oid, unit, office in (
        ("o1", "A", True),
        ("o2", "A", True),
        ("o3", "B", True),
        ("o4", "A", False),
    ):
        session.add(
            Officer(
                officer_id=oid,
                display_name=oid.upper(),
                unit=unit,
                office_based=office,
                updated_at=NOW,
            )
        )
    session.flush()
    write_day(
        session,
        D1,
        _daily(
            D1,
            [
                ("o1", True, "office", 300.0, "adequate"),
                ("o2", True, "remote", 0.0, "insufficient_evidence"),
                ("o4", False, "field", 0.0, "adequate"),
            ],
        ),
        [_finding("o1", "MOCK_LOCATION", D1, "f1")],
        policy_version="p",
        run_id=None,
        now=NOW,
    )
    write_day(
        session,
        D2,
        _daily(
            D2,
            [
                ("o1", True, "office", 100.0, "adequate"),
                ("o2", True, "office", 250.0, "adequate"),
            ],
        ),
        [_finding("o2", "DECLARED_OFFICE_UNVERIFIED", D2, "f2")],
        policy_version="p",
        run_id=None,
        now=NOW,
    )
    write_day(
        session,
        D3,
        _daily(D3, [("o1", True, "office", 260.0, "adequate")]),
        [_finding("o1", "IMPOSSIBLE_TRAVEL", D3, "f3")],
        policy_version="p",
        run_id=None,
        now=NOW,
    )
    write_period_flags(
        session, D3, [_finding("o2", "BELOW_OFFICE_SHARE", D3, "c2")], policy_version="p", now=NOW
    )
    return session


def test_compliance_rows(seeded: Session) -> None:
    rows = compliance_rows(seeded, D1, D3, unit="A", policy=load_policy())
    assert [r["officer_id"] for r in rows] == ["o1", "o2"]
    o1, o2 = rows
    assert (o1["expected_office_days"], o1["declared_office_days"], o1["verified_office_days"]) == (
        3,
        3,
        2,
    )
    assert o1["verified_office_share"] == pytest.approx(0.6667)
    assert o1["meets_policy"] is False
    assert (o2["expected_office_days"], o2["declared_office_days"], o2["verified_office_days"]) == (
        2,
        1,
        1,
    )
    assert o2["insufficient_evidence_days"] == 0  # its remote day is known not to be office
    everyone = compliance_rows(seeded, D1, D1, unit=None, policy=load_policy())
    assert [r["officer_id"] for r in everyone] == ["o1", "o2", "o3"]
    assert everyone[2]["verified_office_share"] is None
    assert everyone[2]["meets_policy"] is True


def test_officer_report_hr_sees_only_compliance_flags(seeded: Session) -> None:
    full = officer_report(seeded, "o2", D1, D3, include_misconduct=True, tz="Europe/London")
    assert full is not None
    assert [d["date"] for d in full["days"]] == ["2026-10-26", "2026-10-27"]
    assert full["days"][0] == {
        "date": "2026-10-26",
        "expected_office": True,
        "declared_location": "remote",
        "verified_presence_minutes": 0.0,
        "verified_office_day": False,
        "evidence": "insufficient_evidence",
        "adjustments": [],
    }
    assert {f["code"] for f in full["flags"]} == {
        "DECLARED_OFFICE_UNVERIFIED",
        "BELOW_OFFICE_SHARE",
    }
    hr = officer_report(seeded, "o2", D1, D3, include_misconduct=False, tz="Europe/London")
    assert hr is not None
    assert [f["code"] for f in hr["flags"]] == ["BELOW_OFFICE_SHARE"]
    assert hr["flags"][0]["raised_at"] == "2026-11-01T03:00:00+00:00"
    assert (
        officer_report(seeded, "nobody", D1, D3, include_misconduct=True, tz="Europe/London")
        is None
    )


def test_day_rows(seeded: Session) -> None:
    frame = day_rows(seeded, D1, D2, unit="A")
    assert frame.columns == [
        "officer_id",
        "date",
        "expected_office",
        "declared_location",
        "verified_presence_minutes",
        "verified_office_day",
        "evidence",
    ]
    assert frame.select("officer_id", "date").rows() == [
        ("o1", D1),
        ("o1", D2),
        ("o2", D1),
        ("o2", D2),
        ("o4", D1),
    ]
    assert day_rows(seeded, D1, D1, unit="B").is_empty()


def test_list_flags_pagination_and_filters(seeded: Session) -> None:
    seen: list[str] = []
    page, cursor = list_flags(seeded, limit=1)
    seen += [f["flag_id"] for f in page]
    while cursor is not None:
        page, cursor = list_flags(seeded, limit=1, after=cursor)
        seen += [f["flag_id"] for f in page]
    everything, last = list_flags(seeded)
    assert last is None
    assert seen == [f["flag_id"] for f in everything]
    assert len(seen) == 4
    assert [f["date"] for f in everything] == sorted((f["date"] for f in everything), reverse=True)
    only, _ = list_flags(seeded, code="MOCK_LOCATION")
    assert [(f["officer_id"], f["status"], f["withdrawn"]) for f in only] == [("o1", "open", False)]
    assert {f["code"] for f in list_flags(seeded, misconduct=False)[0]} == {"BELOW_OFFICE_SHARE"}
    assert len(list_flags(seeded, officer_id="o1", status="open")[0]) == 2
    with pytest.raises(CursorError):
        list_flags(seeded, after="garbage!")


def test_withdrawn_status_filter(seeded: Session) -> None:
    write_day(seeded, D3, _daily(D3, []), [], policy_version="p", run_id=None, now=NOW)
    withdrawn, _ = list_flags(seeded, status="withdrawn")
    assert [f["code"] for f in withdrawn] == ["IMPOSSIBLE_TRAVEL"]
    assert withdrawn[0]["withdrawn"] is True
    assert all(f["code"] != "IMPOSSIBLE_TRAVEL" for f in list_flags(seeded, status="open")[0])


def test_period_counts_in_the_database_match_the_rules(session: Session) -> None:
    """Every combination of expected, declaration (null too), verification and evidence, spread
    over officers and days: the database's counts are rules.compliance.period_counts'."""
    from itertools import product

    from rules.compliance import COMPLIANCE_INPUT, period_counts
    from store.dayload import load_daily
    from store.reports import period_counts_of

    combos = list(
        product(
            (True, False),
            ("office", "remote", None),
            (0.0, 300.0),
            ("adequate", "insufficient_evidence"),
        )
    )
    for d in range(10):
        day = date(2026, 10, 1 + d)
        rows = [
            (f"o{k}", *combos[(k * 7 + d * 5) % len(combos)])  # type: ignore[misc]
            for k in range(12)
            if (k + d) % 5
        ]
        write_day(session, day, _daily(day, rows), [], policy_version="p", run_id=None, now=NOW)
    for first, last in (
        (date(2026, 10, 1), date(2026, 10, 10)),
        (D1, D1),
        (date(2026, 10, 3), date(2026, 10, 6)),
    ):
        daily = load_daily(session, first, last, expected_only=True, columns=COMPLIANCE_INPUT)
        want = period_counts(daily).sort("officer_id")
        got = period_counts_of(session, first, last).sort("officer_id")
        assert got.columns == want.columns
        assert got.rows() == want.rows()
        assert got.height == (want.height if first != D1 else 0)


def test_period_counts_leave_work_mem_as_it_was(session: Session) -> None:
    """The counts' read raises PostgreSQL's work_mem for itself only (store.reports
    COUNTS_WORK_MEM); the transaction's setting is the same after it, on both backends."""
    from sqlalchemy import text

    from store.db import is_postgres
    from store.reports import period_counts_of

    def work_mem() -> str | None:
        if not is_postgres(session):
            return None
        return str(session.execute(text("SELECT current_setting('work_mem')")).scalar_one())

    before = work_mem()
    write_day(
        session,
        D1,
        _daily(D1, [("o1", True, "office", 300.0, "adequate")]),
        [],
        policy_version="p",
        run_id=None,
        now=NOW,
    )
    counts = period_counts_of(session, D1, D1)
    assert counts.select("officer_id", "expected_office_days").rows() == [("o1", 1)]
    assert work_mem() == before
