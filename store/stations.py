"""Station footprints: upsert from GeoJSON features and read back as geo Stations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.fences import ForceArea, Station, station_from_feature
from store.db import is_postgres
from store.models import Station as StationRow


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
    """Every stored station as a geo Station (geometry in lng/lat order)."""
    rows = session.execute(
        select(
            StationRow.station_id, StationRow.name, StationRow.borough, StationRow.geom
        ).order_by(StationRow.station_id)
    ).all()
    return [
        Station(station_id=r[0], name=r[1], borough=r[2], geometry=_from_db(r[3])) for r in rows
    ]
