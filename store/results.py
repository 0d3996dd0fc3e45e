"""Writing nightly results: daily results and flags (kept by fingerprint, never deleted)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson
import polars as pl
from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.orm import Session

from rules.findings import Finding
from rules.flags.below_office_share import CODE as COMPLIANCE_CODE
from rules.integrity import INTEGRITY_CODES
from rules.records import FlagStatus
from store.dayload import DAILY
from store.models import DailyResult, Flag, RecomputeMark
from store.reader import dialect
from store.types import to_epoch_us

# Codes found over a period, not by the daily run: a day's write leaves them alone.
PERIOD_CODES = (COMPLIANCE_CODE, *INTEGRITY_CODES)
DAILY_COLUMNS = tuple(DAILY)
_CHUNK = 5_000

# A test-only hook: called with the name of each write stage ("daily", "flags", "marks") after it
# has been flushed, so a test can raise in the middle of a day's write.
StageHook = Callable[[str], None]


@dataclass
class WriteCounts:
    """What one write changed."""

    daily: int = 0
    flags_raised: int = 0
    flags_kept: int = 0
    flags_reinstated: int = 0
    flags_withdrawn: int = 0
    marks_cleared: int = 0

    def add(self, other: WriteCounts) -> None:
        """Accumulate ``other`` into this."""
        for key, value in vars(other).items():
            setattr(self, key, getattr(self, key) + value)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _stable(value: Any) -> Any:
    """Floats rounded to 1e-6: sums of the same durations in another order (another partitioning
    of the officers) differ in the last bits, and stored results must not."""
    return round(value, 6) if isinstance(value, float) else value


def _daily_records(
    daily: pl.DataFrame, *, run_id: int | None, now: datetime
) -> list[dict[str, Any]]:
    extra = [c for c in daily.columns if c not in DAILY_COLUMNS]
    records: list[dict[str, Any]] = []
    for row in daily.iter_rows(named=True):
        details = {k: _stable(row[k]) for k in extra if row[k] is not None}
        records.append(
            {
                "officer_id": row["officer_id"],
                "day": row["date"],
                "expected_office": bool(row["expected_office"]),
                "declared_location": row["declared_location"],
                "verified_presence_minutes": _stable(
                    float(row["verified_presence_minutes"] or 0.0)
                ),
                "verified_office_day": bool(row["verified_office_day"]),
                "evidence": row["evidence"],
                "policy_version": row["policy_version"],
                "run_id": run_id,
                "computed_at": now,
                "details": details or None,
            }
        )
    return records


def replace_daily(
    session: Session,
    day: date,
    daily: pl.DataFrame,
    *,
    run_id: int | None,
    now: datetime,
    officer_ids: Sequence[str] | None = None,
) -> int:
    """Replace the daily results of local ``day`` with ``daily`` (rows dated ``day``).

    ``officer_ids`` None replaces every officer's row for the day; otherwise only those officers'.
    The day's adjustments (upheld contests, store.reply) are applied to the rows, which keep the
    computed values beside them in ``details``. Returns the number of rows written. Flushes only.
    """
    from rules.adjust import apply_adjustments
    from store.reply import day_adjustments

    stmt = delete(DailyResult).where(DailyResult.day == day)
    if officer_ids is None:
        session.execute(stmt)
    else:
        for chunk in _chunks(list(officer_ids)):
            session.execute(stmt.where(DailyResult.officer_id.in_(chunk)))
    rows = apply_adjustments(daily.filter(pl.col("date") == day), day_adjustments(session, day))
    records = _daily_records(rows, run_id=run_id, now=now)
    session.flush()
    _bulk_insert_daily(session, records)
    return len(records)


# daily_results' columns as the bulk insert writes them (the result's ``date`` is ``day``).
_DAILY_INSERT_COLUMNS = (
    *("day" if c == "date" else c for c in DAILY_COLUMNS),
    "run_id",
    "computed_at",
    "details",
)


def _bulk_insert_daily(session: Session, records: list[dict[str, Any]]) -> None:
    """Insert daily rows through the driver in the session's transaction (COPY on PostgreSQL,
    executemany on SQLite): tens of thousands of rows a day, too many for ORM inserts."""
    if not records:
        return
    raw: Any = session.connection().connection.driver_connection
    cols = ", ".join(_DAILY_INSERT_COLUMNS)
    if dialect(session).postgres:
        with raw.cursor() as cur, cur.copy(f"COPY daily_results ({cols}) FROM STDIN") as copy:
            for r in records:
                copy.write_row(
                    tuple(
                        orjson.dumps(r[c]).decode() if c == "details" and r[c] is not None else r[c]
                        for c in _DAILY_INSERT_COLUMNS
                    )
                )
        return
    marks = ", ".join("?" for _ in _DAILY_INSERT_COLUMNS)
    raw.executemany(
        f"INSERT INTO daily_results ({cols}) VALUES ({marks})",
        [
            (
                r["officer_id"],
                r["day"].isoformat(),
                int(r["expected_office"]),
                r["declared_location"],
                r["verified_presence_minutes"],
                int(r["verified_office_day"]),
                r["evidence"],
                r["policy_version"],
                r["run_id"],
                to_epoch_us(r["computed_at"]),
                orjson.dumps(r["details"]).decode() if r["details"] is not None else None,
            )
            for r in records
        ],
    )


def sync_flags(
    session: Session,
    findings: Sequence[Finding],
    *,
    scope_days: Sequence[date],
    codes: Sequence[str] | None,
    exclude_codes: Sequence[str] = (),
    policy_version: str,
    now: datetime,
    officer_ids: Sequence[str] | None = None,
) -> WriteCounts:
    """Make the flags of a scope match ``findings``, keeping identity and review status.

    The scope is the flags dated one of ``scope_days`` with a code in ``codes`` (None: any code
    not in ``exclude_codes``), optionally limited to ``officer_ids``. A finding whose fingerprint
    already has a flag keeps that flag (id, status, raised_at), refreshing its evidence and
    clearing ``withdrawn_at`` if it had been withdrawn; a new fingerprint raises an ``open`` flag;
    a flag in scope whose finding is gone gets ``withdrawn_at`` (never deleted). Flushes only.
    """
    counts = WriteCounts()
    by_fp = {f.fingerprint: f for f in findings}
    fps = sorted(by_fp)
    existing = _flags_by_fingerprint(session, fps)
    new_rows: list[dict[str, Any]] = []
    for fp in fps:
        known = existing.get(fp)
        if known is None:
            new_rows.append(_new_flag_row(by_fp[fp], policy_version, now))
            continue
        if known.withdrawn_at is not None:
            counts.flags_reinstated += 1
        else:
            counts.flags_kept += 1
        _refresh_flag(known, by_fp[fp], policy_version, now)
    for chunk in _chunks(new_rows):
        session.execute(insert(Flag), list(chunk))
    counts.flags_raised = len(new_rows)
    session.flush()
    counts.flags_withdrawn = _withdraw_stale(
        session,
        set(by_fp),
        scope_days=scope_days,
        codes=codes,
        exclude_codes=exclude_codes,
        officer_ids=officer_ids,
        now=now,
    )
    session.flush()
    return counts


def _flags_by_fingerprint(session: Session, fingerprints: Sequence[str]) -> dict[str, Flag]:
    """The stored flags of ``fingerprints``, withdrawn or not, by fingerprint."""
    existing: dict[str, Flag] = {}
    for chunk in _chunks(fingerprints):
        for flag in session.scalars(select(Flag).where(Flag.fingerprint.in_(chunk))):
            existing[flag.fingerprint] = flag
    return existing


def _new_flag_row(finding: Finding, policy_version: str, now: datetime) -> dict[str, Any]:
    """The row of a new ``open`` flag for a finding never flagged before."""
    return {
        "flag_id": str(uuid.uuid4()),
        "fingerprint": finding.fingerprint,
        "officer_id": finding.officer_id,
        "code": finding.code,
        "day": finding.date,
        "status": FlagStatus.OPEN.value,
        "misconduct": finding.misconduct,
        "summary": finding.summary,
        "evidence": finding.evidence,
        "rule_version": finding.rule_version,
        "policy_version": policy_version,
        "raised_at": now,
        "last_seen_at": now,
        "withdrawn_at": None,
    }


def _refresh_flag(flag: Flag, finding: Finding, policy_version: str, now: datetime) -> None:
    """A flag found again: its evidence refreshed, seen ``now``, no longer withdrawn (its id,
    status and raised_at kept)."""
    flag.summary = finding.summary
    flag.evidence = finding.evidence
    flag.rule_version = finding.rule_version
    flag.policy_version = policy_version
    flag.misconduct = finding.misconduct
    flag.last_seen_at = now
    flag.withdrawn_at = None


def _withdraw_stale(
    session: Session,
    found: set[str],
    *,
    scope_days: Sequence[date],
    codes: Sequence[str] | None,
    exclude_codes: Sequence[str],
    officer_ids: Sequence[str] | None,
    now: datetime,
) -> int:
    """Withdraw (``withdrawn_at`` = ``now``) the flags in scope whose fingerprint is not in
    ``found``; how many."""
    stale = select(Flag).where(Flag.day.in_(list(scope_days)), Flag.withdrawn_at.is_(None))
    if codes is not None:
        stale = stale.where(Flag.code.in_(list(codes)))
    elif exclude_codes:
        stale = stale.where(Flag.code.not_in(list(exclude_codes)))
    officer_set = set(officer_ids) if officer_ids is not None else None
    withdrawn = 0
    for flag in session.scalars(stale).all():
        if flag.fingerprint in found:
            continue
        if officer_set is not None and flag.officer_id not in officer_set:
            continue
        flag.withdrawn_at = now
        withdrawn += 1
    return withdrawn


def clear_marks(
    session: Session,
    day: date,
    officer_ids: Sequence[str] | None = None,
    *,
    seen: Sequence[tuple[str, datetime]] | None = None,
) -> int:
    """Delete the recompute marks of ``day`` (all officers, or only ``officer_ids``); with
    ``seen`` (marks_of_day read before the day's data), only those marks as they were then: a
    mark made or moved later stands for data the run did not read, and stays."""
    stmt = delete(RecomputeMark).where(RecomputeMark.day == day)
    if seen is not None:
        cleared = 0
        for chunk in _chunks(list(seen)):
            result = session.execute(
                stmt.where(
                    tuple_(RecomputeMark.officer_id, RecomputeMark.marked_at).in_(list(chunk))
                )
            )
            cleared += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return cleared
    if officer_ids is None:
        return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
    cleared = 0
    for chunk in _chunks(list(officer_ids)):
        result = session.execute(stmt.where(RecomputeMark.officer_id.in_(chunk)))
        cleared += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return cleared


def marks_of_day(session: Session, day: date) -> list[tuple[str, datetime]]:
    """The recompute marks of ``day`` as (officer_id, marked_at): read before the day's data, the
    marks a run may clear after writing it (clear_marks)."""
    rows = session.execute(
        select(RecomputeMark.officer_id, RecomputeMark.marked_at).where(RecomputeMark.day == day)
    ).all()
    return [(str(o), m) for o, m in rows]


def marked_days(
    session: Session,
    *,
    first: date | None = None,
    last: date | None = None,
    computed_only: bool = False,
) -> list[date]:
    """The days with at least one recompute mark (within ``first``..``last``; with
    ``computed_only``, only days that have results), in order."""
    stmt = select(RecomputeMark.day).distinct()
    if computed_only:
        has_results = select(DailyResult.day).where(DailyResult.day == RecomputeMark.day)
        stmt = stmt.where(has_results.exists())
    if first is not None:
        stmt = stmt.where(RecomputeMark.day >= first)
    if last is not None:
        stmt = stmt.where(RecomputeMark.day <= last)
    return sorted(session.scalars(stmt))


def mark_computed_days(
    session: Session, events: pl.DataFrame, *, tz: str, reason: str, marked_at: datetime
) -> int:
    """Mark (officer_id, local day) of ``events`` (``officer_id``, ``ts``) for recomputation where
    the day already has results: data the nightly run of that day did not see. Marks are written
    in (officer_id, day) order; an existing mark moves to ``marked_at``. Returns the marks made."""
    from rules.clock import local_date

    if events.is_empty():
        return 0
    # The local days the events span, from their first and last instant: most batches touch
    # days not computed yet, and then no event's own day is needed.
    bounds = events.select(
        lo=local_date(pl.col("ts").min(), tz), hi=local_date(pl.col("ts").max(), tz)
    ).row(0)
    computed = set(
        session.scalars(
            select(DailyResult.day)
            .where(DailyResult.day >= bounds[0], DailyResult.day <= bounds[1])
            .distinct()
        )
    )
    if not computed:
        return 0
    pairs = events.select("officer_id", day=local_date(pl.col("ts"), tz)).unique()
    marks = pairs.filter(pl.col("day").is_in(sorted(computed))).sort("officer_id", "day")
    for officer_id, day in marks.iter_rows():
        mark_day(session, officer_id, day, reason=reason, marked_at=marked_at)
    return marks.height


def mark_day(
    session: Session, officer_id: str, day: date, *, reason: str, marked_at: datetime
) -> None:
    """Mark (officer_id, local day) for recomputation; an existing mark moves to ``marked_at``
    with ``reason``. Only flushes."""
    stmt = (
        dialect(session)
        .insert(RecomputeMark)
        .values(officer_id=officer_id, day=day, marked_at=marked_at, reason=reason)
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["officer_id", "day"],
            set_={"marked_at": stmt.excluded.marked_at, "reason": stmt.excluded.reason},
        )
    )


def write_day(
    session: Session,
    day: date,
    daily: pl.DataFrame,
    findings: Sequence[Finding],
    *,
    policy_version: str,
    run_id: int | None,
    now: datetime,
    stage_hook: StageHook | None = None,
    seen_marks: Sequence[tuple[str, datetime]] | None = None,
) -> WriteCounts:
    """Replace everything the nightly job derives for local ``day``, in the caller's transaction.

    ``seen_marks``: the day's marks as read before its data (marks_of_day); only those are
    cleared, so data that arrived while the day was computed keeps its mark (None: all).

    Daily results of the day are replaced; the day's flags (every code but BELOW_OFFICE_SHARE,
    which belongs to a period) are synchronised with ``findings``; the day's recompute marks are
    cleared. ``stage_hook`` (tests only) is called after each stage so a crash can be simulated.
    """
    counts = WriteCounts()
    counts.daily = replace_daily(session, day, daily, run_id=run_id, now=now)
    if stage_hook is not None:
        stage_hook("daily")
    day_findings = [f for f in findings if f.code not in PERIOD_CODES]
    counts.add(
        sync_flags(
            session,
            day_findings,
            scope_days=[day],
            codes=None,
            exclude_codes=PERIOD_CODES,
            policy_version=policy_version,
            now=now,
        )
    )
    if stage_hook is not None:
        stage_hook("flags")
    counts.marks_cleared = clear_marks(session, day, seen=seen_marks)
    session.flush()
    if stage_hook is not None:
        stage_hook("marks")
    return counts


def write_period_flags(
    session: Session,
    period_end: date,
    findings: Sequence[Finding],
    *,
    policy_version: str,
    now: datetime,
) -> WriteCounts:
    """Synchronise the BELOW_OFFICE_SHARE flags of the period ending ``period_end``."""
    return sync_flags(
        session,
        [f for f in findings if f.code == COMPLIANCE_CODE],
        scope_days=[period_end],
        codes=(COMPLIANCE_CODE,),
        policy_version=policy_version,
        now=now,
    )


def write_integrity_flags(
    session: Session,
    start: date,
    end: date,
    findings: Sequence[Finding],
    *,
    policy_version: str,
    now: datetime,
) -> WriteCounts:
    """Synchronise the roster-integrity flags dated within local days start..end."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return sync_flags(
        session,
        [f for f in findings if f.code in INTEGRITY_CODES],
        scope_days=days,
        codes=INTEGRITY_CODES,
        policy_version=policy_version,
        now=now,
    )
