"""Retention deletes: old ping partitions dropped, the rest (the audit log too) deleted in short
committed slices."""

# These are entry-point helpers (like intake.pipeline.ingest_file): each commits its own short
# transactions, so a purge never holds long locks while the API is serving.

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from store import audit
from store.db import transaction
from store.models import (
    Adjustment,
    DailyResult,
    DayContest,
    DeviceReceipt,
    Flag,
    FlagResponse,
    FlagReview,
    JobRun,
    MaskedCount,
    MaskedKey,
    Ping,
    RecomputeMark,
    Swipe,
    Visit,
)
from store.reader import dialect, engine_of

_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")
_SLICE = timedelta(hours=6)
_ID_CHUNK = 5_000
# SQLite: the pause after each audit purge batch, longer than the 100 ms a writer waiting on the
# write lock sleeps between tries, so every waiting writer gets the lock before the next batch.
_SQLITE_YIELD_S = 0.15


def _parse_pg_instant(value: str) -> datetime:
    # pg_get_expr gives e.g. '2026-10-24 00:00:00+00'
    fixed = value.replace(" ", "T")
    if re.search(r"[+-]\d\d$", fixed):
        fixed += ":00"
    return datetime.fromisoformat(fixed)


def ping_partitions(session: Session) -> list[tuple[str, datetime, datetime]]:
    """The partitions of ``pings`` (PostgreSQL) as (name, lower, upper bound), oldest first."""
    rows = session.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'pings'::regclass"
        )
    ).all()
    out: list[tuple[str, datetime, datetime]] = []
    for name, bound in rows:
        match = _BOUND.search(bound or "")
        if match is None:
            continue  # a DEFAULT partition: handled by the row deletes
        out.append((name, _parse_pg_instant(match.group(1)), _parse_pg_instant(match.group(2))))
    return sorted(out, key=lambda p: p[1])


_DAY_TABLE = re.compile(r"^pings_p(\d{8})$")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _leftover_day_tables(conn: Any) -> tuple[list[str], list[tuple[str, date]]]:
    """What a purge cut off left behind: partitions still "detach pending" (a detach ...
    CONCURRENTLY interrupted), and day tables no longer attached to ``pings`` (detached, never
    dropped) with their UTC day."""
    pending = list(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'pings'::regclass AND i.inhdetachpending ORDER BY 1"
            )
        ).scalars()
    )
    loose = conn.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
            "AND c.relname LIKE 'pings\\_p%' AND NOT c.relispartition ORDER BY 1"
        )
    ).scalars()
    orphans = []
    for name in loose:
        match = _DAY_TABLE.match(name)
        if match is not None:
            orphans.append((name, datetime.strptime(match.group(1), "%Y%m%d").date()))
    return pending, orphans


def drop_old_ping_partitions(factory: sessionmaker[Session], cutoff: datetime) -> tuple[int, int]:
    """Detach and drop every ``pings`` partition wholly older than ``cutoff`` (PostgreSQL only).

    First it finishes what an interrupted purge left: a partition left "detach pending" is
    detached with FINALIZE, and a day table detached but not dropped is dropped when its day is
    past ``cutoff`` (ingest never writes into a day table that is not attached:
    store.load.ensure_ping_partitions). Then each old partition is counted, detached
    CONCURRENTLY (no lock on the parent beyond a brief one) and dropped. Returns (partitions
    dropped, rows they held). SQLite: (0, 0).
    """
    with factory() as session:
        if not dialect(session).postgres:
            return 0, 0
        old = [(n, lo, hi) for n, lo, hi in ping_partitions(session) if hi <= cutoff]
        engine = engine_of(session)
    dropped = rows = 0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        pending, _ = _leftover_day_tables(conn)
        for name in pending:
            conn.execute(text(f"ALTER TABLE pings DETACH PARTITION {_quoted(name)} FINALIZE"))
        _, orphans = _leftover_day_tables(conn)
        for name, day in orphans:
            if datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) <= cutoff:
                rows += int(
                    conn.execute(text(f"SELECT count(*) FROM {_quoted(name)}")).scalar_one()
                )
                conn.execute(text(f"DROP TABLE {_quoted(name)}"))
                dropped += 1
        old = [p for p in old if p[0] not in pending]
    for name, _, _ in old:
        quoted = _quoted(name)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            count = conn.execute(text(f"SELECT count(*) FROM {quoted}")).scalar_one()
            try:
                conn.execute(text(f"ALTER TABLE pings DETACH PARTITION {quoted} CONCURRENTLY"))
            except Exception:  # noqa: BLE001 - e.g. a default partition exists: plain detach
                conn.execute(text(f"ALTER TABLE pings DETACH PARTITION {quoted}"))
            conn.execute(text(f"DROP TABLE {quoted}"))
        dropped += 1
        rows += int(count)
    return dropped, rows


class PurgeBusyError(RuntimeError):
    """Another purge holds the purge lock."""


@contextmanager
def purge_lock(factory: sessionmaker[Session]) -> Iterator[None]:
    """Hold the purge lock (PostgreSQL: a session advisory lock on a connection of its own) for
    the block, or raise PurgeBusyError at once when another purge holds it. The lock goes with
    its connection, so a killed purge never leaves it held. SQLite: purges take turns on the
    database's write lock; nothing more is needed."""
    with factory() as session:
        postgres = dialect(session).postgres
        engine = engine_of(session)
    if not postgres:
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(hashtext('rollcall purge'))")).scalar()
        if not got:
            holder = conn.execute(
                text(
                    "SELECT a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                    "AND l.objid = hashtext('rollcall purge')::oid LIMIT 1"
                )
            ).first()
            since = (
                f" (database session {holder[0]}, since {holder[2]:%Y-%m-%d %H:%M})"
                if holder
                else ""
            )
            raise PurgeBusyError(
                f"another rollcall purge is running{since}; it removes the same data, so there "
                "is nothing to do now: run again once it has finished if you want to check"
            )
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext('rollcall purge'))"))


def _delete_before(
    factory: sessionmaker[Session], model: Any, cutoff: datetime, column: str = "ts"
) -> int:
    """Delete rows of an event table with ``column`` < cutoff, oldest first, a few hours per
    transaction."""
    ts = getattr(model, column)
    with factory() as session:
        oldest = session.execute(select(func.min(ts))).scalar()
    if oldest is None or oldest >= cutoff:
        return 0
    removed = 0
    lo = oldest
    while lo < cutoff:
        hi = min(lo + _SLICE, cutoff)
        with transaction(factory) as session:
            result = session.execute(delete(model).where(ts >= lo, ts < hi))
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        lo = hi
    return removed


def purge_raw(factory: sessionmaker[Session], cutoff: datetime) -> dict[str, int]:
    """Remove stored pings, swipes and visits (by arrival) older than ``cutoff``, and the HTTP
    receipts of device fixes: whole old ping partitions are dropped, the boundary partition (and
    SQLite) is deleted from in slices. Returns rows removed per table."""
    partitions, partition_rows = drop_old_ping_partitions(factory, cutoff)
    pings = partition_rows + _delete_before(factory, Ping, cutoff)
    swipes = _delete_before(factory, Swipe, cutoff)
    visits = _delete_before(factory, Visit, cutoff, "arrived_at")
    receipts = _delete_before(factory, DeviceReceipt, cutoff, "received_at")
    # A key's local day is within a day of its UTC instant: the day before the cutoff's UTC date
    # holds only events that intake now refuses as too old.
    with transaction(factory) as session:
        result = session.execute(
            delete(MaskedKey).where(MaskedKey.day < (cutoff - timedelta(days=1)).date())
        )
        keys = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return {
        "pings": pings,
        "ping_partitions_dropped": partitions,
        "swipes": swipes,
        "visits": visits,
        "device receipts": receipts,
        "masked event digests": keys,
    }


def _delete_ids(factory: sessionmaker[Session], model: Any, key: Any, ids: list[Any]) -> int:
    removed = 0
    for i in range(0, len(ids), _ID_CHUNK):
        with transaction(factory) as session:
            result = session.execute(delete(model).where(key.in_(ids[i : i + _ID_CHUNK])))
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return removed


def purge_derived(
    factory: sessionmaker[Session], cutoff_day: date, cutoff: datetime
) -> dict[str, int]:
    """Remove derived data older than the retention period.

    Daily results, flags (with their reviews and the officers' responses), day contests and
    their adjustments, recompute marks and masked counts dated before
    ``cutoff_day``; job runs started before ``cutoff`` that no remaining daily result refers to.
    Returns rows removed per table. The audit log is not touched here (see jobs.retention).
    """
    out: dict[str, int] = {}
    with factory() as session:
        old_flags = list(session.scalars(select(Flag.flag_id).where(Flag.day < cutoff_day)))
    with factory() as session:
        review_ids = list(
            session.scalars(
                select(FlagReview.review_id).where(
                    FlagReview.flag_id.in_(select(Flag.flag_id).where(Flag.day < cutoff_day))
                )
            )
        )
    with factory() as session:
        response_ids = list(
            session.scalars(
                select(FlagResponse.response_id).where(
                    FlagResponse.flag_id.in_(select(Flag.flag_id).where(Flag.day < cutoff_day))
                )
            )
        )
        adjustment_ids = list(
            session.scalars(select(Adjustment.adjustment_id).where(Adjustment.day < cutoff_day))
        )
        contest_ids = list(
            session.scalars(select(DayContest.contest_id).where(DayContest.day < cutoff_day))
        )
    out["flag_reviews"] = _delete_ids(factory, FlagReview, FlagReview.review_id, review_ids)
    out["flag_responses"] = _delete_ids(
        factory, FlagResponse, FlagResponse.response_id, response_ids
    )
    out["flags"] = _delete_ids(factory, Flag, Flag.flag_id, old_flags)
    # Adjustments first: each refers to the contest it upheld.
    out["adjustments"] = _delete_ids(factory, Adjustment, Adjustment.adjustment_id, adjustment_ids)
    out["day_contests"] = _delete_ids(factory, DayContest, DayContest.contest_id, contest_ids)
    day = None
    removed = 0
    with factory() as session:
        day = session.execute(select(func.min(DailyResult.day))).scalar()
    while day is not None and day < cutoff_day:
        with transaction(factory) as session:
            result = session.execute(delete(DailyResult).where(DailyResult.day == day))
            removed += int(result.rowcount or 0)  # type: ignore[attr-defined]
        with factory() as session:
            day = session.execute(
                select(func.min(DailyResult.day)).where(DailyResult.day > day)
            ).scalar()
    out["daily_results"] = removed
    with transaction(factory) as session:
        result = session.execute(delete(RecomputeMark).where(RecomputeMark.day < cutoff_day))
        out["recompute_marks"] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        result = session.execute(delete(MaskedCount).where(MaskedCount.day < cutoff_day))
        out["masked_counts"] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        referenced = exists().where(DailyResult.run_id == JobRun.run_id)
        result = session.execute(
            delete(JobRun).where(and_(JobRun.started_at < cutoff, ~referenced))
        )
        out["job_runs"] = int(result.rowcount or 0)  # type: ignore[attr-defined]
    return out


def purge_audit(
    factory: sessionmaker[Session],
    cutoff: datetime,
    *,
    actor: str,
    role: str,
    now: datetime,
    batch_size: int = audit.PURGE_BATCH,
    on_batch: Callable[[audit.AuditPurge, int], None] | None = None,
) -> list[audit.AuditPurge]:
    """Remove the audit entries before ``cutoff`` (store.audit.purge_target) in batches of at most
    ``batch_size``, oldest first, each in its own transaction: verified, deleted and recorded by
    its own marker entry (store.audit.purge_batch), so every commit leaves a chain that
    verify_chain accepts and appenders are never held for more than one batch (on SQLite, where
    a batch holds the write lock, the purge pauses after each one so waiting writers go first).

    ``on_batch(batch, through_seq)`` is called after each commit (progress: the batch removed and
    the last seq the purge will remove). If it raises, or the process dies, the purge stops
    between batches with every committed batch recorded; running it again continues after the
    newest marker. Raises ChainBrokenError when a batch does not verify: none of that batch is
    removed, the batches before it stay removed. Returns the batches, oldest first.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    with factory() as session:
        through_seq = audit.purge_target(session, cutoff)
        pause_s = 0.0 if dialect(session).postgres else _SQLITE_YIELD_S
    done: list[audit.AuditPurge] = []
    while through_seq is not None:
        if done:
            time.sleep(pause_s)
        with transaction(factory) as session:
            batch = audit.purge_batch(
                session,
                through_seq,
                cutoff=cutoff,
                actor=actor,
                role=role,
                now=now,
                limit=batch_size,
                marker_hint=done[-1].marker_seq if done else None,
            )
        if batch is None:
            break
        done.append(batch)
        if on_batch is not None:
            on_batch(batch, through_seq)
        if batch.last_seq >= through_seq:
            break
    return done
