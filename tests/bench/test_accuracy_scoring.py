"""The accuracy benchmark's test of what the data can prove for IMPOSSIBLE_TRAVEL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from bench.accuracy import _jump_days
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
