"""Roster integrity rules on hand-made rosters and claims, with exact verdicts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from rules.integrity import (
    ACCOUNTS,
    CLAIMS,
    CLUSTER,
    OTHERS,
    OVERLAPPING,
    SELF_APPROVED,
    SELF_EDIT,
    SUPPORT,
    VERSIONS,
    PeriodInputs,
    evaluate_period,
    late_additions,
)
from tests.rules.rules_builders import TEST_POLICY, TZ, at

POLICY = TEST_POLICY
START, END = date(2026, 3, 1), date(2026, 3, 31)
D = date(2026, 3, 10)


def version(
    shift_id: str,
    officer: str,
    start: datetime,
    end: datetime,
    edited_at: datetime,
    edited_by: str | None,
    *,
    v: int = 1,
    kind: str = "duty",
    prev: tuple[datetime, datetime, str] | None = None,
) -> dict[str, Any]:
    return {
        "shift_id": shift_id,
        "version": v,
        "officer_id": officer,
        "start_at": start,
        "end_at": end,
        "kind": kind,
        "station_id": "ST1",
        "declared_location": "office",
        "edited_at": edited_at,
        "edited_by": edited_by,
        "prev_start_at": prev[0] if prev else None,
        "prev_end_at": prev[1] if prev else None,
        "prev_kind": prev[2] if prev else None,
    }


def claim(
    claim_id: str, officer: str, start: datetime, end: datetime, approved_by: str | None = None
) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "officer_id": officer,
        "start_at": start,
        "end_at": end,
        "station_id": "ST1",
        "submitted_at": end,
        "approved_by": approved_by,
        "approved_at": end + timedelta(days=1) if approved_by else None,
    }


def inputs(
    versions: list[dict[str, Any]] = (),  # type: ignore[assignment]
    claims: list[dict[str, Any]] = (),  # type: ignore[assignment]
    others: list[dict[str, Any]] = (),  # type: ignore[assignment]
    support: list[dict[str, Any]] = (),  # type: ignore[assignment]
    accounts: dict[str, str] | None = None,
) -> PeriodInputs:
    accounts = accounts or {f"o{i}": f"acc-o{i}" for i in range(1, 8)}
    return PeriodInputs(
        start=START,
        end=END,
        tz=TZ,
        versions=pl.DataFrame(list(versions), schema=VERSIONS),
        claims=pl.DataFrame(list(claims), schema=CLAIMS),
        others=pl.DataFrame(list(others), schema=OTHERS),
        accounts=pl.DataFrame(
            {"officer_id": list(accounts), "account_id": list(accounts.values())}, schema=ACCOUNTS
        ),
        support=pl.DataFrame(list(support), schema=SUPPORT),
    )


def shift_row(item: str, officer: str, start: datetime, end: datetime, kind: str) -> dict[str, Any]:
    return {
        "officer_id": officer,
        "item_id": item,
        "item_type": "shift",
        "kind": kind,
        "start_at": start,
        "end_at": end,
    }


def claim_row(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "officer_id": c["officer_id"],
        "item_id": c["claim_id"],
        "item_type": "claim",
        "kind": "claim",
        "start_at": c["start_at"],
        "end_at": c["end_at"],
    }


def codes(findings: list[Any]) -> list[tuple[str, str, date]]:
    return [(f.code, f.officer_id, f.date) for f in findings]


# --- OVERTIME_SELF_APPROVED --------------------------------------------------------------------


def test_a_claim_approved_by_the_claimants_own_account_and_no_other() -> None:
    own = claim("c1", "o1", at(D, 16), at(D, 19), approved_by="acc-o1")
    other = claim("c2", "o2", at(D, 16), at(D, 19), approved_by="acc-o1")  # o1 approves o2
    unknown = claim("c3", "o3", at(D, 16), at(D, 19))
    found = evaluate_period(inputs(claims=[own, other, unknown]), POLICY)
    assert codes(found) == [(SELF_APPROVED, "o1", D)]
    assert found[0].evidence["paid_hours"] == 3.0
    assert found[0].evidence["approved_by"] == "acc-o1"


def test_an_officer_without_a_known_account_is_never_self_approving() -> None:
    c = claim("c1", "o9", at(D, 16), at(D, 19), approved_by="acc-o9")
    assert evaluate_period(inputs(claims=[c]), POLICY) == []


# --- OVERLAPPING_CLAIM ---------------------------------------------------------------------------


def test_a_claim_during_leave_counts_the_overlapping_minutes() -> None:
    c = claim("c1", "o1", at(D, 10), at(D, 14))
    leave = shift_row("L1", "o1", at(D, 0), at(D + timedelta(days=1), 0), "leave")
    found = evaluate_period(inputs(claims=[c], others=[leave, claim_row(c)]), POLICY)
    assert codes(found) == [(OVERLAPPING, "o1", D)]
    assert found[0].evidence["overlap_minutes"] == 240.0
    assert found[0].evidence["paid_hours"] == 4.0
    assert [o["id"] for o in found[0].evidence["overlaps"]] == ["L1"]


def test_two_claims_over_the_same_hours_each_overlap_once_and_the_union_is_counted() -> None:
    a = claim("c1", "o1", at(D, 16), at(D, 19))
    b = claim("c2", "o1", at(D, 17), at(D, 20))
    duty = shift_row("S1", "o1", at(D, 8), at(D, 17, 30), "duty")
    found = evaluate_period(
        inputs(claims=[a, b], others=[claim_row(a), claim_row(b), duty]), POLICY
    )
    assert codes(found) == [(OVERLAPPING, "o1", D), (OVERLAPPING, "o1", D)]
    by_claim = {f.evidence["claim_id"]: f.evidence["overlap_minutes"] for f in found}
    # c1: 17:00-19:00 with c2 and 16:00-17:30 with the duty shift: union 16:00-19:00
    assert by_claim == {"c1": 180.0, "c2": 120.0}


def test_rostered_overtime_touching_ends_and_small_overlaps_are_not_double_pay() -> None:
    c = claim("c1", "o1", at(D, 16), at(D, 19))
    rostered = shift_row("OT1", "o1", at(D, 16), at(D, 19), "overtime")
    duty = shift_row("S1", "o1", at(D, 8), at(D, 16, 10), "duty")  # 10 minutes: hand-over
    rest = shift_row("R1", "o1", at(D, 19), at(D + timedelta(days=1), 0), "rest")
    other = shift_row("L9", "o2", at(D, 0), at(D + timedelta(days=1), 0), "leave")
    found = evaluate_period(
        inputs(claims=[c], others=[claim_row(c), rostered, duty, rest, other]), POLICY
    )
    assert found == []


# --- late additions --------------------------------------------------------------------------


def test_only_paid_time_added_after_the_fact_counts() -> None:
    rows = [
        # extended from 16:00 to 19:00 the next morning: 180 minutes added late
        version(
            "S1",
            "o1",
            at(D, 8),
            at(D, 19),
            at(D + timedelta(days=1), 9),
            "acc-o1",
            v=2,
            prev=(at(D, 8), at(D, 16), "duty"),
        ),
        # extended at 17:00 while the shift ran to 19:00: only 16:00-17:00 had happened
        version(
            "S2",
            "o1",
            at(D, 8),
            at(D, 19),
            at(D, 17),
            "acc-o1",
            v=2,
            prev=(at(D, 8), at(D, 16), "duty"),
        ),
        # shortened: adds nothing
        version(
            "S3",
            "o1",
            at(D, 8),
            at(D, 15),
            at(D + timedelta(days=1), 9),
            "acc-o1",
            v=2,
            prev=(at(D, 8), at(D, 16), "duty"),
        ),
        # rest turned into duty afterwards: all of it
        version(
            "S4",
            "o1",
            at(D, 8),
            at(D, 16),
            at(D + timedelta(days=2), 9),
            "acc-o1",
            v=2,
            prev=(at(D, 0), at(D + timedelta(days=1), 0), "rest"),
        ),
        # entered in advance
        version("S5", "o1", at(D, 8), at(D, 16), at(D - timedelta(days=9), 9), "adm"),
        # made leave afterwards: not paid time in these rules
        version(
            "S6",
            "o1",
            at(D, 8),
            at(D, 16),
            at(D + timedelta(days=1), 9),
            "acc-o1",
            v=2,
            kind="leave",
            prev=(at(D, 8), at(D, 12), "duty"),
        ),
    ]
    added = late_additions(pl.DataFrame(rows, schema=VERSIONS)).sort("shift_id")
    assert added.select("shift_id", "added_minutes").rows() == [
        ("S1", 180.0),
        ("S2", 60.0),
        ("S4", 480.0),
    ]
    assert added.filter(pl.col("shift_id") == "S1")["added_start"][0] == at(D, 16)


# --- ROSTER_SELF_EDIT --------------------------------------------------------------------------


def self_edit(i: int, officer: str = "o1", by: str = "acc-o1") -> dict[str, Any]:
    day = D + timedelta(days=i)
    return version(
        f"S{officer}{i}",
        officer,
        at(day, 8),
        at(day, 18),
        at(day + timedelta(days=1), 9),
        by,
        v=2,
        prev=(at(day, 8), at(day, 16), "duty"),
    )


def test_self_edits_above_the_limit_raise_one_period_finding_with_supported_ones_listed() -> None:
    edits = [self_edit(i) for i in range(4)]
    support = [
        {"officer_id": "o1", "date": D, "late_added_minutes": 120.0, "late_presence_minutes": 110.0}
    ]
    found = evaluate_period(inputs(versions=edits, support=support), POLICY)
    assert codes(found) == [(SELF_EDIT, "o1", END)]
    ev = found[0].evidence
    assert [e["shift_id"] for e in ev["supported_edits"]] == ["So10"]
    assert len(ev["counted_edits"]) == 3
    assert ev["paid_hours"] == 6.0
    assert found[0].misconduct


def test_self_edits_at_the_limit_or_by_someone_else_raise_nothing() -> None:
    at_limit = [self_edit(i) for i in range(POLICY.self_edit_max_per_period)]
    by_admin = [self_edit(i, officer="o2", by="admin-unit-a") for i in range(10)]
    assert evaluate_period(inputs(versions=at_limit + by_admin), POLICY) == []


# --- ROSTER_EDIT_CLUSTER ---------------------------------------------------------------------


def test_a_cycle_of_three_accounts_gives_each_member_the_finding() -> None:
    ring = [("o1", "acc-o2"), ("o2", "acc-o3"), ("o3", "acc-o1")]
    edits = [self_edit(i, officer=o, by=by) for i in range(2) for o, by in ring]
    # an administrator editing all of them, and o4 editing o1 one way only: not part of it
    edits += [self_edit(i, officer=o, by="admin-unit-a") for i in range(3, 6) for o in ("o1", "o2")]
    edits += [self_edit(9, officer="o1", by="acc-o4")]
    found = evaluate_period(inputs(versions=edits), POLICY)
    assert codes(found) == [(CLUSTER, "o1", END), (CLUSTER, "o2", END), (CLUSTER, "o3", END)]
    ev = found[0].evidence
    assert ev["members"] == ["o1", "o2", "o3"]
    assert len(ev["edits"]) == 6
    assert ev["cluster_paid_hours"] == 12.0
    assert ev["paid_hours"] == 4.0


def test_one_way_edits_and_a_reciprocal_pair_below_the_threshold_raise_nothing() -> None:
    one_way = [self_edit(i, officer="o2", by="acc-o1") for i in range(8)]
    pair = [self_edit(i, officer="o3", by="acc-o4") for i in range(2)] + [
        self_edit(i, officer="o4", by="acc-o3") for i in range(3)
    ]
    assert POLICY.edit_cluster_min_edits > 5
    assert evaluate_period(inputs(versions=one_way + pair), POLICY) == []


def test_findings_are_stable_across_input_order() -> None:
    ring = [("o1", "acc-o2"), ("o2", "acc-o1")]
    edits = [self_edit(i, officer=o, by=by) for i in range(4) for o, by in ring]
    c = claim("c1", "o1", at(D, 16), at(D, 19), approved_by="acc-o1")
    a = evaluate_period(inputs(versions=edits, claims=[c]), POLICY)
    b = evaluate_period(inputs(versions=edits[::-1], claims=[c]), POLICY)
    assert [f.fingerprint for f in a] == [f.fingerprint for f in b]
    assert [f.evidence for f in a] == [f.evidence for f in b]


@pytest.mark.parametrize("code", [SELF_APPROVED, OVERLAPPING, SELF_EDIT, CLUSTER])
def test_every_code_is_a_misconduct_lead_with_paid_hours(code: str) -> None:
    ring = [("o1", "acc-o2"), ("o2", "acc-o1")]
    edits = [self_edit(i, officer=o, by=by) for i in range(4) for o, by in ring]
    edits += [self_edit(i) for i in range(5, 9)]
    c = claim("c1", "o1", at(D, 16), at(D, 19), approved_by="acc-o1")
    leave = shift_row("L1", "o1", at(D, 0), at(D + timedelta(days=1), 0), "leave")
    found = [
        f
        for f in evaluate_period(
            inputs(versions=edits, claims=[c], others=[claim_row(c), leave]), POLICY
        )
        if f.code == code
    ]
    assert found
    assert all(f.misconduct and f.evidence["paid_hours"] > 0 for f in found)
