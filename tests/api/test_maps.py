"""Maps over HTTP: station fences as GeoJSON, the timeline as GeoJSON, and the station catalog
built once per process and rebuilt when another process changes a station."""

from __future__ import annotations

import copy
import logging
import re
import threading
from pathlib import Path
from typing import Any

import fastapi.routing
import h3
import pytest
import shapely
from fastapi import FastAPI
from shapely.geometry import shape

import api.app
from api.app import create_app
from rollcall.settings import Settings
from tests.api.helpers import FAR, INSIDE, SECRET, TZ, Api, TestClient
from tests.api.test_reads import _load_day
from tests.clock import API_NOW, TestClock
from tests.intake.helpers import STATION

GEOJSON = "application/geo+json"
DAY = {"from": "2026-10-05", "to": "2026-10-05", "case_ref": "CASE-7"}


def _second_app(db_url: str, export_key_file: Path) -> FastAPI:
    """Another service process on the same database (a restart, or a second worker)."""
    return create_app(
        Settings(
            database_url=db_url, jwt_secret=SECRET, timezone=TZ, export_key_file=export_key_file
        ),
        clock=TestClock(API_NOW),
    )


def test_stations_as_geojson_for_every_role(world: Api) -> None:
    for role in ("hr", "investigator", "admin", "auditor", "ingest"):
        r = world.client.get("/v1/stations", headers=world.headers(role))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == GEOJSON
    officer = world.client.get("/v1/stations", headers=world.headers("officer", "O1"))
    assert officer.status_code == 200
    body = officer.json()
    assert body["type"] == "FeatureCollection"
    [feature] = body["features"]
    assert feature["id"] == "ST1"
    assert feature["properties"] == {
        "station_id": "ST1",
        "name": "Charing Cross",
        "borough": "Westminster",
    }
    assert shape(feature["geometry"]).equals(shape(STATION["geometry"]))
    assert world.client.get("/v1/stations").status_code == 401


def test_timeline_as_geojson_draws_fences_and_hexagons_never_points(world: Api) -> None:
    _load_day(world)
    url = "/v1/officers/O1/timeline"
    headers = {**world.headers("investigator"), "Accept": GEOJSON}
    r = world.client.get(url, params=DAY, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == GEOJSON
    body = r.json()
    plain = world.client.get(url, params=DAY, headers=world.headers("investigator")).json()
    assert body["type"] == "FeatureCollection"
    assert (body["officer_id"], body["from"], body["to"]) == ("O1", plain["from"], plain["to"])
    assert [f["properties"] for f in body["features"]] == plain["events"]
    kinds = {f["properties"]["type"]: f for f in body["features"]}
    fence = shape(STATION["geometry"])
    assert shape(kinds["presence"]["geometry"]).equals(fence)
    assert shape(kinds["swipe"]["geometry"]).equals(fence)
    away = kinds["away"]
    hexagon = shape(away["geometry"])
    assert away["geometry"]["type"] == "Polygon"
    assert len(away["geometry"]["coordinates"][0]) == 7
    assert hexagon.contains(shapely.Point(FAR[1], FAR[0]))
    assert (
        h3.latlng_to_cell(hexagon.centroid.y, hexagon.centroid.x, 7)
        == away["properties"]["h3_cell"]
    )
    assert not hexagon.contains(shapely.Point(INSIDE[1], INSIDE[0]))
    for feature in body["features"]:
        assert feature["geometry"] is None or feature["geometry"]["type"] != "Point"
        if feature["properties"]["type"] in ("off_duty", "shift_start", "shift_end"):
            assert feature["geometry"] is None
    # The hexagon's corners are not the fixes: no raw coordinate of the day appears.
    assert "51.555" not in r.text
    assert not re.search(r"-0\.05[,\]]", r.text)
    refused = world.client.get(
        url, params=DAY, headers={**world.headers("investigator"), "Accept": "image/png"}
    )
    assert refused.status_code == 406


def _moved(dx: float) -> dict[str, object]:
    feature = copy.deepcopy(STATION)
    ring = feature["geometry"]["coordinates"][0]  # type: ignore[index]
    feature["geometry"]["coordinates"][0] = [[x + dx, y] for x, y in ring]  # type: ignore[index]
    return feature


def test_station_catalog_is_built_once_and_follows_another_process(
    world: Api, db_url: str, export_key_file: Path
) -> None:
    """Two apps on one database stand for two service processes."""
    state = world.client.app.state.rollcall  # type: ignore[attr-defined]
    _load_day(world)
    world.client.get("/v1/stations", headers=world.headers("hr"))  # ST1 came after start-up
    builds = state.stations.builds
    for _ in range(3):
        r = world.client.get(
            "/v1/officers/O1/timeline", params=DAY, headers=world.headers("investigator")
        )
        presence = [e for e in r.json()["events"] if e["type"] == "presence"]
        assert sum(e["evidence"]["n_fixes"] for e in presence) > 0
        world.client.get("/v1/stations", headers=world.headers("hr"))
    drawn = {**world.headers("investigator"), "Accept": GEOJSON}
    world.client.get("/v1/officers/O1/timeline", params=DAY, headers=drawn)  # fences drawn once
    assert state.stations.builds == builds
    other = _second_app(db_url, export_key_file)
    with TestClient(other) as client:
        assert other.state.rollcall.stations.warmed.wait(60)
        assert other.state.rollcall.stations.builds == 1  # built at start-up, in the background
        moved = _moved(0.01)
        r = client.put("/v1/stations/ST1", json=moved, headers=world.headers("admin"))
        assert r.status_code == 200, r.text
    fence = world.client.get("/v1/stations", headers=world.headers("hr")).json()["features"][0]
    assert shape(fence["geometry"]).equals_exact(shape(moved["geometry"]), 1e-9)  # type: ignore[arg-type]
    assert state.stations.builds == builds + 1
    timeline = world.client.get(
        "/v1/officers/O1/timeline", params=DAY, headers=world.headers("investigator")
    ).json()
    # The fence moved about 700 m east, away from the fixes: no fix places O1 at ST1 any more.
    presence = [e for e in timeline["events"] if e["type"] == "presence"]
    assert sum(e["evidence"]["n_fixes"] for e in presence) == 0
    # The fences drawn for the old version are not reused: the swipe is drawn at the new one.
    features = world.client.get("/v1/officers/O1/timeline", params=DAY, headers=drawn).json()[
        "features"
    ]
    [swipe] = [f for f in features if f["properties"]["type"] == "swipe"]
    assert shape(swipe["geometry"]).equals_exact(shape(moved["geometry"]), 1e-9)  # type: ignore[arg-type]
    assert state.stations.builds == builds + 1


def test_start_up_ends_warm(
    world: Api, db_url: str, export_key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start-up waits for the warm-up: once a restarted service serves, its station index is
    built and FastAPI has built its routes, so its first timeline request builds neither."""
    _load_day(world)
    built: list[object] = []
    populate = fastapi.routing._populate_api_route_state

    def counted(*args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return populate(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "_populate_api_route_state", counted)
    restarted = _second_app(db_url, export_key_file)
    with TestClient(restarted) as client:
        catalog = restarted.state.rollcall.stations
        assert catalog.warmed.is_set()
        before = len(built)
        r = client.get(
            "/v1/officers/O1/timeline",
            params=DAY,
            headers={**world.headers("investigator"), "Accept": GEOJSON},
        )
        assert r.status_code == 200, r.text
        assert any(f["properties"]["type"] == "presence" for f in r.json()["features"])
        assert len(built) == before
        assert catalog.builds == 1


def test_start_up_waits_for_the_warm_up_only_so_long(
    world: Api,
    db_url: str,
    export_key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A warm-up longer than WARM_UP_WAIT_S (a first index build for a large force) does not hold
    start-up back past it: the service serves, says why it is not warm yet, and the warm-up ends
    on its own thread."""
    release = threading.Event()

    def slow_rehearsal(*args: object) -> None:
        release.wait(30)

    monkeypatch.setattr(api.app, "rehearse", slow_rehearsal)
    monkeypatch.setattr(api.app, "WARM_UP_WAIT_S", 0.05)
    caplog.set_level(logging.INFO, logger="rollcall.api")
    restarted = _second_app(db_url, export_key_file)
    with TestClient(restarted) as client:
        catalog = restarted.state.rollcall.stations
        assert not catalog.warmed.is_set()
        assert client.get("/v1/stations", headers=world.headers("hr")).status_code == 200
        assert any("before the warm-up ended" in r.getMessage() for r in caplog.records)
        release.set()
        assert catalog.warmed.wait(30)
