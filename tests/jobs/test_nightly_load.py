"""The nightly job's load stage: the fixes read apart, beside the day's other reads, give the
same frames as everything read one after another through one session."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from polars.testing import assert_frame_equal
from sqlalchemy.orm import Session, sessionmaker

from jobs.compute import officer_groups
from jobs.nightly import _fix_range, _load_day
from rules.policy import Policy
from store import dayload
from store.clock import device_offsets
from tests.jobs.conftest import DAYS, START, TZ

ORDER = ("officer_id", "ts", "device_id")


def test_the_load_read_apart_equals_the_reads_in_one_session(
    factory: sessionmaker[Session], policy: Policy
) -> None:
    with factory() as s:
        officers = dayload.load_officers(s)
    for day in (START + timedelta(days=k) for k in range(DAYS)):
        base, groups, fixes = _load_day(factory, day, TZ, officers, policy, min_parts=3)
        with factory() as s:
            alone = dayload.load_day(s, day, TZ, officers, with_fixes=False)
            devices = device_offsets(s, alone.hi, policy=policy)
            swipers = dayload.load_swipers(s, day, TZ, policy.dwb_habit_days)
            span = _fix_range(alone, day, TZ, policy)
            assert span is not None
            every_fix = dayload.load_fixes(s, span[0], span[1])
        assert groups == officer_groups(alone, 3)
        assert len(groups) == 3
        for name in ("officers", "shifts", "shift_history", "overtime", "visits"):
            assert_frame_equal(getattr(base, name), getattr(alone, name))
        assert_frame_equal(base.devices, devices)
        assert_frame_equal(base.swipers, swipers)
        swipe_order = ("officer_id", "ts", "badge_id", "reader_id")
        assert_frame_equal(base.swipes.sort(swipe_order), alone.swipes.sort(swipe_order))
        assert base.fixes.is_empty()
        assert every_fix.height > 0
        assert len(fixes) == len(groups)
        for k, part in enumerate(fixes):
            assert part is not None
            ids = set(part["officer_id"].unique().to_list())
            assert ids <= set(groups[k])
        read = pl.concat([f for f in fixes if f is not None])
        assert_frame_equal(read.sort(ORDER), every_fix.sort(ORDER))
