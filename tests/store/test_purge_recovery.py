"""A purge cut off mid-detach: the next purge finishes it, ingest never writes into a detached
day, and two purges never run at once (PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store.db import session_factory
from store.load import DetachedDayError, ensure_ping_partitions, insert_events
from store.retention import PurgeBusyError, purge_lock, purge_raw

pytestmark = pytest.mark.parametrize("backend", ["postgis"], indirect=True)

OLD = date(2026, 6, 1)
CUTOFF = datetime(2026, 7, 1, tzinfo=UTC)


def _pings(day: date, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "device_id": [f"D{i}" for i in range(n)],
            "ts": [datetime(day.year, day.month, day.day, 12, tzinfo=UTC)] * n,
            "officer_id": ["O1"] * n,
            "lat": [51.5] * n,
            "lon": [-0.12] * n,
            "accuracy_m": [8.0] * n,
            "source": ["gps"] * n,
            "is_mock": [False] * n,
            "h3_cell": [1] * n,
        }
    )


def _store(engine: Engine, day: date, n: int) -> None:
    with Session(engine) as session, session.begin():
        insert_events(session, "pings", _pings(day, n))


def _state(engine: Engine) -> tuple[bool | None, bool]:
    """(detach pending?, None when not attached), and whether the table exists at all."""
    with engine.connect() as conn:
        pending = conn.execute(
            sa.text(
                "SELECT i.inhdetachpending FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE c.relname = 'pings_p20260601'"
            )
        ).scalar()
        exists = conn.execute(sa.text("SELECT to_regclass('pings_p20260601')")).scalar()
    return pending, exists is not None


def test_a_day_detached_but_not_dropped_is_dropped_and_never_written(engine: Engine) -> None:
    _store(engine, OLD, 5)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ALTER TABLE pings DETACH PARTITION pings_p20260601"))
    with Session(engine) as session, session.begin(), pytest.raises(DetachedDayError):
        ensure_ping_partitions(session, [OLD])
    removed = purge_raw(session_factory(engine), CUTOFF)
    assert removed["ping_partitions_dropped"] == 1
    assert removed["pings"] == 5
    assert _state(engine) == (None, False)


def test_a_detach_left_pending_is_finalized_by_the_next_purge(engine: Engine) -> None:
    _store(engine, OLD, 3)
    reader = engine.connect()
    reader.execute(sa.text("SELECT count(*) FROM pings"))  # an open transaction the detach waits on
    detacher = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    pid = detacher.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    failed: list[BaseException] = []

    def detach() -> None:
        try:
            detacher.execute(
                sa.text("ALTER TABLE pings DETACH PARTITION pings_p20260601 CONCURRENTLY")
            )
        except Exception as exc:  # noqa: BLE001 - terminated on purpose below
            failed.append(exc)

    thread = threading.Thread(target=detach)
    thread.start()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
        for _ in range(200):
            if _state(engine)[0]:
                break
            time.sleep(0.05)
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    thread.join()
    reader.rollback()
    reader.close()
    detacher.invalidate()
    assert failed
    assert _state(engine) == (True, True)  # "detach pending": every later purge used to fail
    removed = purge_raw(session_factory(engine), CUTOFF)
    assert removed["ping_partitions_dropped"] == 1
    assert _state(engine) == (None, False)


def test_a_second_purge_refuses_while_one_runs(engine: Engine) -> None:
    factory = session_factory(engine)
    with purge_lock(factory):
        with pytest.raises(PurgeBusyError, match="another rollcall purge is running"):
            with purge_lock(factory):
                pass
    with purge_lock(factory):  # released with its holder
        pass
