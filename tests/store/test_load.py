"""Bulk event writes: duplicates skipped, and two writers reaching a new day at once both succeed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store.load import insert_events


def _pings(device: str, minute: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "device_id": [device],
            "ts": [datetime(2026, 11, 2, 9, minute, tzinfo=UTC)],
            "officer_id": ["O1"],
            "lat": [51.5],
            "lon": [-0.12],
            "accuracy_m": [None],
            "source": ["gps"],
            "is_mock": [False],
            "h3_cell": [631243922056054783],
        },
        schema_overrides={"accuracy_m": pl.Float64, "ts": pl.Datetime("us", "UTC")},
    )


def test_repeated_keys_are_skipped_and_counted(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        assert insert_events(session, "pings", pl.concat([_pings("D1", 0), _pings("D2", 0)])) == 2
        assert insert_events(session, "pings", pl.concat([_pings("D1", 0), _pings("D1", 1)])) == 1
        stored = session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one()
    assert stored == 3


def test_two_writers_first_on_a_new_day_both_succeed(engine: Engine) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(device: str) -> None:
        try:
            with Session(engine) as session, session.begin():
                barrier.wait(timeout=10)
                insert_events(session, "pings", _pings(device, 5))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(d,)) for d in ("D1", "D2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pings")).scalar_one() == 2


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_staged_fallback_skips_keys_a_concurrent_writer_stored(engine: Engine) -> None:
    from store.load import PING_COLUMNS, _insert_pg_staged

    with Session(engine) as session, session.begin():
        insert_events(session, "pings", _pings("D1", 0))
        both = pl.concat([_pings("D1", 0), _pings("D1", 1)]).with_columns(
            pl.col("ts").dt.epoch("us")
        )
        assert _insert_pg_staged(session, "pings", PING_COLUMNS, both) == 1
        stored = session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one()
    assert stored == 2
