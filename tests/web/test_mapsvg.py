"""The timeline map: visited stations, nearby stations and away cells, in the view box."""

from __future__ import annotations

import h3
import shapely

from api.web.mapsvg import HEIGHT, WIDTH, timeline_map
from geo.fences import Station


def _square(sid: str, lng: float, lat: float, d: float = 0.001) -> Station:
    poly = shapely.Polygon([(lng, lat), (lng + d, lat), (lng + d, lat + d), (lng, lat + d)])
    return Station(
        station_id=sid, name=f"Station {sid}", borough=None, geometry=shapely.MultiPolygon([poly])
    )


def _coords(path: str) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in path.strip("MZ").split("L")]  # type: ignore[misc]


def test_map_draws_visited_stations_and_away_cells_inside_the_view() -> None:
    stations = [
        _square("A", -0.10, 51.50),
        _square("B", -0.09, 51.505),
        _square("FAR", 2.35, 48.85),
    ]
    cell = h3.latlng_to_cell(51.52, -0.12, 7)
    events = [
        {"type": "presence", "station_id": "A"},
        {"type": "swipe", "station_id": "A"},
        {"type": "away", "h3_cell": cell},
        {"type": "away", "h3_cell": cell},
        {"type": "off_duty"},
    ]
    view = timeline_map(events, stations)
    assert not view.empty
    assert view.tiles == []
    states = {s.title: s.state for s in view.shapes}
    assert states == {
        "present at Station A": "present",
        "station Station B": "station",
        f"away in area {cell}, 2 times": "away",
    }
    for shape in view.shapes:
        for x, y in _coords(shape.path):
            assert 0 <= x <= WIDTH
            assert 0 <= y <= HEIGHT


def test_nothing_to_draw_and_basemap_tiles() -> None:
    assert timeline_map([{"type": "off_duty"}], [_square("A", 0, 51)]).empty
    view = timeline_map(
        [{"type": "presence", "station_id": "A"}],
        [_square("A", -0.1, 51.5)],
        basemap_url="https://tiles.force.example/{z}/{x}/{y}.png",
    )
    assert view.tiles
    assert all(u.startswith("https://tiles.force.example/") for u, *_ in view.tiles)
    assert all(u.endswith(".png") and "{" not in u for u, *_ in view.tiles)
