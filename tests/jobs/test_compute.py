"""Chunked classification gives exactly the single-pass result."""

from __future__ import annotations

from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

import rules.pipeline
from fixtures.synth import Force
from geo.fences import Station
from geo.index import StationIndex
from rules.pipeline import classify_fixes


def test_chunked_classify_is_identical(
    small_force: tuple[Force, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    force = small_force[0]
    index = StationIndex.build(
        [Station(sid, sid, None, geom) for sid, geom in force.station_geometries.items()]
    )
    fixes = force.pings.head(5_000)
    whole = index.classify(fixes)
    monkeypatch.setattr(rules.pipeline, "CLASSIFY_CHUNK_ROWS", 777)
    assert_frame_equal(classify_fixes(index, fixes), whole)
    assert whole["station_id"].drop_nulls().len() > 0
