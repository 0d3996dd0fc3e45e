"""The nightly job on a Dask cluster (partitioned by officer) gives exactly the in-process results."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from distributed import LocalCluster
from polars.testing import assert_frame_equal
from sqlalchemy.orm import Session, sessionmaker

from geo.index import StationIndex
from jobs.compute import split_by_officer
from jobs.executors import DaskExecutor, LocalExecutor
from jobs.nightly import run_nightly
from rules.policy import Policy
from store.dayload import load_day
from store.stations import load_stations
from tests.jobs.conftest import DAYS, RUN_AT, START, TZ
from tests.jobs.test_nightly import snapshot

LAST = START + timedelta(days=DAYS - 1)


def test_split_keeps_officers_whole(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        frames = load_day(s, START, TZ)
    parts = split_by_officer(frames, 3)
    assert sum(p.fixes.height for p in parts) == frames.fixes.height
    owners = [set(p.officers["officer_id"]) for p in parts]
    assert sum(len(o) for o in owners) == frames.officers.height
    for part, ids in zip(parts, owners, strict=True):
        assert set(part.fixes["officer_id"]) <= ids
        assert set(part.shifts["officer_id"]) <= ids
        assert set(part.shift_history["shift_id"]) <= set(part.shifts["shift_id"])


def test_dask_results_identical(factory: sessionmaker[Session], policy: Policy) -> None:
    with factory() as s:
        frames = load_day(s, START + timedelta(days=1), TZ)
        index = StationIndex.build(load_stations(s))
    local = LocalExecutor(index, policy, TZ).run_day(frames)
    threaded = LocalExecutor(index, policy, TZ, workers=2).run_day(frames)
    run_nightly(factory, START, LAST, policy=policy, tz=TZ, clock=lambda: RUN_AT)
    in_process = snapshot(factory)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        with DaskExecutor(cluster.scheduler_address, index, policy, TZ) as dask:
            remote = dask.run_day(frames)
        run_nightly(
            factory,
            START,
            LAST,
            policy=policy,
            tz=TZ,
            clock=lambda: RUN_AT,
            scheduler=cluster.scheduler_address,
        )
    for other in (threaded, remote):
        assert_frame_equal(other.daily, local.daily)
        assert other.findings == local.findings
    assert local.daily.filter(pl.col("verified_presence_minutes") > 0).height > 0
    assert snapshot(factory) == in_process
