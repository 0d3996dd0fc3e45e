"""The retention purge (CONTRACT §4): raw events, held events and derived data past their time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from rules.clock import day_bounds, iso_local
from rules.policy import Policy
from store.db import transaction
from store.retention import purge_derived, purge_raw

AUDIT_NOTE = (
    "The audit log is not purged here: its hash chain is verified from the first entry, so "
    "removing old entries needs a chain-aware purge in store.audit (left to the API's owner)."
)


@dataclass
class PurgeReport:
    """Rows removed per table with the cutoff applied (ISO 8601), and a note for the operator."""

    removed: dict[str, tuple[int, str]] = field(default_factory=dict)
    note: str = AUDIT_NOTE


def run_purge(
    factory: sessionmaker[Session], *, policy: Policy, now: datetime, tz: str
) -> PurgeReport:
    """Apply every retention rule once; safe to run at any time (short transactions only).

    Raw cutoff: ``now`` - retention_days_raw. Derived cutoff: the start of the local day
    retention_days_derived days before today (whole days are kept). Held cutoff: ``now`` -
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
    return report
