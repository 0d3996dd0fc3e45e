"""The retention purge (CONTRACT §4): raw, held and derived data and the audit log past their time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from rules.clock import day_bounds, iso_local
from rules.policy import Policy
from store.audit import PURGE_BATCH, AuditPurge, ChainBrokenError
from store.db import transaction
from store.retention import purge_audit, purge_derived, purge_lock, purge_raw

AUDIT_ROLE = "cli"


@dataclass
class PurgeReport:
    """Rows removed per table with the cutoff applied (ISO 8601), and a note on the audit log.

    ``audit_batches`` are the audit log purge's batches, each recorded by its marker entry;
    ``audit`` sums them up (entries first_seq..last_seq, anchor and marker of the last batch;
    None: nothing was removed). ``audit_error`` says why the log was not purged (further): a
    batch that does not verify; ``note`` says it all in one line.
    """

    removed: dict[str, tuple[int, str]] = field(default_factory=dict)
    audit: AuditPurge | None = None
    audit_batches: list[AuditPurge] = field(default_factory=list)
    audit_error: str | None = None
    note: str = ""


def run_purge(
    factory: sessionmaker[Session],
    *,
    policy: Policy,
    now: datetime,
    tz: str,
    actor: str = "rollcall purge",
    audit_batch_size: int = PURGE_BATCH,
    on_audit_batch: Callable[[AuditPurge, int], None] | None = None,
) -> PurgeReport:
    """Apply every retention rule once; safe to run at any time (short transactions only).

    Raw cutoff: ``now`` - retention_days_raw. Derived cutoff: the start of the local day
    retention_days_derived days before today (whole days are kept); it applies to the audit log
    too, whose old entries are removed in batches of at most ``audit_batch_size``, each with a
    marker entry (by ``actor``) that keeps the hash chain verifiable (store.retention.purge_audit);
    ``on_audit_batch(batch, through_seq)`` is called after each batch commits. A batch whose
    entries do not verify is left untouched and ``audit_error`` says where the log is broken. An
    exception from ``on_audit_batch`` stops the purge between batches and propagates; a rerun
    continues. Held cutoff: ``now`` - unrostered_hold_hours. One purge at a time: another one
    running raises store.retention.PurgeBusyError at once (store.retention.purge_lock).
    """

    with purge_lock(factory):
        return _run_purge(
            factory,
            policy=policy,
            now=now,
            tz=tz,
            actor=actor,
            audit_batch_size=audit_batch_size,
            on_audit_batch=on_audit_batch,
        )


def _run_purge(
    factory: sessionmaker[Session],
    *,
    policy: Policy,
    now: datetime,
    tz: str,
    actor: str,
    audit_batch_size: int,
    on_audit_batch: Callable[[AuditPurge, int], None] | None,
) -> PurgeReport:
    from intake.held import purge_expired_held

    report = PurgeReport()
    raw_cutoff = now - timedelta(days=policy.retention_days_raw)
    local_today = datetime.fromisoformat(iso_local(now, tz)).date()
    derived_day = local_today - timedelta(days=policy.retention_days_derived)
    derived_cutoff = day_bounds(derived_day, tz)[0]
    raw_text = iso_local(raw_cutoff, tz)
    for name, count in purge_raw(factory, raw_cutoff).items():
        report.removed[name] = (count, raw_text)
    with transaction(factory) as session:
        held = purge_expired_held(session, policy=policy, now=now, tz=tz)
    hold_text = iso_local(now - timedelta(hours=policy.unrostered_hold_hours), tz)
    report.removed["held events"] = (held, hold_text)
    derived_text = f"before {derived_day.isoformat()}"
    for name, count in purge_derived(factory, derived_day, derived_cutoff).items():
        report.removed[name] = (count, derived_text)

    def on_batch(batch: AuditPurge, through_seq: int) -> None:
        report.audit_batches.append(batch)
        if on_audit_batch is not None:
            on_audit_batch(batch, through_seq)

    try:
        purge_audit(
            factory,
            derived_cutoff,
            actor=actor,
            role=AUDIT_ROLE,
            now=now,
            batch_size=audit_batch_size,
            on_batch=on_batch,
        )
    except ChainBrokenError as exc:
        report.audit_error = str(exc)
    report.audit = _summary(report.audit_batches)
    removed = report.audit.removed if report.audit is not None else 0
    report.removed["audit_log"] = (removed, derived_text)
    report.note = _audit_note(report, tz)
    return report


def _summary(batches: list[AuditPurge]) -> AuditPurge | None:
    """The batches as one purge: their entries, the last batch's anchor and marker."""
    if not batches:
        return None
    first, last = batches[0], batches[-1]
    return AuditPurge(
        removed=sum(b.removed for b in batches),
        first_seq=first.first_seq,
        last_seq=last.last_seq,
        first_at=first.first_at,
        last_at=max(b.last_at for b in batches),
        anchor_hash=last.anchor_hash,
        marker_seq=last.marker_seq,
    )


def _audit_note(report: PurgeReport, tz: str) -> str:
    broken = f"NOT purged, {report.audit_error} (see rollcall audit verify)"
    a = report.audit
    if a is None:
        if report.audit_error is not None:
            return f"audit log {broken}"
        return "audit log: no entry older than the cutoff"
    n = len(report.audit_batches)
    markers = (
        f"marker entry {a.marker_seq} records them and anchors"
        if n == 1
        else f"a marker entry records each batch; the last, entry {a.marker_seq}, anchors"
    )
    done = (
        f"audit log: entries {a.first_seq}..{a.last_seq} removed"
        f"{'' if n == 1 else f' in {n} batches'} ({iso_local(a.first_at, tz)} to "
        f"{iso_local(a.last_at, tz)}); {markers} the chain at seq {a.last_seq}"
    )
    return done if report.audit_error is None else f"{done}; the entries after it {broken}"
