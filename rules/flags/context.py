"""What every day-level flag rule reads: masked inputs, segments and daily results of one day."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from rules.clock import iso_local
from rules.policy import Policy


@dataclass(frozen=True)
class FlagContext:
    """Inputs of the day-level rules. Every event frame here is already masked (on duty only)."""

    day: date
    tz: str
    policy: Policy
    daily: pl.DataFrame  # rules.schemas.DAILY rows of the day
    segments: pl.DataFrame  # rules.presence.SEGMENTS over every on-duty window of the inputs
    day_windows: (
        pl.DataFrame
    )  # officer_id, start_at, end_at: on-duty windows of shifts starting on day
    shifts: pl.DataFrame  # current shifts (all in the inputs)
    shift_history: pl.DataFrame
    fixes: pl.DataFrame  # on-duty fixes with win_id, sorted by (win_id, ts)
    swipes: pl.DataFrame  # on-duty swipes with win_id
    overtime: pl.DataFrame  # claims starting on day
    stations: pl.DataFrame  # station_id, lat, lon centroids
    windows: pl.DataFrame  # every on-duty window: officer_id, win_id, win_start, win_end, core_end
    # officers whose badge and device disagree on the day (rules.conflict): their day is
    # conflicting evidence, so no rule reads it as absence
    conflicts: frozenset[str] = frozenset()
    # every on-duty swipe of the inputs (the day widened by a day each side), for rules that ask
    # whether an officer swipes at all
    recent_swipes: pl.DataFrame = field(default_factory=pl.DataFrame)
    # officers known from a longer look-back (DayInputs.swipers) to swipe on duty
    swipers: frozenset[str] = frozenset()
    # results computed once per day by ``once`` (shared with contexts made by dataclasses.replace)
    memo: dict[str, pl.DataFrame] = field(default_factory=dict, compare=False, repr=False)

    def once(self, key: str, compute: Callable[[], pl.DataFrame]) -> pl.DataFrame:
        """``compute()``, run the first time ``key`` is asked of this day's context. Only for
        results that read the masked inputs alone, never ``daily`` or ``conflicts``: a context
        made from this one by dataclasses.replace (as the engine does when it marks conflicts)
        shares them."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    def local(self, instant: datetime) -> str:
        """ISO 8601 with the zone's offset, for evidence and summaries."""
        return iso_local(instant, self.tz)

    def hhmm(self, instant: datetime) -> str:
        """Local wall-clock HH:MM of ``instant``, for summaries."""
        return iso_local(instant, self.tz)[11:16]

    def base_evidence(self) -> dict[str, object]:
        """Keys every finding's evidence carries."""
        return {"policy_version": self.policy.version, "timezone": self.tz}
