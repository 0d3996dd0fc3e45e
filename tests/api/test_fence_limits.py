"""Station fences beyond the size limits are refused on import and PUT, naming the station; one
stored before the limits makes reads fail with an error naming it, not a broken service."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely

from geo.fences import MAX_FENCE_VERTICES
from intake.pipeline import ingest_file
from rules.policy import load_policy
from store.db import transaction
from store.models import Station as StationRow
from tests.api.helpers import TZ, Api, seed_reference
from tests.intake.helpers import STATION, STATION_LAT, STATION_LON


def _circle(n: int, radius_m: float, lat: float = STATION_LAT, lon: float = STATION_LON) -> list:
    dlat = radius_m / 110_574.0
    dlon = radius_m / (111_320.0 * math.cos(math.radians(lat)))
    ring = [
        [lon + dlon * math.cos(2 * math.pi * i / n), lat + dlat * math.sin(2 * math.pi * i / n)]
        for i in range(n)
    ]
    return [[*ring, ring[0]]]


def _feature(station_id: str, coordinates: list) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"station_id": station_id, "name": station_id},
        "geometry": {"type": "Polygon", "coordinates": coordinates},
    }


def test_oversized_fences_are_refused_on_put(api: Api) -> None:
    admin = api.headers("admin")
    ok = api.client.put("/v1/stations/ST9", json=_feature("ST9", _circle(200, 60)), headers=admin)
    assert ok.status_code == 200, ok.text
    for coordinates, words in (
        (_circle(10_000, 60), "10001 vertices; at most 1000"),
        (_circle(100_000, 60), "100001 vertices; at most 1000"),
        (_circle(64, 2_500), "spans"),
        (_circle(64, 900), "m2; at most"),
    ):
        started = time.perf_counter()
        r = api.client.put("/v1/stations/ST8", json=_feature("ST8", coordinates), headers=admin)
        assert r.status_code == 422, r.text
        assert "station ST8" in r.json()["error"]["message"]
        assert words in r.json()["error"]["message"]
        assert time.perf_counter() - started < 10
    assert MAX_FENCE_VERTICES == 1000


def test_an_oversized_fence_in_a_file_is_one_rejected_feature(api: Api, tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [STATION, _feature("ST-BIG", _circle(5_000, 60))],
    }
    path = tmp_path / "stations.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    report = ingest_file(
        api.factory, "stations", path, tz=TZ, policy=load_policy(), now=datetime.now(UTC)
    )
    assert (report.counts["accepted"], report.counts["rejected"]) == (1, 1)
    assert "station ST-BIG: fence has 5001 vertices" in report.errors[0].reason


def test_a_stored_oversized_fence_is_named_not_a_crash(api: Api) -> None:
    seed_reference(api)
    # The app has built its index of the stations as seeded (a warm-up or a first request).
    catalog = api.client.app.state.rollcall.stations  # type: ignore[attr-defined]
    with api.factory() as session:
        catalog.current(session)
    big = shapely.MultiPolygon([shapely.Polygon(_circle(3_000, 60)[0][:-1])])
    with transaction(api.factory) as session:
        row = session.get(StationRow, "ST1")
        assert row is not None
        wkt = shapely.to_wkt(big, rounding_precision=-1)
        row.geom = f"SRID=4326;{wkt}" if session.bind.dialect.name == "postgresql" else wkt
        # A change to a station is dated, as every writer of stations dates it: that is how a
        # process that already built its index (the start-up warm-up may have run since the
        # seed) notices the change.
        row.updated_at = datetime.now(UTC)
    r = api.client.get(
        "/v1/officers/O1/timeline",
        params={"from": "2026-10-05", "to": "2026-10-05"},
        headers=api.headers("officer", "O1"),
    )
    assert r.status_code == 422, r.text
    assert "station ST1: fence has 3001 vertices" in r.json()["error"]["message"]
