"""Findings: a lead for a human reviewer with evidence, rule version and a stable fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One flag candidate (CONTRACT §5). ``misconduct`` is False only for BELOW_OFFICE_SHARE."""

    code: str
    officer_id: str
    date: date
    rule_version: str
    summary: str
    evidence: dict[str, Any]
    fingerprint: str
    misconduct: bool


def jsonable(value: Any) -> Any:
    """``value`` with datetimes and dates as ISO 8601 strings and floats rounded to 3 places."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def fingerprint(code: str, officer_id: str, day: date, *facts: object) -> str:
    """Stable identity: sha256 of code, officer, day and key facts (never volatile numbers)."""
    canonical = json.dumps(
        [code, officer_id, day.isoformat(), jsonable(list(facts))], sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def make_finding(
    code: str,
    rule_version: str,
    officer_id: str,
    day: date,
    summary: str,
    evidence: dict[str, Any],
    key_facts: tuple[object, ...],
    *,
    misconduct: bool = True,
) -> Finding:
    """Build a Finding with JSON-ready evidence and its fingerprint from ``key_facts``."""
    return Finding(
        code=code,
        officer_id=officer_id,
        date=day,
        rule_version=rule_version,
        summary=summary,
        evidence=jsonable(evidence),
        fingerprint=fingerprint(code, officer_id, day, *key_facts),
        misconduct=misconduct,
    )
