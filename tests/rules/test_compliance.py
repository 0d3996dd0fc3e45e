"""Period compliance: counts, the share with insufficient days left out, and BELOW_OFFICE_SHARE."""

from __future__ import annotations

import json
from datetime import date, timedelta

import polars as pl

from rules.compliance import compliance
from rules.schemas import COMPLIANCE, DAILY
from tests.rules.rules_builders import TEST_POLICY, officers

POLICY = TEST_POLICY
START = date(2026, 3, 2)
END = date(2026, 3, 11)


def day(
    officer: str, i: int, declared: str | None, verified: bool, evidence: str
) -> dict[str, object]:
    """One daily row."""
    expected = declared in ("office", "remote")
    return {
        "officer_id": officer,
        "date": START + timedelta(days=i),
        "expected_office": expected,
        "declared_location": declared,
        "verified_presence_minutes": 300.0 if verified else 0.0,
        "verified_office_day": verified and expected,
        "evidence": evidence,
        "policy_version": POLICY.version,
        "on_duty_minutes": 540.0,
        "away_minutes": 0.0,
        "unknown_minutes": 0.0,
        "mock_minutes": 0.0,
        "n_fixes": 10,
        "n_swipes": 0,
    }


def daily(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A DAILY frame."""
    return pl.DataFrame(rows, schema=DAILY)


def test_counts_share_and_meets_policy() -> None:
    rows = [day("a", i, "office", i < 8, "adequate") for i in range(10)]  # 8 of 10
    rows += [day("b", i, "office", i < 9, "adequate") for i in range(10)]  # 9 of 10
    table, findings = compliance(daily(rows), officers("a", "b"), POLICY, END)
    assert table.schema == pl.Schema(COMPLIANCE)
    assert table.rows() == [
        ("a", "CID", 10, 10, 8, 0.8, True, 0, 0.8, 0.8),
        ("b", "CID", 10, 10, 9, 0.9, True, 0, 0.9, 0.9),
    ]
    assert findings == []


def test_insufficient_days_widen_the_bounds_and_never_count_as_absence() -> None:
    rows = [day("a", i, "office", True, "adequate") for i in range(6)]
    rows += [day("a", i, "office", False, "insufficient_evidence") for i in range(6, 10)]
    table, findings = compliance(daily(rows), officers("a"), POLICY, END)
    assert table.rows() == [("a", "CID", 10, 10, 6, 1.0, True, 4, 0.6, 1.0)]
    assert findings == []


def test_unknown_office_days_are_estimated_from_office_days_not_remote_days() -> None:
    # 6 office days: 3 verified, 3 unknown; 4 remote days (known not office). The unknown days
    # are estimated at the verified rate of assessed office days (3 of 3), so the estimate is
    # (3 + 3) / 10, not 3 / 7 as leaving them out would give (pushing honest officers down).
    rows = [day("a", i, "office", True, "adequate") for i in range(3)]
    rows += [day("a", i, "office", False, "insufficient_evidence") for i in range(3, 6)]
    rows += [day("a", i, "remote", False, "insufficient_evidence") for i in range(6, 10)]
    table, _ = compliance(daily(rows), officers("a"), POLICY, END)
    row = table.row(0, named=True)
    assert row["insufficient_evidence_days"] == 3  # remote days are never unknown
    assert row["verified_office_share"] == 0.6
    assert (row["office_share_lower"], row["office_share_upper"]) == (0.3, 0.6)
    assert row["meets_policy"] is False  # even the upper bound is below 80%


def test_a_handful_of_assessed_days_gives_no_share_and_breaks_no_rule() -> None:
    # "3 of 3 assessed" out of 17 expected, and "0 of 1 assessed" out of 17
    rows = [day("a", i, "office", True, "adequate") for i in range(3)]
    rows += [day("a", i, "office", False, "insufficient_evidence") for i in range(3, 17)]
    rows += [day("b", 0, "office", False, "adequate")]
    rows += [day("b", i, "office", False, "insufficient_evidence") for i in range(1, 17)]
    table, findings = compliance(daily(rows), officers("a", "b"), POLICY, END)
    assert table.select("officer_id", "verified_office_share", "meets_policy").rows() == [
        ("a", None, True),
        ("b", None, True),
    ]
    assert table["office_share_upper"].to_list() == [1.0, 16 / 17]
    assert findings == []


def test_remote_days_count_as_expected_not_declared_and_field_days_not_at_all() -> None:
    rows = [day("a", i, "office", True, "adequate") for i in range(5)]
    rows += [day("a", i, "remote", False, "adequate") for i in range(5, 8)]
    rows += [day("a", i, "field", False, "adequate") for i in range(8, 10)]
    table, findings = compliance(daily(rows), officers("a"), POLICY, END)
    assert table.rows() == [("a", "CID", 8, 5, 5, 0.625, False, 0, 0.625, 0.625)]
    assert len(findings) == 1
    f = findings[0]
    assert (f.code, f.officer_id, f.date, f.misconduct) == ("BELOW_OFFICE_SHARE", "a", END, False)
    assert f.rule_version == "BELOW_OFFICE_SHARE/2"
    assert f.evidence["verified_office_share"] == 0.625
    assert f.evidence["office_share_upper"] == 0.625
    assert f.evidence["thresholds"]["min_office_share"] == 0.8
    assert f.summary == (
        "Officer a was verified in the office on 5 of 8 expected office days between 2026-03-02 "
        "and 2026-03-11; even counting the 0 day(s) without adequate evidence as office days the "
        "share would be 62%, below the 80% hybrid-working rule."
    )
    json.dumps(f.evidence)


def test_no_expected_days_or_no_assessable_day_gives_null_share_meeting_policy() -> None:
    rows = [day("b", i, "office", False, "insufficient_evidence") for i in range(3)]
    table, findings = compliance(daily(rows), officers("a", "b"), POLICY, END)
    assert table.rows() == [
        ("a", "CID", 0, 0, 0, None, True, 0, None, None),
        ("b", "CID", 3, 3, 0, None, True, 3, 0.0, 1.0),
    ]
    assert findings == []


def test_officers_not_office_based_get_no_row() -> None:
    rows = [day("a", i, "office", False, "adequate") for i in range(3)]
    table, findings = compliance(daily(rows), officers("a", office_based=False), POLICY, END)
    assert (table.height, findings) == (0, [])


def test_rows_without_findings_are_the_same_rows() -> None:
    rows = [day("a", i, "office", i < 5, "adequate") for i in range(10)]  # 5 of 10: below
    rows += [day("b", i, "office", True, "adequate") for i in range(10)]
    full, findings = compliance(daily(rows), officers("a", "b"), POLICY, END)
    lean, none = compliance(daily(rows), officers("a", "b"), POLICY, END, with_findings=False)
    assert [f.officer_id for f in findings] == ["a"]
    assert none == []
    assert lean.equals(full)
