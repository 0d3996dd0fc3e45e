"""Off-duty masking (CONTRACT §3): the one predicate rules.masking.covered and what uses it."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from rules.masking import (
    DutyStatus,
    covered,
    duty_status,
    duty_windows,
    mask_off_duty,
    merge_intervals,
    on_duty_windows,
)
from tests.rules.rules_builders import TEST_POLICY, at, fix, fixes, shift, shifts, swipe, swipes

DAY = date(2026, 3, 2)
POLICY = TEST_POLICY


def test_merge_intervals_joins_touching_and_drops_empty() -> None:
    t = at(DAY, 8)
    frame = pl.DataFrame(
        {
            "officer_id": ["o1", "o1", "o1", "o2"],
            "start_at": [t, t + timedelta(hours=2), t + timedelta(hours=5), t],
            "end_at": [t + timedelta(hours=2), t + timedelta(hours=3), t + timedelta(hours=5), t],
        }
    )
    merged = merge_intervals(frame)
    assert merged.to_dicts() == [
        {"officer_id": "o1", "start_at": t, "end_at": t + timedelta(hours=3)}
    ]


def test_on_duty_windows_widen_by_grace_and_skip_leave() -> None:
    rows = shifts(
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift("s2", "o1", at(DAY, 17), at(DAY, 23), kind="leave", declared=None),
    )
    windows = on_duty_windows(rows, 30)
    assert windows.to_dicts() == [
        {"officer_id": "o1", "start_at": at(DAY, 7, 30), "end_at": at(DAY, 16, 30)}
    ]


def test_covered_is_inclusive_at_both_ends_and_per_officer() -> None:
    windows = pl.DataFrame({"officer_id": ["o1"], "start_at": [at(DAY, 8)], "end_at": [at(DAY, 9)]})
    events = pl.DataFrame(
        {
            "officer_id": ["o1", "o1", "o1", "o2", None],
            "ts": [at(DAY, 8), at(DAY, 9), at(DAY, 9, 0, 1), at(DAY, 8, 30), at(DAY, 8, 30)],
        }
    )
    assert covered(events, windows).to_list() == [True, True, False, False, False]


def test_duty_status_masks_leave_and_holds_recent_unrostered() -> None:
    rows = shifts(
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift(
            "s2",
            "o1",
            at(DAY + timedelta(days=1), 0),
            at(DAY + timedelta(days=2), 0),
            kind="leave",
            declared=None,
        ),
    )
    events = pl.DataFrame(
        {
            "officer_id": ["o1", "o1", "o1", "o1"],
            "ts": [at(DAY, 12), at(DAY + timedelta(days=1), 12), at(DAY, 20), at(DAY, 2)],
        }
    )
    now = at(DAY, 21)
    status = duty_status(events, rows, grace_minutes=30, hold_hours=12, now=now)
    assert status.to_list() == [
        DutyStatus.ON_DUTY.value,
        DutyStatus.MASKED.value,
        DutyStatus.HELD.value,
        DutyStatus.MASKED.value,
    ]


def test_mask_off_duty_keeps_only_on_duty_events_and_counts_the_rest() -> None:
    rows = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))
    fx = fixes(
        [
            fix("o1", at(DAY, 7, 29)),  # before the grace: masked
            fix("o1", at(DAY, 7, 30)),  # grace edge: kept
            fix("o1", at(DAY, 12)),
            fix("o1", at(DAY, 16, 30)),
            fix("o1", at(DAY, 16, 31)),  # masked
            fix("o2", at(DAY, 12)),  # no shift at all: masked
        ]
    )
    sw = swipes([swipe("o1", at(DAY, 7, 0)), swipe("o1", at(DAY, 8, 0))])
    on = mask_off_duty(fx, sw, rows, POLICY)
    assert on.fixes["ts"].sort().to_list() == [at(DAY, 7, 30), at(DAY, 12), at(DAY, 16, 30)]
    assert on.swipes["ts"].to_list() == [at(DAY, 8)]
    assert (on.masked_fixes, on.masked_swipes) == (3, 1)
    assert on.fixes["win_id"].unique().to_list() == [0]


def test_duty_windows_ids_follow_officer_and_time_not_row_order() -> None:
    a = shift("s1", "o2", at(DAY, 8), at(DAY, 16))
    b = shift("s2", "o1", at(DAY, 18), at(DAY, 20))
    c = shift("s3", "o1", at(DAY, 6), at(DAY, 7))
    one = duty_windows(shifts(a, b, c), POLICY)
    two = duty_windows(shifts(c, a, b), POLICY)
    assert one.equals(two)
    assert one.select("officer_id", "win_id").rows() == [("o1", 0), ("o1", 1), ("o2", 2)]
    assert one["core_end"].to_list() == [at(DAY, 7), at(DAY, 20), at(DAY, 16)]


def test_nothing_on_duty_masks_everything() -> None:
    rows = shifts(
        shift("s1", "o1", at(DAY, 0), at(DAY + timedelta(days=1), 0), kind="rest", declared=None)
    )
    fx = fixes([fix("o1", at(DAY, 12))])
    on = mask_off_duty(fx, swipes([swipe("o1", at(DAY, 12))]), rows, POLICY)
    assert (on.fixes.height, on.swipes.height, on.masked_fixes, on.masked_swipes) == (0, 0, 1, 1)
    assert on.windows.height == 0


def test_covered_gives_the_same_answer_in_any_row_order() -> None:
    windows = pl.DataFrame(
        {
            "officer_id": ["o1", "o1", "o2"],
            "start_at": [at(DAY, 8), at(DAY, 18), at(DAY, 9)],
            "end_at": [at(DAY, 12), at(DAY, 20), at(DAY, 10)],
        }
    )
    times = [at(DAY, h, m) for h in range(6, 22) for m in (0, 30)]
    events = pl.DataFrame(
        {"officer_id": ["o1"] * len(times) + ["o2"] * len(times), "ts": times + times}
    ).sort("officer_id", "ts")
    # sorted by (officer_id, ts): matched in place; shuffled: sorted by time first
    shuffled = events.with_row_index("_i").sample(fraction=1.0, shuffle=True, seed=7)
    in_place = covered(events, windows)
    resorted = covered(shuffled, windows)
    assert resorted.to_list() == in_place[shuffled["_i"]].to_list()
    assert covered(events, windows).sum() == 9 + 5 + 3


def test_duty_status_of_a_batch_wholly_on_duty() -> None:
    rows = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))
    events = pl.DataFrame({"officer_id": ["o1", "o1"], "ts": [at(DAY, 7, 45), at(DAY, 16, 30)]})
    status = duty_status(events, rows, grace_minutes=30, hold_hours=12, now=at(DAY, 21))
    assert status.name == "duty_status"
    assert status.to_list() == [DutyStatus.ON_DUTY.value, DutyStatus.ON_DUTY.value]
