"""rules.fairness on hand-made frames: Wilson intervals, counts under 10, groups marked when
their interval lies wholly above the force-wide rate."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from rules.fairness import fairness, proportion, wilson

D0 = date(2026, 10, 1)


def test_wilson_matches_the_textbook_values() -> None:
    assert wilson(10, 100) == pytest.approx((0.0552, 0.1744), abs=1e-4)
    assert wilson(0, 20) == pytest.approx((0.0, 0.1611), abs=1e-4)
    assert wilson(20, 20) == pytest.approx((0.8389, 1.0), abs=1e-4)
    with pytest.raises(ValueError, match="positive"):
        wilson(0, 0)


def test_counts_under_ten_are_never_rates() -> None:
    assert proportion(9, 100) == {
        "count": 9,
        "of": 100,
        "rate": None,
        "low": None,
        "high": None,
        "shown_as": "counts",
    }
    assert proportion(5, 9)["shown_as"] == "counts"
    assert proportion(10, 100) == {
        "count": 10,
        "of": 100,
        "rate": 0.1,
        "low": 0.0552,
        "high": 0.1744,
        "shown_as": "rate",
    }


def _force() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Unit A: 10 officers x 20 days, 40 days flagged; unit B: 10 x 20, 10 flagged."""
    officers = pl.DataFrame(
        {
            "officer_id": [f"A{i}" for i in range(10)] + [f"B{i}" for i in range(10)],
            "unit": ["A"] * 10 + ["B"] * 10,
            "rank": ["PC"] * 20,
            "platform": ["android"] * 10 + ["ios"] * 10,
            "office_based": [True] * 20,
        }
    )
    days = pl.DataFrame(
        {
            "officer_id": [o for o in officers["officer_id"] for _ in range(20)],
            "date": [D0 + timedelta(days=d) for _ in range(20) for d in range(20)],
            "shift_pattern": ["night" if d < 5 else "day" for _ in range(20) for d in range(20)],
        }
    )
    flagged = [(f"A{i}", d) for i in range(10) for d in range(4)] + [
        (f"B{i}", 10) for i in range(10)
    ]
    statuses = ["dismissed"] * 12 + ["substantiated"] * 8 + ["open"] * 30
    flags = pl.DataFrame(
        {
            "officer_id": [o for o, _ in flagged] + ["A0", "B1"],
            "date": [D0 + timedelta(days=d) for _, d in flagged] + [D0, D0],
            "code": ["MOCK_LOCATION"] * 50 + ["BELOW_OFFICE_SHARE"] * 2,
            "misconduct": [True] * 50 + [False] * 2,
            "status": statuses + ["open", "open"],
        }
    )
    return flags, days, officers


def test_groups_rules_and_marking() -> None:
    report = fairness(*_force())
    force = report["force"]
    assert (force["officer_days"], force["flagged_days"]) == (400, 50)
    assert force["flag_rate"]["rate"] == 0.125
    assert [r["code"] for r in report["rules"]] == ["BELOW_OFFICE_SHARE", "MOCK_LOCATION"]
    rule = report["rules"][1]
    assert (rule["raised"], rule["reviewed"], rule["dismissed"], rule["substantiated"]) == (
        50,
        20,
        12,
        8,
    )
    assert rule["precision"]["shown_as"] == "counts"  # 8 substantiated: under 10
    units = {g["group"]: g for g in report["groups"]["unit"]}
    assert units["A"]["flag_rate"]["rate"] == 0.2
    assert units["A"]["flag_rate"]["low"] > 0.125
    assert units["A"]["flag_rate_above_force"] is True
    assert units["B"]["flag_rate"] == proportion(10, 200)
    assert units["B"]["flag_rate_above_force"] is False
    # The 20 decided flags are all unit A's (its first two days).
    assert (units["A"]["decided"], units["A"]["dismissed"]) == (20, 12)
    assert units["A"]["dismissal_rate"]["rate"] == 0.6
    platforms = {g["group"]: g["flagged_days"] for g in report["groups"]["platform"]}
    assert platforms == {"android": 40, "ios": 10}
    patterns = {
        g["group"]: (g["officer_days"], g["flagged_days"])
        for g in report["groups"]["shift_pattern"]
    }
    assert patterns == {"day": (300, 10), "night": (100, 40)}
    below = {r["unit"]: r["below_share"] for r in report["below_office_share_by_unit"]}
    assert below["A"] == {**proportion(1, 10)}
    assert below["B"]["count"] == 1
