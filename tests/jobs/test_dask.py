"""Officer partitions (in-process one after another, or on a Dask cluster) give exactly the
results of one whole-day computation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import polars as pl
import pytest
from distributed import LocalCluster
from polars.testing import assert_frame_equal
from sqlalchemy.orm import Session, sessionmaker

import jobs.nightly
from geo.index import StationIndex
from jobs.compute import officer_groups, officer_part, split_by_officer
from jobs.executors import DaskExecutor, LocalExecutor
from jobs.nightly import run_nightly
from rules.policy import Policy
from store.dayload import load_day, load_fixes
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


@pytest.mark.slow
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


def test_officer_groups_balance_busy_officers(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        frames = load_day(s, START, TZ)
    groups = officer_groups(frames, 3)
    ids = [i for g in groups for i in g]
    assert ids == sorted(frames.officers["officer_id"])
    assert len(groups) == 3
    busy = set(frames.shifts["officer_id"]) | set(frames.overtime["officer_id"])
    per_group = [len(busy & set(g)) for g in groups]
    assert max(per_group) - min(per_group) <= 1


def test_officer_partitions_split_the_day_exactly(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        frames = load_day(s, START, TZ)
        read = load_fixes(s, frames.lo, frames.hi, readers=2)
    order = ("officer_id", "ts", "device_id")
    assert_frame_equal(read.sort(order), frames.fixes.sort(order))
    groups = officer_groups(frames, 3)
    whole = replace(frames, fixes=read)
    parts = [officer_part(whole, groups, k).fixes for k in range(len(groups))]
    for ids, fixes in zip(groups, parts, strict=True):
        assert fixes.height > 0
        assert set(fixes["officer_id"]) <= set(ids)
    assert_frame_equal(pl.concat(parts).sort(order), frames.fixes.sort(order))


@pytest.mark.slow
def test_run_in_officer_partitions_is_identical(
    factory: sessionmaker[Session], policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run_nightly(factory, START, LAST, policy=policy, tz=TZ, clock=lambda: RUN_AT)
    expected = snapshot(factory)
    monkeypatch.setattr(jobs.nightly, "PART_OFFICERS", 6)
    parted = run_nightly(factory, START, LAST, policy=policy, tz=TZ, clock=lambda: RUN_AT)
    assert [d.parts for d in whole.days] == [1] * DAYS
    assert min(d.parts for d in parted.days) >= 3
    assert [d.fixes for d in parted.days] == [d.fixes for d in whole.days]
    assert snapshot(factory) == expected
