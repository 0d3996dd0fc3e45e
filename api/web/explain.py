"""The innocent explanations each flag rule guards against, in words for the investigator (the
same list as the rules README's flag table), and evidence values written for people."""

from __future__ import annotations

import re
from typing import Any

from api.web import fmt

CONSIDERED: dict[str, list[str]] = {
    "DECLARED_OFFICE_UNVERIFIED": [
        "A silent or sparse device makes the day insufficient evidence, never a flag.",
        "GPS noise at a small station is smoothed; Wi-Fi scatter across the wall counts as inside.",
        "Presence at any other station counts as office presence.",
        "On a short shift, half of the declared office time at the station is enough.",
        "Unknown time is assumed to be presence before the shortfall is judged.",
    ],
    "BADGE_WITHOUT_DEVICE": [
        "One stray fix is not enough: fixes before and after the swipe must both be far away.",
        "A silent device, or only imprecise cell positions, raises nothing.",
        "Fixes near the door mean the officer was really there.",
        "Passing through (arriving from one place, leaving for another) is not raised.",
    ],
    "OVERTIME_UNVERIFIED": [
        "A silent device inside rostered time is never raised.",
        "A day with no data never raises the flag.",
        "Field claims (no station) are raised only when no shift covers the claimed time.",
    ],
    "ROSTER_RETRO_EDIT": [
        "A late entry that presence supports (the officer was at the station) is not raised.",
        "Purged data or a silent device makes it insufficient evidence, not a flag.",
        "Remote and field shifts are not raised: being away is expected.",
        "Shortening a shift or changing its declared place adds no on-duty time.",
    ],
    "IMPOSSIBLE_TRAVEL": [
        "One odd fix (multipath out and back) is not enough: each end needs a neighbouring fix.",
        "Cell positions are left out, and each end needs a satellite fix, not only Wi-Fi.",
        "Both fixes' accuracy is subtracted from the distance first.",
    ],
    "MOCK_LOCATION": [
        "A single test fix is not enough: at least three simulated fixes on duty.",
        "Simulated fixes off duty are masked before the rule sees them.",
    ],
    "BELOW_OFFICE_SHARE": [
        "Insufficient-evidence days are left out of the share, never counted as absence.",
        "This is a compliance finding, not misconduct.",
    ],
}

_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
HIDDEN_KEYS = frozenset({"policy_version", "timezone"})


def words(value: Any, tz: str) -> str:
    """An evidence value in words: instants as local date and time, yes/no, lists and nested
    values written out."""
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {words(v, tz)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(words(v, tz) for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, str) and _INSTANT.match(value):
        return fmt.local_time(value.replace("Z", "+00:00"), tz, with_date=True)
    return str(value)


def evidence_lines(evidence: Any, tz: str) -> list[tuple[str, str]]:
    """The evidence as label/value lines, without the bookkeeping keys."""
    if not isinstance(evidence, dict):
        return []
    return [
        (key.replace("_", " "), words(value, tz))
        for key, value in evidence.items()
        if key not in HIDDEN_KEYS
    ]
