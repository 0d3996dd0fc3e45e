"""BELOW_OFFICE_SHARE: a period's verified office share below min_office_share (not misconduct)."""

from __future__ import annotations

from datetime import date
from typing import Any

from rules.findings import Finding, make_finding
from rules.policy import Policy

CODE = "BELOW_OFFICE_SHARE"
RULE_VERSION = f"{CODE}/2"


def finding(row: dict[str, Any], policy: Policy, period_start: date, period_end: date) -> Finding:
    """The finding for one compliance row (rules.compliance) that does not meet the policy."""
    share = row["verified_office_share"]
    upper = row["office_share_upper"]
    assessed = row["expected_office_days"] - row["insufficient_evidence_days"]
    summary = (
        f"Officer {row['officer_id']} was verified in the office on {row['verified_office_days']} "
        f"of {row['expected_office_days']} expected office days between "
        f"{period_start.isoformat()} and {period_end.isoformat()}; even counting the "
        f"{row['insufficient_evidence_days']} day(s) without adequate evidence as office days the "
        f"share would be {upper * 100:.0f}%, below the {policy.min_office_share * 100:.0f}% "
        "hybrid-working rule."
    )
    evidence = {
        "policy_version": policy.version,
        "period_start": period_start,
        "period_end": period_end,
        "expected_office_days": row["expected_office_days"],
        "declared_office_days": row["declared_office_days"],
        "verified_office_days": row["verified_office_days"],
        "insufficient_evidence_days": row["insufficient_evidence_days"],
        "assessed_days": assessed,
        "verified_office_share": None if share is None else round(share, 4),
        "office_share_lower": round(row["office_share_lower"], 4),
        "office_share_upper": round(upper, 4),
        "thresholds": {
            "min_office_share": policy.min_office_share,
            "office_day_min_hours": policy.office_day_min_hours,
        },
    }
    return make_finding(
        CODE,
        RULE_VERSION,
        row["officer_id"],
        period_end,
        summary,
        evidence,
        (period_start,),
        misconduct=False,
    )
