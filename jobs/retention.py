"""The retention purge (CONTRACT §4): raw, held and derived data and the audit log past their time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from rules.clock import day_bounds, iso_local
from rules.policy import Policy
from store.audit import AuditPurge, ChainBrokenError, purge_before
from store.db import transaction
from store.retention import purge_derived, purge_raw

AUDIT_ROLE = "cli"


@dataclass
class PurgeReport:
    """Rows removed per table with the cutoff applied (ISO 8601), and a note on the audit log.

    ``audit`` says what the audit log purge removed (None: nothing was old enough, or
    ``audit_error`` says why the log was left as it is); ``note`` says it in one line.
    """

    removed: dict[str, tuple[int, str]] = field(default_factory=dict)
    audit: AuditPurge | None = None
    audit_error: str | None = None
    note: str = ""


def run_purge(
    factory: sessionmaker[Session],
    *,
    policy: Policy,
    now: datetime,
    tz: str,
    actor: str = "rollcall purge",
) -> PurgeReport:
    """Apply every retention rule once; safe to run at any time (short transactions only).

    Raw cutoff: ``now`` - retention_days_raw. Derived cutoff: the start of the local day
    retention_days_derived days before today (whole days are kept); it applies to the audit log
    too, whose old entries are removed together with a marker entry (by ``actor``) that keeps the
    hash chain verifiable (store.audit.purge_before). An audit log whose old entries do not
    verify is left untouched and ``audit_error`` says where it is broken. Held cutoff: ``now`` -
    unrostered_hold_hours.
    """
    from store.held import purge_expired_held

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
    try:
        with transaction(factory) as session:
            report.audit = purge_before(
                session, derived_cutoff, actor=actor, role=AUDIT_ROLE, now=now
            )
    except ChainBrokenError as exc:
        report.audit_error = str(exc)
    removed = report.audit.removed if report.audit is not None else 0
    report.removed["audit_log"] = (removed, derived_text)
    report.note = _audit_note(report, tz)
    return report


def _audit_note(report: PurgeReport, tz: str) -> str:
    if report.audit_error is not None:
        return f"audit log NOT purged, {report.audit_error} (see rollcall audit verify)"
    if report.audit is None:
        return "audit log: no entry older than the cutoff"
    a = report.audit
    return (
        f"audit log: entries {a.first_seq}..{a.last_seq} removed ({iso_local(a.first_at, tz)} "
        f"to {iso_local(a.last_at, tz)}); marker entry {a.marker_seq} records them and "
        f"anchors the chain at seq {a.last_seq}"
    )
