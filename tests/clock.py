"""The time tests run at: fixture data is dated, so the code under test reads a clock that starts
a few days after it and runs on at real speed, whatever today's date is."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# Three days after the API fixture days (2026-10-05 to 2026-10-07): inside the 90-day raw
# retention of all of them, past the 24-hour hold of each.
API_NOW = datetime(2026, 10, 8, 12, 0, tzinfo=UTC)
# The command line's "now" in every test: after the sample force's days (2026-10-23 to 10-27).
CLI_NOW = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)


class TestClock:
    """Starts at ``start`` and advances with the monotonic clock (so "later" stays later)."""

    __test__ = False  # not a test class

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._origin = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._origin)
