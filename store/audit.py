"""The append-only, hash-chained audit log: append under a lock, read, verify, purge in batches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

import orjson
from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from store.models import AuditEntry
from store.reader import dialect

GENESIS_HASH = "0" * 64
_COLUMNS = tuple(AuditEntry.__table__.columns)
_INSERT = cast("Table", AuditEntry.__table__).insert()
# pg_advisory_xact_lock key: any fixed 64-bit number, the same in every process ("rollcall.audit").
_PG_LOCK_KEY = 0x526F6C6C41756474
# A second key serialises purges with each other without blocking appenders ("rollcall.purge").
_PG_PURGE_LOCK_KEY = 0x526F6C6C50757267
PURGE_ACTION = "audit.purge"
# Entries a purge removes per transaction (each batch verified, deleted and recorded by its marker).
PURGE_BATCH = 50_000
_VERIFY_BATCH = 5_000


def _at_text(at: datetime) -> str:
    """The instant as it enters the hash: UTC, microseconds, fixed format (stable on both backends)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EntryFields(Protocol):
    """What is read of a stored entry: an AuditEntry, or a row of its columns (faster to load)."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def officer_id(self) -> str | None: ...
    @property
    def case_ref(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def request_id(self) -> str | None: ...
    @property
    def detail(self) -> dict[str, Any] | None: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


def canonical_entry(entry: EntryFields) -> bytes:
    """Canonical JSON (sorted keys, no whitespace, UTF-8) of every field of an entry but the hashes."""
    body: dict[str, Any] = {
        "seq": int(entry.seq),
        "at": _at_text(entry.at),
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "officer_id": entry.officer_id,
        "case_ref": entry.case_ref,
        "purpose": entry.purpose,
        "request_id": entry.request_id,
        "detail": entry.detail,
    }
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def entry_hash(prev_hash: str, entry: EntryFields) -> str:
    """sha256(prev_hash + canonical JSON of the entry), hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_entry(entry)).hexdigest()


# The chain's tail, read once the chain lock is held (Dialect.lock_then_first): appenders are
# serialised until their transaction ends, so two writers cannot fork the chain. PostgreSQL: a
# transaction-scoped advisory lock. SQLite: a no-op write statement takes the database's single
# write lock (before the tail is read) and holds it until commit.
_TAIL_SQL = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"


# session.info key: the entry point's clock (a zero-argument callable giving an aware datetime),
# so every entry a request or command writes is stamped with the time that entry point serves at.
SESSION_CLOCK = "clock"


def session_now(session: Session) -> datetime:
    """Now by the clock ``session`` carries (``SESSION_CLOCK``), else the wall clock (UTC)."""
    clock = session.info.get(SESSION_CLOCK)
    now: datetime = clock() if clock is not None else datetime.now(UTC)
    return now


def append(
    session: Session,
    *,
    actor: str,
    role: str,
    action: str,
    officer_id: str | None = None,
    case_ref: str | None = None,
    purpose: str | None = None,
    request_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    after: tuple[int, str] | None = None,
) -> AuditEntry:
    """Append one entry at the end of the chain and flush; the caller's transaction commits it.

    ``detail`` must be JSON-serialisable and must never hold coordinates, tokens or off-duty data.
    Call this last in a transaction: the chain lock is held until commit. ``after`` is the
    (seq, hash) to continue from when this transaction deleted every entry (a purge).
    """
    document = orjson.loads(orjson.dumps(detail)) if detail is not None else None
    # Whatever the transaction has pending is written before the lock, not while it is held:
    # from here to the commit every other appender waits.
    session.flush()
    tail = dialect(session).lock_then_first(session, _PG_LOCK_KEY, "audit_log", "seq", _TAIL_SQL)
    seq, prev_hash = (int(tail[0]) + 1, str(tail[1])) if tail is not None else (1, GENESIS_HASH)
    if after is not None and after[0] >= seq:
        seq, prev_hash = after[0] + 1, after[1]
    when = (at or session_now(session)).astimezone(UTC)
    entry = AuditEntry(
        seq=seq,
        at=when,
        actor=actor,
        role=role,
        action=action,
        officer_id=officer_id,
        case_ref=case_ref,
        purpose=purpose,
        request_id=request_id,
        detail=document,
        prev_hash=prev_hash,
        hash="",
    )
    entry.hash = entry_hash(prev_hash, entry)
    # One INSERT of the row, without the ORM's unit of work (the entry returned is not added
    # to the session: it is a record of what was stored).
    session.execute(_INSERT, {c.key: getattr(entry, c.key) for c in _COLUMNS})
    return entry


def entries(
    session: Session,
    *,
    actor: str | None = None,
    officer_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int | None = None,
    limit: int = 100,
) -> tuple[list[AuditEntry], int | None]:
    """A page of entries in seq order matching every given filter, and the next page's ``after_seq``.

    ``since`` is inclusive, ``until`` exclusive; ``after_seq`` continues a previous page.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    query = select(AuditEntry)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if officer_id is not None:
        query = query.where(AuditEntry.officer_id == officer_id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if after_seq is not None:
        query = query.where(AuditEntry.seq > after_seq)
    rows = list(session.scalars(query.order_by(AuditEntry.seq).limit(limit + 1)))
    page = rows[:limit]
    return page, (int(page[-1].seq) if len(rows) > limit else None)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of verifying the chain: how many entries, the head, and the first bad entry.

    ``anchor_seq`` is the last entry removed by the newest recorded purge (0 when none was): the
    chain is verified from the entry after it.
    """

    entries: int
    head_seq: int | None
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None
    anchor_seq: int = 0

    @property
    def ok(self) -> bool:
        """Whether every entry is intact and none is missing."""
        return self.first_bad_seq is None


@dataclass(frozen=True)
class Anchor:
    """Where the chain starts: the seq and hash of the last entry a recorded purge removed
    (0 and GENESIS_HASH when nothing was purged), and the seq of that purge's marker entry."""

    seq: int
    hash: str
    marker_seq: int | None
    cutoff: datetime | None


class MalformedMarkerError(ValueError):
    """A purge marker's detail does not name a valid anchor (it was edited or forged)."""


def _iter_chain(
    session: Session, stop_seq: int | None = None, start_after: int | None = None
) -> Iterator[EntryFields]:
    """The stored entries in seq order (rows of their columns, not ORM objects), read in pages."""
    last = start_after
    while True:
        query = select(*_COLUMNS).order_by(AuditEntry.seq).limit(_VERIFY_BATCH)
        if last is not None:
            query = query.where(AuditEntry.seq > last)
        if stop_seq is not None:
            query = query.where(AuditEntry.seq <= stop_seq)
        # A Row has every column as an attribute: it is an EntryFields.
        batch = cast("list[EntryFields]", session.execute(query).all())
        if not batch:
            return
        yield from batch
        last = int(batch[-1].seq)


def _marker_anchor(marker: EntryFields) -> Anchor:
    detail = marker.detail or {}
    seq, digest, cutoff = detail.get("last_seq"), detail.get("anchor_hash"), detail.get("cutoff")
    if (
        not isinstance(seq, int)
        or isinstance(seq, bool)
        or not 0 < seq < int(marker.seq)
        or not isinstance(digest, str)
        or len(digest) != 64
        or not isinstance(cutoff, str)
    ):
        raise MalformedMarkerError(f"the purge marker at seq {marker.seq} names no valid anchor")
    try:
        cutoff_at = datetime.fromisoformat(cutoff)
    except ValueError as exc:
        raise MalformedMarkerError(f"the purge marker at seq {marker.seq} has no cutoff") from exc
    return Anchor(seq, digest, int(marker.seq), cutoff_at)


def latest_marker_seq(session: Session, *, from_seq: int | None = None) -> int | None:
    """The seq of the newest purge marker, or None if the log was never purged.

    ``from_seq``: look only at entries from that seq on (a marker known to exist: the newest is
    at or after it), which reads the tail of the log instead of all of it.
    """
    query = select(func.max(AuditEntry.seq)).where(AuditEntry.action == PURGE_ACTION)
    if from_seq is not None:
        query = query.where(AuditEntry.seq >= from_seq)
    value = session.execute(query).scalar()
    return int(value) if value is not None else None


def chain_anchor(session: Session, *, marker_hint: int | None = None) -> Anchor:
    """Where verification starts: after the entries removed by the newest recorded purge.

    ``marker_hint`` is the seq of a purge marker seen before (the newest one is then looked for
    from there on; the whole log is searched if it is gone). Raises MalformedMarkerError when the
    newest marker's detail was tampered with.
    """
    marker_seq = None
    if marker_hint is not None:
        marker_seq = latest_marker_seq(session, from_seq=marker_hint)
    if marker_seq is None:
        marker_seq = latest_marker_seq(session)
    if marker_seq is None:
        return Anchor(0, GENESIS_HASH, None, None)
    marker = session.get(AuditEntry, marker_seq)
    assert marker is not None
    return _marker_anchor(marker)


def _malformed(session: Session, exc: MalformedMarkerError) -> ChainReport:
    return ChainReport(0, None, GENESIS_HASH, latest_marker_seq(session), str(exc))


def _entry_fault(
    entry: EntryFields, expected_seq: int, prev: str, anchor: Anchor, retention_days: int | None
) -> tuple[int, str] | None:
    """What is wrong with ``entry`` as the link after ``prev`` (the seq to report and the
    reason), or None: removed by a recorded purge yet present, after a gap, a broken link, an
    edited entry, or (with ``retention_days``) a purge marker cutting inside the retention."""
    seq = int(entry.seq)
    if seq <= anchor.seq:
        return seq, f"entry {seq} should have been removed by the purge at seq {anchor.marker_seq}"
    if seq != expected_seq:
        return expected_seq, f"entry {expected_seq} is missing"
    if entry.prev_hash != prev:
        return seq, "prev_hash does not match the entry before"
    if entry_hash(prev, entry) != entry.hash:
        return seq, "hash does not match the entry's content"
    if entry.action == PURGE_ACTION and retention_days is not None:
        try:
            cutoff = _marker_anchor(entry).cutoff
        except MalformedMarkerError as exc:
            return seq, str(exc)
        # A day of slack: the cutoff is the start of a local day, DST shifts it by an hour.
        latest_allowed = entry.at - timedelta(days=retention_days - 1)
        if cutoff is None or cutoff > latest_allowed:
            return seq, f"the purge removed entries younger than {retention_days} days"
    return None


def _walk(
    session: Session,
    *,
    stop_seq: int | None = None,
    expect_head: tuple[int, str] | None = None,
    retention_days: int | None = None,
    anchor: Anchor | None = None,
    from_anchor: bool = False,
) -> ChainReport:
    """Verify from ``anchor`` (chain_anchor when None) up to ``stop_seq`` (the end when None).
    ``from_anchor``: read only the entries after the anchor, leaving out the check that none
    before it is left."""
    if anchor is None:
        try:
            anchor = chain_anchor(session)
        except MalformedMarkerError as exc:
            return _malformed(session, exc)
    expected_seq, prev, count = anchor.seq + 1, anchor.hash, 0
    head_seq: int | None = None
    # A recorded head at or before the anchor was removed by a recorded purge.
    seen_expected_head = expect_head is None or expect_head[0] <= anchor.seq

    def bad(seq: int, reason: str) -> ChainReport:
        return ChainReport(count, head_seq, prev, seq, reason, anchor.seq)

    for entry in _iter_chain(session, stop_seq, anchor.seq if from_anchor else None):
        fault = _entry_fault(entry, expected_seq, prev, anchor, retention_days)
        if fault is not None:
            return bad(*fault)
        seq = int(entry.seq)
        if expect_head is not None and seq == expect_head[0]:
            if entry.hash != expect_head[1]:
                return bad(seq, "hash differs from the expected head")
            seen_expected_head = True
        prev, head_seq, count, expected_seq = entry.hash, seq, count + 1, seq + 1
    if not seen_expected_head and expect_head is not None:
        return bad(expect_head[0], "the chain ends before the expected head")
    return ChainReport(count, head_seq, prev, anchor_seq=anchor.seq)


def verify_chain(
    session: Session,
    *,
    expect_head: tuple[int, str] | None = None,
    retention_days: int | None = None,
) -> ChainReport:
    """Recompute every hash in seq order from the chain's anchor; report the first entry that was
    edited, follows a gap, or should not exist.

    The anchor is the last entry removed by the newest recorded purge (its marker entry names it
    and is itself part of the chain, so editing or deleting the marker is detected), or the
    genesis when the log was never purged. An edited entry fails its own hash; a deleted one
    leaves a gap in seq and a broken prev_hash link in the next entry; an entry removed outside a
    recorded purge leaves the first surviving entry after a gap. Deleting the newest entries
    leaves a shorter valid chain: pass ``expect_head`` (a (seq, hash) recorded earlier) to detect
    that. With ``retention_days``, a purge marker whose cutoff lies inside that many days before
    the purge is reported too. A purge committed while verifying is noticed and the check rerun.
    """
    for _ in range(3):
        marker_before = latest_marker_seq(session)
        report = _walk(session, expect_head=expect_head, retention_days=retention_days)
        if report.ok or latest_marker_seq(session) == marker_before:
            return report
    return report


@dataclass(frozen=True)
class _Verified:
    """A verified chain (ok report) as of ``anchor``, and when it was last walked in full."""

    anchor: Anchor
    report: ChainReport
    full_at: datetime


class ChainVerifier:
    """The audit chain's verification kept between calls, for a screen that shows it on every
    view: each call walks only the entries appended since the last one, after checking that the
    anchor (newest purge marker) is the same and that the last verified entry still has the hash
    it was verified with (a rewritten chain, or a purge past it, changes it). The whole chain is
    walked again at the first call, after a failure, after a purge, and when the last full walk
    is ``full_every`` old or more: an entry edited in place (its stored hash kept) is found by
    that walk, at most ``full_every`` later. Thread-safe (state is replaced whole)."""

    def __init__(self, full_every: timedelta = timedelta(minutes=10)) -> None:
        self.full_every = full_every
        self._state: _Verified | None = None
        self.full_walks = 0

    def verify(self, session: Session, now: datetime) -> tuple[ChainReport, datetime]:
        """The chain's report and the time of the last full walk it rests on."""
        state = self._state
        if state is not None and now - state.full_at < self.full_every:
            report = self._extend(session, state)
            if report is not None:
                return report, state.full_at
        self._state = None
        self.full_walks += 1
        marker = latest_marker_seq(session)
        report = verify_chain(session)
        if report.ok and latest_marker_seq(session) == marker:
            try:
                anchor = chain_anchor(session, marker_hint=marker)
            except MalformedMarkerError:
                return report, now
            self._state = _Verified(anchor, report, now)
        return report, now

    def _extend(self, session: Session, state: _Verified) -> ChainReport | None:
        """The report verified on from ``state``; None when a full walk is needed."""
        done = state.report
        if done.head_seq is None:
            return None
        try:
            anchor = chain_anchor(session, marker_hint=state.anchor.marker_seq)
        except MalformedMarkerError:
            return None
        if anchor != state.anchor or entry_hash_at(session, done.head_seq) != done.head_hash:
            return None
        start = Anchor(done.head_seq, done.head_hash, anchor.marker_seq, anchor.cutoff)
        part = _walk(session, anchor=start, from_anchor=True)
        report = ChainReport(
            done.entries + part.entries,
            part.head_seq if part.head_seq is not None else done.head_seq,
            part.head_hash,
            part.first_bad_seq,
            part.reason,
            anchor.seq,
        )
        if not report.ok:
            return None  # walked again in full, which finds the same entry
        self._state = _Verified(anchor, report, state.full_at)
        return report


class ChainBrokenError(RuntimeError):
    """The entries a purge would remove do not verify: nothing is removed, so the evidence stays."""

    def __init__(self, report: ChainReport) -> None:
        super().__init__(f"broken at seq {report.first_bad_seq}: {report.reason}")
        self.report = report


@dataclass(frozen=True)
class AuditPurge:
    """What a purge of the audit log removed and the marker entry that records it."""

    removed: int
    first_seq: int
    last_seq: int
    first_at: datetime
    last_at: datetime
    anchor_hash: str
    marker_seq: int


def _lock_purge(session: Session) -> None:
    """Serialise purges. PostgreSQL: their own advisory lock, so appenders are not blocked while
    old entries are deleted (only while the marker is appended). SQLite: the write lock."""
    dialect(session).lock_until_commit(session, _PG_PURGE_LOCK_KEY, "audit_log", "seq")


def purge_target(session: Session, cutoff: datetime) -> int | None:
    """The seq of the last entry a purge before ``cutoff`` removes, or None for an empty log.

    Entries go as a prefix in seq order: an entry is removed only when it and every entry before
    it are older than ``cutoff``, so this is the seq before the first entry at or after it (the
    newest entry when there is none). Entries up to it stay old and are never renumbered, so the
    value holds for as long as the purge runs. It may lie at or before the chain's anchor (then
    nothing is left to remove).
    """
    first_kept = select(func.min(AuditEntry.seq)).where(AuditEntry.at >= cutoff).scalar_subquery()
    newest = select(func.max(AuditEntry.seq)).scalar_subquery()
    # One statement, so one snapshot: read as two, an entry committed between them would be
    # missed by the first and taken as "the newest" by the second, and purged while new.
    target = session.execute(select(func.coalesce(first_kept - 1, newest))).scalar()
    return int(target) if target is not None else None


def purge_batch(
    session: Session,
    through_seq: int,
    *,
    cutoff: datetime,
    actor: str,
    role: str,
    now: datetime,
    limit: int | None = None,
    marker_hint: int | None = None,
) -> AuditPurge | None:
    """Remove the next entries of the chain up to ``through_seq`` (purge_target), at most
    ``limit`` of them, and append a marker entry recording them; flushes only, so the delete and
    the marker commit together or not at all, and each commit leaves a chain verify_chain accepts.

    The batch starts after the anchor of the newest marker (``marker_hint``: the seq of the marker
    of the previous batch, so that one is found without reading the whole log). The marker
    (action ``audit.purge``) records the count, the seq and time range removed, ``cutoff``, and
    ``anchor_hash``, the hash of the last removed entry, from which verify_chain then starts. The
    batch is verified first: if any of its entries was edited or deleted (or the newest marker
    was), ChainBrokenError is raised and nothing is removed. Returns None when nothing up to
    ``through_seq`` is left. Safe while others append: on PostgreSQL an in-flight append always
    follows the removed range (its seq is above every committed one), and appenders wait only for
    the marker, not for the verification or the delete; on SQLite they wait for the batch.
    """
    _lock_purge(session)
    try:
        anchor = chain_anchor(session, marker_hint=marker_hint)
    except MalformedMarkerError as exc:
        raise ChainBrokenError(_malformed(session, exc)) from exc
    if through_seq <= anchor.seq:
        return None
    last_seq = through_seq if limit is None else min(through_seq, anchor.seq + limit)
    # The first batch of a run also checks that no entry is left before the anchor; later ones
    # start after it (the run itself removed what lies before).
    report = _walk(session, stop_seq=last_seq, anchor=anchor, from_anchor=marker_hint is not None)
    if report.ok and report.head_seq != last_seq:
        missing = (report.head_seq or anchor.seq) + 1
        report = replace(report, first_bad_seq=missing, reason=f"entry {missing} is missing")
    if not report.ok:
        raise ChainBrokenError(report)
    first_seq = anchor.seq + 1
    first_at, last_at = session.execute(
        select(func.min(AuditEntry.at), func.max(AuditEntry.at)).where(
            AuditEntry.seq >= first_seq, AuditEntry.seq <= last_seq
        )
    ).one()
    result = session.execute(
        delete(AuditEntry)
        .where(AuditEntry.seq >= first_seq, AuditEntry.seq <= last_seq)
        .execution_options(synchronize_session=False)
    )
    removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if removed != last_seq - first_seq + 1:
        raise RuntimeError("audit entries changed while being purged")
    marker = append(
        session,
        actor=actor,
        role=role,
        action=PURGE_ACTION,
        purpose="retention",
        detail={
            "removed": removed,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "first_at": _at_text(first_at),
            "last_at": _at_text(last_at),
            "cutoff": _at_text(cutoff),
            "anchor_hash": report.head_hash,
        },
        at=now,
        after=(last_seq, report.head_hash),
    )
    return AuditPurge(
        removed, first_seq, last_seq, first_at, last_at, report.head_hash, int(marker.seq)
    )


def purge_before(
    session: Session, cutoff: datetime, *, actor: str, role: str, now: datetime
) -> AuditPurge | None:
    """Remove every entry before ``cutoff`` (purge_target) as one batch (purge_batch) in the
    caller's transaction. For a log that may hold many old entries, store.retention.purge_audit
    removes them in batches, one transaction each."""
    _lock_purge(session)
    through_seq = purge_target(session, cutoff)
    if through_seq is None:
        return None
    return purge_batch(session, through_seq, cutoff=cutoff, actor=actor, role=role, now=now)


def entry_hash_at(session: Session, seq: int) -> str | None:
    """The stored hash of entry ``seq`` (None when there is no such entry)."""
    return session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))


def head_entry(session: Session) -> tuple[int, str, datetime] | None:
    """The newest entry's seq, hash and time (None for an empty log)."""
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash, AuditEntry.at).order_by(AuditEntry.seq.desc())
    ).first()
    return None if row is None else (int(row[0]), str(row[1]), row[2])
