"""The start-up rehearsal: a made-up day run through the whole timeline pipeline."""

from __future__ import annotations

import polars as pl
import pytest

from geo.index import StationIndex
from geo.synthetic import random_stations
from rules.pipeline import rehearsal_records, rehearse, timeline_segments
from rules.policy import load_policy


@pytest.fixture(scope="module")
def index() -> StationIndex:
    return StationIndex.build(random_stations(3, seed=11, min_spacing_m=250.0))


def test_the_rehearsal_takes_the_paths_a_real_day_takes(index: StationIndex) -> None:
    """Presence at the first station (fixes and the entry swipe), then away in an H3 cell, then
    the rest of the window unknown: the branches a real officer-month goes through."""
    policy = load_policy()
    segments = timeline_segments(rehearsal_records(index, policy), index, policy)
    kinds = segments["kind"].to_list()
    assert kinds == ["presence", "away", "unknown"]
    presence = segments.row(0, named=True)
    assert presence["station_id"] == index.station_ids[0]
    assert presence["n_swipes"] == 1
    assert presence["n_fixes"] > 0
    assert segments.filter(pl.col("kind") == "away")["h3_cell"].null_count() == 0


def test_the_rehearsal_builds_a_whole_timeline_and_needs_an_index(index: StationIndex) -> None:
    policy = load_policy()
    document = rehearse(index, policy, "Europe/London")
    assert document is not None
    types = [event["type"] for event in document["events"]]
    for kind in ("shift_start", "swipe", "presence", "away", "shift_end", "off_duty"):
        assert kind in types
    assert rehearse(None, policy, "Europe/London") is None
