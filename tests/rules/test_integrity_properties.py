"""Properties (hypothesis): off-duty location data never enters the roster-integrity findings."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from rules.engine import evaluate_day
from rules.integrity import (
    ACCOUNTS,
    CLAIMS,
    OTHERS,
    SUPPORT,
    VERSIONS,
    PeriodInputs,
    evaluate_period,
)
from tests.rules.rules_builders import (
    TEST_POLICY,
    TZ,
    at,
    day_inputs,
    every,
    fix,
    fixes,
    history,
    shift,
    shifts,
    swipes,
)
from tests.rules.test_properties import SETTINGS, a_fix, a_swipe, off_duty_time

POLICY = TEST_POLICY.model_copy(update={"self_edit_max_per_period": 0})
DAY = date(2026, 3, 2)
# o1 rostered 08:00-16:00, extended to 18:00 by their own account the next morning; the window
# of the test strategies (07:30-16:30) lies inside the extended one (07:30-18:30).
EDITED = at(DAY + timedelta(days=1), 9)
SHIFTS = shifts(
    shift(
        "s1",
        "o1",
        at(DAY, 8),
        at(DAY, 18),
        created_at=at(DAY, 8) - timedelta(days=20),
        updated_at=EDITED,
    ),
)
HISTORY = history(
    [
        {
            **SHIFTS.row(0, named=True),
            "version": 1,
            "end_at": at(DAY, 16),
            "updated_at": None,
            "recorded_at": at(DAY, 8) - timedelta(days=20),
        },
        {**SHIFTS.row(0, named=True), "version": 2, "recorded_at": EDITED},
    ]
)
VERSION_ROWS = [
    {
        "shift_id": "s1",
        "version": 2,
        "officer_id": "o1",
        "start_at": at(DAY, 8),
        "end_at": at(DAY, 18),
        "kind": "duty",
        "station_id": "ST1",
        "declared_location": "office",
        "edited_at": EDITED,
        "edited_by": "acc-o1",
        "prev_start_at": at(DAY, 8),
        "prev_end_at": at(DAY, 16),
        "prev_kind": "duty",
    }
]
# a second self-edit, days later, that nothing supports: it alone is counted
VERSION_ROWS.append(
    {
        **VERSION_ROWS[0],
        "shift_id": "s2",
        "start_at": at(DAY + timedelta(days=3), 8),
        "end_at": at(DAY + timedelta(days=3), 18),
        "edited_at": at(DAY + timedelta(days=4), 9),
        "prev_start_at": at(DAY + timedelta(days=3), 8),
        "prev_end_at": at(DAY + timedelta(days=3), 16),
    }
)
# on duty at the station through the added hours: the edit is supported
AT_STATION = [fix("o1", t) for t in every(at(DAY, 15), at(DAY, 18), 5)]


def period(daily: pl.DataFrame) -> list[Any]:
    support = daily.select("officer_id", "date", "late_added_minutes", "late_presence_minutes")
    inputs = PeriodInputs(
        start=DAY,
        end=DAY + timedelta(days=27),
        tz=TZ,
        versions=pl.DataFrame(VERSION_ROWS, schema=VERSIONS),
        claims=pl.DataFrame(schema=CLAIMS),
        others=pl.DataFrame(schema=OTHERS),
        accounts=pl.DataFrame({"officer_id": ["o1"], "account_id": ["acc-o1"]}, schema=ACCOUNTS),
        support=support.cast(SUPPORT),  # type: ignore[arg-type]
    )
    return evaluate_period(inputs, POLICY)


def outcome(extra_fixes: list[dict[str, Any]], extra_swipes: list[dict[str, Any]]) -> pl.DataFrame:
    inputs = day_inputs(
        DAY, SHIFTS, fixes(AT_STATION + extra_fixes), swipes(extra_swipes), history_rows=HISTORY
    )
    return evaluate_day(inputs, POLICY).daily


BASE = outcome([], [])


def test_presence_in_the_added_hours_supports_the_self_edit() -> None:
    row = BASE.row(0, named=True)
    assert row["late_added_minutes"] == 120.0
    assert row["late_presence_minutes"] >= 0.9 * 120.0
    [found] = period(BASE)
    assert [e["shift_id"] for e in found.evidence["counted_edits"]] == ["s2"]
    assert [e["shift_id"] for e in found.evidence["supported_edits"]] == ["s1"]


@SETTINGS
@given(
    st.lists(a_fix(off_duty_time()), max_size=12),
    st.lists(a_swipe(off_duty_time()), max_size=4),
)
def test_off_duty_events_change_neither_the_support_nor_the_findings(
    off_fixes: list[dict[str, Any]], off_swipes: list[dict[str, Any]]
) -> None:
    # the strategies' off-duty times are outside 07:30-16:30; keep those outside the extended
    # shift's window too (07:30-18:30), which is what off duty means here
    window_end = at(DAY, 18, 30)
    off_fixes = [f for f in off_fixes if not at(DAY, 16, 30) < f["ts"] <= window_end]
    off_swipes = [s for s in off_swipes if not at(DAY, 16, 30) < s["ts"] <= window_end]
    daily = outcome(off_fixes, off_swipes)
    late = ["officer_id", "late_added_minutes", "late_presence_minutes"]
    assert daily.select(late).equals(BASE.select(late))
    assert period(daily) == period(BASE)
