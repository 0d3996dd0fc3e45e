"""Tests for geo.fences: parsing, validation and normalisation of station geofences."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import MultiPolygon, Polygon

from geo.fences import (
    GREATER_LONDON,
    ForceArea,
    GeofenceError,
    Station,
    station_from_feature,
    stations_from_geojson,
)

# A 70 m x 55 m rectangle near Charing Cross, (lng, lat) order.
SQUARE = [[-0.1250, 51.5070], [-0.1240, 51.5070], [-0.1240, 51.5075], [-0.1250, 51.5075]]
HOLE = [[-0.1247, 51.5071], [-0.1243, 51.5071], [-0.1243, 51.5073], [-0.1247, 51.5071]]


def closed(ring: list[list[float]]) -> list[list[float]]:
    return [*ring, ring[0]]


def feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"station_id": "CX", "name": "Charing Cross", "borough": "Westminster"}
    base.update(props)
    return {"type": "Feature", "properties": base, "geometry": geometry}


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


def reason_of(feat: dict[str, Any], area: ForceArea | None = None) -> str:
    with pytest.raises(GeofenceError) as info:
        station_from_feature(feat, area)
    return info.value.reason


def test_polygon_is_normalised_to_multipolygon_in_lng_lat_order() -> None:
    station = station_from_feature(feature(polygon(closed(SQUARE))))
    assert station == Station(
        "CX",
        "Charing Cross",
        "Westminster",
        MultiPolygon([Polygon(closed(SQUARE))]),
        0.0,
    )
    assert station.geometry.bounds == (-0.1250, 51.5070, -0.1240, 51.5075)


def test_polygon_with_hole_and_multipolygon_parts_are_kept() -> None:
    holed = station_from_feature(feature(polygon(closed(SQUARE), closed(HOLE))))
    assert len(holed.geometry.geoms[0].interiors) == 1
    far_part = [[p[0] + 0.01, p[1]] for p in SQUARE]
    multi = station_from_feature(
        feature({"type": "MultiPolygon", "coordinates": [[closed(SQUARE)], [closed(far_part)]]})
    )
    assert len(multi.geometry.geoms) == 2


def test_altitude_is_ignored_and_buffer_and_null_borough_are_read() -> None:
    ring3d = [[x, y, 12.5] for x, y in closed(SQUARE)]
    station = station_from_feature(feature(polygon(ring3d), buffer_m=15, borough=None))
    assert station.geometry.equals(MultiPolygon([Polygon(closed(SQUARE))]))
    assert station.buffer_m == 15.0
    assert station.borough is None


def test_error_str_names_the_station() -> None:
    err = GeofenceError("CX", "bad")
    assert str(err) == "station CX: bad"
    assert (err.station_id, err.reason) == ("CX", "bad")
    assert isinstance(err, ValueError)


@pytest.mark.parametrize(
    ("ring", "expected"),
    [
        (SQUARE, "ring 0 is not closed"),
        (closed(SQUARE[:2]), "ring 0 has 3 positions; a closed ring needs at least 4"),
        ([SQUARE[0], SQUARE[1], SQUARE[0], SQUARE[0]], "fewer than 3 distinct positions"),
        ([[-0.125, "51.5"], *closed(SQUARE)], "position 0 is not [lng, lat]"),
        ([[-0.125, float("nan")], *closed(SQUARE)], "position 0 is not finite"),
    ],
)
def test_malformed_rings_are_rejected_with_reason(ring: list[list[Any]], expected: str) -> None:
    assert expected in reason_of(feature(polygon(ring)))


def test_self_intersection_is_rejected() -> None:
    bowtie = [SQUARE[0], SQUARE[2], SQUARE[1], SQUARE[3]]
    reason = reason_of(feature(polygon(closed(bowtie))))
    assert reason.startswith("invalid geometry: Self-intersection")


def test_overlapping_multipolygon_parts_are_rejected() -> None:
    shifted = [[p[0] + 0.0003, p[1]] for p in SQUARE]
    doc = {"type": "MultiPolygon", "coordinates": [[closed(SQUARE)], [closed(shifted)]]}
    assert reason_of(feature(doc)).startswith("invalid geometry:")


def test_swapped_axes_are_detected() -> None:
    swapped = [[p[1], p[0]] for p in closed(SQUARE)]
    assert "coordinates look swapped" in reason_of(feature(polygon(swapped)))


def test_fence_outside_the_force_area_is_rejected_and_area_is_configurable() -> None:
    manchester = [[p[0] - 2.12, p[1] - 0.03] for p in closed(SQUARE)]
    assert "outside the force area" in reason_of(feature(polygon(manchester)))
    gmp = ForceArea(min_lng=-2.75, min_lat=53.3, max_lng=-1.9, max_lat=53.7)
    manchester = [[p[0] - 2.12, p[1] + 1.97] for p in closed(SQUARE)]
    assert station_from_feature(feature(polygon(manchester)), gmp).station_id == "CX"
    assert "outside the force area" in reason_of(feature(polygon(closed(SQUARE))), gmp)


def test_force_area_rejects_inverted_box() -> None:
    with pytest.raises(ValueError, match="longitudes"):
        ForceArea(min_lng=1.0, max_lng=0.0)
    assert GREATER_LONDON.covers_bounds((-0.55, 51.25, 0.35, 51.72))


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"station_id": ""}, "station_id is missing"),
        ({"name": None}, "properties.name is missing"),
        ({"borough": 3}, "borough is not a string"),
        ({"buffer_m": -1}, "buffer_m must be metres"),
        ({"buffer_m": True}, "buffer_m must be metres"),
        ({"buffer_m": 5000}, "buffer_m must be metres"),
    ],
)
def test_bad_properties_are_rejected(props: dict[str, Any], expected: str) -> None:
    assert expected in reason_of(feature(polygon(closed(SQUARE)), **props))


def test_wrong_geometry_type_is_rejected() -> None:
    point = {"type": "Point", "coordinates": [-0.125, 51.507]}
    assert reason_of(feature(point)) == "geometry type 'Point' is not Polygon or MultiPolygon"


def test_collection_returns_good_stations_and_one_error_per_bad_feature() -> None:
    good = feature(polygon(closed(SQUARE)))
    no_id = feature(polygon(closed(SQUARE)), station_id=None)
    unclosed = feature(polygon(SQUARE), station_id="BAD")
    duplicate = feature(polygon(closed(SQUARE)))
    doc = {"type": "FeatureCollection", "features": [good, no_id, unclosed, duplicate]}
    stations, errors = stations_from_geojson(doc)
    assert [s.station_id for s in stations] == ["CX"]
    assert [(e.station_id, e.reason.split(":")[0]) for e in errors] == [
        ("?", "feature 1"),
        ("BAD", "polygon ring 0 is not closed (first position != last position)"),
        ("CX", "feature 3"),
    ]
    assert "station_id is missing" in errors[0].reason
    assert errors[2].reason == "feature 3: duplicate station_id"


def test_non_collection_document_is_one_error() -> None:
    stations, errors = stations_from_geojson({"type": "Feature"})
    assert stations == []
    assert [str(e) for e in errors] == ["station ?: document is not a GeoJSON FeatureCollection"]
