"""GeoJSON of fences and timelines: lng/lat order, closed hexagons, no geometry without a place."""

from __future__ import annotations

import h3
import shapely
from shapely.geometry import shape

from geo.fences import Station
from geo.geojson import cell_geometry, event_geometry, fence_geometry, timeline_collection

SQUARE = shapely.Polygon([(-0.125, 51.508), (-0.124, 51.508), (-0.124, 51.509), (-0.125, 51.509)])
OTHER = shapely.Polygon([(-0.100, 51.500), (-0.099, 51.500), (-0.099, 51.501), (-0.100, 51.501)])


def test_fence_one_part_is_a_polygon_two_parts_a_multipolygon() -> None:
    assert fence_geometry(shapely.MultiPolygon([SQUARE]))["type"] == "Polygon"
    two = fence_geometry(shapely.MultiPolygon([SQUARE, OTHER]))
    assert two["type"] == "MultiPolygon"
    assert shape(two).equals(shapely.MultiPolygon([SQUARE, OTHER]))


def test_cell_is_a_closed_ring_in_lng_lat_order_around_its_centre() -> None:
    cell = h3.latlng_to_cell(51.5, -0.12, 7)
    geometry = cell_geometry(cell)
    ring = geometry["coordinates"][0]
    assert len(ring) == 7
    assert ring[0] == ring[-1]
    lat, lng = h3.cell_to_latlng(cell)
    assert shape(geometry).contains(shapely.Point(lng, lat))
    assert all(-1 < x < 1 and 51 < y < 52 for x, y in ring)


def test_timeline_features_follow_the_events() -> None:
    station = Station("ST1", "One", None, shapely.MultiPolygon([SQUARE]))
    fences = {station.station_id: station.geometry}
    cell = h3.latlng_to_cell(51.55, -0.05, 7)
    events = [
        {"type": "shift_start", "start": "a"},
        {"type": "presence", "start": "a", "end": "b", "station_id": "ST1"},
        {"type": "swipe", "start": "a", "station_id": "GONE"},
        {"type": "away", "start": "b", "end": "c", "h3_cell": cell},
        {"type": "off_duty", "start": "c", "end": "d"},
    ]
    collection = timeline_collection(
        {"officer_id": "O1", "from": "a", "to": "d", "events": events}, fences
    )
    geometries = [f["geometry"] for f in collection["features"]]
    assert geometries[0] is None
    assert shape(geometries[1]).equals(SQUARE)
    assert geometries[2] is None  # a station no longer stored is not guessed
    assert geometries[3] == cell_geometry(cell)
    assert geometries[4] is None
    assert [f["properties"] for f in collection["features"]] == events
    assert event_geometry({"type": "away", "h3_cell": None}, fences) is None
