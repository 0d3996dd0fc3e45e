"""Bulk event writes: duplicates skipped, and two writers reaching a new day at once both succeed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from store.load import (
    DeferredIndexes,
    NewDayTables,
    insert_events,
    partitions_without_officer_index,
)


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


def test_many_rows_with_some_stored_count_only_the_new(engine: Engine) -> None:
    # More rows than one multi-row statement holds on SQLite, and a remainder.
    first = pl.concat([_pings(f"D{i}", i % 60) for i in range(130)])
    more = pl.concat([_pings(f"D{i}", i % 60) for i in range(200)])
    with Session(engine) as session, session.begin():
        assert insert_events(session, "pings", first) == 130
        assert insert_events(session, "pings", more) == 70
        stored = session.execute(
            sa.text("SELECT count(DISTINCT device_id) FROM pings")
        ).scalar_one()
    assert stored == 200


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
def test_a_key_stored_late_in_a_batch_undoes_the_copy_and_loses_nothing(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        insert_events(session, "pings", _pings("D1", 59))
        batch = pl.concat([_pings(f"D{i}", 0) for i in range(2, 40)] + [_pings("D1", 59)])
        assert insert_events(session, "pings", batch) == 38
        assert insert_events(session, "pings", batch) == 0
        stored = session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one()
    assert stored == 39


def _officer_indexes(session: Session) -> set[str]:
    return set(
        session.execute(
            sa.text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_pings_p%'")
        ).scalars()
    )


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_a_new_day_partition_gets_its_officer_index_with_it(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        insert_events(session, "pings", _pings("D1", 0))
        assert _officer_indexes(session) == {"ix_pings_p20261102_officer_ts"}
        assert partitions_without_officer_index(session) == []
        plan = session.execute(
            sa.text(
                "EXPLAIN SELECT * FROM pings WHERE officer_id = 'O1' "
                "AND ts >= '2026-11-02 00:00+00' AND ts < '2026-11-03 00:00+00'"
            )
        ).scalars()
        assert any("ix_pings_p20261102_officer_ts" in line for line in plan)


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_a_bulk_load_builds_the_officer_index_of_its_new_days_at_the_end(engine: Engine) -> None:
    deferred = DeferredIndexes()
    with Session(engine) as session, session.begin():
        insert_events(session, "pings", _pings("D1", 0), deferred)
        insert_events(session, "pings", _pings("D2", 0), deferred)
        assert _officer_indexes(session) == set()
        assert partitions_without_officer_index(session) == ["pings_p20261102"]
        deferred.build(session)
        assert _officer_indexes(session) == {"ix_pings_p20261102_officer_ts"}
        assert partitions_without_officer_index(session) == []
        assert session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one() == 2


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_has_no_partitions_to_index(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        insert_events(session, "pings", _pings("D1", 0), DeferredIndexes())
        assert partitions_without_officer_index(session) == []


def _load_tables(session: Session) -> list[str]:
    return list(
        session.execute(
            sa.text("SELECT relname FROM pg_class WHERE relname LIKE 'pings\\_load\\_%'")
        ).scalars()
    )


def _partitions(session: Session) -> list[tuple[str, bool]]:
    """Each partition of pings and whether it has its officer index."""
    return [
        (name, indexed)
        for name, indexed in session.execute(
            sa.text(
                "SELECT c.relname, EXISTS (SELECT 1 FROM pg_indexes x WHERE x.tablename = "
                "c.relname AND x.indexname = 'ix_' || c.relname || '_officer_ts') "
                "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'pings'::regclass ORDER BY 1"
            )
        ).all()
    ]


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_a_new_day_is_loaded_apart_and_attached_keyed_and_indexed(engine: Engine) -> None:
    deferred = DeferredIndexes(new_days=NewDayTables())
    assert deferred.new_days is not None
    with Session(engine) as session, session.begin():
        batch = pl.concat([_pings(f"D{i}", i % 60) for i in range(50)])
        assert insert_events(session, "pings", batch, deferred) == 50
        # a second block repeating a key of the first: counted now, found at the end
        assert insert_events(session, "pings", _pings("D7", 7), deferred) == 1
    with Session(engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one() == 0
    assert deferred.new_days.finish() == 1
    with Session(engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one() == 50
        assert _partitions(session) == [("pings_p20261102", True)]
        assert _load_tables(session) == []
        checks = session.execute(
            sa.text(
                "SELECT count(*) FROM pg_constraint WHERE conrelid = 'pings_p20261102'::regclass "
                "AND contype = 'c'"
            )
        ).scalar_one()
        assert checks == 0
        # the key is the partition's, so the next write of a stored key is a duplicate
    with Session(engine) as session, session.begin():
        assert insert_events(session, "pings", _pings("D7", 7)) == 0


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_a_day_created_by_another_writer_during_a_load_keeps_every_row_once(
    engine: Engine,
) -> None:
    deferred = DeferredIndexes(new_days=NewDayTables())
    assert deferred.new_days is not None
    with Session(engine) as session, session.begin():
        batch = pl.concat([_pings(f"D{i}", 0) for i in range(10)])
        assert insert_events(session, "pings", batch, deferred) == 10
    # HTTP ingest reaches the same day while the load is still open: it creates the partition,
    # without waiting for the load (a lock the load held on pings would fail it here, not hang).
    with Session(engine) as session, session.begin():
        session.execute(sa.text("SET LOCAL lock_timeout = '20s'"))
        assert insert_events(session, "pings", pl.concat([_pings("D3", 0), _pings("X", 0)])) == 2
    assert deferred.new_days.finish() == 1
    with Session(engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one() == 11
        assert _partitions(session) == [("pings_p20261102", True)]
        assert _load_tables(session) == []


@pytest.mark.parametrize("backend", ["postgis"], indirect=True)
def test_a_load_given_up_leaves_nothing_of_its_new_days(engine: Engine) -> None:
    new_days = NewDayTables()
    with Session(engine) as session, session.begin():
        insert_events(session, "pings", _pings("D1", 0), DeferredIndexes(new_days=new_days))
    new_days.close()
    with Session(engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM pings")).scalar_one() == 0
        assert _partitions(session) == []
        assert _load_tables(session) == []
