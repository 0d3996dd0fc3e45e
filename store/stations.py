"""Station footprints: upsert from GeoJSON features, read back as geo Stations, and the per-process
catalog of them with their index."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import BigInteger, func, select, type_coerce
from sqlalchemy.orm import Session

from geo.fences import ForceArea, Station, check_fence_size, station_from_feature
from geo.index import StationIndex
from store.db import is_postgres
from store.models import Station as StationRow

# Fixes this close to a fence are attributed to it when a timeline is built (metres).
TIMELINE_NEAR_M = 100.0


def _to_db(session: Session, station: Station) -> str:
    wkt = shapely.to_wkt(station.geometry, rounding_precision=-1)
    return f"SRID=4326;{wkt}" if is_postgres(session) else wkt


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


StationsVersion = tuple[int, Any, Any]


def stations_version(session: Session) -> StationsVersion:
    """A cheap fingerprint of the stored stations (count, newest and sum of ``updated_at``): it
    changes whenever any process adds or changes a station, also when the change carries an
    older clock than the newest row. One aggregate over the stations table (hundreds of rows)."""
    # SQLite stores microseconds since the epoch: their sum is a plain integer, not an instant.
    total: Any = type_coerce(func.sum(type_coerce(StationRow.updated_at, BigInteger)), BigInteger)
    if is_postgres(session):
        total = func.sum(func.extract("epoch", StationRow.updated_at))
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


class StationCatalog:
    """The stations and their index, built once per process and rebuilt only when the stored
    stations change (in this process or another: ``current`` compares stations_version, one
    small query, before handing out the cached set). Thread-safe; a rebuild happens once even
    when several requests notice the change together."""

    def __init__(self, near_m: float = TIMELINE_NEAR_M) -> None:
        self._near_m = near_m
        self._lock = threading.Lock()
        self._set: StationSet | None = None
        self.builds = 0

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
            index = StationIndex.build(stations, near_m=self._near_m) if stations else None
            built = StationSet(
                version=version,
                stations=stations,
                fences={s.station_id: s.geometry for s in stations},
                index=index,
            )
            self._set = built
            self.builds += 1
            return built
