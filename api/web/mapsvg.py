"""A timeline's map as SVG: station outlines and away hexagons on a plain background (Web
Mercator, so an optional tile server's basemap lines up underneath)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h3
import shapely

from geo.fences import Station

WIDTH = 800
HEIGHT = 520
TILE = 256
PAD_PX = 24
MIN_MARK_PX = 10


@dataclass(frozen=True)
class Shape:
    """One drawn shape: an SVG path in pixels, its state (CSS class) and what it is, in words."""

    path: str
    state: str
    title: str


@dataclass
class MapView:
    """What the template draws: the shapes, the basemap tiles under them and the view box."""

    width: int = WIDTH
    height: int = HEIGHT
    shapes: list[Shape] = field(default_factory=list)
    tiles: list[tuple[str, float, float, float]] = field(default_factory=list)
    empty: bool = True


def _mercator(lng: float, lat: float) -> tuple[float, float]:
    """World pixel coordinates at zoom 0 (0..256 both ways) of a lng/lat in degrees."""
    lat = max(min(lat, 85.0511), -85.0511)
    x = (lng + 180.0) / 360.0 * TILE
    s = math.sin(math.radians(lat))
    y = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * TILE
    return x, y


@dataclass(frozen=True)
class _Frame:
    zoom: float
    x0: float
    y0: float

    def px(self, lng: float, lat: float) -> tuple[float, float]:
        x, y = _mercator(lng, lat)
        scale = 2**self.zoom
        return x * scale - self.x0, y * scale - self.y0


def _frame(points: Sequence[tuple[float, float]]) -> _Frame:
    """The zoom (whole levels, so tiles fit) and offset that fit every lng/lat point in the view."""
    xs, ys = zip(*(_mercator(lng, lat) for lng, lat in points), strict=True)
    span_x, span_y = max(max(xs) - min(xs), 1e-9), max(max(ys) - min(ys), 1e-9)
    fit = min((WIDTH - 2 * PAD_PX) / span_x, (HEIGHT - 2 * PAD_PX) / span_y)
    zoom = float(max(0, min(18, math.floor(math.log2(fit)))))
    scale = 2**zoom
    cx, cy = (max(xs) + min(xs)) / 2 * scale, (max(ys) + min(ys)) / 2 * scale
    return _Frame(zoom, cx - WIDTH / 2, cy - HEIGHT / 2)


def _ring_path(frame: _Frame, ring: Iterable[tuple[float, float]]) -> str:
    pts = [frame.px(lng, lat) for lng, lat in ring]
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z"


def _station_path(frame: _Frame, rings: list[list[tuple[float, float]]]) -> str:
    """The station's outline, or a diamond of MIN_MARK_PX at its middle when the outline would be
    too small to see (a month's map is zoomed out to its away areas)."""
    pts = [frame.px(lng, lat) for ring in rings for lng, lat in ring]
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    if max(xs) - min(xs) >= MIN_MARK_PX and max(ys) - min(ys) >= MIN_MARK_PX:
        return "".join(_ring_path(frame, r) for r in rings)
    cx, cy, r = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2, MIN_MARK_PX / 2
    return (
        f"M{cx - r:.1f},{cy:.1f}L{cx:.1f},{cy - r:.1f}L{cx + r:.1f},{cy:.1f}L{cx:.1f},{cy + r:.1f}Z"
    )


def _cell_ring(cell: str) -> list[tuple[float, float]]:
    """A cell's boundary as lng/lat (h3 gives lat, lng)."""
    return [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]


def _station_rings(station: Station) -> list[list[tuple[float, float]]]:
    return [
        [(float(x), float(y)) for x, y in poly.exterior.coords]
        for poly in shapely.get_parts(station.geometry)
    ]


def _tiles(frame: _Frame, template: str) -> list[tuple[str, float, float, float]]:
    """(url, x, y, size) of the basemap tiles under the view."""
    z = int(frame.zoom)
    first_x, first_y = math.floor(frame.x0 / TILE), math.floor(frame.y0 / TILE)
    last_x, last_y = math.floor((frame.x0 + WIDTH) / TILE), math.floor((frame.y0 + HEIGHT) / TILE)
    out: list[tuple[str, float, float, float]] = []
    for tx in range(first_x, last_x + 1):
        for ty in range(first_y, last_y + 1):
            if 0 <= tx < 2**z and 0 <= ty < 2**z:
                url = template.replace("{z}", str(z)).replace("{x}", str(tx))
                out.append(
                    (url.replace("{y}", str(ty)), tx * TILE - frame.x0, ty * TILE - frame.y0, TILE)
                )
    return out


def timeline_map(
    events: Sequence[dict[str, Any]],
    stations: Sequence[Station],
    *,
    basemap_url: str | None = None,
) -> MapView:
    """The map of a timeline: every station it names (presence, swipe) as ``present``, the
    stations near them as ``station``, and every away cell as ``away``; empty when the
    timeline places the officer nowhere."""
    by_id = {s.station_id: s for s in stations}
    visited = {e["station_id"] for e in events if e.get("station_id") in by_id}
    cells: dict[str, int] = {}
    for e in events:
        if e["type"] == "away" and e.get("h3_cell"):
            cells[e["h3_cell"]] = cells.get(e["h3_cell"], 0) + 1
    points = [p for sid in visited for ring in _station_rings(by_id[sid]) for p in ring]
    points += [p for cell in cells for p in _cell_ring(cell)]
    if not points:
        return MapView()
    frame = _frame(points)
    view = MapView(empty=False)
    if basemap_url:
        view.tiles = _tiles(frame, basemap_url)
    for cell, count in sorted(cells.items()):
        times = "once" if count == 1 else f"{count} times"
        view.shapes.append(
            Shape(_ring_path(frame, _cell_ring(cell)), "away", f"away in area {cell}, {times}")
        )
    for station in sorted(stations, key=lambda s: s.station_id in visited):
        rings = _station_rings(station)
        inside = any(
            -PAD_PX <= x <= WIDTH + PAD_PX and -PAD_PX <= y <= HEIGHT + PAD_PX
            for r in rings
            for x, y in (frame.px(*p) for p in r)
        )
        if not inside:
            continue
        state = "present" if station.station_id in visited else "station"
        what = "present at" if state == "present" else "station"
        view.shapes.append(Shape(_station_path(frame, rings), state, f"{what} {station.name}"))
    return view
