"""Station footprints: upsert from GeoJSON features, read back as geo Stations, and the per-process
catalog of them with their index."""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import stat
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.fences import ForceArea, Station, check_fence_size, station_from_feature
from geo.index import StationIndex
from store.models import Station as StationRow
from store.reader import dialect

log = logging.getLogger(__name__)

# Fixes this close to a fence are attributed to it when a timeline is built (metres).
TIMELINE_NEAR_M = 100.0


def _to_db(session: Session, station: Station) -> str:
    wkt = shapely.to_wkt(station.geometry, rounding_precision=-1)
    return dialect(session).geometry(wkt)


def _from_db(value: Any) -> shapely.MultiPolygon:
    if isinstance(value, str):
        geom = shapely.from_wkt(value)
    else:
        from geoalchemy2.shape import to_shape

        geom = to_shape(value)
    if isinstance(geom, shapely.Polygon):
        geom = shapely.MultiPolygon([geom])
    return geom


def upsert_station(
    session: Session, feature: dict[str, Any], *, now: datetime, area: ForceArea | None = None
) -> tuple[str, bool]:
    """Validate one GeoJSON Feature and store it; returns (station_id, changed).

    Raises geo.fences.GeofenceError naming the station and the reason when the fence is invalid.
    An identical re-import changes nothing (``changed`` is False).
    """
    station = station_from_feature(feature, area)
    row = session.get(StationRow, station.station_id)
    if row is not None:
        same = (
            row.name == station.name
            and row.borough == station.borough
            and _from_db(row.geom).equals_exact(station.geometry, 1e-12)
        )
        if same:
            return station.station_id, False
        row.name, row.borough = station.name, station.borough
        row.geom, row.updated_at = _to_db(session, station), now
    else:
        session.add(
            StationRow(
                station_id=station.station_id,
                name=station.name,
                borough=station.borough,
                geom=_to_db(session, station),
                updated_at=now,
            )
        )
    session.flush()
    return station.station_id, True


def load_stations(session: Session) -> list[Station]:
    """Every stored station as a geo Station (geometry in lng/lat order).

    Raises GeofenceError naming the station when a stored fence is beyond the size limits (one
    written before they existed, or by hand): an index is never built from it."""
    rows = session.execute(
        select(
            StationRow.station_id, StationRow.name, StationRow.borough, StationRow.geom
        ).order_by(StationRow.station_id)
    ).all()
    stations = [
        Station(station_id=r[0], name=r[1], borough=r[2], geometry=_from_db(r[3])) for r in rows
    ]
    for station in stations:
        check_fence_size(station.station_id, station.geometry)
    return stations


def station_ids(session: Session) -> list[str]:
    """The ids of the stored stations, sorted."""
    return sorted(set(session.execute(select(StationRow.station_id)).scalars()))


StationsVersion = tuple[int, Any, Any]
T = TypeVar("T")


def stations_version(session: Session) -> StationsVersion:
    """A cheap fingerprint of the stored stations (count, newest and sum of ``updated_at``): it
    changes whenever any process adds or changes a station, also when the change carries an
    older clock than the newest row. One aggregate over the stations table (hundreds of rows)."""
    total = dialect(session).instant_sum(StationRow.updated_at)
    row = session.execute(select(func.count(), func.max(StationRow.updated_at), total)).one()
    return int(row[0]), row[1], row[2]


@dataclass(frozen=True)
class StationSet:
    """One version of the stored stations: the list, fences by id and their classification index
    (None when no station is stored)."""

    version: StationsVersion
    stations: list[Station]
    fences: dict[str, shapely.MultiPolygon]
    index: StationIndex | None
    _derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """``make()``, computed once for this version of the stations and kept with it (the
        rendered GeoJSON of the fences, say: the stations do not change within a version, and a
        new version is a new StationSet). ``key`` names what ``make`` gives."""
        if key not in self._derived:
            self._derived[key] = make()
        value: T = self._derived[key]
        return value


# The geo modules whose code decides what an index holds: a cached index is used only by the same
# code that built it.
_INDEX_SOURCES = ("index.py", "cover.py", "lookup.py", "cells.py", "project.py", "fences.py")
_CACHE_PREFIX = "stations-"


@functools.cache
def _index_code() -> bytes:
    import geo

    digest = hashlib.sha256()
    for name in _INDEX_SOURCES:
        digest.update((Path(geo.__file__).parent / name).read_bytes())
    return digest.digest()


def stations_key(stations: list[Station], near_m: float) -> str:
    """A digest of everything a StationIndex of ``stations`` depends on: every station's id,
    fence (WKB) and buffer, ``near_m`` and the geo code that builds the index. Two processes
    (or two databases) with the same stations get the same key."""
    digest = hashlib.sha256(_index_code())
    digest.update(struct.pack("<d", near_m))
    for s in sorted(stations, key=lambda s: s.station_id):
        digest.update(s.station_id.encode() + b"\0")
        digest.update(struct.pack("<dq", s.buffer_m, len(wkb := shapely.to_wkb(s.geometry))))
        digest.update(wkb)
    return digest.hexdigest()


class IndexFiles:
    """StationIndex files in a directory of the service's own, one per station key, so that a
    restart (or another worker) loads the index in a fraction of a second instead of building
    it. Files are pickles: only files in a directory the service created for itself (mode
    0700), owned by its user and writable by no one else, are ever read; anything unreadable is
    ignored and rebuilt. Writes are atomic (a temporary file renamed), and only the newest
    ``keep`` files are kept."""

    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.directory = directory
        self.keep = keep

    def _path(self, key: str) -> Path:
        return self.directory / f"{_CACHE_PREFIX}{key}.pickle"

    def _trusted(self, path: Path) -> bool:
        info = path.stat()
        return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)

    def load(self, key: str) -> StationIndex | None:
        """The index stored under ``key``, or None (absent, not trusted or not readable)."""
        path = self._path(key)
        try:
            if not (self._trusted(self.directory) and self._trusted(path)):
                log.warning("station index file %s not trusted: ignored", path)
                return None
            with path.open("rb") as f:
                index = pickle.load(f)  # noqa: S301 (own, trusted directory: see the class)
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError) as exc:
            log.warning("station index file %s unreadable (%s): rebuilding", path, exc)
            return None
        return index if isinstance(index, StationIndex) else None

    def save(self, key: str, index: StationIndex) -> None:
        """Store ``index`` under ``key`` (a failure to write is logged, never raised)."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(handle, "wb") as f:
                pickle.dump(index, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._path(key))
            files = sorted(
                self.directory.glob(f"{_CACHE_PREFIX}*.pickle"),
                key=lambda p: p.stat().st_mtime,
                reverse=True,
            )
            for old in files[self.keep :]:
                old.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("station index not written to %s: %s", self.directory, exc)


class StationCatalog:
    """The stations and their index, built once per process and rebuilt only when the stored
    stations change (in this process or another: ``current`` compares stations_version, one
    small query, before handing out the cached set). Thread-safe; a rebuild happens once even
    when several requests notice the change together.

    With ``cache_dir``, an index is first looked up in IndexFiles by the stations' content
    (stations_key) and written there after a build: a restarted service or a second worker
    loads it instead of building it again (``builds`` counts builds, ``loads`` files read)."""

    def __init__(self, near_m: float = TIMELINE_NEAR_M, cache_dir: Path | None = None) -> None:
        self._near_m = near_m
        self._lock = threading.Lock()
        self._set: StationSet | None = None
        self._files = IndexFiles(cache_dir) if cache_dir is not None else None
        self.builds = 0
        self.loads = 0
        # Set once the service's start-up warm-up (api.app) has finished, built or not.
        self.warmed = threading.Event()

    def current(self, session: Session) -> StationSet:
        """The stations as stored now, rebuilt if they changed since the last call."""
        version = stations_version(session)
        cached = self._set
        if cached is not None and cached.version == version:
            return cached
        with self._lock:
            cached = self._set
            if cached is not None and cached.version == version:
                return cached
            stations = load_stations(session)
            index, loaded = self._index(stations) if stations else (None, False)
            if loaded:
                self.loads += 1
            else:
                self.builds += 1
            built = StationSet(
                version=version,
                stations=stations,
                fences={s.station_id: s.geometry for s in stations},
                index=index,
            )
            self._set = built
            return built

    def _index(self, stations: list[Station]) -> tuple[StationIndex, bool]:
        """The index of ``stations`` and whether it was read from a file (else built)."""
        if self._files is None:
            return StationIndex.build(stations, near_m=self._near_m), False
        key = stations_key(stations, self._near_m)
        index = self._files.load(key)
        if index is not None and index.near_m == self._near_m:
            return index, True
        index = StationIndex.build(stations, near_m=self._near_m)
        self._files.save(key, index)
        return index, False
