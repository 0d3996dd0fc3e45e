"""The station catalog: built once, rebuilt when any station changes, even with an older clock."""

from __future__ import annotations

import copy
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
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


def test_a_second_process_loads_the_index_from_the_cache_directory(
    session: Session, tmp_path: Path
) -> None:
    for i in range(2):
        upsert_station(session, _station(f"ST{i}", 0.01 * i), now=NOW)
    first = StationCatalog(cache_dir=tmp_path / "cache")
    built = first.current(session).index
    assert (first.builds, first.loads) == (1, 0)
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    # Another process with the same stations: the index comes from the file, classifying alike.
    second = StationCatalog(cache_dir=tmp_path / "cache")
    loaded = second.current(session).index
    assert (second.builds, second.loads) == (0, 1)
    assert built is not None
    assert loaded is not None
    assert loaded is not built
    points = [s.geometry.representative_point() for s in first.current(session).stations]
    lat = np.array([p.y for p in points] + [0.0])
    lon = np.array([p.x for p in points] + [0.0])
    assert list(loaded.station_at(lat, lon)) == ["ST0", "ST1", None]
    assert list(loaded.station_at(lat, lon)) == list(built.station_at(lat, lon))
    # A station moved: its content key differs, so the file is not used for it.
    upsert_station(session, _station("ST1", 0.05), now=NOW + timedelta(hours=1))
    assert second.current(session).index is not loaded
    assert (second.builds, second.loads) == (1, 1)
    assert len(list((tmp_path / "cache").glob("stations-*.pickle"))) == 2


def test_an_index_file_not_trusted_or_broken_is_rebuilt(session: Session, tmp_path: Path) -> None:
    upsert_station(session, _station("ST0", 0.0), now=NOW)
    cache = tmp_path / "cache"
    StationCatalog(cache_dir=cache).current(session)
    (file,) = cache.glob("stations-*.pickle")
    file.chmod(0o666)  # writable by others: never read
    catalog = StationCatalog(cache_dir=cache)
    assert catalog.current(session).index is not None
    assert (catalog.builds, catalog.loads) == (1, 0)
    file.write_bytes(b"not a pickle")  # the rebuild wrote it again (0600); now break it
    catalog = StationCatalog(cache_dir=cache)
    assert catalog.current(session).index is not None
    assert (catalog.builds, catalog.loads) == (1, 0)
    again = StationCatalog(cache_dir=cache)
    again.current(session)
    assert (again.builds, again.loads) == (0, 1)  # the rebuilt file is read back
