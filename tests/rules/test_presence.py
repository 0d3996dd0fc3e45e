"""Presence segments on tiny hand-made tracks with exact expected intervals (no mocks)."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from rules.engine import presence_segments
from rules.evidence import source_bits
from tests.rules.rules_builders import (
    TEST_POLICY,
    at,
    every,
    fix,
    fixes,
    shift,
    shifts,
    swipe,
    swipes,
)

DAY = date(2026, 3, 2)  # GMT: local time equals UTC
POLICY = TEST_POLICY
SHIFT = shifts(shift("s1", "o1", at(DAY, 8), at(DAY, 16)))


def segs(fx: pl.DataFrame, sw: pl.DataFrame | None = None) -> list[tuple[str, datetime, datetime]]:
    """(kind, start, end) of every segment of o1."""
    out = presence_segments(fx, sw if sw is not None else swipes(), SHIFT, POLICY)
    return [(r["kind"], r["start_at"], r["end_at"]) for r in out.iter_rows(named=True)]


def minutes(rows: list[tuple[str, datetime, datetime]], kind: str) -> float:
    """Total minutes of ``kind``."""
    return sum((b - a).total_seconds() / 60 for k, a, b in rows if k == kind)


def test_regular_inside_fixes_give_one_presence_interval_with_edge_credit() -> None:
    fx = fixes([fix("o1", t) for t in every(at(DAY, 9), at(DAY, 12), 10)])
    assert segs(fx) == [
        ("unknown", at(DAY, 7, 30), at(DAY, 8, 45)),
        ("presence", at(DAY, 8, 45), at(DAY, 12, 15)),
        ("unknown", at(DAY, 12, 15), at(DAY, 16, 30)),
    ]


def test_a_gap_longer_than_the_bridge_is_not_bridged() -> None:
    times = [at(DAY, 9), at(DAY, 9, 10), at(DAY, 9, 20), at(DAY, 10, 30), at(DAY, 10, 40)]
    times.append(at(DAY, 10, 50))
    rows = segs(fixes([fix("o1", t) for t in times]))
    assert [r for r in rows if r[0] == "presence"] == [
        ("presence", at(DAY, 8, 45), at(DAY, 9, 35)),
        ("presence", at(DAY, 10, 15), at(DAY, 11, 5)),
    ]


def test_never_bridged_across_evidence_of_being_elsewhere() -> None:
    inside = [at(DAY, 9), at(DAY, 9, 10), at(DAY, 9, 20), at(DAY, 10), at(DAY, 10, 10)]
    inside.append(at(DAY, 10, 20))
    away = [at(DAY, 9, 30), at(DAY, 9, 40), at(DAY, 9, 50)]
    fx = fixes(
        [fix("o1", t) for t in inside] + [fix("o1", t, where="far", metres=2000) for t in away]
    )
    rows = segs(fx)
    assert [r for r in rows if r[0] != "unknown"] == [
        ("presence", at(DAY, 8, 45), at(DAY, 9, 25)),
        ("away", at(DAY, 9, 25), at(DAY, 9, 55)),
        ("presence", at(DAY, 9, 55), at(DAY, 10, 35)),
    ]


def test_away_segments_carry_a_coarse_cell_and_presence_a_station() -> None:
    fx = fixes(
        [fix("o1", t, where="far", metres=3000) for t in every(at(DAY, 9), at(DAY, 9, 20), 5)]
        + [fix("o1", t) for t in every(at(DAY, 11), at(DAY, 11, 20), 5)]
    )
    out = presence_segments(fx, swipes(), SHIFT, POLICY)
    away = out.filter(pl.col("kind") == "away")
    here = out.filter(pl.col("kind") == "presence")
    assert away["h3_cell"].null_count() == 0
    assert away["station_id"].to_list() == [None]
    assert here["station_id"].to_list() == ["ST1"]
    assert here["h3_cell"].to_list() == [None]
    assert (here["n_fixes"].to_list(), here["sources"].to_list()) == ([5], ["gps"])
    assert set(out.columns) == {
        "officer_id",
        "start_at",
        "end_at",
        "kind",
        "station_id",
        "h3_cell",
        "n_fixes",
        "n_swipes",
        "sources",
    }


def test_entry_swipe_anchors_presence_through_indoor_fix_loss_to_shift_end() -> None:
    fx = fixes([fix("o1", at(DAY, 8, 5)), fix("o1", at(DAY, 14))])
    rows = segs(fx, swipes([swipe("o1", at(DAY, 8))]))
    assert rows == [
        ("unknown", at(DAY, 7, 30), at(DAY, 8)),
        ("presence", at(DAY, 8), at(DAY, 16)),
        ("unknown", at(DAY, 16), at(DAY, 16, 30)),
    ]


def test_swipe_alone_anchors_presence_until_the_shift_ends() -> None:
    rows = segs(fixes([]), swipes([swipe("o1", at(DAY, 9))]))
    assert minutes(rows, "presence") == 7 * 60


def test_anchor_ends_at_evidence_of_leaving() -> None:
    fx = fixes(
        [fix("o1", t) for t in (at(DAY, 8, 5), at(DAY, 8, 10), at(DAY, 8, 15))]
        + [fix("o1", t, where="far", metres=4000) for t in every(at(DAY, 10), at(DAY, 10, 4), 2)]
    )
    rows = segs(fx, swipes([swipe("o1", at(DAY, 8))]))
    assert [r for r in rows if r[0] != "unknown"] == [
        ("presence", at(DAY, 8), at(DAY, 8, 30)),
        ("away", at(DAY, 9, 45), at(DAY, 10, 19)),
    ]


def test_exit_swipe_ends_presence_exactly() -> None:
    fx = fixes([fix("o1", t) for t in (at(DAY, 8, 5), at(DAY, 8, 10), at(DAY, 8, 15))])
    sw = swipes([swipe("o1", at(DAY, 8)), swipe("o1", at(DAY, 12), direction="out")])
    rows = segs(fx, sw)
    assert [r for r in rows if r[0] == "presence"] == [("presence", at(DAY, 8), at(DAY, 12))]


def test_denied_swipe_is_no_presence() -> None:
    rows = segs(fixes([]), swipes([swipe("o1", at(DAY, 9), granted=False)]))
    assert rows == [("unknown", at(DAY, 7, 30), at(DAY, 16, 30))]


def test_neighbour_within_200_m_with_multipath_fixes_is_never_present() -> None:
    home = [
        fix("o1", t, where="near", metres=150, accuracy_m=40, source="wifi")
        for t in every(at(DAY, 8), at(DAY, 16), 5)
    ]
    # two multipath fixes pulled onto the station, each reported at 5 m accuracy
    home[24] = fix("o1", at(DAY, 10), where="in", accuracy_m=5, boundary_distance_m=-5)
    home[60] = fix("o1", at(DAY, 13), where="in", accuracy_m=5, boundary_distance_m=-5)
    rows = segs(fixes(home))
    assert minutes(rows, "presence") == 0
    assert minutes(rows, "away") == 540 - minutes(rows, "unknown")
    assert minutes(rows, "unknown") == 30  # 07:30-07:45 and 16:15-16:30


def test_honest_officer_with_noisy_wifi_at_a_small_station_is_present_all_day() -> None:
    pattern = [-5.0, 15.0, -8.0, 25.0, 5.0]  # reported distances scatter across the wall
    times = every(at(DAY, 8), at(DAY, 16), 5)
    fx = fixes(
        [
            fix(
                "o1",
                t,
                where="in",
                accuracy_m=50,
                source="wifi",
                boundary_distance_m=pattern[i % 5],
            )
            for i, t in enumerate(times)
        ]
    )
    rows = segs(fx)
    assert [r for r in rows if r[0] == "presence"] == [
        ("presence", at(DAY, 7, 45), at(DAY, 16, 15))
    ]


def test_one_multipath_fix_out_of_the_station_does_not_cut_presence() -> None:
    track = [fix("o1", t) for t in every(at(DAY, 9), at(DAY, 10), 10)]
    track[3] = fix("o1", at(DAY, 9, 30), where="near", metres=140, accuracy_m=4)
    rows = segs(fixes(track))
    assert [r for r in rows if r[0] != "unknown"] == [("presence", at(DAY, 8, 45), at(DAY, 10, 15))]


def test_cell_positions_and_mock_fixes_are_never_presence() -> None:
    fx = fixes(
        [fix("o1", t, accuracy_m=800, source="cell") for t in every(at(DAY, 9), at(DAY, 10), 5)]
        + [fix("o1", t, is_mock=True) for t in every(at(DAY, 11), at(DAY, 12), 5)]
    )
    rows = segs(fx)
    assert minutes(rows, "presence") == 0
    out = presence_segments(fx, swipes(), SHIFT, POLICY)
    assert out.filter(pl.col("sources") == "mock")["kind"].to_list() == ["unknown"]


def test_off_duty_fixes_make_no_segment() -> None:
    fx = fixes([fix("o1", t) for t in every(at(DAY, 17), at(DAY, 20), 10)])
    assert segs(fx) == [("unknown", at(DAY, 7, 30), at(DAY, 16, 30))]


def test_cafe_60_m_from_the_wall_with_noisy_wifi_is_never_presence() -> None:
    pattern = [60.0, 35.0, 85.0, 48.0, 70.0]  # Wi-Fi scatter around a cafe 60 m from the wall
    times = every(at(DAY, 8), at(DAY, 16), 4)
    fx = fixes(
        [
            fix(
                "o1",
                t,
                where="near",
                accuracy_m=60,
                source="wifi",
                boundary_distance_m=pattern[i % 5],
            )
            for i, t in enumerate(times)
        ]
    )
    rows = segs(fx)
    assert minutes(rows, "presence") == 0
    assert rows == [("unknown", at(DAY, 7, 30), at(DAY, 16, 30))]  # too close to call away


def test_unlabelled_and_oddly_written_sources_are_read() -> None:
    bits = source_bits(pl.Series(["gps", " WiFi", None, "satellite", "cell"]))
    assert bits.to_list() == [1, 2, 16, 16, 4]


def test_presence_is_bridged_longer_than_absence() -> None:
    policy = POLICY.model_copy(update={"presence_bridge_max_minutes": 90})
    here = fixes(
        [fix("o1", t) for t in (at(DAY, 9), at(DAY, 9, 5), at(DAY, 10, 15), at(DAY, 10, 20))]
    )
    away = fixes(
        [
            fix("o1", t, where="far", metres=3000)
            for t in (at(DAY, 9), at(DAY, 9, 5), at(DAY, 10, 15), at(DAY, 10, 20))
        ]
    )
    present = presence_segments(here, swipes(), SHIFT, policy)
    absent = presence_segments(away, swipes(), SHIFT, policy)
    assert present.filter(pl.col("kind") == "presence").select("start_at", "end_at").rows() == [
        (at(DAY, 8, 45), at(DAY, 10, 35))
    ]
    assert absent.filter(pl.col("kind") == "away").select("start_at", "end_at").rows() == [
        (at(DAY, 8, 45), at(DAY, 9, 20)),
        (at(DAY, 10, 0), at(DAY, 10, 35)),
    ]
