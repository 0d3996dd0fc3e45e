"""Each CONTRACT §5 day rule: raised on a tiny clear case, silent on its innocent look-alike."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import polars as pl

from rules.engine import DayInputs, evaluate_day
from rules.findings import Finding
from rules.flags import (
    badge_without_device,
    declared_office,
    device_without_badge,
    impossible_travel,
    mock_location,
    overtime_unverified,
    roster_retro_edit,
)
from tests.rules.rules_builders import (
    ST1,
    TEST_POLICY,
    at,
    claims,
    day_inputs,
    every,
    fix,
    fixes,
    history,
    shift,
    shifts,
    swipe,
    swipes,
)

POLICY = TEST_POLICY
DAY = date(2026, 3, 2)
OFFICE = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))


def home_all_day(start_h: int = 7, end_h: int = 17, metres: float = 5000) -> list[dict[str, Any]]:
    """Precise fixes at a home ``metres`` north of ST1 every 10 minutes."""
    return [
        fix("o1", t, where="far", metres=metres)
        for t in every(at(DAY, start_h), at(DAY, end_h), 10)
    ]


def at_station(start: tuple[int, int], end: tuple[int, int]) -> list[dict[str, Any]]:
    """Inside-ST1 fixes every 10 minutes."""
    return [fix("o1", t) for t in every(at(DAY, *start), at(DAY, *end), 10)]


def codes(findings: list[Finding]) -> list[str]:
    """Codes of findings, in order."""
    return [f.code for f in findings]


def check_finding_shape(f: Finding) -> None:
    """Every finding: JSON evidence with thresholds and policy version, a sentence, no points."""
    text = json.dumps(f.evidence)
    assert f.evidence["policy_version"] == POLICY.version
    assert "thresholds" in f.evidence
    assert f.summary.endswith(".")
    assert f.rule_version.startswith(f.code + "/")
    assert '"lat"' not in text
    assert '"lon"' not in text
    assert "51.5" not in text
    assert len(f.fingerprint) == 24


def test_declared_office_unverified_raised_when_device_shows_home_all_day() -> None:
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(home_all_day())), POLICY)
    assert codes(out.findings) == [declared_office.CODE]
    f = out.findings[0]
    check_finding_shape(f)
    assert (f.officer_id, f.date, f.misconduct) == ("o1", DAY, True)
    assert f.evidence["verified_presence_minutes"] == 0.0
    assert f.evidence["away_minutes"] == 540.0
    assert f.evidence["declared_stations"] == ["ST1"]
    assert f.summary == (
        "Officer o1 declared office at ST1 on 2026-03-02 but verified station presence was 0 min, "
        "short of the 240 min required, while location evidence decided 540 of 540 on-duty "
        "minutes (540 min away from every station)."
    )


def test_declared_office_not_raised_for_a_part_day_that_reaches_the_threshold() -> None:
    fx = fixes(at_station((8, 0), (12, 0)) + home_all_day(13, 17))
    out = evaluate_day(day_inputs(DAY, OFFICE, fx), POLICY)
    assert out.daily["verified_office_day"].to_list() == [True]
    assert out.findings == []


def test_declared_office_raised_for_a_short_visit() -> None:
    fx = fixes(at_station((8, 0), (9, 30)) + home_all_day(10, 17))
    out = evaluate_day(day_inputs(DAY, OFFICE, fx), POLICY)
    assert codes(out.findings) == [declared_office.CODE]
    assert out.findings[0].evidence["verified_presence_minutes"] == 120.0  # 07:45-09:45


def test_declared_office_not_raised_on_insufficient_evidence() -> None:
    fx = fixes(home_all_day(9, 10))
    out = evaluate_day(day_inputs(DAY, OFFICE, fx), POLICY)
    assert out.daily["evidence"].to_list() == ["insufficient_evidence"]
    assert out.findings == []


def test_badge_without_device_needs_far_fixes_both_sides_of_the_swipe() -> None:
    sw = swipes([swipe("o1", at(DAY, 8, 1))])
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(home_all_day()), sw), POLICY)
    # badge and phone disagree: the conflict is the lead, never a finding of absence
    assert codes(out.findings) == [badge_without_device.CODE]
    assert out.daily.select("evidence", "verified_office_day").rows() == [
        ("insufficient_evidence", False)
    ]
    f = out.findings[0]
    check_finding_shape(f)
    listed = f.evidence["swipes"][0]
    assert (
        listed["station_id"],
        listed["fix_before_distance_m"],
        listed["fix_after_distance_m"],
    ) == ("ST1", 5000, 5000)  # 4990 m, shown to 250 m: never to the metre
    # only a fix before the swipe (device then silent): one fix proves nothing
    before_only = fixes([fix("o1", at(DAY, 7, 55), where="far", metres=5000)])
    out = evaluate_day(day_inputs(DAY, OFFICE, before_only, sw), POLICY)
    assert badge_without_device.CODE not in codes(out.findings)


def test_badge_with_device_at_the_station_is_fine() -> None:
    sw = swipes([swipe("o1", at(DAY, 8, 1))])
    fx = fixes(at_station((7, 50), (16, 0)))
    out = evaluate_day(day_inputs(DAY, OFFICE, fx, sw), POLICY)
    assert out.findings == []


def test_overtime_claim_at_home_is_raised() -> None:
    rows = shifts(
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift("ot", "o1", at(DAY, 16), at(DAY, 18), kind="overtime"),
    )
    claim = claims(
        [
            {
                "claim_id": "c1",
                "officer_id": "o1",
                "start_at": at(DAY, 16),
                "end_at": at(DAY, 18),
                "station_id": "ST1",
                "submitted_at": at(DAY, 20),
            }
        ]
    )
    fx = fixes(at_station((8, 0), (16, 10)) + home_all_day(16, 19, metres=4000)[3:])
    out = evaluate_day(day_inputs(DAY, rows, fx, claim_rows=claim), POLICY)
    assert codes(out.findings) == [overtime_unverified.CODE]
    f = out.findings[0]
    check_finding_shape(f)
    assert (f.evidence["claim_id"], f.evidence["reason"]) == ("c1", "elsewhere")
    # 16:00-16:20: the last station fix (16:10) speaks for half the gap to the first home fix
    assert f.evidence["presence_minutes_at_station"] == 20.0


def test_overtime_claim_at_the_station_or_with_a_silent_device_is_not_raised() -> None:
    rows = shifts(
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift("ot", "o1", at(DAY, 16), at(DAY, 18), kind="overtime"),
    )
    claim = claims(
        [
            {
                "claim_id": "c1",
                "officer_id": "o1",
                "start_at": at(DAY, 16),
                "end_at": at(DAY, 18),
                "station_id": "ST1",
                "submitted_at": at(DAY, 20),
            }
        ]
    )
    there = evaluate_day(
        day_inputs(DAY, rows, fixes(at_station((8, 0), (18, 0))), claim_rows=claim), POLICY
    )
    silent = evaluate_day(
        day_inputs(DAY, rows, fixes(at_station((8, 0), (16, 0))), claim_rows=claim), POLICY
    )
    assert there.findings == []
    assert silent.findings == []


def test_unrostered_overtime_claim_is_raised_as_unrostered() -> None:
    claim = claims(
        [
            {
                "claim_id": "c1",
                "officer_id": "o1",
                "start_at": at(DAY, 16),
                "end_at": at(DAY, 19),
                "station_id": "ST1",
                "submitted_at": at(DAY, 20),
            }
        ]
    )
    out = evaluate_day(
        day_inputs(DAY, OFFICE, fixes(at_station((8, 0), (16, 0))), claim_rows=claim), POLICY
    )
    assert codes(out.findings) == [overtime_unverified.CODE]
    assert out.findings[0].evidence["reason"] == "unrostered"
    assert out.findings[0].evidence["minutes_outside_on_duty_shifts"] == 150.0


def test_roster_created_after_the_shift_ended_and_spent_at_home_is_raised() -> None:
    late = at(DAY + timedelta(days=2), 9)
    rows = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16), created_at=late))
    out = evaluate_day(day_inputs(DAY, rows, fixes(home_all_day())), POLICY)
    assert codes(out.findings) == [declared_office.CODE, roster_retro_edit.CODE]
    f = out.findings[1]
    check_finding_shape(f)
    assert (f.evidence["edit"], f.evidence["added_minutes"]) == ("created", 480.0)


def test_late_but_supported_roster_entry_is_not_misconduct() -> None:
    late = at(DAY, 23)
    rows = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16), created_at=late))
    out = evaluate_day(day_inputs(DAY, rows, fixes(at_station((8, 0), (16, 0)))), POLICY)
    assert out.findings == []
    silent = evaluate_day(day_inputs(DAY, rows), POLICY)
    assert silent.findings == []


def test_late_extension_checks_only_the_added_hour() -> None:
    made = at(DAY - timedelta(days=20), 9)
    fixed_next_morning = at(DAY + timedelta(days=1), 7)
    current = shift(
        "s1", "o1", at(DAY, 8), at(DAY, 17), created_at=made, updated_at=fixed_next_morning
    )
    old = {
        **shift("s1", "o1", at(DAY, 8), at(DAY, 16), created_at=made),
        "version": 1,
        "recorded_at": made,
    }
    new = {**current, "version": 2, "recorded_at": fixed_next_morning}
    stayed = fixes(at_station((8, 0), (17, 0)))
    left = fixes(at_station((8, 0), (16, 0)) + home_all_day(16, 18, metres=4000)[2:])
    ok = evaluate_day(
        day_inputs(DAY, shifts(current), stayed, history_rows=history([old, new])), POLICY
    )
    bad = evaluate_day(
        day_inputs(DAY, shifts(current), left, history_rows=history([old, new])), POLICY
    )
    assert ok.findings == []
    assert codes(bad.findings) == [roster_retro_edit.CODE]
    assert bad.findings[0].evidence["added_minutes"] == 60.0
    assert bad.findings[0].evidence["version_at_end"]["version"] == 1


def jump_track(far_fixes: list[tuple[int, int]], source: str = "gps") -> list[dict[str, Any]]:
    """Station fixes every 2 minutes 09:00-10:00 with some replaced by fixes 25 km north."""
    track = [fix("o1", t) for t in every(at(DAY, 9), at(DAY, 10), 2)]
    for hh, mm in far_fixes:
        i = next(k for k, r in enumerate(track) if r["ts"] == at(DAY, hh, mm))
        track[i] = fix(
            "o1", at(DAY, hh, mm), where="far", metres=25_000, accuracy_m=5, source=source
        )
    return track


def test_corroborated_jump_is_impossible_travel() -> None:
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(jump_track([(9, 20), (9, 22)]))), POLICY)
    assert codes(out.findings) == [impossible_travel.CODE]
    f = out.findings[0]
    check_finding_shape(f)
    assert f.evidence["n_jumps"] == 2  # out and back
    assert f.evidence["jumps"][0]["distance_m"] == 25000  # 24985 m, shown to 250 m
    assert f.evidence["jumps"][0]["seconds"] == 120.0
    assert f.evidence["jumps"][0]["speed_kmh"] == 750  # from the shown distance, not the fix
    assert "about 25 km" in f.summary


def test_a_lone_odd_fix_or_a_wifi_only_jump_is_not_impossible_travel() -> None:
    lone = evaluate_day(day_inputs(DAY, OFFICE, fixes(jump_track([(9, 20)]))), POLICY)
    wifi = evaluate_day(
        day_inputs(DAY, OFFICE, fixes(jump_track([(9, 20), (9, 22)], "wifi"))), POLICY
    )
    assert lone.findings == []
    assert wifi.findings == []


def test_mock_location_needs_three_on_duty_mock_fixes() -> None:
    base = at_station((8, 0), (16, 0))
    three = [fix("o1", at(DAY, 12, m), is_mock=True) for m in (1, 3, 5)]
    off_duty = [fix("o1", at(DAY, 20, m), is_mock=True) for m in (1, 3, 5)]
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(base + three)), POLICY)
    assert codes(out.findings) == [mock_location.CODE]
    check_finding_shape(out.findings[0])
    assert out.findings[0].evidence["n_mock_fixes"] == 3
    assert out.findings[0].evidence["stations_claimed"] == [ST1[0]]
    two = evaluate_day(day_inputs(DAY, OFFICE, fixes(base + three[:2])), POLICY)
    masked = evaluate_day(day_inputs(DAY, OFFICE, fixes(base + off_duty)), POLICY)
    assert two.findings == []
    assert masked.findings == []


def test_fingerprints_are_stable_and_distinct() -> None:
    one = evaluate_day(day_inputs(DAY, OFFICE, fixes(home_all_day())), POLICY)
    again = evaluate_day(day_inputs(DAY, OFFICE, fixes(home_all_day())), POLICY)
    assert [f.fingerprint for f in one.findings] == [f.fingerprint for f in again.findings]
    other = evaluate_day(
        day_inputs(DAY, shifts(shift("s2", "o1", at(DAY, 8), at(DAY, 16))), fixes(home_all_day())),
        POLICY,
    )
    assert one.findings[0].fingerprint != other.findings[0].fingerprint
    assert pl.Series([f.misconduct for f in one.findings]).all()


def test_badge_while_passing_through_is_not_badge_without_device() -> None:
    # arriving from 5 km north, swiping, and already 3 km north two minutes later: not one place
    sw = swipes([swipe("o1", at(DAY, 8, 1))])
    fx = fixes(
        [
            fix("o1", at(DAY, 7, 55), where="far", metres=5000),
            fix("o1", at(DAY, 8, 5), where="far", metres=3000),
        ]
    )
    out = evaluate_day(day_inputs(DAY, OFFICE, fx, sw), POLICY)
    assert badge_without_device.CODE not in codes(out.findings)


def test_fused_ghosts_are_neither_travel_nor_absence() -> None:
    # a Wi-Fi hotspot registered 25 km away: two confident fused fixes amid station fixes
    ghosts = fixes(jump_track([(9, 20), (9, 22)], "fused"))
    out = evaluate_day(day_inputs(DAY, OFFICE, ghosts), POLICY)
    assert out.findings == []
    # the ghosts break no presence: the hour at the station is unbroken
    assert out.daily["away_minutes"].to_list() == [0.0]


def test_shortening_after_the_end_compared_with_the_roster_systems_own_version() -> None:
    # the shift was in the roster system before the day (updated_at), but first stored here at
    # the import after the edit (recorded_at); shortening it adds nothing to check
    made = at(DAY - timedelta(days=20), 9)
    edited = at(DAY + timedelta(days=2), 10)
    current = shift("s1", "o1", at(DAY, 8), at(DAY, 12), created_at=made, updated_at=edited)
    old = {
        **shift("s1", "o1", at(DAY, 8), at(DAY, 16), created_at=made),
        "version": 1,
        "recorded_at": edited,
    }
    new = {**current, "version": 2, "recorded_at": edited}
    home = fixes(home_all_day())
    out = evaluate_day(
        day_inputs(DAY, shifts(current), home, history_rows=history([old, new])), POLICY
    )
    assert roster_retro_edit.CODE not in codes(out.findings)


def test_change_after_the_end_with_no_version_known_at_the_end_adds_nothing_known() -> None:
    # the roster system created the shift weeks ahead (created_at) and shortened it after the
    # end (updated_at); the first import that saw it came after the change, so the only stored
    # version is the shortened one: the version in force at the end is unknown and the shift is
    # not checked as if it were new (the officer went home sick at 11:50)
    made = at(DAY - timedelta(days=20), 9)
    edited = at(DAY + timedelta(days=2), 10)
    current = shift("s1", "o1", at(DAY, 8), at(DAY, 11), created_at=made, updated_at=edited)
    only = {**current, "version": 1, "recorded_at": at(DAY + timedelta(days=3), 6)}
    home = fixes(home_all_day())
    out = evaluate_day(day_inputs(DAY, shifts(current), home, history_rows=history([only])), POLICY)
    assert roster_retro_edit.CODE not in codes(out.findings)
    # created after its end by the roster's own time: all of it is still checked
    late = shift("s1", "o1", at(DAY, 8), at(DAY, 11), created_at=edited, updated_at=edited)
    out = evaluate_day(
        day_inputs(
            DAY,
            shifts(late),
            home,
            history_rows=history([{**late, "version": 1, "recorded_at": edited}]),
        ),
        POLICY,
    )
    found = [f for f in out.findings if f.code == roster_retro_edit.CODE]
    assert [f.evidence["added_minutes"] for f in found] == [180.0]
    assert found[0].evidence["edit"] == "created"


def test_device_without_badge_on_clean_satellite_presence_with_no_swipe() -> None:
    yesterday = DAY - timedelta(days=1)
    rota = shifts(
        shift("s0", "o1", at(yesterday, 8), at(yesterday, 16)),
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift("s2", "o2", at(DAY, 8), at(DAY, 16)),
    )
    spoofed = fixes(at_station((8, 0), (16, 0)))
    usual = [swipe("o1", at(yesterday, 8, 1)), swipe("o2", at(DAY, 8, 5))]

    def run(fx: pl.DataFrame, sw: list[dict[str, Any]]) -> list[str]:
        out = evaluate_day(day_inputs(DAY, rota, fx, swipes(sw), officer_ids=("o1", "o2")), POLICY)
        return [f.officer_id for f in out.findings if f.code == device_without_badge.CODE]

    out = evaluate_day(
        day_inputs(DAY, rota, spoofed, swipes(usual), officer_ids=("o1", "o2")), POLICY
    )
    found = [f for f in out.findings if f.code == device_without_badge.CODE]
    assert [f.officer_id for f in found] == ["o1"]
    check_finding_shape(found[0])
    assert found[0].evidence["n_swipes_by_others_at_station"] == 1
    # conflicting evidence: the day is neither verified nor an absence
    o1 = out.daily.filter(pl.col("officer_id") == "o1")
    assert o1.select("evidence", "verified_office_day").rows() == [("insufficient_evidence", False)]
    # innocent explanations: indoor Wi-Fi fixes (a real phone), a station where nobody swiped
    # (no reader, or a reader fault), an officer who does not swipe at all, a swipe of their own
    wifi = fixes(
        [fix("o1", t, accuracy_m=40.0, source="wifi") for t in every(at(DAY, 8), at(DAY, 16), 10)]
    )
    assert run(wifi, usual) == []
    assert run(spoofed, usual[:1]) == []
    assert run(spoofed, usual[1:]) == []
    assert run(spoofed, [*usual, swipe("o1", at(DAY, 8, 2))]) == []


def test_device_without_badge_knows_a_swiper_from_the_look_back() -> None:
    """The days either side of the spoofed office day are a rest day and a remote day, so the
    inputs hold no swipe of o1: alone they cannot tell o1 from an officer who never swipes, and
    nothing is raised. Told by the caller that o1 swiped on duty within dwb_habit_days
    (DayInputs.swipers), the rule raises DEVICE_WITHOUT_BADGE; o2, not in that list and with
    no swipe of their own in the inputs, stays an officer who rarely swipes."""
    rota = shifts(
        shift("s1", "o1", at(DAY, 8), at(DAY, 16)),
        shift("s2", "o2", at(DAY, 8), at(DAY, 16)),
        shift("s3", "o3", at(DAY, 8), at(DAY, 16)),
    )
    spoofed = fixes(
        at_station((8, 0), (16, 0))
        + [{**f, "officer_id": "o2"} for f in at_station((8, 0), (16, 0))]
    )
    others = swipes([swipe("o3", at(DAY, 8, 5))])
    base = day_inputs(DAY, rota, spoofed, others, officer_ids=("o1", "o2", "o3"))

    def raised(inputs: DayInputs) -> list[str]:
        out = evaluate_day(inputs, POLICY)
        return [f.officer_id for f in out.findings if f.code == device_without_badge.CODE]

    assert raised(base) == []
    told = replace(base, swipers=pl.DataFrame({"officer_id": ["o1"]}))
    assert raised(told) == ["o1"]


def test_two_wifi_ghosts_around_a_swipe_are_not_a_badge_without_device() -> None:
    sw = swipes([swipe("o1", at(DAY, 8, 1))])
    ghosts = [
        fix("o1", at(DAY, h, m), where="far", metres=5000, accuracy_m=15.0, source="fused")
        for h, m in ((7, 55), (8, 7))  # each clock_tolerance_minutes or more from the swipe
    ]
    track = [fix("o1", at(DAY, 7, 30)), *ghosts, fix("o1", at(DAY, 8, 40))]
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes(track), sw), POLICY)
    assert badge_without_device.CODE not in codes(out.findings)
    # the same two positions labelled GPS, or a phone that keeps reporting there, are raised
    gps = [{**g, "source": "gps"} for g in ghosts]
    out = evaluate_day(day_inputs(DAY, OFFICE, fixes([track[0], *gps, track[-1]]), sw), POLICY)
    assert badge_without_device.CODE in codes(out.findings)
