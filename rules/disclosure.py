"""When the officer is shown a read or review made under a case: once it is closed, or too old."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta


def disclosed(
    case_ref: str | None,
    at: datetime,
    *,
    closed: Collection[str],
    now: datetime,
    disclosure_days: int,
) -> bool:
    """Whether something done at ``at`` (aware) under ``case_ref`` is shown to the officer.

    Nothing done without a case is hidden. Under a case it is hidden while the case is open
    (not in ``closed``), but never for ``disclosure_days`` or more (policy.open_case_disclosure_days):
    a restriction for an investigation is not open-ended.
    """
    if case_ref is None or case_ref in closed:
        return True
    return now - at >= timedelta(days=disclosure_days)
