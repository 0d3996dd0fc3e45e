"""Batch bodies to frames: typed columns straight from JSON give every item the outcome the text
path (values as a file would hold them) gives it."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from api.batch import BODY_KEYS, _parse_items, parse_batch
from intake.pipeline import _numbered
from intake.validate import KINDS, dedupe, validate

TZ = "Europe/London"


def _ping(**values: Any) -> dict[str, Any]:
    item = {
        "device_id": "D1",
        "ts": "2026-10-05T09:00:00+01:00",
        "lat": 51.5074,
        "lon": -0.1278,
        "accuracy_m": 12.0,
        "source": "gps",
        "is_mock": False,
    }
    item.update(values)
    return {k: v for k, v in item.items() if v is not ...}


def _same_outcome(kind: str, items: list[dict[str, Any]]) -> pl.DataFrame:
    """Validate and deduplicate the parsed batch and the item-by-item text frame; assert equal."""
    parsed = parse_batch(kind, json.dumps({BODY_KEYS[kind]: items}).encode())
    text = _parse_items(items, KINDS[kind].names)
    assert parsed.positions == text.positions
    assert parsed.errors == text.errors
    ours = validate(kind, _numbered(parsed.frame, 0), tz=TZ)
    theirs = validate(kind, _numbered(text.frame, 0), tz=TZ)
    assert_frame_equal(ours.errors, theirs.errors)
    assert_frame_equal(ours.good, theirs.good)
    for a, b in zip(dedupe(kind, ours.good), dedupe(kind, theirs.good), strict=True):
        assert_frame_equal(a, b)
    return parsed.frame


def test_clean_pings_are_typed_and_validate_as_text() -> None:
    items = [
        _ping(ts=f"2026-10-05T09:{m:02d}:00+01:00", lat=51.5 + m / 1000, accuracy_m=m + 1)
        for m in range(20)
    ]
    items += [_ping(ts="2026-10-05T10:00:00+01:00", lon=0, accuracy_m=None, is_mock=True)]
    frame = _same_outcome("pings", items)
    assert frame.schema["lat"] == pl.Float64
    assert frame.schema["accuracy_m"] == pl.Float64
    assert frame.schema["is_mock"] == pl.Boolean


@pytest.mark.parametrize(
    "odd",
    [
        {"lat": 91.0},
        {"lat": -0.1278, "lon": 51.5074},  # swapped
        {"lon": 200},
        {"accuracy_m": 0},
        {"accuracy_m": -5.5},
        {"lat": 1.7976931348623157e308},
        {"lat": 5e-324},
        {"lat": 10**30},  # beyond 64 bits: decoded as a float
        {"lat": None},
        {"lat": ...},  # absent
        {"ts": "2026-03-29T01:30:00"},  # spring-forward gap
        {"ts": "not a time"},
        {"device_id": "x" * 70},
        {"device_id": "D\x001"},
        {"source": "GPS"},
        {"source": "radio"},
        {"is_mock": None},
    ],
)
def test_typed_pings_with_bad_values_fail_as_text(odd: dict[str, Any]) -> None:
    items = [_ping(), _ping(**{"ts": "2026-10-05T09:01:00+01:00", **odd}), _ping()]
    frame = _same_outcome("pings", items)
    assert frame.schema["lat"] == pl.Float64


@pytest.mark.parametrize(
    "odd",
    [
        {"lat": "51.5"},  # text for a coordinate
        {"lat": ""},
        {"lat": " 51.5 "},
        {"lat": 2**53 + 1},  # an integer a Float64 does not hold exactly
        {"lat": True},
        {"is_mock": "yes"},
        {"is_mock": 1},
        {"device_id": 1001},  # a number for an id
        {"ts": 1760000000},
    ],
)
def test_values_of_other_json_types_take_the_text_path(odd: dict[str, Any]) -> None:
    items = [_ping(), _ping(**{"ts": "2026-10-05T09:01:00+01:00", **odd})]
    frame = _same_outcome("pings", items)
    assert set(frame.schema.values()) == {pl.Utf8}


def test_swipes_and_visits_typed_as_text() -> None:
    swipe = {
        "badge_id": "B1",
        "ts": "2026-10-05T08:58:41+01:00",
        "station_id": "ST-01",
        "reader_id": "R-01-A",
        "direction": "in",
        "granted": True,
    }
    swipes = _same_outcome(
        "swipes", [swipe, {**swipe, "reader_id": "R-2", "granted": None, "direction": "up"}]
    )
    assert swipes.schema["granted"] == pl.Boolean
    visit = {
        "device_id": "D1",
        "arrived_at": "2026-10-05T07:52:00+01:00",
        "departed_at": "2026-10-05T07:00:00+01:00",
        "lat": 51.5,
        "lon": -0.12,
        "accuracy_m": 40,
    }
    visits = _same_outcome("visits", [visit, {**visit, "departed_at": None, "lat": 95}])
    assert visits.schema["accuracy_m"] == pl.Float64


def test_repeats_and_conflicts_within_a_typed_batch() -> None:
    items = [_ping(), _ping(), _ping(lat=51.6), _ping(ts="2026-10-05T09:01:00+01:00", lat=51)]
    first, repeats, conflicts = dedupe(
        "pings", validate("pings", _numbered(_same_outcome("pings", items), 0), tz=TZ).good
    )
    assert (first.height, repeats.height, conflicts.height) == (2, 1, 1)
