"""Tiny hand-made inputs for rules tests: stations, shifts, classified fixes and swipes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from rules.clock import INSTANT
from rules.engine import DayInputs
from rules.policy import Policy, load_policy
from rules.schemas import FIXES, OFFICERS, OVERTIME, SHIFT_HISTORY, SHIFTS, STATIONS, SWIPES

TZ = "Europe/London"
# The exact expectations of the track tests are worked out with these two values, pinned here so
# that tuning the defaults in policy.yaml does not silently change what the tests mean.
TEST_POLICY: Policy = load_policy().model_copy(
    update={
        "bridge_max_minutes": 45,
        "edge_credit_minutes": 15,
        "presence_bridge_max_minutes": 45,
        "presence_edge_credit_minutes": 15,
    }
)
LONDON = ZoneInfo(TZ)
ST1 = ("ST1", 51.5000, -0.1000)  # station centroid (lat, lon in degrees)
ST2 = ("ST2", 51.6000, -0.1000)  # about 11.1 km north of ST1
M_PER_DEG_LAT = 111_195.0  # metres per degree of latitude on the mean-radius sphere


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """The UTC instant of local wall time hh:mm:ss on ``day`` in Europe/London."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=LONDON).astimezone(UTC)


def every(start: datetime, end: datetime, minutes: float) -> list[datetime]:
    """Instants from ``start`` to ``end`` inclusive, every ``minutes``."""
    out, t = [], start
    while t <= end:
        out.append(t)
        t += timedelta(minutes=minutes)
    return out


def north_of(station: tuple[str, float, float], metres: float) -> tuple[float, float]:
    """(lat, lon) ``metres`` due north of a station centroid."""
    return station[1] + metres / M_PER_DEG_LAT, station[2]


def stations(radius_m: float | None = None) -> pl.DataFrame:
    """ST1 and ST2 centroids; ``radius_m`` (centroid to farthest fence point) when given."""
    return pl.DataFrame(
        {
            "station_id": [ST1[0], ST2[0]],
            "lat": [ST1[1], ST2[1]],
            "lon": [ST1[2], ST2[2]],
            "radius_m": [radius_m, radius_m],
        },
        schema=STATIONS,
    )


def officers(*ids: str, office_based: bool = True, unit: str | None = "CID") -> pl.DataFrame:
    """Officers with the same unit and office_based flag."""
    return pl.DataFrame(
        {
            "officer_id": list(ids),
            "unit": [unit] * len(ids),
            "office_based": [office_based] * len(ids),
        },
        schema=OFFICERS,
    )


def shift(
    shift_id: str,
    officer_id: str,
    start_at: datetime,
    end_at: datetime,
    kind: str = "duty",
    declared: str | None = "office",
    station_id: str | None = "ST1",
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> dict[str, Any]:
    """One shift row; created and updated 20 days before it starts unless given."""
    made = start_at - timedelta(days=20)
    return {
        "shift_id": shift_id,
        "officer_id": officer_id,
        "start_at": start_at,
        "end_at": end_at,
        "kind": kind,
        "station_id": station_id if declared == "office" or declared is None else None,
        "declared_location": declared,
        "created_at": created_at or made,
        "updated_at": updated_at or created_at or made,
    }


def shifts(*rows: dict[str, Any]) -> pl.DataFrame:
    """A shifts frame."""
    return pl.DataFrame(list(rows), schema=SHIFTS)


def fix(
    officer_id: str,
    ts: datetime,
    *,
    where: str = "in",
    station: tuple[str, float, float] = ST1,
    metres: float = 0.0,
    accuracy_m: float | None = 10.0,
    source: str | None = "gps",
    is_mock: bool = False,
    device_id: str | None = None,
    boundary_distance_m: float | None = None,
) -> dict[str, Any]:
    """A classified fix. ``where``: "in" (inside ``station``, 20 m from the wall), "near"
    (``metres`` outside its wall, attributed to it), "far" (``metres`` north, no station near).
    Coordinates are ``metres`` north of the station centroid, consistent with the distance."""
    lat, lon = north_of(station, metres)
    if where == "in":
        sid, dist, p = station[0], -20.0, 0.9
    elif where == "near":
        sid, dist, p = station[0], metres, 0.1
    else:
        sid, dist, p = None, None, 0.0
    if boundary_distance_m is not None:
        dist = boundary_distance_m
    return {
        "officer_id": officer_id,
        "device_id": device_id or f"D-{officer_id}",
        "ts": ts,
        "lat": lat,
        "lon": lon,
        "accuracy_m": accuracy_m,
        "source": source,
        "is_mock": is_mock,
        "station_id": sid,
        "boundary_distance_m": dist,
        "p_inside": 0.0 if is_mock else p,
    }


def fixes(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """A classified fixes frame (empty with the schema when no rows)."""
    return pl.DataFrame(list(rows), schema=FIXES)


def swipe(
    officer_id: str,
    ts: datetime,
    direction: str = "in",
    station_id: str = "ST1",
    granted: bool = True,
) -> dict[str, Any]:
    """One swipe row."""
    return {
        "officer_id": officer_id,
        "badge_id": f"B-{officer_id}",
        "ts": ts,
        "station_id": station_id,
        "reader_id": f"{station_id}-R1",
        "direction": direction,
        "granted": granted,
    }


def swipes(rows: Sequence[dict[str, Any]] = ()) -> pl.DataFrame:
    """A swipes frame."""
    return pl.DataFrame(list(rows), schema=SWIPES)


def claims(rows: Sequence[dict[str, Any]] = ()) -> pl.DataFrame:
    """An overtime claims frame."""
    return pl.DataFrame(list(rows), schema=OVERTIME)


def history(rows: Sequence[dict[str, Any]] = ()) -> pl.DataFrame:
    """A shift_history frame."""
    return pl.DataFrame(list(rows), schema=SHIFT_HISTORY)


def day_inputs(
    day: date,
    shift_rows: pl.DataFrame,
    fix_rows: pl.DataFrame | None = None,
    swipe_rows: pl.DataFrame | None = None,
    *,
    claim_rows: pl.DataFrame | None = None,
    history_rows: pl.DataFrame | None = None,
    officer_ids: Sequence[str] = ("o1",),
) -> DayInputs:
    """DayInputs for Europe/London with ST1/ST2 and empty frames where none are given."""
    return DayInputs(
        day=day,
        tz=TZ,
        officers=officers(*officer_ids),
        shifts=shift_rows,
        shift_history=history_rows if history_rows is not None else history(),
        fixes=fix_rows if fix_rows is not None else fixes([]),
        swipes=swipe_rows if swipe_rows is not None else swipes(),
        overtime=claim_rows if claim_rows is not None else claims(),
        stations=stations(),
    )


def empty_instants() -> pl.Series:
    """An empty instant series (for schema checks)."""
    return pl.Series("ts", [], dtype=INSTANT)
