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


def finding_order(finding: Finding) -> tuple[str, str, str]:
    """The order findings are kept in: officer, code, fingerprint (sort key)."""
    return (finding.officer_id, finding.code, finding.fingerprint)


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
    """Build a Finding with JSON-ready evidence (distances coarsened: :func:`coarsen`) and its
    fingerprint from ``key_facts``."""
    return Finding(
        code=code,
        officer_id=officer_id,
        date=day,
        rule_version=rule_version,
        summary=summary,
        evidence=coarsen(jsonable(evidence)),
        fingerprint=fingerprint(code, officer_id, day, *key_facts),
        misconduct=misconduct,
    )


# Distances that, with a station or an away cell, would place a fix: shown only to this step, as
# coarse as the timeline's away cells (resolution 7, edges of about 1.2 km), never to the metre.
DISTANCE_STEP_M = 250
_DISTANCE_SUFFIXES = ("distance_m", "apart_m", "within_m")


def coarse_m(metres: float) -> int:
    """A distance in metres rounded to the nearest DISTANCE_STEP_M (250 m)."""
    return int(round(metres / DISTANCE_STEP_M)) * DISTANCE_STEP_M


def coarse_km(metres: float) -> str:
    """A distance for a sentence: kilometres to the nearest 250 m ("1.25")."""
    return f"{coarse_m(metres) / 1000:.2f}".rstrip("0").rstrip(".")


def coarsen(evidence: Any) -> Any:
    """Evidence as a person may read it: every distance between a fix and a place or another fix
    (keys ending ``distance_m``, ``apart_m``, ``within_m``) rounded to 250 m, and a speed that
    sits beside a distance and its seconds recomputed from the rounded distance (the precise
    speed times the seconds would give the distance back). Thresholds (policy values) and
    accuracies are kept. Applied by the rules when they write evidence and again on every read,
    so evidence stored before is shown coarse too."""
    if isinstance(evidence, list):
        return [coarsen(v) for v in evidence]
    if not isinstance(evidence, dict):
        return evidence
    out: dict[str, Any] = {}
    for key, value in evidence.items():
        if (
            key != "thresholds"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and key.endswith(_DISTANCE_SUFFIXES)
        ):
            out[key] = coarse_m(value)
        elif key == "thresholds":
            out[key] = value
        else:
            out[key] = coarsen(value)
    seconds, distance = out.get("seconds"), out.get("distance_m")
    if "speed_kmh" in out and isinstance(seconds, int | float) and isinstance(distance, int):
        out["speed_kmh"] = round(distance / seconds * 3.6) if seconds > 0 else None
    return out
