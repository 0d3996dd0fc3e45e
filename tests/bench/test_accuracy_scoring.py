"""The accuracy benchmark's test of what the data can prove for IMPOSSIBLE_TRAVEL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from bench.accuracy import _jump_days, _swiper_days, _unseen
from rules.masking import on_duty_windows
from rules.policy import load_policy

POLICY = load_policy()
DAY = date(2026, 10, 20)
T0 = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
HOME = (51.50, -0.10)
FAR = (51.72, -0.06)  # about 25 km north


def pings(track: list[tuple[int, tuple[float, float], str]]) -> pl.DataFrame:
    """One officer's on-duty fixes: (minutes after 09:00, place, source), accuracy 8 m."""
    return pl.DataFrame(
        {
            "officer_id": ["o1"] * len(track),
            "ts": [T0 + timedelta(minutes=m) for m, _, _ in track],
            "lat": [p[0] for _, p, _ in track],
            "lon": [p[1] for _, p, _ in track],
            "accuracy_m": [8.0] * len(track),
            "source": [s for _, _, s in track],
            "date": [DAY] * len(track),
        }
    )


def jumps(track: list[tuple[int, tuple[float, float], str]]) -> int:
    return int(_jump_days(pings(track), POLICY)["n_jumps"].sum())


def test_a_jump_seen_twice_at_each_end_is_provable() -> None:
    """Two GPS fixes at home, two 25 km away four minutes later: one impossible step."""
    track = [(0, HOME, "gps"), (2, HOME, "gps"), (6, FAR, "gps"), (8, FAR, "gps")]
    assert jumps(track) == 1


def test_a_single_far_fix_or_a_slow_jump_proves_nothing() -> None:
    """One GPS fix 25 km away between fixes at home is one odd fix (no step is seen twice at
    its far end); the same move an hour apart is not faster than max_speed_kmh; a jump whose
    far end is Wi-Fi-derived is not made of GPS fixes."""
    lone = [(0, HOME, "gps"), (2, HOME, "gps"), (6, FAR, "gps"), (10, HOME, "gps")]
    assert jumps(lone) == 0
    slow = [(0, HOME, "gps"), (2, HOME, "gps"), (62, FAR, "gps"), (64, FAR, "gps")]
    assert jumps(slow) == 0
    wifi = [(0, HOME, "gps"), (2, HOME, "gps"), (6, FAR, "fused"), (8, FAR, "gps")]
    assert jumps(wifi) == 0


def test_a_device_without_badge_day_is_provable_only_for_an_officer_known_to_swipe() -> None:
    """o1 swiped on duty on 10-20; o2's only swipe was refused; o3 swiped off duty. o1 is known
    to swipe on the dwb_habit_days after the swipe and on the day before it (the day after is in
    that day's inputs), never on the day itself nor past the look-back; the others never."""
    swipe_day = date(2026, 10, 20)
    t = datetime(2026, 10, 20, 8, 2, tzinfo=UTC)
    shifts = pl.DataFrame(
        {
            "officer_id": ["o1", "o2", "o3"],
            "start_at": [datetime(2026, 10, 20, 7, 0, tzinfo=UTC)] * 3,
            "end_at": [datetime(2026, 10, 20, 15, 0, tzinfo=UTC)] * 2
            + [datetime(2026, 10, 20, 7, 30, tzinfo=UTC)],
            "kind": ["duty"] * 3,
        }
    )
    swipes = pl.DataFrame(
        {"officer_id": ["o1", "o2", "o3"], "ts": [t, t, t], "granted": [True, False, True]}
    )
    windows = on_duty_windows(shifts, 0)
    period = (date(2026, 10, 1), date(2026, 11, 30))
    days = _swiper_days(swipes, windows, "Europe/London", period, POLICY.dwb_habit_days)
    habit = POLICY.dwb_habit_days
    expected = {
        ("o1", (swipe_day + timedelta(days=k)).isoformat()) for k in [-1, *range(1, habit + 1)]
    }
    assert days == expected
    # a period that starts on the swipe's day holds no day before it
    later = (swipe_day, period[1])
    assert ("o1", "2026-10-19") not in _swiper_days(swipes, windows, "Europe/London", later, habit)


def test_a_phone_silent_for_hours_leaves_the_time_unseen() -> None:
    """Fixes every 30 minutes are seen through (gaps up to bridge_max_minutes); one fix ten
    minutes in, then silence, leaves the rest unseen but for edge_credit_minutes after the fix
    (the officer may have been at work); a visit covers its stay, an open one to the end."""
    lo, hi = T0, T0 + timedelta(hours=8)
    bridge = timedelta(minutes=POLICY.bridge_max_minutes)
    credit = timedelta(minutes=POLICY.edge_credit_minutes)
    every = pl.DataFrame({"ts": [lo + timedelta(minutes=30 * k) for k in range(17)]})
    assert _unseen(lo, hi, every, None, bridge, credit) == timedelta(0)
    one = pl.DataFrame({"ts": [lo + timedelta(minutes=10)]})
    assert _unseen(lo, hi, one, None, bridge, credit) == hi - (lo + timedelta(minutes=10)) - credit
    open_visit = pl.DataFrame(
        {"arrived_at": [lo + timedelta(minutes=20)], "departed_at": [None]},
        schema={"arrived_at": pl.Datetime("us", "UTC"), "departed_at": pl.Datetime("us", "UTC")},
    )
    assert _unseen(lo, hi, one, open_visit, bridge, credit) == timedelta(0)
    # two fixes three hours apart: the gap less the credit on each side
    two = pl.DataFrame({"ts": [lo, lo + timedelta(hours=3)]})
    assert (
        _unseen(lo, lo + timedelta(hours=3), two, None, bridge, credit)
        == timedelta(hours=3) - 2 * credit
    )
