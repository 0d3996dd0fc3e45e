"""rules.geodesy.nearest_fence_lower_bound_m equals measuring every station, on random places
(hypothesis): the cells only choose which stations to measure."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.geodesy import haversine_np, nearest_fence_lower_bound_m
from rules.schemas import STATIONS


def every_station(lat: np.ndarray, lon: np.ndarray, stations: pl.DataFrame) -> np.ndarray:
    d = haversine_np(
        lat[:, None],
        lon[:, None],
        stations["lat"].to_numpy()[None, :],
        stations["lon"].to_numpy()[None, :],
    )
    best = (d - stations["radius_m"].to_numpy()[None, :]).min(axis=1)
    return np.where(np.isfinite(best), np.maximum(best, 0.0), 0.0)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_points=st.integers(1, 400),
    n_stations=st.integers(1, 80),
    spread_deg=st.sampled_from([0.001, 0.05, 0.5, 30.0]),
    centre=st.sampled_from([(51.5, -0.12), (0.0, 179.99), (-33.9, 18.4), (78.2, 15.6)]),
)
def test_the_bound_is_the_least_over_every_station(
    seed: int, n_points: int, n_stations: int, spread_deg: float, centre: tuple[float, float]
) -> None:
    rng = np.random.default_rng(seed)
    lat = np.clip(rng.normal(centre[0], spread_deg, n_points), -89.9, 89.9)
    lon = rng.normal(centre[1], spread_deg, n_points)
    stations = pl.DataFrame(
        {
            "station_id": [f"S{k}" for k in range(n_stations)],
            "lat": np.clip(rng.normal(centre[0], spread_deg, n_stations), -89.9, 89.9),
            "lon": rng.normal(centre[1], spread_deg, n_stations),
            "radius_m": rng.uniform(20.0, 400.0, n_stations),
        },
        schema=STATIONS,
    )
    got = nearest_fence_lower_bound_m(lat, lon, stations)
    assert np.array_equal(got, every_station(lat, lon, stations))


def test_points_in_many_cells_are_measured_in_several_batches(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import rules.geodesy as geodesy

    monkeypatch.setattr(geodesy, "_PAIRS", 7)
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(51.3, 51.7, 500), rng.uniform(-0.5, 0.3, 500)
    stations = pl.DataFrame(
        {
            "station_id": [f"S{k}" for k in range(40)],
            "lat": rng.uniform(51.3, 51.7, 40),
            "lon": rng.uniform(-0.5, 0.3, 40),
            "radius_m": rng.uniform(30.0, 120.0, 40),
        },
        schema=STATIONS,
    )
    got = geodesy.nearest_fence_lower_bound_m(lat, lon, stations)
    assert np.array_equal(got, every_station(lat, lon, stations))
    assert (got > 0).sum() > 400  # most points lie outside every fence
