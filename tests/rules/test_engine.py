"""evaluate_day: daily rows, evidence grades, DST days, night shifts and the masking-first rule."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from geo.cells import cells
from rules.daily import ADEQUATE, INSUFFICIENT
from rules.engine import evaluate_day, fix_span
from rules.integrity import LATE_SUPPORT
from rules.policy import load_policy
from rules.schemas import DAILY, PRESENCE
from tests.rules.rules_builders import (
    TEST_POLICY,
    at,
    claims,
    day_inputs,
    every,
    fix,
    fixes,
    shift,
    shifts,
    swipe,
    swipes,
)

POLICY = TEST_POLICY
DAY = date(2026, 3, 2)


def row(outcome_daily: pl.DataFrame, officer: str = "o1") -> dict[str, object]:
    """The daily row of ``officer``."""
    rows = outcome_daily.filter(pl.col("officer_id") == officer).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_office_day_at_the_station_is_verified_and_adequate() -> None:
    fx = fixes([fix("o1", t) for t in every(at(DAY, 8), at(DAY, 16), 10)])
    out = evaluate_day(
        day_inputs(DAY, shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16))), fx), POLICY
    )
    assert out.daily.schema == pl.Schema({**DAILY, **LATE_SUPPORT})
    assert out.presence.schema == pl.Schema(PRESENCE)
    r = row(out.daily)
    assert (r["date"], r["expected_office"], r["declared_location"]) == (DAY, True, "office")
    assert r["verified_presence_minutes"] == 510.0  # 07:45-16:15
    assert (r["verified_office_day"], r["evidence"]) == (True, ADEQUATE)
    assert (r["on_duty_minutes"], r["unknown_minutes"], r["n_fixes"]) == (540.0, 30.0, 49)
    assert r["policy_version"] == POLICY.version
    assert out.findings == []


def test_silent_device_and_no_swipes_is_insufficient_and_never_flagged() -> None:
    out = evaluate_day(day_inputs(DAY, shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))), POLICY)
    r = row(out.daily)
    assert (r["evidence"], r["verified_office_day"], r["verified_presence_minutes"]) == (
        INSUFFICIENT,
        False,
        0.0,
    )
    assert out.findings == []


def test_too_little_data_to_decide_either_way_is_insufficient() -> None:
    # an hour of away fixes and nothing else: 0 presence, but 7.5 unknown hours could hold 4
    fx = fixes([fix("o1", t, where="far", metres=3000) for t in every(at(DAY, 9), at(DAY, 10), 5)])
    out = evaluate_day(
        day_inputs(DAY, shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16))), fx), POLICY
    )
    r = row(out.daily)
    assert (r["evidence"], r["away_minutes"], r["unknown_minutes"]) == (INSUFFICIENT, 90.0, 450.0)
    assert out.findings == []


def test_remote_day_at_home_is_expected_adequate_and_not_verified() -> None:
    fx = fixes([fix("o1", t, where="far", metres=5000) for t in every(at(DAY, 8), at(DAY, 16), 10)])
    rows = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16), declared="remote"))
    out = evaluate_day(day_inputs(DAY, rows, fx), POLICY)
    r = row(out.daily)
    assert (r["expected_office"], r["declared_location"], r["evidence"]) == (
        True,
        "remote",
        ADEQUATE,
    )
    assert (r["verified_office_day"], r["away_minutes"]) == (False, 510.0)
    assert out.findings == []  # remote work is not a discrepancy


def test_leave_day_and_claim_only_day_get_rows_without_expectation() -> None:
    rows = shifts(
        shift("s1", "o1", at(DAY, 0), at(DAY + timedelta(days=1), 0), kind="leave", declared=None),
    )
    claim = claims(
        [
            {
                "claim_id": "c1",
                "officer_id": "o2",
                "start_at": at(DAY, 18),
                "end_at": at(DAY, 19),
                "station_id": "ST1",
                "submitted_at": at(DAY, 20),
            }
        ]
    )
    out = evaluate_day(day_inputs(DAY, rows, claim_rows=claim, officer_ids=("o1", "o2")), POLICY)
    assert out.daily.select(
        "officer_id", "expected_office", "declared_location", "evidence"
    ).rows() == [
        ("o1", False, None, INSUFFICIENT),
        ("o2", False, None, INSUFFICIENT),
    ]


def test_night_shift_belongs_to_the_day_it_starts() -> None:
    day = date(2026, 3, 3)
    rows = shifts(
        shift(
            "n1",
            "o1",
            at(day, 22),
            at(day + timedelta(days=1), 6),
            declared="field",
            station_id=None,
        )
    )
    fx = fixes(
        [
            fix("o1", t, where="far", metres=3000)
            for t in every(at(day, 22), at(day + timedelta(days=1), 6), 10)
        ]
    )
    first = evaluate_day(day_inputs(day, rows, fx), POLICY)
    second = evaluate_day(day_inputs(day + timedelta(days=1), rows, fx), POLICY)
    r = row(first.daily)
    assert (r["on_duty_minutes"], r["away_minutes"], r["expected_office"]) == (540.0, 510.0, False)
    assert second.daily.height == 0


def test_spring_forward_night_shift_is_measured_on_instants() -> None:
    # 2026-03-28 22:00 GMT to 2026-03-29 06:00 BST is 7 hours, not 8
    day = date(2026, 3, 28)
    rows = shifts(shift("n1", "o1", at(day, 22), at(day + timedelta(days=1), 6)))
    fx = fixes([fix("o1", t) for t in every(at(day, 22), at(day + timedelta(days=1), 6), 10)])
    r = row(evaluate_day(day_inputs(day, rows, fx), POLICY).daily)
    assert (r["on_duty_minutes"], r["verified_presence_minutes"]) == (480.0, 450.0)


def test_the_23_hour_day_has_23_hours() -> None:
    day = date(2026, 3, 29)
    rows = shifts(shift("d1", "o1", at(day, 0), at(day + timedelta(days=1), 0)))
    swipe_in = swipes([swipe("o1", at(day, 0))])
    r = row(evaluate_day(day_inputs(day, rows, None, swipe_in), POLICY).daily)
    assert (r["on_duty_minutes"], r["verified_presence_minutes"]) == (23 * 60 + 60.0, 12 * 60.0)


def test_autumn_back_night_shift_is_nine_hours() -> None:
    # 2026-10-24 22:00 BST to 2026-10-25 06:00 GMT is 9 hours; the 25 hour day holds it
    day = date(2026, 10, 24)
    rows = shifts(shift("n1", "o1", at(day, 22), at(day + timedelta(days=1), 6)))
    fx = fixes([fix("o1", t) for t in every(at(day, 22), at(day + timedelta(days=1), 6), 10)])
    r = row(evaluate_day(day_inputs(day, rows, fx), POLICY).daily)
    assert (r["on_duty_minutes"], r["verified_presence_minutes"]) == (600.0, 570.0)
    full = date(2026, 10, 25)
    rows = shifts(shift("d1", "o1", at(full, 0), at(full + timedelta(days=1), 0)))
    r = row(evaluate_day(day_inputs(full, rows), POLICY).daily)
    assert r["on_duty_minutes"] == 25 * 60 + 60.0


def test_other_timezone_is_a_parameter() -> None:
    rows = shifts(shift("s1", "o1", at(DAY, 23), at(DAY + timedelta(days=1), 3)))
    inputs = day_inputs(DAY, rows)
    london = evaluate_day(inputs, POLICY)
    paris = evaluate_day(
        type(inputs)(**{**inputs.__dict__, "tz": "Europe/Paris", "day": DAY + timedelta(days=1)}),
        POLICY,
    )
    assert london.daily["date"].to_list() == [DAY]
    assert paris.daily["date"].to_list() == [DAY + timedelta(days=1)]


def test_presence_outcome_holds_only_the_days_windows() -> None:
    rows = shifts(
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift("s0", "o1", at(DAY - timedelta(days=1), 8), at(DAY - timedelta(days=1), 16)),
    )
    fx = fixes(
        [
            fix("o1", t)
            for t in every(at(DAY - timedelta(days=1), 8), at(DAY - timedelta(days=1), 9), 10)
        ]
    )
    out = evaluate_day(day_inputs(DAY, rows, fx), POLICY)
    assert out.presence.select("kind", "start_at", "end_at").rows() == [
        ("unknown", at(DAY, 7, 30), at(DAY, 16, 30))
    ]


def test_data_of_other_days_changes_nothing() -> None:
    rows = shifts(
        shift("s0", "o1", at(DAY - timedelta(days=1), 8), at(DAY - timedelta(days=1), 16)),
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift("s2", "o1", at(DAY + timedelta(days=1), 8), at(DAY + timedelta(days=1), 16)),
    )
    today = [fix("o1", t) for t in every(at(DAY, 8), at(DAY, 16), 10)]
    others = [
        fix("o1", t + timedelta(days=k), where="far", metres=4000)
        for k in (-1, 1)
        for t in every(at(DAY, 8), at(DAY, 16), 10)
    ]
    alone = evaluate_day(day_inputs(DAY, rows, fixes(today)), POLICY)
    with_others = evaluate_day(day_inputs(DAY, rows, fixes(today + others)), POLICY)
    assert alone.daily.equals(with_others.daily)
    assert alone.presence.equals(with_others.presence)
    assert alone.findings == with_others.findings


def test_fixes_outside_the_fix_span_change_nothing() -> None:
    # a night shift from the day before, the day's own shift, and a night shift starting on the
    # day that runs into the next; fixes every 10 minutes over all three days
    rows = shifts(
        shift("s0", "o1", at(DAY - timedelta(days=1), 22), at(DAY, 6)),
        shift("s1", "o1", at(DAY, 9), at(DAY, 13)),
        shift("s2", "o1", at(DAY, 22), at(DAY + timedelta(days=1), 6)),
        shift("s3", "o1", at(DAY + timedelta(days=1), 14), at(DAY + timedelta(days=1), 20)),
    )
    everything = fixes(
        [
            fix("o1", t)
            for t in every(at(DAY - timedelta(days=1), 0), at(DAY + timedelta(days=2), 0), 10)
        ]
    )
    span = fix_span(rows, claims(), DAY, "Europe/London", POLICY)
    assert span is not None
    first, last = span
    grace = timedelta(minutes=POLICY.duty_grace_minutes)
    assert (first, last) == (at(DAY, 9) - grace, at(DAY + timedelta(days=1), 6) + grace)
    inside = everything.filter(pl.col("ts").is_between(first, last))
    assert inside.height < everything.height
    whole = evaluate_day(day_inputs(DAY, rows, everything), POLICY)
    read = evaluate_day(day_inputs(DAY, rows, inside), POLICY)
    assert whole.daily.equals(read.daily)
    assert whole.presence.equals(read.presence)
    assert whole.findings == read.findings


def test_no_on_duty_window_on_the_day_means_no_fixes_to_read() -> None:
    rows = shifts(shift("s1", "o1", at(DAY, 0), at(DAY, 23), kind="leave", declared=None))
    assert fix_span(rows, claims(), DAY, "Europe/London", POLICY) is None


def test_default_policy_verifies_a_plain_office_day() -> None:
    default = load_policy()
    fx = fixes([fix("o1", t) for t in every(at(DAY, 8), at(DAY, 16), 10)])
    out = evaluate_day(
        day_inputs(DAY, shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16))), fx), default
    )
    r = row(out.daily)
    edge = default.presence_edge_credit_minutes
    assert r["verified_presence_minutes"] == 480.0 + 2 * edge
    assert (r["verified_office_day"], r["evidence"], r["policy_version"]) == (
        True,
        ADEQUATE,
        default.version,
    )


def test_stored_cells_give_the_same_outcome_as_coordinates() -> None:
    # an officer driving away from the station across many timeline cells
    rows = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))
    fx = fixes(
        [
            fix("o1", t, where="far", metres=1500 + 300 * k)
            for k, t in enumerate(every(at(DAY, 8), at(DAY, 16), 5))
        ]
    )
    stored = fx.with_columns(h3_cell=cells(fx))
    computed = evaluate_day(day_inputs(DAY, rows, fx), POLICY)
    from_store = evaluate_day(day_inputs(DAY, rows, stored), POLICY)
    away = from_store.presence.filter(pl.col("kind") == "away")
    assert away.height > 1
    assert away["h3_cell"].is_not_null().all()
    assert computed.presence.equals(from_store.presence)
    assert computed.daily.equals(from_store.daily)
    assert computed.findings == from_store.findings
