"""The station catalog: built once, rebuilt when any station changes, even with an older clock."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from store.stations import StationCatalog, stations_version, upsert_station
from tests.intake.helpers import STATION

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


def _station(station_id: str, dx: float) -> dict[str, Any]:
    feature = copy.deepcopy(STATION)
    feature["properties"]["station_id"] = station_id
    ring = feature["geometry"]["coordinates"][0]
    feature["geometry"]["coordinates"][0] = [[x + dx, y] for x, y in ring]
    return feature


def test_catalog_follows_every_change_of_the_stations(session: Session) -> None:
    catalog = StationCatalog()
    empty = catalog.current(session)
    assert (empty.stations, empty.index) == ([], None)
    for i in range(3):
        upsert_station(session, _station(f"ST{i}", 0.01 * i), now=NOW)
    three = catalog.current(session)
    assert sorted(three.fences) == ["ST0", "ST1", "ST2"]
    assert three.index is not None
    assert catalog.current(session) is three
    assert catalog.builds == 2
    # A change stamped with a clock behind the newest row still changes the fingerprint.
    before = stations_version(session)
    upsert_station(session, _station("ST0", 0.05), now=NOW - timedelta(hours=1))
    assert stations_version(session) != before
    moved = catalog.current(session)
    assert moved is not three
    assert moved.fences["ST0"].bounds[0] > three.fences["ST0"].bounds[0]
    assert catalog.builds == 3
    # The same fence again changes nothing.
    upsert_station(session, _station("ST0", 0.05), now=NOW + timedelta(hours=1))
    assert catalog.current(session) is moved
