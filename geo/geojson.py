"""GeoJSON (RFC 7946) of station fences and of a timeline: outlines and hexagons, never a point."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import h3
import shapely
from shapely.geometry import mapping

from geo.fences import Station

# Events drawn with their station's fence (presence) or the station they name (swipe).
_STATION_EVENTS = ("presence", "swipe")


def fence_geometry(geometry: shapely.MultiPolygon) -> dict[str, Any]:
    """A fence as a GeoJSON geometry (lng, lat order; a one-part fence as a Polygon)."""
    if len(geometry.geoms) == 1:
        return dict(mapping(geometry.geoms[0]))
    return dict(mapping(geometry))


def cell_geometry(cell: str) -> dict[str, Any]:
    """An H3 cell's hexagon (or pentagon) as a closed GeoJSON Polygon in lng, lat order."""
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def station_feature(station: Station) -> dict[str, Any]:
    """One station as a Feature with id, name and borough."""
    return {
        "type": "Feature",
        "id": station.station_id,
        "geometry": fence_geometry(station.geometry),
        "properties": {
            "station_id": station.station_id,
            "name": station.name,
            "borough": station.borough,
        },
    }


def stations_collection(stations: Sequence[Station]) -> dict[str, Any]:
    """Every station's fence as a FeatureCollection, in the order given."""
    return {"type": "FeatureCollection", "features": [station_feature(s) for s in stations]}


def event_geometry(
    event: Mapping[str, Any],
    fences: Mapping[str, shapely.MultiPolygon],
    rendered: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """Where a timeline event is drawn: a presence or swipe as its station's fence, an away
    segment as its H3 cell's hexagon; None for events without a place (shift start and end,
    off-duty gaps) and for a station no longer stored. ``rendered``: fences already drawn, by
    station id, for the same ``fences`` (filled here as fences are drawn; treat as read-only)."""
    if event.get("type") in _STATION_EVENTS:
        station_id = str(event.get("station_id"))
        if rendered is not None and station_id in rendered:
            return rendered[station_id]
        fence = fences.get(station_id)
        if fence is None:
            return None
        geometry = fence_geometry(fence)
        if rendered is not None:
            rendered[station_id] = geometry
        return geometry
    if event.get("type") == "away" and event.get("h3_cell"):
        return cell_geometry(str(event["h3_cell"]))
    return None


def timeline_collection(
    timeline: Mapping[str, Any],
    fences: Mapping[str, shapely.MultiPolygon],
    rendered: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A timeline (CONTRACT §7 shape) as a FeatureCollection: one Feature per event in the same
    order, its fields as properties, plus the timeline's officer_id, from and to as members.
    ``rendered``: a cache of drawn fences kept with ``fences`` (see event_geometry)."""
    features = [
        {
            "type": "Feature",
            "geometry": event_geometry(event, fences, rendered),
            "properties": dict(event),
        }
        for event in timeline["events"]
    ]
    return {
        "type": "FeatureCollection",
        "officer_id": timeline["officer_id"],
        "from": timeline["from"],
        "to": timeline["to"],
        "features": features,
    }
