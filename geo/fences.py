"""Station geofences: parse GeoJSON (lng, lat WGS84), validate, normalise to MultiPolygon."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon

# A buffer wider than this is almost certainly a unit mistake (km or feet typed as metres).
MAX_BUFFER_M = 500.0
# Size limits of one station's fence. A surveyed station outline has tens of vertices and covers
# at most a few hectares; the limits leave ample room while keeping the H3 cover and every index
# build small (a 10,000-vertex fence took 27 s and 2 GB per timeline, 100,000 exhausted memory).
MAX_FENCE_VERTICES = 1_000
MAX_FENCE_AREA_M2 = 1_000_000.0  # 1 km2
MAX_FENCE_SPAN_M = 3_000.0  # diagonal of the fence's bounding box
_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LNG_EQUATOR = 111_320.0


class GeofenceError(ValueError):
    """A geofence that cannot be used: the station it belongs to and a human-readable reason."""

    def __init__(self, station_id: str, reason: str) -> None:
        super().__init__(f"station {station_id}: {reason}")
        self.station_id = station_id
        self.reason = reason


@dataclass(frozen=True)
class ForceArea:
    """The force's area: a WGS84 bounding box in degrees, (lng, lat) order; default Greater London.

    A geofence must lie wholly inside it; one that does not (or that would if its axes were swapped)
    is rejected as a data-entry mistake rather than silently indexed somewhere else on Earth.
    """

    min_lng: float = -0.55
    min_lat: float = 51.25
    max_lng: float = 0.35
    max_lat: float = 51.72

    def __post_init__(self) -> None:
        """Reject an empty or inverted box, or one outside the valid lng/lat ranges."""
        if not (-180.0 <= self.min_lng < self.max_lng <= 180.0):
            raise ValueError(f"force area longitudes must satisfy -180 <= min < max <= 180: {self}")
        if not (-90.0 <= self.min_lat < self.max_lat <= 90.0):
            raise ValueError(f"force area latitudes must satisfy -90 <= min < max <= 90: {self}")

    def covers_bounds(self, bounds: tuple[float, float, float, float]) -> bool:
        """Whether a (min_lng, min_lat, max_lng, max_lat) box lies in this area (edges count)."""
        min_x, min_y, max_x, max_y = bounds
        return (
            self.min_lng <= min_x
            and max_x <= self.max_lng
            and self.min_lat <= min_y
            and max_y <= self.max_lat
        )


GREATER_LONDON = ForceArea()


@dataclass(frozen=True)
class Station:
    """A station and its validated geofence.

    ``geometry`` is a shapely MultiPolygon in WGS84 degrees with x = longitude, y = latitude
    (GeoJSON order). ``buffer_m`` (metres, >= 0) widens the fence when it is indexed; 0 means the
    fence as drawn.
    """

    station_id: str
    name: str
    borough: str | None
    geometry: MultiPolygon
    buffer_m: float = 0.0


def _fail(station_id: str, reason: str) -> GeofenceError:
    return GeofenceError(station_id, reason)


def _ring(station_id: str, where: str, raw: Any) -> list[tuple[float, float]]:
    """One GeoJSON linear ring as (lng, lat) tuples; must be closed with at least 4 positions."""
    if not isinstance(raw, list):
        raise _fail(station_id, f"{where} is not a list of positions")
    coords: list[tuple[float, float]] = []
    for i, pos in enumerate(raw):
        if (
            not isinstance(pos, list | tuple)
            or len(pos) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pos[:2])
        ):
            raise _fail(station_id, f"{where} position {i} is not [lng, lat]")
        lng, lat = float(pos[0]), float(pos[1])
        if not (math.isfinite(lng) and math.isfinite(lat)):
            raise _fail(station_id, f"{where} position {i} is not finite")
        coords.append((lng, lat))
    if len(coords) < 4:
        raise _fail(
            station_id,
            f"{where} has {len(coords)} positions; a closed ring needs at least 4 (3 distinct)",
        )
    if coords[0] != coords[-1]:
        raise _fail(station_id, f"{where} is not closed (first position != last position)")
    if len(set(coords)) < 3:
        raise _fail(station_id, f"{where} has fewer than 3 distinct positions")
    return coords


def _polygon(station_id: str, where: str, raw: Any) -> Polygon:
    """One GeoJSON Polygon coordinate array (exterior ring, then holes) as a shapely Polygon."""
    if not isinstance(raw, list) or not raw:
        raise _fail(station_id, f"{where} has no rings")
    rings = [_ring(station_id, f"{where} ring {i}", r) for i, r in enumerate(raw)]
    return Polygon(rings[0], rings[1:])


def _positions(raw: Any, depth: int) -> int:
    """How many positions a GeoJSON coordinate array of ``depth`` (2: Polygon, 3: MultiPolygon)
    holds, counted before anything is built from it."""
    if not isinstance(raw, list):
        return 0
    if depth == 1:
        return len(raw)
    return sum(_positions(part, depth - 1) for part in raw)


def check_fence_size(station_id: str, geom: MultiPolygon) -> None:
    """Raise GeofenceError unless ``geom`` (lng, lat degrees) is within the size limits: at most
    MAX_FENCE_VERTICES positions, MAX_FENCE_AREA_M2 and MAX_FENCE_SPAN_M (bounding box diagonal;
    metres from a local equirectangular frame, exact enough at a station's size)."""
    vertices = int(shapely.get_num_coordinates(geom))
    if vertices > MAX_FENCE_VERTICES:
        raise _fail(station_id, f"fence has {vertices} vertices; at most {MAX_FENCE_VERTICES}")
    min_x, min_y, max_x, max_y = geom.bounds
    m_per_deg_lng = _M_PER_DEG_LNG_EQUATOR * math.cos(math.radians((min_y + max_y) / 2))
    span = math.hypot((max_x - min_x) * m_per_deg_lng, (max_y - min_y) * _M_PER_DEG_LAT)
    if span > MAX_FENCE_SPAN_M:
        raise _fail(station_id, f"fence spans {span:,.0f} m; at most {MAX_FENCE_SPAN_M:,.0f} m")
    area = geom.area * m_per_deg_lng * _M_PER_DEG_LAT
    if area > MAX_FENCE_AREA_M2:
        raise _fail(station_id, f"fence covers {area:,.0f} m2; at most {MAX_FENCE_AREA_M2:,.0f} m2")


def _swapped(geom: MultiPolygon) -> MultiPolygon:
    return shapely.transform(geom, lambda xy: xy[:, ::-1])


def validate_geometry(station_id: str, geom: MultiPolygon, area: ForceArea | None = None) -> None:
    """Raise GeofenceError unless ``geom`` (lng, lat degrees) is valid, non-empty and in ``area``.

    Checks, in order: latitude within +-90 (else the axes are swapped), OGC validity (self-
    intersection, ring crossing, overlapping parts: the reason is GEOS's), non-zero area, and the
    force area (default Greater London); a fence outside it whose swapped twin is inside is reported
    as swapped lat/lng.
    """
    area = area or GREATER_LONDON
    min_x, min_y, max_x, max_y = geom.bounds
    if not (-90.0 <= min_y and max_y <= 90.0):
        raise _fail(station_id, "latitude beyond -90..90: coordinates look swapped (use lng, lat)")
    if not shapely.is_valid(geom):
        raise _fail(station_id, f"invalid geometry: {shapely.is_valid_reason(geom)}")
    if geom.is_empty or geom.area <= 0.0:
        raise _fail(station_id, "geometry has zero area")
    if not area.covers_bounds(geom.bounds):
        if area.covers_bounds(_swapped(geom).bounds):
            raise _fail(
                station_id,
                "coordinates look swapped: the fence lies inside the force area only when read as "
                "(lat, lng); GeoJSON wants (lng, lat)",
            )
        raise _fail(
            station_id,
            f"outside the force area (lng {area.min_lng}..{area.max_lng}, "
            f"lat {area.min_lat}..{area.max_lat}): "
            f"bounds {tuple(round(b, 6) for b in geom.bounds)}",
        )


def station_from_feature(feature: dict[str, Any], area: ForceArea | None = None) -> Station:
    """Parse and validate one GeoJSON Feature into a Station (Polygon normalised to MultiPolygon).

    Properties: ``station_id`` and ``name`` (non-empty strings, required), ``borough`` (string or
    null), ``buffer_m`` (optional metres, 0..MAX_BUFFER_M). Coordinates are GeoJSON (lng, lat) in
    WGS84; a third coordinate (altitude) is ignored. Rings must be closed and have at least 4
    positions; they are not repaired. Raises GeofenceError naming the station ("?" if the id
    itself is missing or not a string).
    """
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _fail("?", "not a GeoJSON Feature")
    station_id, name, borough, buffer_m = _properties(feature.get("properties"))
    geom = _fence(station_id, feature.get("geometry"))
    validate_geometry(station_id, geom, area)
    check_fence_size(station_id, geom)
    return Station(
        station_id=station_id, name=name, borough=borough, geometry=geom, buffer_m=buffer_m
    )


def _properties(props: Any) -> tuple[str, str, str | None, float]:
    """A Feature's ``station_id``, ``name``, ``borough`` and ``buffer_m`` (metres), checked."""
    if not isinstance(props, dict):
        raise _fail("?", "feature has no properties")
    station_id = props.get("station_id")
    if not isinstance(station_id, str) or not station_id.strip():
        raise _fail("?", "properties.station_id is missing or not a non-empty string")
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(station_id, "properties.name is missing or not a non-empty string")
    borough = props.get("borough")
    if borough is not None and not isinstance(borough, str):
        raise _fail(station_id, "properties.borough is not a string")
    buffer_raw = props.get("buffer_m", 0.0)
    if buffer_raw is None:
        buffer_raw = 0.0
    if (
        isinstance(buffer_raw, bool)
        or not isinstance(buffer_raw, int | float)
        or not math.isfinite(buffer_raw)
        or not 0.0 <= buffer_raw <= MAX_BUFFER_M
    ):
        raise _fail(station_id, f"properties.buffer_m must be metres in 0..{MAX_BUFFER_M}")
    return station_id, name, borough, float(buffer_raw)


def _fence(station_id: str, geometry: Any) -> MultiPolygon:
    """A Feature's Polygon or MultiPolygon geometry as a MultiPolygon, its size and rings checked
    (not its validity: validate_geometry)."""
    if not isinstance(geometry, dict):
        raise _fail(station_id, "feature has no geometry")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    depth = {"Polygon": 2, "MultiPolygon": 3}.get(str(kind), 0)
    if (vertices := _positions(coords, depth)) > MAX_FENCE_VERTICES:
        raise _fail(station_id, f"fence has {vertices} vertices; at most {MAX_FENCE_VERTICES}")
    if kind == "Polygon":
        polys = [_polygon(station_id, "polygon", coords)]
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise _fail(station_id, "MultiPolygon has no polygons")
        polys = [_polygon(station_id, f"polygon {i}", p) for i, p in enumerate(coords)]
    else:
        raise _fail(station_id, f"geometry type {kind!r} is not Polygon or MultiPolygon")
    return MultiPolygon(polys)


def stations_from_geojson(
    doc: dict[str, Any], area: ForceArea | None = None
) -> tuple[list[Station], list[GeofenceError]]:
    """Parse a FeatureCollection: the valid stations and one GeofenceError per rejected feature.

    A feature without a usable station_id is reported as "?" with its index in the reason; a
    station_id that repeats an earlier valid one is rejected (the first wins), because the id is
    the natural key.
    """
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return [], [GeofenceError("?", "document is not a GeoJSON FeatureCollection")]
    features = doc.get("features")
    if not isinstance(features, list):
        return [], [GeofenceError("?", "FeatureCollection has no features list")]
    stations: list[Station] = []
    errors: list[GeofenceError] = []
    seen: set[str] = set()
    for i, feature in enumerate(features):
        try:
            station = station_from_feature(feature, area)
        except GeofenceError as exc:
            if exc.station_id == "?":
                exc = GeofenceError("?", f"feature {i}: {exc.reason}")
            errors.append(exc)
            continue
        if station.station_id in seen:
            errors.append(GeofenceError(station.station_id, f"feature {i}: duplicate station_id"))
            continue
        seen.add(station.station_id)
        stations.append(station)
    return stations, errors


def station_ids(stations: Sequence[Station]) -> list[str]:
    """The ids of ``stations`` in order (a convenience for logs and tests)."""
    return [s.station_id for s in stations]
