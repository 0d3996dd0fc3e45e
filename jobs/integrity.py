"""Roster integrity over a period: read the roster and claims, run rules.integrity, sync flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from time import perf_counter

from sqlalchemy.orm import Session

from rules.findings import Finding
from rules.integrity import evaluate_period
from rules.policy import Policy
from store import results
from store.integrity import load_period_inputs


@dataclass
class IntegrityReport:
    """The findings of one period, the flag writes and where the time went (seconds)."""

    start: date
    end: date
    findings: list[Finding]
    rows: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    writes: results.WriteCounts = field(default_factory=results.WriteCounts)


def find(session: Session, start: date, end: date, *, policy: Policy, tz: str) -> IntegrityReport:
    """The roster-integrity findings of local days start..end (reads only)."""
    t0 = perf_counter()
    reads: dict[str, float] = {}
    inputs = load_period_inputs(session, start, end, tz, reads)
    t1 = perf_counter()
    findings = evaluate_period(inputs, policy)
    t2 = perf_counter()
    return IntegrityReport(
        start=start,
        end=end,
        findings=findings,
        rows={
            "late_versions": inputs.versions.height,
            "claims": inputs.claims.height,
            "overlapping_records": inputs.others.height,
            "accounts": inputs.accounts.height,
        },
        timings={"read": t1 - t0, **reads, "rules": t2 - t1},
    )


def run_period(
    session: Session, start: date, end: date, *, policy: Policy, tz: str, now: datetime
) -> IntegrityReport:
    """Find the period's roster-integrity findings and make its flags match them, in the
    caller's transaction (a rerun keeps ids and review status; a finding gone is withdrawn)."""
    report = find(session, start, end, policy=policy, tz=tz)
    t0 = perf_counter()
    report.writes = results.write_integrity_flags(
        session, start, end, report.findings, policy_version=policy.version, now=now
    )
    report.timings["write"] = perf_counter() - t0
    return report
