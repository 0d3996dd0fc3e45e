"""The append-only, hash-chained audit log: append under a lock, read a page, verify the chain."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from store.db import is_postgres
from store.models import AuditEntry

GENESIS_HASH = "0" * 64
# pg_advisory_xact_lock key: any fixed 64-bit number, the same in every process ("rollcall.audit").
_PG_LOCK_KEY = 0x526F6C6C41756474
_VERIFY_BATCH = 5_000


def _at_text(at: datetime) -> str:
    """The instant as it enters the hash: UTC, microseconds, fixed format (stable on both backends)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_entry(entry: AuditEntry) -> bytes:
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


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    """sha256(prev_hash + canonical JSON of the entry), hex."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_entry(entry)).hexdigest()


def _lock_chain(session: Session) -> None:
    """Serialise appenders until this transaction ends, so two writers cannot fork the chain.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a no-op write statement takes the
    database's single write lock now (before the tail is read), and holds it until commit.
    """
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    else:
        session.execute(text("UPDATE audit_log SET seq = seq WHERE 1 = 0"))


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
) -> AuditEntry:
    """Append one entry at the end of the chain and flush; the caller's transaction commits it.

    ``detail`` must be JSON-serialisable and must never hold coordinates, tokens or off-duty data.
    Call this last in a transaction: the chain lock is held until commit.
    """
    _lock_chain(session)
    tail = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (int(tail[0]) + 1, str(tail[1])) if tail is not None else (1, GENESIS_HASH)
    when = (at or datetime.now(UTC)).astimezone(UTC)
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
        detail=orjson.loads(orjson.dumps(detail)) if detail is not None else None,
        prev_hash=prev_hash,
        hash="",
    )
    entry.hash = entry_hash(prev_hash, entry)
    session.add(entry)
    session.flush()
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
    """The outcome of verifying the chain: how many entries, the head, and the first bad entry."""

    entries: int
    head_seq: int | None
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Whether every entry is intact and none is missing."""
        return self.first_bad_seq is None


def _iter_chain(session: Session) -> Iterator[AuditEntry]:
    last: int | None = None
    while True:
        query = select(AuditEntry).order_by(AuditEntry.seq).limit(_VERIFY_BATCH)
        if last is not None:
            query = query.where(AuditEntry.seq > last)
        batch = list(session.scalars(query))
        if not batch:
            return
        yield from batch
        last = int(batch[-1].seq)


def verify_chain(session: Session, *, expect_head: tuple[int, str] | None = None) -> ChainReport:
    """Recompute every hash in seq order; report the first entry that was edited or follows a gap.

    An edited entry fails its own hash; a deleted one leaves a gap in seq and a broken prev_hash
    link in the next entry. Deleting the newest entries leaves a shorter valid chain: pass
    ``expect_head`` (a (seq, hash) recorded earlier, e.g. from a previous run) to detect that.
    """
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    head_seq: int | None = None
    seen_expected_head = expect_head is None
    for entry in _iter_chain(session):
        seq = int(entry.seq)
        if seq != expected_seq:
            return ChainReport(
                count, head_seq, prev, expected_seq, f"entry {expected_seq} is missing"
            )
        if entry.prev_hash != prev:
            return ChainReport(
                count, head_seq, prev, seq, "prev_hash does not match the entry before"
            )
        if entry_hash(prev, entry) != entry.hash:
            return ChainReport(
                count, head_seq, prev, seq, "hash does not match the entry's content"
            )
        if expect_head is not None and seq == expect_head[0]:
            if entry.hash != expect_head[1]:
                return ChainReport(
                    count, head_seq, prev, seq, "hash differs from the expected head"
                )
            seen_expected_head = True
        prev, head_seq, count, expected_seq = entry.hash, seq, count + 1, seq + 1
    if not seen_expected_head and expect_head is not None:
        return ChainReport(
            count, head_seq, prev, expect_head[0], "the chain ends before the expected head"
        )
    return ChainReport(count, head_seq, prev)
