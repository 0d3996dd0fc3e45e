"""Properties (hypothesis): off-duty data changes nothing, order changes nothing, recomputing is
identical, and a day with no data never raises a misconduct flag."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.engine import DayOutcome, evaluate_day
from tests.rules.rules_builders import (
    ST2,
    TEST_POLICY,
    at,
    claims,
    day_inputs,
    fix,
    fixes,
    shift,
    shifts,
    swipe,
    swipes,
)

POLICY = TEST_POLICY
DAY = date(2026, 3, 2)
SHIFTS = shifts(
    shift("s0", "o1", at(DAY - timedelta(days=1), 0), at(DAY, 0), kind="rest", declared=None),
    shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
    shift(
        "s2",
        "o1",
        at(DAY + timedelta(days=1), 0),
        at(DAY + timedelta(days=2), 0),
        kind="rest",
        declared=None,
    ),
)
ON_START, ON_END = at(DAY, 7, 30), at(DAY, 16, 30)  # the on-duty window (grace included)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def on_duty_time() -> st.SearchStrategy[datetime]:
    """An instant inside the on-duty window, whole seconds."""
    span = int((ON_END - ON_START).total_seconds())
    return st.integers(0, span).map(lambda s: ON_START + timedelta(seconds=s))


def off_duty_time() -> st.SearchStrategy[datetime]:
    """An instant outside every on-duty window (the rest days before and after included)."""
    before = st.integers(1, 30 * 3600).map(lambda s: ON_START - timedelta(seconds=s))
    after = st.integers(1, 30 * 3600).map(lambda s: ON_END + timedelta(seconds=s))
    return st.one_of(before, after)


def a_fix(times: st.SearchStrategy[datetime]) -> st.SearchStrategy[dict[str, Any]]:
    """A classified fix of o1: inside ST1, near it, far away, at ST2, or mock."""
    return st.builds(
        lambda t, where, metres, acc, src, mock: fix(
            "o1",
            t,
            where=where,
            metres=metres,
            accuracy_m=acc,
            source=src,
            is_mock=mock,
            station=ST2 if where == "in" and metres > 2900 else ("ST1", 51.5, -0.1),
        ),
        times,
        st.sampled_from(["in", "near", "far"]),
        st.sampled_from([0.0, 20.0, 60.0, 90.0, 3000.0, 25_000.0]),
        st.sampled_from([None, 4.0, 12.0, 45.0, 400.0]),
        st.sampled_from(["gps", "wifi", "cell", "fused", None]),
        st.booleans(),
    )


def a_swipe(times: st.SearchStrategy[datetime]) -> st.SearchStrategy[dict[str, Any]]:
    """A swipe of o1 at ST1 or ST2."""
    return st.builds(
        lambda t, d, s, g: swipe("o1", t, direction=d, station_id=s, granted=g),
        times,
        st.sampled_from(["in", "out", "unknown"]),
        st.sampled_from(["ST1", "ST2"]),
        st.booleans(),
    )


CLAIM = claims(
    [
        {
            "claim_id": "c1",
            "officer_id": "o1",
            "start_at": at(DAY, 15),
            "end_at": at(DAY, 17),
            "station_id": "ST1",
            "submitted_at": at(DAY, 18),
        }
    ]
)


def run(fix_rows: list[dict[str, Any]], swipe_rows: list[dict[str, Any]]) -> DayOutcome:
    """evaluate_day on the fixed roster and claim with these events."""
    return evaluate_day(
        day_inputs(DAY, SHIFTS, fixes(fix_rows), swipes(swipe_rows), claim_rows=CLAIM), POLICY
    )


def same(a: DayOutcome, b: DayOutcome) -> None:
    """Outcomes are identical: every frame value and every finding."""
    assert a.daily.equals(b.daily)
    assert a.presence.equals(b.presence)
    assert a.findings == b.findings


@SETTINGS
@given(
    on_fixes=st.lists(a_fix(on_duty_time()), max_size=25),
    on_swipes=st.lists(a_swipe(on_duty_time()), max_size=4),
    off_fixes=st.lists(a_fix(off_duty_time()), min_size=1, max_size=15),
    off_swipes=st.lists(a_swipe(off_duty_time()), max_size=4),
)
def test_off_duty_events_change_nothing(
    on_fixes: list[dict[str, Any]],
    on_swipes: list[dict[str, Any]],
    off_fixes: list[dict[str, Any]],
    off_swipes: list[dict[str, Any]],
) -> None:
    base = run(on_fixes, on_swipes)
    same(base, run(on_fixes + off_fixes, on_swipes + off_swipes))
    moved = [{**r, "ts": r["ts"] - timedelta(hours=1)} for r in off_fixes if r["ts"] < ON_START]
    same(base, run(on_fixes + moved, on_swipes))


@SETTINGS
@given(
    on_fixes=st.lists(a_fix(on_duty_time()), max_size=30),
    on_swipes=st.lists(a_swipe(on_duty_time()), max_size=4),
    seed=st.randoms(use_true_random=False),
)
def test_input_order_changes_nothing_and_recomputing_is_identical(
    on_fixes: list[dict[str, Any]], on_swipes: list[dict[str, Any]], seed: Any
) -> None:
    base = run(on_fixes, on_swipes)
    shuffled_fixes, shuffled_swipes = list(on_fixes), list(on_swipes)
    seed.shuffle(shuffled_fixes)
    seed.shuffle(shuffled_swipes)
    same(base, run(shuffled_fixes, shuffled_swipes))
    same(base, run(on_fixes, on_swipes))


@SETTINGS
@given(
    declared=st.sampled_from(["office", "remote", "field", None]),
    kind=st.sampled_from(["duty", "overtime", "training", "leave", "sick", "rest"]),
    start_h=st.integers(0, 23),
    hours=st.integers(1, 14),
    late_days=st.sampled_from([None, 1, 3]),
    claim_h=st.integers(0, 22),
)
def test_a_day_with_no_data_never_raises_a_misconduct_flag(
    declared: str | None, kind: str, start_h: int, hours: int, late_days: int | None, claim_h: int
) -> None:
    start = at(DAY, start_h)
    end = start + timedelta(hours=hours)
    created = end + timedelta(days=late_days) if late_days else None
    rows = shifts(shift("x", "o1", start, end, kind=kind, declared=declared, created_at=created))
    claim = claims(
        [
            {
                "claim_id": "c",
                "officer_id": "o1",
                "start_at": at(DAY, claim_h),
                "end_at": at(DAY, claim_h) + timedelta(hours=2),
                "station_id": "ST1",
                "submitted_at": None,
            }
        ]
    )
    out = evaluate_day(day_inputs(DAY, rows, claim_rows=claim), POLICY)
    assert out.findings == []
    assert set(out.daily["evidence"].to_list()) <= {"insufficient_evidence"}
    assert out.daily["verified_office_day"].sum() == 0
